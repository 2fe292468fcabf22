/**
 * `PostgresApiPolicyStore`: API-defined rules and policies in the audit log's PostgreSQL
 * database. The `pg` driver is an optional peer dependency, loaded only when it connects.
 *
 * @module
 */

import { SqlApiPolicies } from "../sql/api-policies.ts";
import { checkSchema } from "../sql/options.ts";
import type { PgConnectionConfig, PgPoolLike } from "./connection.ts";
import { pgRunner } from "./runner.ts";

/** Options of {@link PostgresApiPolicyStore}. */
export interface PostgresApiPolicyStoreOptions {
  /** The PostgreSQL schema of the audit tables (created if missing). @default "public" */
  readonly schema?: string;
  /** Current time in ms since the epoch (for `created_at`, `updated_at`). @default Date.now */
  readonly clock?: () => number;
}

/**
 * Rules and policies made over the decision server's API, in PostgreSQL, in the audit
 * log's database and schema (audit migration 5, applied on first use). Takes a connection
 * string, `{ host, port, database, user, password }`, or a pool you already have (which
 * `close()` leaves open).
 *
 * @example
 * ```ts
 * const apiPolicies = new PostgresApiPolicyStore(process.env.HEXARCH_PG_URL ?? "postgres://localhost/hexarch");
 * ```
 */
export class PostgresApiPolicyStore extends SqlApiPolicies {
  /** The PostgreSQL schema of the tables. */
  readonly schema: string;

  /** Connects on first use, and migrates the schema then. @throws InvalidOptionError for a schema that is not a plain identifier. */
  constructor(
    connection: string | PgConnectionConfig | PgPoolLike,
    options: PostgresApiPolicyStoreOptions = {},
  ) {
    const schema = checkSchema("PostgresApiPolicyStore", options.schema);
    const { runner, close } = pgRunner(connection, schema, "API policy store");
    super(`"${schema}".`, runner, close, options.clock);
    this.schema = schema;
  }
}
