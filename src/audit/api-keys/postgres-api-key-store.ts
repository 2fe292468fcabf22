/**
 * `PostgresApiKeyStore`: the decision server's API keys in the audit log's PostgreSQL
 * database. The `pg` driver is an optional peer dependency, loaded only when it connects.
 *
 * @module
 */

import { GuardrailError } from "../../errors.ts";
import type { SqlRunner, SqlValue } from "../confirmations/sql-confirmations.ts";
import {
  isPool,
  openPool,
  type PgConnectionConfig,
  type PgPoolLike,
} from "../postgres/connection.ts";
import { PostgresAuditStore } from "../postgres/postgres-audit-store.ts";
import { type ApiKeyStoreOptions, SqlApiKeys } from "./sql-api-keys.ts";

/** Options of {@link PostgresApiKeyStore}. */
export interface PostgresApiKeyStoreOptions extends ApiKeyStoreOptions {
  /** The PostgreSQL schema of the audit tables (created if missing). @default "public" */
  readonly schema?: string;
}

/** `?` parameters as PostgreSQL's `$1, $2, …` (the statements have no `?` of their own). */
const numbered = (sql: string): string => {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
};

function pgRunner(
  connection: string | PgConnectionConfig | PgPoolLike,
  schema: string,
): { runner: SqlRunner; close: () => Promise<void> } {
  const owns = !isPool(connection);
  let pool: PgPoolLike | undefined = isPool(connection) ? connection : undefined;
  let ready: Promise<PgPoolLike> | undefined;
  let closed = false;
  const connected = (): Promise<PgPoolLike> => {
    if (closed) return Promise.reject(new GuardrailError("the API key store is closed"));
    ready ??= (async () => {
      pool ??= await openPool(isPool(connection) ? {} : connection);
      const audit = new PostgresAuditStore(pool, { schema });
      const failed = (await audit.migrate()).find((r) => r.status === "failed");
      if (failed)
        throw new GuardrailError(
          `audit schema migration ${failed.version} failed: ${failed.error}`,
        );
      return pool;
    })().catch((err: unknown) => {
      ready = undefined; // try again on the next call
      throw err;
    });
    return ready;
  };
  const query = async (sql: string, params: readonly SqlValue[]) =>
    (await connected()).query(numbered(sql), [...params]);
  return {
    runner: {
      all: async (sql, params) => (await query(sql, params)).rows,
      run: async (sql, params) => (await query(sql, params)).rowCount ?? 0,
    },
    close: async () => {
      if (closed) return;
      closed = true;
      const p = pool;
      pool = undefined;
      ready = undefined;
      if (owns && p) await p.end?.();
    },
  };
}

/**
 * API keys in PostgreSQL, in the audit log's database and schema (audit migration 6,
 * applied on first use). Takes a connection string, `{ host, port, database, user,
 * password }`, or a pool you already have (which `close()` leaves open).
 *
 * @example
 * ```ts
 * const apiKeys = new PostgresApiKeyStore(process.env.HEXARCH_PG_URL ?? "postgres://localhost/hexarch");
 * ```
 */
export class PostgresApiKeyStore extends SqlApiKeys {
  /** The PostgreSQL schema of the tables. */
  readonly schema: string;

  /**
   * Connects on first use, and migrates the schema then.
   * @throws GuardrailError for a schema that is not a plain identifier, or a pepper under 16 characters.
   */
  constructor(
    connection: string | PgConnectionConfig | PgPoolLike,
    options: PostgresApiKeyStoreOptions = {},
  ) {
    const schema = options.schema ?? "public";
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema))
      throw new GuardrailError(`schema must be a plain identifier, got '${schema}'`);
    const { runner, close } = pgRunner(connection, schema);
    super(`"${schema}".`, runner, close, options);
    this.schema = schema;
  }
}
