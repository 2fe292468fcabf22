/**
 * Connecting to PostgreSQL for the audit store: the slice of `pg` it uses (declared here,
 * so the package does not depend on `pg`'s types) and opening a pool from settings.
 *
 * @module
 */

import { GuardrailError } from "../kernel/errors.ts";
import { importPeer, requirePeers } from "../util/optional-peer.ts";

/** The slice of a `pg` query result this store reads. */
export interface PgResult {
  readonly rows: Record<string, unknown>[];
  readonly rowCount: number | null;
}

/** The slice of a `pg` client this store uses (we do not take the type from `pg`, to not depend on it). */
export interface PgClientLike {
  query(text: string, values?: unknown[]): Promise<PgResult>;
  /** Back to the pool; with an error (or `true`) the connection is closed instead. */
  release(err?: Error | boolean): void;
  /** `pg` reports a connection lost while checked out as an `error` event. */
  on?(event: "error", listener: (err: Error) => void): unknown;
  removeListener?(event: "error", listener: (err: Error) => void): unknown;
}

/** The slice of a `pg.Pool` this store uses; pass your own pool to share it. */
export interface PgPoolLike {
  query(text: string, values?: unknown[]): Promise<PgResult>;
  connect(): Promise<PgClientLike>;
  end?(): Promise<void>;
}

/** Connection settings, as the Python package takes them. */
export interface PgConnectionConfig {
  readonly host?: string;
  readonly port?: number;
  readonly database?: string;
  readonly user?: string;
  /** Default: `PGPASSWORD`. */
  readonly password?: string;
  readonly ssl?: boolean | Record<string, unknown>;
  /** A `postgres://` URL; its parts win over the fields above. */
  readonly connectionString?: string;
  /** @default 10 */
  readonly max?: number;
  /**
   * How long opening a connection (TCP, TLS, authentication) or waiting for a free one
   * may take, in ms. Default: `HEXARCH_PG_CONNECT_TIMEOUT_MS`, else 5000.
   */
  readonly connectTimeoutMs?: number;
  /**
   * How long the client waits for the answer to one statement, in ms, before it gives up
   * and drops the connection (PostgreSQL then rolls the transaction back). Enforced by
   * this process, so it holds against a server that stopped answering. Default:
   * `HEXARCH_PG_STATEMENT_TIMEOUT_MS`, else 30000.
   */
  readonly statementTimeoutMs?: number;
  /**
   * How long an unused pooled connection stays open, in ms. Default:
   * `HEXARCH_PG_IDLE_TIMEOUT_MS`, else 10000.
   */
  readonly idleTimeoutMs?: number;
}

/** The timeouts every pool the library opens gets, unless configured otherwise. */
export const PG_TIMEOUT_DEFAULTS = {
  connectTimeoutMs: 5000,
  statementTimeoutMs: 30_000,
  idleTimeoutMs: 10_000,
} as const;

/** A timeout from the settings, else the environment, else the default; checked. */
function timeoutOf(
  name: keyof typeof PG_TIMEOUT_DEFAULTS,
  given: number | undefined,
  envName: string,
): number {
  const raw = given ?? process.env[envName]?.trim();
  const value = raw === undefined || raw === "" ? PG_TIMEOUT_DEFAULTS[name] : Number(raw);
  if (!Number.isInteger(value) || value <= 0)
    throw new GuardrailError(
      `${given === undefined ? envName : name} must be a whole number of milliseconds above 0, got '${String(raw)}'`,
      { code: "connection_config_invalid" },
    );
  return value;
}

/** Whether a connection argument is a pool already open (anything with `connect()`). */
export function isPool(v: unknown): v is PgPoolLike {
  return v !== null && typeof v === "object" && typeof (v as PgPoolLike).connect === "function";
}

/**
 * Throws when `pg` is not installed, for a store given settings rather than a pool: called
 * by constructors, so a missing driver is reported when the store is created, not on its
 * first statement.
 *
 * @param owner the store, for the message (`PostgresAuditStore needs the 'pg' package: npm install pg`).
 * @throws MissingPeerDependencyError when `pg` cannot be found.
 */
export function requirePg(owner: string): void {
  requirePeers(owner, ["pg"]);
}

/**
 * Opens a `pg.Pool` from a connection string or settings. `pg` is an optional peer
 * dependency, loaded only here. Every pool gets connect, statement and idle timeouts
 * ({@link PG_TIMEOUT_DEFAULTS}) and TCP keep-alive, so a server that accepts connections
 * and never answers fails calls instead of hanging them (and `close()` with them).
 *
 * @throws MissingPeerDependencyError when `pg` is not installed.
 */
export async function openPool(config: string | PgConnectionConfig): Promise<PgPoolLike> {
  const pg = (await importPeer("PostgreSQL support", "pg", () => import("pg"))) as unknown as {
    Pool: new (config: unknown) => PgPoolLike;
    default?: { Pool: new (config: unknown) => PgPoolLike };
  };
  const Pool = pg.Pool ?? pg.default?.Pool;
  if (!Pool)
    throw new GuardrailError("the 'pg' package has no Pool export", {
      code: "peer_dependency_unusable",
    });
  const given: PgConnectionConfig =
    typeof config === "string" ? { connectionString: config } : config;
  const { connectTimeoutMs, statementTimeoutMs, idleTimeoutMs, ...rest } = given;
  const settings = {
    ...rest,
    ...(typeof config !== "string" && { password: config.password ?? process.env.PGPASSWORD }),
    max: given.max ?? 10,
    connectionTimeoutMillis: timeoutOf(
      "connectTimeoutMs",
      connectTimeoutMs,
      "HEXARCH_PG_CONNECT_TIMEOUT_MS",
    ),
    // Client-side: `statement_timeout` would need the server to answer, and PgBouncer
    // refuses it as a startup parameter.
    query_timeout: timeoutOf(
      "statementTimeoutMs",
      statementTimeoutMs,
      "HEXARCH_PG_STATEMENT_TIMEOUT_MS",
    ),
    idleTimeoutMillis: timeoutOf("idleTimeoutMs", idleTimeoutMs, "HEXARCH_PG_IDLE_TIMEOUT_MS"),
    keepAlive: true,
  };
  const pool = new Pool(settings) as PgPoolLike & {
    on?(event: "error", listener: (err: Error) => void): unknown;
  };
  // An idle connection that breaks (the server restarted, a proxy cut it) is reported as
  // an "error" event on the pool, which would crash the process without a listener. The
  // pool drops that connection; the next statement opens another or fails with the cause.
  pool.on?.("error", () => {});
  return pool;
}
