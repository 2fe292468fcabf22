/**
 * `SqliteApiPolicyStore`: API-defined rules and policies in the audit log's SQLite file.
 *
 * @module
 */

import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { GuardrailError } from "../../errors.ts";
import type { ConfirmationRow, SqlRunner } from "../confirmations/sql-confirmations.ts";
import { SqliteAuditStore } from "../sqlite/sqlite-audit-store.ts";
import { SqlApiPolicies } from "./sql-api-policies.ts";

/** Options of {@link SqliteApiPolicyStore}. */
export interface SqliteApiPolicyStoreOptions {
  /** Current time in ms since the epoch (for `created_at`, `updated_at`). @default Date.now */
  readonly clock?: () => number;
}

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
    if (!db.isOpen) throw new GuardrailError("the API policy store is closed");
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
   * @throws GuardrailError for an in-memory database (the migrator opens the file apart).
   */
  constructor(path = "decisions.db", options: SqliteApiPolicyStoreOptions = {}) {
    if (path === "" || path === ":memory:")
      throw new GuardrailError("SqliteApiPolicyStore needs a database file, not ':memory:'");
    const { runner, close } = sqliteRunner(path);
    super("", runner, close, options.clock);
    this.path = path;
  }
}
