/**
 * `PostgresConfirmationStore`: confirmations in the audit log's PostgreSQL database.
 * The `pg` driver is an optional peer dependency, loaded only when this store connects.
 *
 * @module
 */

import type {
  ConfirmationBinding,
  ConfirmationRecord,
  ConfirmationRequest,
  ConfirmationStore,
  ConsumeConfirmationResult,
} from "../../confirm/types.ts";
import { GuardrailError } from "../../errors.ts";
import {
  isPool,
  openPool,
  type PgConnectionConfig,
  type PgPoolLike,
} from "../postgres/connection.ts";
import { PostgresAuditStore } from "../postgres/postgres-audit-store.ts";
import { SqlConfirmations, type SqlRunner, type SqlValue } from "./sql-confirmations.ts";

/** Options of {@link PostgresConfirmationStore}. */
export interface PostgresConfirmationStoreOptions {
  /**
   * The PostgreSQL schema the audit tables live in (created if missing): use the audit
   * store's.
   * @default "public"
   */
  readonly schema?: string;
  /**
   * Current time in ms since the epoch.
   * @default Date.now
   */
  readonly clock?: () => number;
  /**
   * Default token lifetime.
   * @default 900000 (15 minutes)
   */
  readonly ttlMs?: number;
}

/** `?` parameters as PostgreSQL's `$1, $2, …` (the statements have no `?` of their own). */
const numbered = (sql: string): string => {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
};

/**
 * Pending confirmations in PostgreSQL, in the audit log's database and schema (table
 * `hexarch_confirmations`, audit migration 4, applied on first use), for any number of
 * processes or hosts. Approving, denying and consuming are each one `UPDATE … RETURNING`,
 * so of any number of concurrent consumers exactly one gets the call. Takes a connection
 * string, `{ host, port, database, user, password }`, or a pool you already have (which
 * `close()` leaves open). Tokens are those of `MemoryConfirmationStore`; only the SHA-256
 * digest of a token's secret is stored. Requests that expired more than a day ago are
 * pruned now and then on `create`.
 *
 * @example
 * ```ts
 * import { PostgresConfirmationStore } from "hexarch-guardrails/audit";
 * const confirmations = new PostgresConfirmationStore(process.env.HEXARCH_PG_URL ?? "postgres://localhost/hexarch");
 * const guardian = new Guardian({ confirmations });
 * ```
 */
export class PostgresConfirmationStore implements ConfirmationStore {
  /** The PostgreSQL schema of the table. */
  readonly schema: string;
  readonly #config: string | PgConnectionConfig | undefined;
  readonly #ownsPool: boolean;
  readonly #sql: SqlConfirmations;
  #pool: PgPoolLike | undefined;
  #ready: Promise<PgPoolLike> | undefined;
  #closed = false;

  /**
   * Connects on first use, and migrates the schema then.
   * @throws GuardrailError for a schema that is not a plain identifier, or a `ttlMs` that is
   *   not a positive, finite number.
   */
  constructor(
    connection: string | PgConnectionConfig | PgPoolLike,
    options: PostgresConfirmationStoreOptions = {},
  ) {
    this.schema = options.schema ?? "public";
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(this.schema)) {
      throw new GuardrailError(`schema must be a plain identifier, got '${this.schema}'`);
    }
    if (isPool(connection)) {
      this.#pool = connection;
      this.#ownsPool = false;
      this.#config = undefined;
    } else {
      this.#config = connection;
      this.#ownsPool = true;
    }
    const query = async (sql: string, params: readonly SqlValue[]) =>
      (await this.#connected()).query(numbered(sql), [...params]);
    const db: SqlRunner = {
      all: async (sql, params) => (await query(sql, params)).rows,
      run: async (sql, params) => (await query(sql, params)).rowCount ?? 0,
    };
    this.#sql = new SqlConfirmations(`"${this.schema}".hexarch_confirmations`, db, options);
  }

  /** {@inheritDoc ConfirmationStore.create} */
  create(request: ConfirmationRequest): Promise<string> {
    return this.#sql.create(request);
  }

  /** {@inheritDoc ConfirmationStore.approve} */
  approve(
    token: string,
    by: { readonly approvedBy: string; readonly reason?: string },
  ): Promise<ConfirmationRecord> {
    return this.#sql.approve(token, by);
  }

  /** {@inheritDoc ConfirmationStore.deny} */
  deny(
    token: string,
    by: { readonly deniedBy: string; readonly reason?: string },
  ): Promise<ConfirmationRecord> {
    return this.#sql.deny(token, by);
  }

  /** {@inheritDoc ConfirmationStore.get} */
  get(token: string): Promise<ConfirmationRecord | undefined> {
    return this.#sql.get(token);
  }

  /** {@inheritDoc ConfirmationStore.consume} */
  consume(token: string, binding: ConfirmationBinding): Promise<ConsumeConfirmationResult> {
    return this.#sql.consume(token, binding);
  }

  /** Deletes requests that expired more than a day ago; resolves to how many. */
  prune(): Promise<number> {
    return this.#sql.prune();
  }

  /** Ends the pool when the store created it; a pool passed in stays open. The store is unusable afterwards. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const pool = this.#pool;
    this.#pool = undefined;
    this.#ready = undefined;
    if (this.#ownsPool && pool) await pool.end?.();
  }

  /** The pool, once the audit migrations are applied (by the audit store's own migrator). */
  #connected(): Promise<PgPoolLike> {
    if (this.#closed) return Promise.reject(new GuardrailError("the confirmation store is closed"));
    this.#ready ??= (async () => {
      this.#pool ??= await openPool(this.#config ?? {});
      const audit = new PostgresAuditStore(this.#pool, { schema: this.schema });
      const failed = (await audit.migrate()).find((r) => r.status === "failed");
      if (failed)
        throw new GuardrailError(
          `audit schema migration ${failed.version} failed: ${failed.error}`,
        );
      return this.#pool;
    })().catch((err: unknown) => {
      this.#ready = undefined; // try again on the next call
      throw err;
    });
    return this.#ready;
  }
}
