/**
 * `SqliteConfirmationStore`: confirmations in the audit log's SQLite file.
 *
 * @module
 */

import { checkTtl } from "../confirm/tokens.ts";
import { DEFAULT_TTL_MS, SqlConfirmations } from "../sql/confirmations.ts";
import { checkDatabaseFile } from "../sql/options.ts";
import { sqliteRunner } from "./runner.ts";
/** Options of {@link SqliteConfirmationStore}. */
export interface SqliteConfirmationStoreOptions {
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
 * Pending confirmations in a SQLite file — the one `SqliteAuditStore` writes decisions to
 * (table `hexarch_confirmations`, audit migration 4, applied on first use). Every process
 * that opens the file sees the same requests; approving, denying and consuming are each
 * one statement, so a token is used once however many processes try. Tokens are those
 * of `MemoryConfirmationStore`; only the SHA-256 digest of a token's secret is stored.
 * Requests that expired more than a day ago are pruned now and then on `create`.
 *
 * @example
 * ```ts
 * import { DecisionLogger, SqliteAuditStore, SqliteConfirmationStore } from "hexarch-guardrails/audit";
 * const guardian = new Guardian({
 *   auditLogger: new DecisionLogger(new SqliteAuditStore("decisions.db")),
 *   confirmations: new SqliteConfirmationStore("decisions.db"),
 * });
 * ```
 */
export class SqliteConfirmationStore extends SqlConfirmations {
  /** The database file. */
  readonly path: string;

  /**
   * Opens (or creates) the file; the schema is migrated on first use.
   * @throws InvalidOptionError for an in-memory database (use `MemoryConfirmationStore`) or a
   *   `ttlMs` that is not a positive, finite number.
   */
  constructor(path = "decisions.db", options: SqliteConfirmationStoreOptions = {}) {
    checkDatabaseFile(
      "SqliteConfirmationStore",
      path,
      "it shares the audit log's file (for confirmations in memory use MemoryConfirmationStore)",
    );
    checkTtl(options.ttlMs ?? DEFAULT_TTL_MS, "SqliteConfirmationStore"); // before a file is opened
    const { runner, close } = sqliteRunner(path, "confirmation store");
    super("hexarch_confirmations", runner, options, close);
    this.path = path;
  }
}
