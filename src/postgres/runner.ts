/**
 * The statement runner PostgreSQL's feature stores (confirmations, API policies, API keys,
 * checkpoints) run on: one pool, opened on first use, that migrates the audit schema before
 * its first statement.
 *
 * @module
 */

import { GuardrailError } from "../kernel/errors.ts";
import type { SqlRunner, SqlValue } from "../sql/confirmations.ts";
import { numbered } from "../sql/prune.ts";
import { throwIfMigrationFailed } from "../sql/schema-ready.ts";
import { PostgresAuditStore } from "./audit-store.ts";
import {
  isPool,
  openPool,
  type PgConnectionConfig,
  type PgPoolLike,
  requirePg,
} from "./connection.ts";

/** A runner over a PostgreSQL pool (or connection settings) that migrates the audit schema on first use. */
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
    if (closed)
      return Promise.reject(new GuardrailError(`the ${what} is closed`, { code: "store_closed" }));
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
