/**
 * Migrations whose SQL is the same for SQLite and PostgreSQL.
 *
 * @module
 */

/** One schema step. */
export interface SqlMigration {
  readonly version: number;
  readonly name: string;
  readonly up: readonly string[];
  readonly down: readonly string[];
}

/** Migrations 2 and later: identical in both dialects. */
export const SHARED_MIGRATIONS: readonly SqlMigration[] = [
  {
    version: 2,
    name: "keep per-policy counts for stats",
    up: [
      `CREATE TABLE hexarch_policy_counts (
        policy_id TEXT NOT NULL,
        decision TEXT NOT NULL,
        reason TEXT NOT NULL,
        n BIGINT NOT NULL,
        PRIMARY KEY (policy_id, decision, reason)
      )`,
      `INSERT INTO hexarch_policy_counts
         SELECT policy_id, decision, CASE WHEN decision = 'blocked' THEN reason ELSE '' END, count(*)
         FROM hexarch_decisions GROUP BY 1, 2, 3`,
    ],
    down: ["DROP TABLE hexarch_policy_counts"],
  },
  {
    version: 3,
    name: "drop the time-only index: history is read in log order",
    up: ["DROP INDEX hexarch_decisions_time"],
    down: ["CREATE INDEX hexarch_decisions_time ON hexarch_decisions (timestamp)"],
  },
];
