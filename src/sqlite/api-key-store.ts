/**
 * `SqliteApiKeyStore`: the decision server's API keys in the audit log's SQLite file.
 *
 * @module
 */

import { type ApiKeyStoreOptions, SqlApiKeys } from "../sql/api-keys.ts";
import { checkDatabaseFile } from "../sql/options.ts";
import { sqliteRunner } from "./runner.ts";

/**
 * API keys in a SQLite file — the one `SqliteAuditStore` writes decisions to (table
 * `hexarch_api_keys`, audit migration 6, applied on first use).
 *
 * @example
 * ```ts
 * const apiKeys = new SqliteApiKeyStore("decisions.db", { pepper: process.env.HEXARCH_API_KEY_PEPPER });
 * const app = await createServer({ guardian, apiKeys, apiToken });
 * ```
 */
export class SqliteApiKeyStore extends SqlApiKeys {
  /** The database file. */
  readonly path: string;

  /**
   * Opens (or creates) the file; the schema is migrated on first use.
   * @throws InvalidOptionError for an in-memory database, or a pepper under 16 characters.
   */
  constructor(path = "decisions.db", options: ApiKeyStoreOptions = {}) {
    checkDatabaseFile("SqliteApiKeyStore", path);
    const { runner, close } = sqliteRunner(path, "API key store");
    super("", runner, close, options);
    this.path = path;
  }
}
