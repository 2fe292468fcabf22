/**
 * `PostgresAuditStore`: the audit log in PostgreSQL, for several processes or hosts.
 * The `pg` driver is an optional peer dependency, loaded only when this store connects.
 *
 * @module
 */

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
import { GuardrailError } from "../kernel/errors.ts";
import { checkSchema } from "../sql/options.ts";
import {
  cutsSql,
  goneSql,
  lowerParams,
  numbered,
  prunedRuns,
  pruneHead,
  pruneStatements,
  pruneWho,
  runsSql,
} from "../sql/prune.ts";
import {
  chainBatch,
  chainEnds,
  DECISION_COLUMNS,
  historySql,
  readChainPage,
  rowToRecord,
} from "../sql/rows.ts";
import { throwIfMigrationFailed } from "../sql/schema-ready.ts";
import { policyCounts } from "../sql/stats.ts";
import { bucketCounts, summarySql, timeseriesSql, windowCounts } from "../sql/windows.ts";
import {
  isPool,
  openPool,
  type PgClientLike,
  type PgConnectionConfig,
  type PgPoolLike,
  requirePg,
} from "./connection.ts";
import { type Migrator, migrateUp, migrationStatusOf, rollbackLatest } from "./migrator.ts";

/** The array type of each column of `hexarch_decisions`, in {@link DECISION_COLUMNS} order. */
const COLUMN_ARRAYS = [
  "bigint",
  "text",
  "text",
  "text",
  "text",
  "text",
  "text",
  "text",
  "text",
  "text",
  "float8",
  "text",
  "text",
  "text",
  "text",
].map((type, i) => `$${i + 1}::${type}[]`);

/** True for the unique-key violation of a decision id stored already. */
function isDuplicateDecision(err: unknown): boolean {
  const e = err as { code?: unknown; constraint?: unknown } | null;
  return (
    e?.code === "23505" &&
    typeof e.constraint === "string" &&
    e.constraint.endsWith("decision_id_key")
  );
}

/** Inserts a chained batch given as one array per column. */
const INSERT_DECISIONS = (table: string): string =>
  `INSERT INTO ${table} (${DECISION_COLUMNS}) SELECT * FROM unnest(${COLUMN_ARRAYS.join(", ")})`;

/** Options of {@link PostgresAuditStore}. */
export interface PostgresAuditStoreOptions {
  /**
   * The PostgreSQL schema the tables live in (created if missing).
   * @default "public"
   */
  readonly schema?: string;
}

/**
 * Audit records in PostgreSQL. Takes a connection string, `{ host, port, database, user,
 * password }`, or a pool you already have. Writers in any number of processes append to
 * one chain: the chain's head row is locked for the length of each batch.
 *
 * @example
 * ```ts
 * import { DecisionLogger, PostgresAuditStore } from "hexarch-guardrails/audit";
 * const store = new PostgresAuditStore(process.env.HEXARCH_PG_URL ?? "postgres://localhost/hexarch");
 * const auditLogger = new DecisionLogger(store);
 * ```
 */
export class PostgresAuditStore implements AuditStore {
  readonly schema: string;
  readonly #config: string | PgConnectionConfig | undefined;
  #pool: PgPoolLike | undefined;
  readonly #ownsPool: boolean;
  #migrated = false;
  #closed = false;

  /**
   * @param connection a `postgres://` connection string, settings, or a `pg.Pool` (or any
   *   {@link PgPoolLike}) you own: the store then never closes it.
   * @throws InvalidOptionError for a schema that is not a plain identifier.
   * @throws MissingPeerDependencyError for a connection string or settings when the `pg`
   *   package is not installed (checked here, not on the first statement).
   */
  constructor(
    connection: string | PgConnectionConfig | PgPoolLike,
    options: PostgresAuditStoreOptions = {},
  ) {
    this.schema = checkSchema("PostgresAuditStore", options.schema);
    if (isPool(connection)) {
      this.#pool = connection;
      this.#ownsPool = false;
      this.#config = undefined;
    } else {
      requirePg("PostgresAuditStore");
      this.#config = connection;
      this.#ownsPool = true;
    }
  }

  /** A table name qualified with the schema. */
  #t(name: string): string {
    return `"${this.schema}".${name}`;
  }

  async #getPool(): Promise<PgPoolLike> {
    if (this.#closed)
      throw new GuardrailError("PostgresAuditStore is closed", { code: "store_closed" });
    this.#pool ??= await openPool(this.#config ?? {});
    return this.#pool;
  }

  async #tx<T>(fn: (c: PgClientLike) => Promise<T>): Promise<T> {
    const client = await (await this.#getPool()).connect();
    // A connection lost while checked out is an "error" event, which would crash the
    // process without a listener; the statement in flight fails with it anyway.
    const onLost = (): void => {};
    client.on?.("error", onLost);
    try {
      await client.query("BEGIN");
      const result = await fn(client);
      await client.query("COMMIT");
      client.removeListener?.("error", onLost);
      client.release();
      return result;
    } catch (err) {
      // Drop the connection rather than ROLLBACK on it: after a statement timeout it may be
      // stuck, and a ROLLBACK would wait out another one. PostgreSQL rolls back on close.
      client.removeListener?.("error", onLost);
      client.release(err instanceof Error ? err : true);
      throw err;
    }
  }

  /** {@inheritDoc AuditStore.migrate} */
  async migrate(): Promise<readonly MigrationResult[]> {
    const results = await migrateUp(this.#migrator());
    this.#migrated = results.every((r) => r.status !== "failed");
    return results;
  }

  /** {@inheritDoc AuditStore.migrationStatus} */
  async migrationStatus(): Promise<readonly MigrationStatus[]> {
    return migrationStatusOf(this.#migrator());
  }

  /** {@inheritDoc AuditStore.rollback} */
  async rollback(): Promise<readonly MigrationResult[]> {
    const results = await rollbackLatest(this.#migrator());
    if (results[0]?.status === "rolled back") this.#migrated = false;
    return results;
  }

  #migrator(): Migrator {
    return {
      schema: this.schema,
      table: this.#t("hexarch_migrations"),
      tx: (fn) => this.#tx(fn),
      pool: () => this.#getPool(),
    };
  }

  /** {@inheritDoc AuditStore.append} */
  async append(batch: readonly AuditRecord[]): Promise<void> {
    if (batch.length === 0) return;
    await this.#ready();
    try {
      await this.#appendOnce(batch, false);
    } catch (err) {
      // A batch retried after a commit whose answer was lost must not be stored twice: the
      // unique decision id refused it, so store only what is missing.
      if (!isDuplicateDecision(err)) throw err;
      await this.#appendOnce(batch, true);
    }
  }

  async #appendOnce(batch: readonly AuditRecord[], skipStored: boolean): Promise<void> {
    await this.#tx(async (c) => {
      const head = await c.query(
        `SELECT head_seq, head_hash FROM ${this.#t("hexarch_chain")} WHERE id = 1 FOR UPDATE`,
      );
      let records = batch;
      if (skipStored) {
        const present = await c.query(
          `SELECT decision_id FROM ${this.#t("hexarch_decisions")} WHERE decision_id = ANY($1)`,
          [batch.map((r) => r.decisionId)],
        );
        const seen = new Set(present.rows.map((r) => String(r.decision_id)));
        records = batch.filter((r) => !seen.has(r.decisionId) && seen.add(r.decisionId));
        if (records.length === 0) return;
      }
      const chained = chainBatch(
        records,
        Number(head.rows[0]?.head_seq),
        String(head.rows[0]?.head_hash),
      );
      // One statement, one array per column: PostgreSQL parses 15 arrays far faster than
      // thousands of bind parameters, and the statement text never changes.
      const columns = Array.from({ length: 15 }, (_, i) => chained.rows.map((row) => row[i]));
      await c.query(INSERT_DECISIONS(this.#t("hexarch_decisions")), columns);
      // One statement for every (policy, decision, reason) group of the batch.
      const groups = chained.counts;
      await c.query(
        `INSERT INTO ${this.#t("hexarch_policy_counts")} SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) ON CONFLICT (policy_id, decision, reason) DO UPDATE SET n = ${this.#t("hexarch_policy_counts")}.n + excluded.n`,
        [
          groups.map((g) => g[0]),
          groups.map((g) => g[1]),
          groups.map((g) => g[2]),
          groups.map((g) => g[3]),
        ],
      );
      await c.query(
        `UPDATE ${this.#t("hexarch_chain")} SET head_seq = $1, head_hash = $2 WHERE id = 1`,
        [chained.headSeq, chained.headHash],
      );
    });
  }

  /** {@inheritDoc AuditStore.query} */
  async query(filter: AuditQuery): Promise<readonly ChainedRecord[]> {
    await this.#ready();
    const { sql, params } = historySql(
      this.#t("hexarch_decisions"),
      filter,
      (n) => `$${n}`,
      "postgres",
    );
    return (await (await this.#getPool()).query(sql, params)).rows.map(rowToRecord);
  }

  /** {@inheritDoc AuditStore.policyIds} */
  async policyIds(): Promise<readonly string[]> {
    await this.#ready();
    const r = await (await this.#getPool()).query(
      `SELECT policy_id FROM ${this.#t("hexarch_policy_counts")} GROUP BY policy_id HAVING sum(n) > 0 ORDER BY policy_id`,
    );
    return r.rows.map((row) => String(row.policy_id));
  }

  /** {@inheritDoc AuditStore.timeseries} */
  async timeseries(query: AuditTimeseriesQuery): Promise<readonly AuditBucketCount[]> {
    await this.#ready();
    const { sql, params } = timeseriesSql(
      this.#t("hexarch_decisions"),
      query,
      (n) => `$${n}`,
      "postgres",
    );
    return bucketCounts((await (await this.#getPool()).query(sql, params)).rows, query.bucketMs);
  }

  /** {@inheritDoc AuditStore.summary} */
  async summary(window: AuditWindow, topReasons: number): Promise<AuditWindowCounts> {
    await this.#ready();
    const pool = await this.#getPool();
    const { outcomes, reasons } = summarySql(
      this.#t("hexarch_decisions"),
      window,
      topReasons,
      (n) => `$${n}`,
      "postgres",
    );
    return windowCounts(
      (await pool.query(outcomes.sql, outcomes.params)).rows,
      (await pool.query(reasons.sql, reasons.params)).rows,
    );
  }

  /** {@inheritDoc AuditStore.counts} */
  async counts(policyId: string, topReasons: number): Promise<PolicyCounts> {
    await this.#ready();
    const pool = await this.#getPool();
    const sums = (
      await pool.query(
        `SELECT decision, sum(n) AS n FROM ${this.#t("hexarch_policy_counts")} WHERE policy_id = $1 GROUP BY decision`,
        [policyId],
      )
    ).rows;
    const reasons = (
      await pool.query(
        `SELECT reason, n FROM ${this.#t("hexarch_policy_counts")} WHERE policy_id = $1 AND decision = 'blocked' AND n > 0 ORDER BY n DESC, reason LIMIT $2`,
        [policyId, topReasons],
      )
    ).rows;
    return policyCounts(sums, reasons);
  }

  /** {@inheritDoc AuditStore.prune} */
  async prune(
    before: string,
    outcomes: readonly AuditOutcome[],
    options: PruneOptions = {},
  ): Promise<number> {
    if (outcomes.length === 0) return 0;
    await this.#ready();
    const match = `FROM ${this.#t("hexarch_decisions")} WHERE timestamp < $1 AND decision = ANY($2)`;
    if (options.dryRun) {
      const r = await (await this.#getPool()).query(`SELECT count(*) AS n ${match}`, [
        before,
        outcomes,
      ]);
      return Number(r.rows[0]?.n ?? 0);
    }
    const who = pruneWho(before, outcomes, options);
    return this.#tx(async (c) => {
      // Lock the chain's head: the prune record is chained after it, and no writer appends
      // meanwhile.
      const head = pruneHead(
        (
          await c.query(
            `SELECT head_seq, head_hash FROM ${this.#t("hexarch_chain")} WHERE id = 1 FOR UPDATE`,
          )
        ).rows[0],
      );
      const params = [before, outcomes];
      const runs = prunedRuns(
        (await c.query(runsSql(match, this.#t("hexarch_decisions")), params)).rows,
        (await c.query(cutsSql(match, this.#t("hexarch_audit_checkpoints")), params)).rows,
      );
      if (runs.length === 0) return 0;
      const gone = await c.query(goneSql(match), params);
      for (const g of gone.rows) {
        await c.query(
          `UPDATE ${this.#t("hexarch_policy_counts")} SET n = n - $1 WHERE policy_id = $2 AND decision = $3 AND reason = $4`,
          lowerParams(g),
        );
      }
      const removed = (await c.query(`DELETE ${match}`, params)).rowCount ?? 0;
      // The removal itself goes into the chain: one prune record listing every run.
      const { statements } = pruneStatements(runs, head, who, `"${this.schema}".`);
      for (const [sql, values] of statements) await c.query(numbered(sql), [...values]);
      return removed;
    });
  }

  /** {@inheritDoc AuditStore.chain} */
  async chain(afterSeq: number, limit: number): Promise<readonly ChainEntry[]> {
    await this.#ready();
    const pool = await this.#getPool();
    return readChainPage(
      limit,
      async (table, at) =>
        (
          await pool.query(
            `SELECT * FROM ${this.#t(table)} WHERE ${at} > $1 ORDER BY ${at} LIMIT $2`,
            [afterSeq, limit],
          )
        ).rows,
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
    const pool = await this.#getPool();
    return chainEnds(
      (await pool.query(`SELECT * FROM ${this.#t("hexarch_chain")} WHERE id = 1`)).rows[0],
    );
  }

  /** Ends the pool the store opened (a pool passed in stays open). The store is then unusable. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsPool && this.#pool) await this.#pool.end?.();
    this.#pool = undefined;
  }

  async #ready(): Promise<void> {
    if (this.#migrated) return;
    throwIfMigrationFailed(await this.migrate());
  }
}
