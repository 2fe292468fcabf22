/**
 * `PostgresConfirmationStore`: confirmations in the audit log's PostgreSQL database.
 * The `pg` driver is an optional peer dependency, loaded only when this store connects.
 *
 * @module
 */

import { checkTtl } from "../confirm/tokens.ts";
import { DEFAULT_TTL_MS, SqlConfirmations } from "../sql/confirmations.ts";
import { checkSchema } from "../sql/options.ts";
import type { PgConnectionConfig, PgPoolLike } from "./connection.ts";
import { pgRunner } from "./runner.ts";

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
export class PostgresConfirmationStore extends SqlConfirmations {
  /** The PostgreSQL schema of the table. */
  readonly schema: string;

  /**
   * Connects on first use, and migrates the schema then.
   * @throws InvalidOptionError for a schema that is not a plain identifier, or a `ttlMs` that is
   *   not a positive, finite number.
   */
  constructor(
    connection: string | PgConnectionConfig | PgPoolLike,
    options: PostgresConfirmationStoreOptions = {},
  ) {
    const schema = checkSchema("PostgresConfirmationStore", options.schema);
    checkTtl(options.ttlMs ?? DEFAULT_TTL_MS, "PostgresConfirmationStore");
    const { runner, close } = pgRunner(connection, schema, "confirmation store");
    super(`"${schema}".hexarch_confirmations`, runner, options, close);
    this.schema = schema;
  }
}
