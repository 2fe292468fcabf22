/**
 * `SqliteApiKeyStore`: the decision server's API keys in the audit log's SQLite file.
 *
 * @module
 */

import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { GuardrailError } from "../../errors.ts";
import type { ConfirmationRow, SqlRunner } from "../confirmations/sql-confirmations.ts";
import { SqliteAuditStore } from "../sqlite/sqlite-audit-store.ts";
import { type ApiKeyStoreOptions, SqlApiKeys } from "./sql-api-keys.ts";

/** A runner over one SQLite file that migrates the audit schema on first use. */
function sqliteRunner(path: string): { runner: SqlRunner; close: () => Promise<void> } {
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;");
  const statements = new Map<string, StatementSync>();
  let migrated: Promise<void> | undefined;
  const ready = (): Promise<void> => {
    migrated ??= (async () => {
      const audit = new SqliteAuditStore(path);
      try {
        const failed = (await audit.migrate()).find((r) => r.status === "failed");
        if (failed)
          throw new GuardrailError(
            `audit schema migration ${failed.version} failed: ${failed.error}`,
          );
      } finally {
        await audit.close();
      }
    })().catch((err: unknown) => {
      migrated = undefined; // try again on the next call
      throw err;
    });
    return migrated;
  };
  const statement = async (sql: string): Promise<StatementSync> => {
    await ready();
    if (!db.isOpen) throw new GuardrailError("the API key store is closed");
    let st = statements.get(sql);
    if (!st) {
      st = db.prepare(sql);
      statements.set(sql, st);
    }
    return st;
  };
  return {
    runner: {
      all: async (sql, params) =>
        (await statement(sql)).all(...(params as SQLInputValue[])) as ConfirmationRow[],
      run: async (sql, params) =>
        Number((await statement(sql)).run(...(params as SQLInputValue[])).changes),
    },
    close: async () => {
      if (db.isOpen) db.close();
    },
  };
}

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
   * @throws GuardrailError for an in-memory database, or a pepper under 16 characters.
   */
  constructor(path = "decisions.db", options: ApiKeyStoreOptions = {}) {
    if (path === "" || path === ":memory:")
      throw new GuardrailError("SqliteApiKeyStore needs a database file, not ':memory:'");
    const { runner, close } = sqliteRunner(path);
    super("", runner, close, options);
    this.path = path;
  }
}
