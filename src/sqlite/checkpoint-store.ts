/**
 * `SqliteAuditCheckpointStore`: audit checkpoints in the audit log's SQLite file.
 *
 * @module
 */

import { SqlAuditCheckpoints } from "../sql/checkpoints.ts";
import { checkDatabaseFile } from "../sql/options.ts";
import { sqliteRunner } from "./runner.ts";

/**
 * Signed checkpoints in a SQLite file — the one `SqliteAuditStore` writes decisions to
 * (table `hexarch_audit_checkpoints`, audit migration 7, applied on first use).
 *
 * @example
 * ```ts
 * const store = new SqliteAuditCheckpointStore("decisions.db");
 * const app = await createServer({
 *   guardian, auditLogger, apiToken,
 *   auditCheckpoints: { key: process.env.HEXARCH_AUDIT_HMAC_KEY ?? "", store },
 * });
 * ```
 */
export class SqliteAuditCheckpointStore extends SqlAuditCheckpoints {
  /** The database file. */
  readonly path: string;

  /**
   * Opens (or creates) the file; the schema is migrated on first use.
   * @throws InvalidOptionError for an in-memory database (the migrator opens the file apart).
   */
  constructor(path = "decisions.db") {
    checkDatabaseFile("SqliteAuditCheckpointStore", path);
    const { runner, close } = sqliteRunner(path, "audit checkpoint store");
    super("", runner, close);
    this.path = path;
  }
}
