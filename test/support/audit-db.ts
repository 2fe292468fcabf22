/**
 * The audit tests' ways into a database behind the library's back: raw SQL on the SQLite
 * file or the PostgreSQL pool (as an attacker or an operator with write access would), and
 * a store that behaves as another one except where a test changes it.
 */

import { DatabaseSync } from "node:sqlite";
import type pg from "pg";
import type { AuditStore } from "../../src/audit/index.ts";

/** A row as the driver returns it. */
export type Row = Record<string, unknown>;

/** Runs one statement with `?` parameters and returns its rows. */
export type RawSql = (
  statement: string,
  params?: readonly (string | number | null)[],
) => Promise<Row[]>;

/** Raw SQL on a SQLite file, each statement on its own connection. */
export const sqliteSql =
  (path: string): RawSql =>
  async (statement, params = []) => {
    const db = new DatabaseSync(path);
    try {
      return db.prepare(statement).all(...params) as Row[];
    } finally {
      db.close();
    }
  };

/** Raw SQL on a PostgreSQL pool; `?` parameters become `$1`, `$2`, … */
export const postgresSql =
  (pool: pg.Pool): RawSql =>
  async (statement, params = []) => {
    let n = 0;
    const numbered = statement.replace(/\?/g, () => `$${++n}`);
    return (await pool.query(numbered, [...params])).rows as Row[];
  };

/** A store that delegates to `inner` except for the methods given. */
export function wrapStore(inner: AuditStore, overrides: Partial<AuditStore>): AuditStore {
  return {
    migrate: () => inner.migrate(),
    rollback: () => inner.rollback(),
    migrationStatus: () => inner.migrationStatus(),
    append: (r) => inner.append(r),
    query: (f) => inner.query(f),
    counts: (p, n) => inner.counts(p, n),
    policyIds: () => inner.policyIds(),
    timeseries: (q) => inner.timeseries(q),
    summary: (w, n) => inner.summary(w, n),
    prune: (b, o, x) => inner.prune(b, o, x),
    chain: (a, l) => inner.chain(a, l),
    ends: () => inner.ends(),
    close: () => inner.close(),
    ...overrides,
  };
}
