/**
 * `PostgresAuditCheckpointStore`: audit checkpoints in the audit log's PostgreSQL
 * database. The `pg` driver is an optional peer dependency, loaded only when it connects.
 *
 * @module
 */

import { SqlAuditCheckpoints } from "../sql/checkpoints.ts";
import { checkSchema } from "../sql/options.ts";
import type { PgConnectionConfig, PgPoolLike } from "./connection.ts";
import { pgRunner } from "./runner.ts";

/** Options of {@link PostgresAuditCheckpointStore}. */
export interface PostgresAuditCheckpointStoreOptions {
  /** The PostgreSQL schema of the audit tables (created if missing). @default "public" */
  readonly schema?: string;
}

/**
 * Signed checkpoints in PostgreSQL, in the audit log's database and schema (audit
 * migration 7, applied on first use). Takes a connection string, `{ host, port, database,
 * user, password }`, or a pool you already have (which `close()` leaves open).
 *
 * @example
 * ```ts
 * const store = new PostgresAuditCheckpointStore(process.env.HEXARCH_PG_URL ?? "postgres://localhost/hexarch");
 * ```
 */
export class PostgresAuditCheckpointStore extends SqlAuditCheckpoints {
  /** The PostgreSQL schema of the table. */
  readonly schema: string;

  /**
   * Connects on first use, and migrates the schema then.
   * @throws InvalidOptionError for a schema that is not a plain identifier.
   */
  constructor(
    connection: string | PgConnectionConfig | PgPoolLike,
    options: PostgresAuditCheckpointStoreOptions = {},
  ) {
    const schema = checkSchema("PostgresAuditCheckpointStore", options.schema);
    const { runner, close } = pgRunner(connection, schema, "audit checkpoint store");
    super(`"${schema}".`, runner, close);
    this.schema = schema;
  }
}
