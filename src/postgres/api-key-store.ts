/**
 * `PostgresApiKeyStore`: the decision server's API keys in the audit log's PostgreSQL
 * database. The `pg` driver is an optional peer dependency, loaded only when it connects.
 *
 * @module
 */

import { type ApiKeyStoreOptions, SqlApiKeys } from "../sql/api-keys.ts";
import { checkSchema } from "../sql/options.ts";
import type { PgConnectionConfig, PgPoolLike } from "./connection.ts";
import { pgRunner } from "./runner.ts";

/** Options of {@link PostgresApiKeyStore}. */
export interface PostgresApiKeyStoreOptions extends ApiKeyStoreOptions {
  /** The PostgreSQL schema of the audit tables (created if missing). @default "public" */
  readonly schema?: string;
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
   * @throws InvalidOptionError for a schema that is not a plain identifier, or a pepper under 16 characters.
   */
  constructor(
    connection: string | PgConnectionConfig | PgPoolLike,
    options: PostgresApiKeyStoreOptions = {},
  ) {
    const schema = checkSchema("PostgresApiKeyStore", options.schema);
    const { runner, close } = pgRunner(connection, schema, "API key store");
    super(`"${schema}".`, runner, close, options);
    this.schema = schema;
  }
}
