/**
 * The statement runner SQLite's feature stores (confirmations, API policies, API keys,
 * checkpoints) run on: one database file, with prepared statements kept, that migrates the
 * audit schema before its first statement.
 *
 * @module
 */

import type { SQLInputValue, StatementSync } from "node:sqlite";
import { GuardrailError } from "../kernel/errors.ts";
import type { ConfirmationRow, SqlRunner } from "../sql/confirmations.ts";
import { throwIfMigrationFailed } from "../sql/schema-ready.ts";
import { SqliteAuditStore } from "./audit-store.ts";
import { nodeSqlite } from "./node-sqlite.ts";

/** A runner over one SQLite file that migrates the audit schema on first use. */
export function sqliteRunner(
  path: string,
  what: string,
): { runner: SqlRunner; close: () => Promise<void> } {
  const { DatabaseSync } = nodeSqlite(`the ${what}`);
  const db = new DatabaseSync(path);
  // A flag of our own, not `DatabaseSync#isOpen`, which Node.js 22.13 and 22.14 lack.
  let open = true;
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;");
  const statements = new Map<string, StatementSync>();
  let migrated: Promise<void> | undefined;
  const ready = (): Promise<void> => {
    migrated ??= (async () => {
      const audit = new SqliteAuditStore(path);
      try {
        throwIfMigrationFailed(await audit.migrate());
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
    if (!open) throw new GuardrailError(`the ${what} is closed`, { code: "store_closed" });
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
      if (open) db.close();
      open = false;
    },
  };
}
