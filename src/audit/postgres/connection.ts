/**
 * Connecting to PostgreSQL for the audit store: the slice of `pg` it uses (declared here,
 * so the package does not depend on `pg`'s types) and opening a pool from settings.
 *
 * @module
 */

import { GuardrailError } from "../../errors.ts";

/** The slice of a `pg` query result this store reads. */
export interface PgResult {
  readonly rows: Record<string, unknown>[];
  readonly rowCount: number | null;
}

/** The slice of a `pg` client this store uses (we do not take the type from `pg`, to not depend on it). */
export interface PgClientLike {
  query(text: string, values?: unknown[]): Promise<PgResult>;
  release(): void;
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
  /** @default 10 */
  readonly max?: number;
}

export function isPool(v: unknown): v is PgPoolLike {
  return v !== null && typeof v === "object" && typeof (v as PgPoolLike).connect === "function";
}

/**
 * Opens a `pg.Pool` from a connection string or settings. `pg` is an optional peer
 * dependency, loaded only here.
 */
export async function openPool(config: string | PgConnectionConfig): Promise<PgPoolLike> {
  let pg: {
    Pool: new (config: unknown) => PgPoolLike;
    default?: { Pool: new (config: unknown) => PgPoolLike };
  };
  try {
    pg = (await import("pg")) as unknown as typeof pg;
  } catch (err) {
    throw new GuardrailError("PostgreSQL support needs the 'pg' package: npm install pg", {
      cause: err,
    });
  }
  const Pool = pg.Pool ?? pg.default?.Pool;
  if (!Pool) throw new GuardrailError("the 'pg' package has no Pool export");
  const settings =
    typeof config === "string"
      ? { connectionString: config }
      : { ...config, password: config.password ?? process.env.PGPASSWORD, max: config.max ?? 10 };
  return new Pool(settings);
}
