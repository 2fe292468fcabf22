/**
 * The PostgreSQL migrator: applies, reports and rolls back `POSTGRES_MIGRATIONS`, one
 * migrator at a time across processes (an advisory lock per schema).
 *
 * @module
 */

import type { MigrationResult, MigrationStatus } from "../audit/types.ts";
import { PRUNE_MIGRATION } from "../sql/migrations.ts";
import { adoptionStatements, numbered } from "../sql/prune.ts";
import type { PgClientLike, PgPoolLike } from "./connection.ts";
import { POSTGRES_MIGRATIONS } from "./migrations.ts";

/** What the migrator needs from a store. */
export interface Migrator {
  readonly schema: string;
  /** The quoted, schema-qualified migrations table. */
  readonly table: string;
  tx<T>(fn: (c: PgClientLike) => Promise<T>): Promise<T>;
  pool(): Promise<PgPoolLike>;
}

/**
 * The second half of {@link PRUNE_MIGRATION}: earlier retention's tombstones and folded
 * start become one chained prune record (head row locked; `search_path` is the schema).
 */
async function adoptLegacyRetention(c: PgClientLike): Promise<void> {
  const chain = (
    await c.query(
      "SELECT start_seq, start_hash, head_seq, head_hash FROM hexarch_chain WHERE id = 1 FOR UPDATE",
    )
  ).rows[0];
  const tombstones = (
    await c.query("SELECT seq, prev_hash, hash FROM hexarch_tombstones ORDER BY seq")
  ).rows;
  for (const [sql, params] of adoptionStatements(chain, tombstones, Date.now()))
    await c.query(numbered(sql), [...params]);
}

const lock = (c: PgClientLike, schema: string) =>
  c.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`hexarch_migrations:${schema}`]);

/** Applies every pending migration, each in its own transaction; stops at the first failure. */
export async function migrateUp(m: Migrator): Promise<readonly MigrationResult[]> {
  const results: MigrationResult[] = [];
  for (const step of POSTGRES_MIGRATIONS) {
    try {
      const status = await m.tx(async (c) => {
        await lock(c, m.schema);
        await c.query(`CREATE SCHEMA IF NOT EXISTS "${m.schema}"`);
        await c.query(
          `CREATE TABLE IF NOT EXISTS ${m.table} (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`,
        );
        const done = await c.query(`SELECT 1 FROM ${m.table} WHERE version = $1`, [step.version]);
        if (done.rows.length > 0) return "already applied" as const;
        await c.query(`SET LOCAL search_path TO "${m.schema}"`);
        for (const sql of step.up) await c.query(sql);
        if (step.version === PRUNE_MIGRATION) await adoptLegacyRetention(c);
        await c.query(`INSERT INTO ${m.table} VALUES ($1, $2, $3)`, [
          step.version,
          step.name,
          new Date().toISOString(),
        ]);
        return "applied" as const;
      });
      results.push({ version: step.version, name: step.name, direction: "up", status });
    } catch (err) {
      results.push({
        version: step.version,
        name: step.name,
        direction: "up",
        status: "failed",
        error: (err as Error).message,
      });
      break;
    }
  }
  return results;
}

/** Every migration, applied (when) or pending. Applies none. */
export async function migrationStatusOf(m: Migrator): Promise<readonly MigrationStatus[]> {
  const pool = await m.pool();
  const exists = await pool.query("SELECT to_regclass($1) AS t", [
    `"${m.schema}".hexarch_migrations`,
  ]);
  const applied = new Map<number, string>();
  if (exists.rows[0]?.t !== null) {
    const rows = await pool.query(`SELECT version, applied_at FROM ${m.table}`);
    for (const r of rows.rows) applied.set(Number(r.version), String(r.applied_at));
  }
  return POSTGRES_MIGRATIONS.map((step) => ({
    version: step.version,
    name: step.name,
    appliedAt: applied.get(step.version) ?? null,
  }));
}

/** Rolls the latest applied migration back (nothing when none is applied). */
export async function rollbackLatest(m: Migrator): Promise<readonly MigrationResult[]> {
  try {
    const result = await m.tx(async (c) => {
      await lock(c, m.schema);
      const exists = await c.query("SELECT to_regclass($1) AS t", [
        `"${m.schema}".hexarch_migrations`,
      ]);
      if (exists.rows[0]?.t === null) return undefined;
      const latest = await c.query(`SELECT version FROM ${m.table} ORDER BY version DESC LIMIT 1`);
      const step = POSTGRES_MIGRATIONS.find((x) => x.version === Number(latest.rows[0]?.version));
      if (!step) return undefined;
      await c.query(`SET LOCAL search_path TO "${m.schema}"`);
      for (const sql of step.down) await c.query(sql);
      await c.query(`DELETE FROM ${m.table} WHERE version = $1`, [step.version]);
      return step;
    });
    return result
      ? [{ version: result.version, name: result.name, direction: "down", status: "rolled back" }]
      : [];
  } catch (err) {
    return [
      {
        version: 0,
        name: "latest",
        direction: "down",
        status: "failed",
        error: (err as Error).message,
      },
    ];
  }
}
