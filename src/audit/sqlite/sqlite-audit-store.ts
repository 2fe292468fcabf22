/**
 * `SqliteAuditStore`: the audit log in a SQLite file, on Node's built-in `node:sqlite`
 * (no native addon).
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import { GuardrailError } from "../../errors.ts";
import { GENESIS } from "../hash-chain.ts";
import {
  COUNTED_IN_STATS,
  chainBatch,
  DECISION_COLUMNS,
  historySql,
  mergeChain,
  type Row,
  rowToRecord,
  rowToTombstone,
} from "../rows.ts";
import type {
  AuditOutcome,
  AuditQuery,
  AuditRecord,
  AuditStore,
  ChainedRecord,
  MigrationResult,
  MigrationStatus,
  PolicyCounts,
  Tombstone,
} from "../types.ts";
import { SQLITE_MIGRATIONS } from "./migrations.ts";

const ROWS_PER_INSERT = 50;

/**
 * Audit records in a SQLite database file. The schema is created (migrated) on first use.
 *
 * @example
 * ```ts
 * import { DecisionLogger, SqliteAuditStore } from "hexarch-guardrails/audit";
 * const auditLogger = new DecisionLogger(new SqliteAuditStore("decisions.db"));
 * ```
 */
export class SqliteAuditStore implements AuditStore {
  /** The database file (or `:memory:`). */
  readonly path: string;
  readonly #db: DatabaseSync;
  #migrated = false;
  readonly #inserts = new Map<number, StatementSync>();

  constructor(path = "decisions.db") {
    this.path = path;
    this.#db = new DatabaseSync(path);
    this.#db.exec(
      "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;",
    );
  }

  /** {@inheritDoc AuditStore.migrate} */
  async migrate(): Promise<readonly MigrationResult[]> {
    const db = this.#db;
    db.exec(
      "CREATE TABLE IF NOT EXISTS hexarch_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    );
    const applied = new Set(
      (db.prepare("SELECT version FROM hexarch_migrations").all() as Row[]).map((r) =>
        Number(r.version),
      ),
    );
    const results: MigrationResult[] = [];
    for (const m of SQLITE_MIGRATIONS) {
      if (applied.has(m.version)) {
        results.push({
          version: m.version,
          name: m.name,
          direction: "up",
          status: "already applied",
        });
        continue;
      }
      try {
        // IMMEDIATE takes the write lock first, and the check is repeated under it: of two
        // processes migrating a new file at once, the second finds the work done.
        const done = this.#transaction(() => {
          if (db.prepare("SELECT 1 FROM hexarch_migrations WHERE version = ?").get(m.version))
            return true;
          for (const sql of m.up) db.exec(sql);
          db.prepare("INSERT INTO hexarch_migrations VALUES (?, ?, ?)").run(
            m.version,
            m.name,
            new Date().toISOString(),
          );
          return false;
        }, "IMMEDIATE");
        results.push({
          version: m.version,
          name: m.name,
          direction: "up",
          status: done ? "already applied" : "applied",
        });
      } catch (err) {
        results.push({
          version: m.version,
          name: m.name,
          direction: "up",
          status: "failed",
          error: (err as Error).message,
        });
        break;
      }
    }
    this.#migrated = results.every((r) => r.status !== "failed");
    return results;
  }

  /** {@inheritDoc AuditStore.migrationStatus} */
  async migrationStatus(): Promise<readonly MigrationStatus[]> {
    const db = this.#db;
    const table = db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'hexarch_migrations'")
      .get();
    const applied = new Map<number, string>();
    if (table) {
      for (const r of db
        .prepare("SELECT version, applied_at FROM hexarch_migrations")
        .all() as Row[])
        applied.set(Number(r.version), String(r.applied_at));
    }
    return SQLITE_MIGRATIONS.map((m) => ({
      version: m.version,
      name: m.name,
      appliedAt: applied.get(m.version) ?? null,
    }));
  }

  /** {@inheritDoc AuditStore.rollback} */
  async rollback(): Promise<readonly MigrationResult[]> {
    const db = this.#db;
    db.exec(
      "CREATE TABLE IF NOT EXISTS hexarch_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    );
    const latest = db
      .prepare("SELECT version FROM hexarch_migrations ORDER BY version DESC LIMIT 1")
      .get() as Row | undefined;
    const m = latest && SQLITE_MIGRATIONS.find((x) => x.version === Number(latest.version));
    if (!m) return [];
    try {
      this.#transaction(() => {
        for (const sql of m.down) db.exec(sql);
        db.prepare("DELETE FROM hexarch_migrations WHERE version = ?").run(m.version);
      });
      this.#migrated = false;
      return [{ version: m.version, name: m.name, direction: "down", status: "rolled back" }];
    } catch (err) {
      return [
        {
          version: m.version,
          name: m.name,
          direction: "down",
          status: "failed",
          error: (err as Error).message,
        },
      ];
    }
  }

  /** {@inheritDoc AuditStore.append} */
  async append(batch: readonly AuditRecord[]): Promise<void> {
    if (batch.length === 0) return;
    await this.#ready();
    const db = this.#db;
    this.#transaction(() => {
      // A batch retried after a failure must not be stored twice.
      const stored = new Set<string>();
      for (let i = 0; i < batch.length; i += 500) {
        const ids = batch.slice(i, i + 500).map((r) => r.decisionId);
        const found = db
          .prepare(
            `SELECT decision_id FROM hexarch_decisions WHERE decision_id IN (${ids.map(() => "?").join(", ")})`,
          )
          .all(...ids) as Row[];
        for (const r of found) stored.add(String(r.decision_id));
      }
      const records = stored.size === 0 ? batch : batch.filter((r) => !stored.has(r.decisionId));
      if (records.length === 0) return;
      const head = db
        .prepare("SELECT head_seq, head_hash FROM hexarch_chain WHERE id = 1")
        .get() as Row;
      const chained = chainBatch(records, Number(head.head_seq), String(head.head_hash));
      // Multi-row statements: one call into SQLite per 50 records instead of per record.
      for (let start = 0; start < chained.rows.length; start += ROWS_PER_INSERT) {
        const chunk = chained.rows.slice(start, start + ROWS_PER_INSERT);
        this.#insert(chunk.length).run(...chunk.flat());
      }
      const upsert = db.prepare(
        "INSERT INTO hexarch_policy_counts VALUES (?, ?, ?, ?) ON CONFLICT (policy_id, decision, reason) DO UPDATE SET n = n + excluded.n",
      );
      for (const c of chained.counts) upsert.run(...c);
      db.prepare("UPDATE hexarch_chain SET head_seq = ?, head_hash = ? WHERE id = 1").run(
        chained.headSeq,
        chained.headHash,
      );
    }, "IMMEDIATE");
  }

  /** A prepared multi-row insert for `rows` records (cached per size). */
  #insert(rows: number): StatementSync {
    let st = this.#inserts.get(rows);
    if (!st) {
      const tuple = `(${Array.from({ length: 15 }, () => "?").join(", ")})`;
      st = this.#db.prepare(
        `INSERT INTO hexarch_decisions (${DECISION_COLUMNS}) VALUES ${Array.from({ length: rows }, () => tuple).join(", ")}`,
      );
      this.#inserts.set(rows, st);
    }
    return st;
  }

  /** {@inheritDoc AuditStore.query} */
  async query(filter: AuditQuery): Promise<readonly ChainedRecord[]> {
    await this.#ready();
    const { sql, params } = historySql("hexarch_decisions", filter, () => "?");
    return (this.#db.prepare(sql).all(...params) as Row[]).map(rowToRecord);
  }

  /** {@inheritDoc AuditStore.policyIds} */
  async policyIds(): Promise<readonly string[]> {
    await this.#ready();
    return (
      this.#db
        .prepare(
          "SELECT policy_id FROM hexarch_policy_counts GROUP BY policy_id HAVING sum(n) > 0 ORDER BY policy_id",
        )
        .all() as Row[]
    ).map((r) => String(r.policy_id));
  }

  /** {@inheritDoc AuditStore.counts} */
  async counts(policyId: string, topReasons: number): Promise<PolicyCounts> {
    await this.#ready();
    const db = this.#db;
    // Kept up to date by append and prune, so stats cost the same over a million records.
    const by = new Map<string, number>();
    for (const r of db
      .prepare(
        "SELECT decision, sum(n) AS n FROM hexarch_policy_counts WHERE policy_id = ? GROUP BY decision",
      )
      .all(policyId) as Row[]) {
      by.set(String(r.decision), Number(r.n));
    }
    const reasons = db
      .prepare(
        "SELECT reason, n FROM hexarch_policy_counts WHERE policy_id = ? AND decision = 'blocked' AND n > 0 ORDER BY n DESC, reason LIMIT ?",
      )
      .all(policyId, topReasons) as Row[];
    return {
      allowed: by.get("allowed") ?? 0,
      warned: by.get("warned") ?? 0,
      blocked: by.get("blocked") ?? 0,
      topBlockReasons: reasons.map((r) => ({ reason: String(r.reason), count: Number(r.n) })),
    };
  }

  /** {@inheritDoc AuditStore.prune} */
  async prune(
    before: string,
    outcomes: readonly AuditOutcome[],
    options: { readonly dryRun?: boolean } = {},
  ): Promise<number> {
    if (outcomes.length === 0) return 0;
    await this.#ready();
    const db = this.#db;
    const marks = outcomes.map(() => "?").join(", ");
    const match = `FROM hexarch_decisions WHERE timestamp < ? AND decision IN (${marks})`;
    if (options.dryRun) {
      const r = db.prepare(`SELECT count(*) AS n ${match}`).get(before, ...outcomes) as Row;
      return Number(r.n);
    }
    let removed = 0;
    this.#transaction(() => {
      db.prepare(
        `INSERT INTO hexarch_tombstones SELECT seq, decision_id, prev_hash, hash ${match}`,
      ).run(before, ...outcomes);
      const gone = db
        .prepare(
          `SELECT policy_id, decision, CASE WHEN decision = 'blocked' THEN reason ELSE '' END AS reason, count(*) AS n ${match} AND ${COUNTED_IN_STATS} GROUP BY 1, 2, 3`,
        )
        .all(before, ...outcomes) as Row[];
      const lower = db.prepare(
        "UPDATE hexarch_policy_counts SET n = n - ? WHERE policy_id = ? AND decision = ? AND reason = ?",
      );
      for (const g of gone) {
        lower.run(Number(g.n), String(g.policy_id), String(g.decision), String(g.reason));
      }
      removed = Number(db.prepare(`DELETE ${match}`).run(before, ...outcomes).changes);
      // Tombstones before the oldest remaining record form a prefix: fold them into the
      // chain's starting point, so retention does not keep one row per record forever.
      const oldest = db.prepare("SELECT min(seq) AS s FROM hexarch_decisions").get() as Row;
      const limit = oldest.s === null ? Number.MAX_SAFE_INTEGER : Number(oldest.s);
      const last = db
        .prepare("SELECT seq, hash FROM hexarch_tombstones WHERE seq < ? ORDER BY seq DESC LIMIT 1")
        .get(limit) as Row | undefined;
      if (last) {
        db.prepare("UPDATE hexarch_chain SET start_seq = ?, start_hash = ? WHERE id = 1").run(
          Number(last.seq),
          String(last.hash),
        );
        db.prepare("DELETE FROM hexarch_tombstones WHERE seq <= ?").run(Number(last.seq));
      }
    }, "IMMEDIATE");
    return removed;
  }

  /** {@inheritDoc AuditStore.chain} */
  async chain(afterSeq: number, limit: number): Promise<readonly (ChainedRecord | Tombstone)[]> {
    await this.#ready();
    const db = this.#db;
    const records = (
      db
        .prepare("SELECT * FROM hexarch_decisions WHERE seq > ? ORDER BY seq LIMIT ?")
        .all(afterSeq, limit) as Row[]
    ).map(rowToRecord);
    const tombs = (
      db
        .prepare("SELECT * FROM hexarch_tombstones WHERE seq > ? ORDER BY seq LIMIT ?")
        .all(afterSeq, limit) as Row[]
    ).map(rowToTombstone);
    return mergeChain(records, tombs, limit);
  }

  /** {@inheritDoc AuditStore.ends} */
  async ends(): Promise<{
    startSeq: number;
    startHash: string;
    headSeq: number;
    headHash: string;
  }> {
    await this.#ready();
    const r = this.#db.prepare("SELECT * FROM hexarch_chain WHERE id = 1").get() as Row;
    return {
      startSeq: Number(r.start_seq),
      startHash: String(r.start_hash ?? GENESIS),
      headSeq: Number(r.head_seq),
      headHash: String(r.head_hash),
    };
  }

  /** Closes the database. */
  async close(): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
  }

  async #ready(): Promise<void> {
    if (this.#migrated) return;
    const results = await this.migrate();
    const failed = results.find((r) => r.status === "failed");
    if (failed)
      throw new GuardrailError(`audit schema migration ${failed.version} failed: ${failed.error}`);
  }

  #transaction<T>(fn: () => T, mode: "DEFERRED" | "IMMEDIATE" = "DEFERRED"): T {
    this.#db.exec(`BEGIN ${mode}`);
    try {
      const result = fn();
      this.#db.exec("COMMIT");
      return result;
    } catch (err) {
      this.#db.exec("ROLLBACK");
      throw err;
    }
  }
}
