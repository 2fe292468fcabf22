/**
 * `SqliteAuditStore`: the audit log in a SQLite file, on Node's built-in `node:sqlite`
 * (no native addon).
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import type {
  AuditBucketCount,
  AuditOutcome,
  AuditQuery,
  AuditRecord,
  AuditStore,
  AuditTimeseriesQuery,
  AuditWindow,
  AuditWindowCounts,
  ChainEntry,
  ChainedRecord,
  MigrationResult,
  MigrationStatus,
  PolicyCounts,
  PruneOptions,
} from "../audit/types.ts";
import { InvalidOptionError } from "../kernel/errors.ts";
import { PRUNE_MIGRATION } from "../sql/migrations.ts";
import {
  adoptionStatements,
  cutsSql,
  goneSql,
  lowerParams,
  prunedRuns,
  pruneHead,
  pruneStatements,
  pruneWho,
  runsSql,
} from "../sql/prune.ts";
import { chainEnds, historySql, type Row, readChainPage, rowToRecord } from "../sql/rows.ts";
import { throwIfMigrationFailed } from "../sql/schema-ready.ts";
import { policyCounts } from "../sql/stats.ts";
import {
  bucketCounts,
  summarySql,
  timeseriesSql,
  type WindowPlan,
  windowCounts,
  windowPlan,
  windowSizeSql,
} from "../sql/windows.ts";
import {
  booleanRule,
  checkOption,
  checkOptions,
  type OptionRule,
  type RulesFor,
  stringRule,
} from "../util/check-options.ts";
import { encodeBatch, SQLITE_PRAGMAS, SqliteAppender, transaction } from "./append.ts";
import { SQLITE_MIGRATIONS } from "./migrations.ts";
import { nodeSqlite } from "./node-sqlite.ts";
import { WriterThread } from "./writer-thread.ts";

const PATH_RULE: OptionRule = stringRule('a database file path (or ":memory:")');
const OPTION_RULES = { worker: booleanRule } satisfies RulesFor<SqliteAuditStoreOptions>;

/** Options of {@link SqliteAuditStore}. */
export interface SqliteAuditStoreOptions {
  /**
   * Write on a worker thread: appends (hashing, inserts, `COMMIT`, WAL checkpoints) run on
   * a second connection to the file in a `node:worker_threads` thread, so a batch never
   * holds the event loop; each append settles after the thread committed it. Reads,
   * migrations and retention stay on this thread. For servers; not for `:memory:`.
   * @default false
   */
  readonly worker?: boolean;
}

/**
 * Audit records in a SQLite database file. The schema is created (migrated) on first use.
 *
 * @example
 * ```ts
 * import { DecisionLogger, SqliteAuditStore } from "hexarch-guardrails/audit";
 * const auditLogger = new DecisionLogger(new SqliteAuditStore("decisions.db"));
 * // in a server: writes on a worker thread, off the event loop
 * const serverLogger = new DecisionLogger(new SqliteAuditStore("decisions.db", { worker: true }));
 * ```
 */
export class SqliteAuditStore implements AuditStore {
  /** The database file (or `:memory:`). */
  readonly path: string;
  readonly #db: DatabaseSync;
  #migrated = false;
  readonly #appender: SqliteAppender;
  readonly #writer: WriterThread | undefined;
  /** Settles once the appends waiting for migrations have been written (or posted). */
  #gate: Promise<void> | undefined;
  #closed = false;

  /**
   * Opens (or creates) the file. The schema is migrated on first use.
   *
   * @throws InvalidOptionError for a path that is not a string, or `{ worker: true }` on `:memory:`.
   * @throws UnsupportedNodeVersionError on a Node.js without `node:sqlite` (before 22.13).
   */
  constructor(path = "decisions.db", options: SqliteAuditStoreOptions = {}) {
    checkOption("SqliteAuditStore", "path", path, PATH_RULE);
    checkOptions("SqliteAuditStore", options, OPTION_RULES);
    if (options.worker && (path === ":memory:" || path === ""))
      throw new InvalidOptionError(
        "SqliteAuditStore: { worker: true } needs a database file (a writer thread cannot share :memory:)",
        { option: "worker", owner: "SqliteAuditStore" },
      );
    this.path = path;
    const { DatabaseSync } = nodeSqlite("SqliteAuditStore");
    this.#db = new DatabaseSync(path);
    this.#db.exec(SQLITE_PRAGMAS);
    this.#appender = new SqliteAppender(this.#db);
    this.#writer = options.worker ? new WriterThread(path) : undefined;
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
          if (m.version === PRUNE_MIGRATION) this.#adoptLegacyRetention();
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

  /**
   * Appends records in one transaction, chaining each to the one before
   * ({@link AuditStore.append}).
   *
   * Batches are committed in the order `append` was called (also while the first ones wait
   * for migrations). With `worker`, a batch is chained and committed on the writer thread
   * and the promise settles with its acknowledgement, after `COMMIT`.
   */
  append(batch: readonly AuditRecord[]): Promise<void> {
    if (batch.length === 0) return Promise.resolve();
    // At once when the schema is ready and no earlier append waits for it…
    if (this.#gate === undefined && this.#migrated) return this.#write(batch);
    // …otherwise behind the appends waiting before it.
    const started = (this.#gate ?? Promise.resolve())
      .then(() => this.#ready())
      .then(() => ({ written: this.#write(batch) }));
    const gate = started.then(
      () => {},
      () => {},
    );
    this.#gate = gate;
    void gate.then(() => {
      if (this.#gate === gate) this.#gate = undefined;
    });
    return started.then((s) => s.written);
  }

  /** Writes a batch here, or posts it to the writer thread. */
  #write(batch: readonly AuditRecord[]): Promise<void> {
    if (this.#writer !== undefined) return this.#writer.append(encodeBatch(batch));
    try {
      this.#appender.append(batch);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
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

  /** {@inheritDoc AuditStore.timeseries} */
  async timeseries(query: AuditTimeseriesQuery): Promise<readonly AuditBucketCount[]> {
    await this.#ready();
    const { sql, params } = timeseriesSql(
      "hexarch_decisions",
      query,
      () => "?",
      "sqlite",
      this.#windowPlan(query),
    );
    return bucketCounts(this.#db.prepare(sql).all(...params) as Row[], query.bucketMs);
  }

  /** {@inheritDoc AuditStore.summary} */
  async summary(window: AuditWindow, topReasons: number): Promise<AuditWindowCounts> {
    await this.#ready();
    const { outcomes, reasons } = summarySql(
      "hexarch_decisions",
      window,
      topReasons,
      () => "?",
      "sqlite",
      this.#windowPlan(window),
    );
    return windowCounts(
      this.#db.prepare(outcomes.sql).all(...outcomes.params) as Row[],
      this.#db.prepare(reasons.sql).all(...reasons.params) as Row[],
    );
  }

  /**
   * How to read a window: SQLite plans without knowing how many rows it holds, and would
   * look a month of a million rows up from the index one by one. Counting the window off
   * the index alone is cheap, and says when reading the table is faster.
   */
  #windowPlan(window: AuditWindow): WindowPlan {
    if (window.policyId !== undefined) return "index";
    const size = windowSizeSql("hexarch_decisions", window);
    const inWindow = Number((this.#db.prepare(size.sql).get(...size.params) as Row).n);
    const ends = this.#db
      .prepare("SELECT start_seq, head_seq FROM hexarch_chain WHERE id = 1")
      .get() as Row | undefined;
    const total = ends ? Number(ends.head_seq) - Number(ends.start_seq) : inWindow;
    return windowPlan(inWindow, total);
  }

  /** {@inheritDoc AuditStore.counts} */
  async counts(policyId: string, topReasons: number): Promise<PolicyCounts> {
    await this.#ready();
    const db = this.#db;
    // Kept up to date by append and prune, so stats cost the same over a million records.
    const sums = db
      .prepare(
        "SELECT decision, sum(n) AS n FROM hexarch_policy_counts WHERE policy_id = ? GROUP BY decision",
      )
      .all(policyId) as Row[];
    const reasons = db
      .prepare(
        "SELECT reason, n FROM hexarch_policy_counts WHERE policy_id = ? AND decision = 'blocked' AND n > 0 ORDER BY n DESC, reason LIMIT ?",
      )
      .all(policyId, topReasons) as Row[];
    return policyCounts(sums, reasons);
  }

  /** Earlier retention's tombstones and folded start become one chained prune record. */
  #adoptLegacyRetention(): void {
    const db = this.#db;
    const chain = db
      .prepare("SELECT start_seq, start_hash, head_seq, head_hash FROM hexarch_chain WHERE id = 1")
      .get() as Row | undefined;
    const tombstones = db
      .prepare("SELECT seq, prev_hash, hash FROM hexarch_tombstones ORDER BY seq")
      .all() as Row[];
    for (const [sql, params] of adoptionStatements(chain, tombstones, Date.now()))
      db.prepare(sql).run(...params);
  }

  /** {@inheritDoc AuditStore.prune} */
  async prune(
    before: string,
    outcomes: readonly AuditOutcome[],
    options: PruneOptions = {},
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
    const who = pruneWho(before, outcomes, options);
    let removed = 0;
    this.#transaction(() => {
      const params = [before, ...outcomes];
      const head = pruneHead(
        db.prepare("SELECT head_seq, head_hash FROM hexarch_chain WHERE id = 1").get() as
          | Row
          | undefined,
      );
      const runs = prunedRuns(
        db.prepare(runsSql(match, "hexarch_decisions")).all(...params) as Row[],
        db.prepare(cutsSql(match, "hexarch_audit_checkpoints")).all(...params) as Row[],
      );
      if (runs.length === 0) return;
      const gone = db.prepare(goneSql(match)).all(...params) as Row[];
      const lower = db.prepare(
        "UPDATE hexarch_policy_counts SET n = n - ? WHERE policy_id = ? AND decision = ? AND reason = ?",
      );
      for (const g of gone) lower.run(...lowerParams(g));
      removed = Number(db.prepare(`DELETE ${match}`).run(...params).changes);
      // The removal itself goes into the chain: one prune record listing every run.
      const { statements } = pruneStatements(runs, head, who);
      for (const [sql, values] of statements) db.prepare(sql).run(...values);
    }, "IMMEDIATE");
    return removed;
  }

  /** {@inheritDoc AuditStore.chain} */
  async chain(afterSeq: number, limit: number): Promise<readonly ChainEntry[]> {
    await this.#ready();
    const db = this.#db;
    return readChainPage(
      limit,
      (table, at) =>
        db
          .prepare(`SELECT * FROM ${table} WHERE ${at} > ? ORDER BY ${at} LIMIT ?`)
          .all(afterSeq, limit) as Row[],
    );
  }

  /** {@inheritDoc AuditStore.ends} */
  async ends(): Promise<{
    startSeq: number;
    startHash: string;
    headSeq: number;
    headHash: string;
  }> {
    await this.#ready();
    return chainEnds(
      this.#db.prepare("SELECT * FROM hexarch_chain WHERE id = 1").get() as Row | undefined,
    );
  }

  /**
   * Closes the database. With `worker`: after the appends already called are committed,
   * and the writer thread has ended.
   */
  async close(): Promise<void> {
    await this.#gate;
    await this.#writer?.close();
    // A flag of our own, not `DatabaseSync#isOpen`, which Node.js 22.13 and 22.14 lack.
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }

  async #ready(): Promise<void> {
    if (this.#migrated) return;
    throwIfMigrationFailed(await this.migrate());
  }

  #transaction<T>(fn: () => T, mode: "DEFERRED" | "IMMEDIATE" = "DEFERRED"): T {
    return transaction(this.#db, fn, mode);
  }
}
