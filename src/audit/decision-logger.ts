/**
 * `DecisionLogger`: takes decisions from a Guardian, writes them to an `AuditStore` in
 * batches off the call path, and answers questions about them.
 *
 * @module
 */

import type { ConfirmationEvent } from "../confirm/events.ts";
import { flushOnExit } from "./exit-flush.ts";
import { type VerifyResult, verifyStretch } from "./hash-chain.ts";
import { NullAuditStore } from "./null-audit-store.ts";
import type { DecisionEntry, DecisionRecorder } from "./recorder.ts";
import {
  confirmationRecord,
  type ProviderCallEvent,
  parseDuration,
  providerCallRecord,
  toAuditRecord,
} from "./records.ts";
import type { AuditOutcome, AuditQuery, AuditRecord, AuditStore, ChainedRecord } from "./types.ts";

export { confirmationRecord, parseDuration, toAuditRecord } from "./records.ts";

/** Options of {@link DecisionLogger}. */
export interface DecisionLoggerOptions {
  /**
   * Records written per transaction.
   * @default 500
   */
  readonly batchSize?: number;
  /**
   * A partial batch is written after this long.
   * @default 250
   */
  readonly flushIntervalMs?: number;
  /**
   * Records held in memory while the store is slow or down; past it the oldest are dropped
   * (and counted).
   * @default 100000
   */
  readonly maxQueue?: number;
  /**
   * Write each record before the guarded function runs (and refuse the call when it cannot
   * be written), for those who must never lose one.
   * @default false
   */
  readonly durable?: boolean;
  /** Told about store failures (once per kind until a write succeeds again). Default: one line on stderr. */
  readonly onError?: (error: Error) => void;
  /**
   * Flush on `beforeExit`, `SIGINT` and `SIGTERM`.
   * @default true
   */
  readonly exitHooks?: boolean;
}

/** Counters of what happened to records. */
export interface DecisionLoggerStats {
  readonly recorded: number;
  readonly written: number;
  readonly dropped: number;
  readonly failures: number;
}

/** What `getPolicyStats` answers. */
export interface PolicyStats {
  readonly totalDecisions: number;
  readonly allowed: number;
  readonly warned: number;
  readonly blocked: number;
  /** Blocked share of all decisions, in percent (0–100, two decimals). */
  readonly blockRate: number;
  readonly topBlockReasons: readonly { readonly reason: string; readonly count: number }[];
}

/**
 * Records decisions in an audit store and queries them (the Python `DecisionLogger`).
 *
 * @example
 * ```ts
 * const auditLogger = new DecisionLogger(new SqliteAuditStore("decisions.db"));
 * const guardian = new Guardian({ auditLogger });
 * // …
 * await auditLogger.getPolicyStats("safe_delete");
 * ```
 */
export class DecisionLogger implements DecisionRecorder {
  readonly store: AuditStore;
  /** Whether each record is written before the guarded call runs. */
  readonly durable: boolean;
  readonly #batchSize: number;
  readonly #flushIntervalMs: number;
  readonly #maxQueue: number;
  readonly #onError: (error: Error) => void;
  #queue: AuditRecord[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #flushing: Promise<void> | undefined;
  #recorded = 0;
  #written = 0;
  #dropped = 0;
  #failures = 0;
  #failing = false;
  #closed = false;
  readonly #discard: boolean;
  /** Removes the exit hooks ({@link flushOnExit}); a no-op without them. */
  readonly #removeExitHooks: () => void;

  constructor(store: AuditStore = new NullAuditStore(), options: DecisionLoggerOptions = {}) {
    this.store = store;
    this.#discard = store instanceof NullAuditStore;
    this.durable = options.durable ?? false;
    this.#batchSize = Math.max(1, options.batchSize ?? 500);
    this.#flushIntervalMs = options.flushIntervalMs ?? 250;
    this.#maxQueue = Math.max(this.#batchSize, options.maxQueue ?? 100_000);
    this.#onError =
      options.onError ?? ((err) => process.stderr.write(`[hexarch] audit log: ${err.message}\n`));
    this.#removeExitHooks =
      (options.exitHooks ?? true) ? flushOnExit(() => this.flush()) : () => {};
  }

  /** What happened to records so far. */
  get stats(): DecisionLoggerStats {
    return {
      recorded: this.#recorded,
      written: this.#written,
      dropped: this.#dropped,
      failures: this.#failures,
    };
  }

  /** Takes a decision. Durable loggers write it now (the promise settles when written). */
  record(entry: DecisionEntry): void | Promise<void> {
    if (this.#discard) return; // NullAuditStore: no work at all
    return this.#take(toAuditRecord(entry));
  }

  /**
   * Takes a confirmation event (a request created, approved, denied, consumed or a token
   * refused). It is stored in the same chained log, with `action` `confirmation_<kind>`,
   * and left out of `getPolicyStats`.
   */
  recordConfirmation(event: ConfirmationEvent): void | Promise<void> {
    if (this.#discard) return;
    return this.#take(confirmationRecord(event));
  }

  /**
   * Takes a provider call reported after the fact. It is stored in the same chained log,
   * with `action` `provider_call`, and left out of `getPolicyStats`.
   */
  recordProviderCall(event: ProviderCallEvent): void | Promise<void> {
    if (this.#discard) return;
    return this.#take(providerCallRecord(event));
  }

  #take(record: AuditRecord): void | Promise<void> {
    this.#recorded++;
    if (this.durable) {
      return this.store.append([record]).then(
        () => {
          this.#written++;
          this.#failing = false;
        },
        (err: unknown) => {
          this.#failed(err);
          throw err;
        },
      );
    }
    this.#queue.push(record);
    if (this.#queue.length > this.#maxQueue) {
      const excess = this.#queue.length - this.#maxQueue;
      this.#queue.splice(0, excess);
      this.#dropped += excess;
    }
    if (this.#queue.length >= this.#batchSize) {
      // A running write loop picks the new records up; otherwise start one for full batches.
      if (!this.#flushing) void this.#write(true);
    } else if (!this.#timer && !this.#closed) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        void this.flush();
      }, this.#flushIntervalMs);
      this.#timer.unref?.();
    }
  }

  /** Writes every queued record. Never rejects: failures go to `onError` and the records stay queued. */
  async flush(): Promise<void> {
    await this.#write(false);
  }

  /** Writes queued records: only full batches, or everything. One write loop at a time. */
  async #write(fullBatchesOnly: boolean): Promise<void> {
    while (this.#flushing) await this.#flushing;
    if (this.#queue.length === 0) return;
    const run = async () => {
      while (this.#queue.length >= (fullBatchesOnly ? this.#batchSize : 1)) {
        const batch = this.#queue.slice(0, this.#batchSize);
        try {
          await this.store.append(batch);
        } catch (err) {
          this.#failed(err);
          return; // keep the batch queued; the next flush retries
        }
        this.#queue.splice(0, batch.length);
        this.#written += batch.length;
        this.#failing = false;
      }
    };
    this.#flushing = run().finally(() => {
      this.#flushing = undefined;
    });
    await this.#flushing;
  }

  /** Flushes and closes the store. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#removeExitHooks();
    await this.flush();
    await this.store.close();
  }

  /** Decisions matching a filter, newest first (queued ones are written first). */
  async getDecisionHistory(filter: AuditQuery = {}): Promise<readonly ChainedRecord[]> {
    await this.flush();
    return this.store.query(filter);
  }

  /** Blocked decisions within a timeframe (`24h`, `7d`, `30d`, any duration), newest first. */
  async getBlockedOperations(
    options: { timeframe?: string; limit?: number } = {},
  ): Promise<readonly ChainedRecord[]> {
    const since = new Date(Date.now() - parseDuration(options.timeframe ?? "24h"));
    return this.getDecisionHistory({ decision: "blocked", since, limit: options.limit ?? 100 });
  }

  /** Counts and block rate for one policy, with its most frequent block reasons. */
  async getPolicyStats(
    policyId: string,
    options: { topReasons?: number } = {},
  ): Promise<PolicyStats> {
    await this.flush();
    const c = await this.store.counts(policyId, options.topReasons ?? 5);
    const total = c.allowed + c.warned + c.blocked;
    return {
      totalDecisions: total,
      allowed: c.allowed,
      warned: c.warned,
      blocked: c.blocked,
      blockRate: total === 0 ? 0 : Math.round((c.blocked / total) * 10_000) / 100,
      topBlockReasons: c.topBlockReasons,
    };
  }

  /** Every decision for one user, newest first. */
  async getUserAuditTrail(
    userId: string,
    options: { limit?: number } = {},
  ): Promise<readonly ChainedRecord[]> {
    return this.getDecisionHistory({ userId, limit: options.limit ?? 100 });
  }

  /** Ids of the policies with decisions in the log, sorted. */
  async getPolicyIds(): Promise<readonly string[]> {
    await this.flush();
    return this.store.policyIds();
  }

  /**
   * Every decision matching a filter, oldest first, read a page at a time, so an export
   * of millions of records holds one page in memory.
   *
   * @example
   * ```ts
   * for await (const record of logger.exportDecisions({ policyId: "api_budget" })) {
   *   out.write(`${JSON.stringify(record)}\n`);
   * }
   * ```
   */
  async *exportDecisions(
    filter: Omit<AuditQuery, "order" | "afterSeq" | "offset"> = {},
    options: { pageSize?: number } = {},
  ): AsyncGenerator<ChainedRecord, void, undefined> {
    await this.flush();
    const pageSize = Math.max(1, options.pageSize ?? 1000);
    let remaining = filter.limit ?? Number.POSITIVE_INFINITY;
    let afterSeq = 0;
    while (remaining > 0) {
      const limit = Math.min(pageSize, remaining);
      const page = await this.store.query({ ...filter, order: "asc", afterSeq, limit });
      yield* page;
      const last = page[page.length - 1];
      if (page.length < limit || last === undefined) return;
      remaining -= page.length;
      afterSeq = last.seq;
    }
  }

  /**
   * Deletes records older than `days`; returns how many went (with `dryRun`, how many
   * would go, deleting nothing). The chain stays verifiable.
   */
  async cleanupOldRecords(options: { days: number; dryRun?: boolean }): Promise<number> {
    return this.#prune(options.days, ["allowed", "warned", "blocked"], options.dryRun);
  }

  /** Deletes by outcome, each with its own age in days (e.g. `{ blocked: 365, allowed: 30 }`). */
  async cleanupBySeverity(
    days: Partial<Record<AuditOutcome, number>>,
    options: { dryRun?: boolean } = {},
  ): Promise<number> {
    let removed = 0;
    for (const outcome of ["allowed", "warned", "blocked"] as const) {
      const d = days[outcome];
      if (d !== undefined) removed += await this.#prune(d, [outcome], options.dryRun);
    }
    return removed;
  }

  /**
   * Walks the hash chain: edited, deleted or reordered records are found. Every record's
   * hash is recomputed from its stored columns. The walk ends at the head the log had
   * when it began (records appended meanwhile are left for the next walk). `onProgress`
   * hears how many entries were checked, of about how many; `onEntry` hears the chain's
   * start (`seq` and hash) and then each entry that checked out, in order.
   */
  async verify(
    options: {
      onProgress?: (checked: number, total: number) => void;
      onEntry?: (seq: number, hash: string) => void;
    } = {},
  ): Promise<VerifyResult> {
    await this.flush();
    const ends = await this.store.ends();
    const total = ends.headSeq - ends.startSeq;
    let prev = ends.startHash;
    let after = ends.startSeq;
    let checked = 0;
    options.onEntry?.(ends.startSeq, ends.startHash);
    while (after < ends.headSeq) {
      const read = await this.store.chain(after, 1000);
      const page = read.filter((e) => e.seq <= ends.headSeq);
      if (page.length === 0) break;
      const r = verifyStretch(page, prev);
      const good =
        r.bad === undefined
          ? page
          : page.slice(
              0,
              page.findIndex((e) => e.decisionId === r.bad),
            );
      if (options.onEntry) for (const e of good) options.onEntry(e.seq, e.hash);
      if (r.bad !== undefined)
        return { ok: false, checked: checked + good.length, firstBadDecisionId: r.bad };
      checked += page.length;
      options.onProgress?.(checked, total);
      prev = r.last;
      after = (page[page.length - 1] as { seq: number }).seq;
    }
    if (after !== ends.headSeq || prev !== ends.headHash) {
      return { ok: false, checked, firstBadDecisionId: `(records after seq ${after} are missing)` };
    }
    // An entry past the head is in the chain only if the head has moved past it since (an
    // append commits its records and the new head together); otherwise it was written
    // around the chain.
    const past = (await this.store.chain(ends.headSeq, 1))[0];
    if (past !== undefined && past.seq > (await this.store.ends()).headSeq)
      return { ok: false, checked, firstBadDecisionId: past.decisionId };
    return { ok: true, checked };
  }

  async #prune(days: number, outcomes: readonly AuditOutcome[], dryRun = false): Promise<number> {
    if (!Number.isFinite(days) || days < 0)
      throw new RangeError(`days must be a non-negative number, got ${days}`);
    await this.flush();
    const before = new Date(Date.now() - days * 86_400_000).toISOString();
    return this.store.prune(before, outcomes, { dryRun });
  }

  #failed(err: unknown): void {
    this.#failures++;
    if (this.#failing) return; // reported once until a write succeeds again
    this.#failing = true;
    const error = err instanceof Error ? err : new Error(String(err));
    try {
      this.#onError(new Error(`writing the audit log failed: ${error.message}`, { cause: error }));
    } catch {
      // a failing error hook must not take the host down
    }
  }
}
