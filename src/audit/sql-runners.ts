/**
 * The statement runners the audit database's feature stores (API policies, API keys) run
 * on: one over a SQLite file, one over a PostgreSQL pool. Each migrates the audit schema
 * before its first statement.
 *
 * @module
 */

import type { SQLInputValue, StatementSync } from "node:sqlite";
import { GuardrailError } from "../kernel/errors.ts";
import type { ConfirmationRow, SqlRunner, SqlValue } from "./confirmations/sql-confirmations.ts";
import {
  isPool,
  openPool,
  type PgConnectionConfig,
  type PgPoolLike,
  requirePg,
} from "./postgres/connection.ts";
import { PostgresAuditStore } from "./postgres/postgres-audit-store.ts";
import { numbered } from "./prune.ts";
import { throwIfMigrationFailed } from "./schema-ready.ts";
import { nodeSqlite } from "./sqlite/node-sqlite.ts";
import { SqliteAuditStore } from "./sqlite/sqlite-audit-store.ts";

export function pgRunner(
  connection: string | PgConnectionConfig | PgPoolLike,
  schema: string,
  what: string,
): { runner: SqlRunner; close: () => Promise<void> } {
  const owns = !isPool(connection);
  // Checked now, not on the first statement: a missing driver is a setup error.
  if (owns) requirePg(`the ${what}`);
  let pool: PgPoolLike | undefined = isPool(connection) ? connection : undefined;
  let ready: Promise<PgPoolLike> | undefined;
  let closed = false;
  const connected = (): Promise<PgPoolLike> => {
    if (closed) return Promise.reject(new GuardrailError(`the ${what} is closed`));
    ready ??= (async () => {
      pool ??= await openPool(isPool(connection) ? {} : connection);
      const audit = new PostgresAuditStore(pool, { schema });
      throwIfMigrationFailed(await audit.migrate());
      return pool;
    })().catch((err: unknown) => {
      ready = undefined; // try again on the next call
      throw err;
    });
    return ready;
  };
  const query = async (sql: string, params: readonly SqlValue[]) =>
    (await connected()).query(numbered(sql), [...params]);
  return {
    runner: {
      all: async (sql, params) => (await query(sql, params)).rows,
      run: async (sql, params) => (await query(sql, params)).rowCount ?? 0,
    },
    close: async () => {
      if (closed) return;
      closed = true;
      const p = pool;
      pool = undefined;
      ready = undefined;
      if (owns && p) await p.end?.();
    },
  };
}

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
    if (!open) throw new GuardrailError(`the ${what} is closed`);
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
