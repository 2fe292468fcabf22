/**
 * The SQLite schema, as versioned migrations (each with its rollback).
 *
 * @module
 */

import { SHARED_MIGRATIONS, type SqlMigration } from "../sql/migrations.ts";

/** Every SQLite migration, oldest first. */
export const SQLITE_MIGRATIONS: readonly SqlMigration[] = [
  {
    version: 1,
    name: "create decisions, tombstones and chain state",
    up: [
      `CREATE TABLE hexarch_decisions (
        seq INTEGER PRIMARY KEY,
        decision_id TEXT NOT NULL UNIQUE,
        timestamp TEXT NOT NULL,
        policy_id TEXT NOT NULL,
        function_name TEXT,
        decision TEXT NOT NULL CHECK (decision IN ('allowed', 'warned', 'blocked')),
        action TEXT NOT NULL,
        reason TEXT NOT NULL,
        context TEXT NOT NULL,
        user_id TEXT,
        duration_ms REAL NOT NULL,
        metadata TEXT,
        mode TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      )`,
      "CREATE INDEX hexarch_decisions_policy_time ON hexarch_decisions (policy_id, timestamp)",
      "CREATE INDEX hexarch_decisions_user_time ON hexarch_decisions (user_id, timestamp)",
      "CREATE INDEX hexarch_decisions_decision_time ON hexarch_decisions (decision, timestamp)",
      "CREATE INDEX hexarch_decisions_time ON hexarch_decisions (timestamp)",
      `CREATE TABLE hexarch_tombstones (
        seq INTEGER PRIMARY KEY,
        decision_id TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      )`,
      `CREATE TABLE hexarch_chain (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        start_seq INTEGER NOT NULL,
        start_hash TEXT NOT NULL,
        head_seq INTEGER NOT NULL,
        head_hash TEXT NOT NULL
      )`,
      "INSERT INTO hexarch_chain VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', 0, '0000000000000000000000000000000000000000000000000000000000000000')",
    ],
    down: [
      "DROP TABLE hexarch_chain",
      "DROP TABLE hexarch_tombstones",
      "DROP TABLE hexarch_decisions",
    ],
  },
  ...SHARED_MIGRATIONS,
];
