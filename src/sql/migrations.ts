/**
 * Migrations whose SQL is the same for SQLite and PostgreSQL.
 *
 * @module
 */

import { COUNTED_IN_STATS } from "./rows.ts";

/**
 * The migration that makes retention a chained record: after its tables are created, the
 * stores adopt earlier tombstones and a folded chain start into one prune record, in the
 * same transaction.
 */
export const PRUNE_MIGRATION = 9;

/** One schema step. */
export interface SqlMigration {
  readonly version: number;
  readonly name: string;
  readonly up: readonly string[];
  readonly down: readonly string[];
}

/**
 * Migrations 2 and later: identical in both dialects. Integer columns are `BIGINT` (an
 * `INTEGER` affinity in SQLite), JSON is text, so one spelling serves both.
 */
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
         FROM hexarch_decisions WHERE ${COUNTED_IN_STATS} GROUP BY 1, 2, 3`,
    ],
    down: ["DROP TABLE hexarch_policy_counts"],
  },
  {
    version: 3,
    name: "drop the time-only index: history is read in log order",
    up: ["DROP INDEX hexarch_decisions_time"],
    down: ["CREATE INDEX hexarch_decisions_time ON hexarch_decisions (timestamp)"],
  },
  {
    version: 4,
    name: "create confirmations (token digests only)",
    up: [
      // The confirmation stores of `hexarch-guardrails/audit`. `secret_hash` is the hex
      // SHA-256 of the token's secret; `expired` is never stored but read from the clock.
      `CREATE TABLE hexarch_confirmations (
        id TEXT PRIMARY KEY,
        secret_hash TEXT NOT NULL,
        policy_id TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'consumed')),
        requested_by TEXT,
        reason TEXT,
        operation TEXT,
        metadata TEXT,
        created_at_ms BIGINT NOT NULL,
        expires_at_ms BIGINT NOT NULL,
        decided_by TEXT,
        decided_at_ms BIGINT,
        decision_reason TEXT
      )`,
      "CREATE INDEX hexarch_confirmations_expires ON hexarch_confirmations (expires_at_ms)",
    ],
    down: ["DROP TABLE hexarch_confirmations"],
  },
  {
    version: 5,
    name: "create API-defined rules and policies",
    up: [
      // Rules and policies made over the decision server's API (`/rules`, `/policies`).
      // `condition` and `rule_ids` are JSON text; times are ISO 8601 UTC text.
      `CREATE TABLE hexarch_api_rules (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        description TEXT,
        rule_type TEXT NOT NULL,
        priority BIGINT NOT NULL,
        enabled BIGINT NOT NULL,
        condition TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      )`,
      `CREATE TABLE hexarch_api_policies (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        description TEXT,
        scope TEXT NOT NULL CHECK (scope IN ('GLOBAL', 'ORGANIZATION', 'TEAM', 'USER')),
        scope_value TEXT,
        failure_mode TEXT NOT NULL CHECK (failure_mode IN ('FAIL_CLOSED', 'FAIL_OPEN')),
        enabled BIGINT NOT NULL,
        rule_ids TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      )`,
    ],
    down: ["DROP TABLE hexarch_api_policies", "DROP TABLE hexarch_api_rules"],
  },
  {
    version: 6,
    name: "create API keys (keyed hashes only)",
    up: [
      // The decision server's API keys. `id` is the key's non-secret prefix; `key_hash` the
      // hex HMAC-SHA256 of the whole key; `scopes` JSON text; times ISO 8601 UTC text.
      `CREATE TABLE hexarch_api_keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        scopes TEXT NOT NULL,
        key_hash TEXT NOT NULL,
        created_at TEXT NOT NULL,
        revoked_at TEXT,
        last_used_at TEXT
      )`,
      // The HMAC secret, when none is configured (HEXARCH_API_KEY_PEPPER): made on first use.
      `CREATE TABLE hexarch_api_key_secrets (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
      )`,
    ],
    down: ["DROP TABLE hexarch_api_key_secrets", "DROP TABLE hexarch_api_keys"],
  },
  {
    version: 7,
    name: "create audit checkpoints (signed chain heads)",
    up: [
      // Signed checkpoints of the hash chain (`POST /audit-checkpoints`): the head's `seq`
      // and hash, how many entries the chain held, who asked and when (ISO 8601 UTC), the
      // signing key's id and the hex HMAC-SHA256 over the other fields.
      `CREATE TABLE hexarch_audit_checkpoints (
        id TEXT PRIMARY KEY,
        seq BIGINT NOT NULL,
        head_hash TEXT NOT NULL,
        records BIGINT NOT NULL,
        created_at TEXT NOT NULL,
        actor TEXT NOT NULL,
        key_id TEXT NOT NULL,
        signature TEXT NOT NULL
      )`,
      "CREATE INDEX hexarch_audit_checkpoints_created ON hexarch_audit_checkpoints (created_at)",
    ],
    down: ["DROP TABLE hexarch_audit_checkpoints"],
  },
  {
    version: 8,
    name: "bind API keys to a subject (user, tenant)",
    up: [
      // The user and tenant a key acts for (`POST /api-keys { subject }`), JSON text; NULL
      // for a key bound to no one. A bound key's context claims are overridden by these.
      "ALTER TABLE hexarch_api_keys ADD COLUMN subject TEXT",
    ],
    down: ["ALTER TABLE hexarch_api_keys DROP COLUMN subject"],
  },
  {
    version: PRUNE_MIGRATION,
    name: "chain retention: prune records and their runs replace tombstones",
    up: [
      // A retention deletion as an entry of the hash chain: its `seq` follows the head it
      // was chained after; its hash covers every column (see `pruneHash`).
      `CREATE TABLE hexarch_prunes (
        seq BIGINT PRIMARY KEY,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        timestamp TEXT NOT NULL,
        actor TEXT NOT NULL,
        reason TEXT NOT NULL,
        from_seq BIGINT NOT NULL,
        to_seq BIGINT NOT NULL,
        removed BIGINT NOT NULL,
        runs BIGINT NOT NULL,
        runs_digest TEXT NOT NULL
      )`,
      // Each stretch of consecutive removed entries: the hash before it and its last hash,
      // so the chain links across the gap; the prune record's digest covers them all.
      `CREATE TABLE hexarch_pruned_runs (
        from_seq BIGINT PRIMARY KEY,
        to_seq BIGINT NOT NULL,
        prune_seq BIGINT NOT NULL,
        prev_hash TEXT NOT NULL,
        last_hash TEXT NOT NULL
      )`,
      // The stores then adopt the tombstones and folded start left by earlier retention
      // into one prune record, in the same transaction (prune.ts adoptionStatements).
    ],
    // Rolling back drops the prune records: a chain with prunes no longer verifies after.
    down: ["DROP TABLE hexarch_pruned_runs", "DROP TABLE hexarch_prunes"],
  },
];
