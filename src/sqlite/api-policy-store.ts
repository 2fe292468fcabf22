/**
 * `SqliteApiPolicyStore`: API-defined rules and policies in the audit log's SQLite file.
 *
 * @module
 */

import { SqlApiPolicies } from "../sql/api-policies.ts";
import { checkDatabaseFile } from "../sql/options.ts";
import { sqliteRunner } from "./runner.ts";

/** Options of {@link SqliteApiPolicyStore}. */
export interface SqliteApiPolicyStoreOptions {
  /** Current time in ms since the epoch (for `created_at`, `updated_at`). @default Date.now */
  readonly clock?: () => number;
}

/**
 * Rules and policies made over the decision server's API, in a SQLite file — the one
 * `SqliteAuditStore` writes decisions to (tables `hexarch_api_rules` and
 * `hexarch_api_policies`, audit migration 5, applied on first use).
 *
 * @example
 * ```ts
 * const apiPolicies = new SqliteApiPolicyStore("decisions.db");
 * const app = await createServer({ guardian, apiPolicies, apiToken });
 * ```
 */
export class SqliteApiPolicyStore extends SqlApiPolicies {
  /** The database file. */
  readonly path: string;

  /**
   * Opens (or creates) the file; the schema is migrated on first use.
   * @throws InvalidOptionError for an in-memory database (the migrator opens the file apart).
   */
  constructor(path = "decisions.db", options: SqliteApiPolicyStoreOptions = {}) {
    checkDatabaseFile("SqliteApiPolicyStore", path);
    const { runner, close } = sqliteRunner(path, "API policy store");
    super("", runner, close, options.clock);
    this.path = path;
  }
}
