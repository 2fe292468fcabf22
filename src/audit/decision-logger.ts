/**
 * `DecisionLogger`: takes decisions from a Guardian, writes them to an `AuditStore` in
 * batches off the call path, and answers questions about them. The durable mode's group
 * commit is in `group-commit.ts`, the search for poison records in a failed batch in
 * `poison.ts`, the counters in `write-tally.ts`.
 *
 * @module
 */

import type { ConfirmationEvent } from "../confirm/events.ts";
import { GuardrailError } from "../kernel/errors.ts";
import { checkOption, checkOptions } from "../util/check-options.ts";
import { type ChainWalkOptions, verifyChain } from "./chain-verify.ts";
import {
  type DecisionLoggerCloseResult,
  type DecisionLoggerOptions,
  type DecisionLoggerStats,
  OPTION_RULES,
  type PolicyStats,
  STORE_RULE,
} from "./decision-logger-options.ts";
import { flushOnExit } from "./exit-flush.ts";
import { GroupCommit } from "./group-commit.ts";
import type { VerifyResult } from "./hash-chain.ts";
import { NullAuditStore } from "./null-audit-store.ts";
import { isolatePoison, storeUnreachable } from "./poison.ts";
import type { DecisionEntry, DecisionRecorder } from "./recorder.ts";
import {
  confirmationRecord,
  type ProviderCallEvent,
  parseDuration,
  providerCallRecord,
  toAuditRecord,
} from "./records.ts";
import type {
  AuditOutcome,
  AuditQuery,
  AuditRecord,
  AuditStore,
  AuditWindow,
  ChainedRecord,
} from "./types.ts";
import {
  defaultBucketMs,
  summaryOf,
  type Timeseries,
  type WindowSummary,
  zeroFilled,
} from "./windows.ts";
import { WriteTally } from "./write-tally.ts";

export type {
  DecisionLoggerCloseResult,
  DecisionLoggerOptions,
  DecisionLoggerStats,
  PolicyStats,
} from "./decision-logger-options.ts";
export { confirmationRecord, parseDuration, toAuditRecord } from "./records.ts";
export type {
  Timeseries,
  TimeseriesPoint,
  WindowPolicyCounts,
  WindowSummary,
} from "./windows.ts";

/** A window's ends as ms and ISO text, checked. */
function windowOf(window: Partial<AuditWindow>): { since: number; until: number } {
  const until = window.until === undefined ? Date.now() : new Date(window.until).getTime();
  const since = window.since === undefined ? until - 86_400_000 : new Date(window.since).getTime();
  if (!Number.isFinite(since) || !Number.isFinite(until))
    throw new GuardrailError("since and until must be dates or ISO 8601 times", {
      code: "invalid_argument",
    });
  if (until < since)
    throw new GuardrailError("until must not be before since", { code: "invalid_argument" });
  return { since, until };
}

const OWNER = "DecisionLogger";

/** Settles with `"timeout"` after `ms` unless `work` settles first (and rejects as `work` does). */
async function within(work: Promise<unknown>, ms: number): Promise<"done" | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((done) => {
    timer = setTimeout(() => done("timeout"), Math.max(0, ms));
    timer.unref?.();
  });
  try {
    return await Promise.race([work.then(() => "done" as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
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
  readonly #closeTimeoutMs: number;
  #queue: AuditRecord[] = [];
  /** The durable mode's group commit. */
  readonly #commits: GroupCommit;
  readonly #tally: WriteTally;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #flushing: Promise<void> | undefined;
  #closed = false;
  readonly #discard: boolean;
  /** Removes the exit hooks ({@link flushOnExit}); a no-op without them. */
  readonly #removeExitHooks: () => void;

  /** @throws InvalidOptionError for a store without `append` and `close`, or an option of the wrong type or range. */
  constructor(store: AuditStore = new NullAuditStore(), options: DecisionLoggerOptions = {}) {
    checkOption(OWNER, "store", store, STORE_RULE);
    checkOptions(OWNER, options, OPTION_RULES);
    this.store = store;
    this.#discard = store instanceof NullAuditStore;
    this.durable = options.durable ?? false;
    this.#batchSize = Math.max(1, options.batchSize ?? 500);
    this.#flushIntervalMs = options.flushIntervalMs ?? 250;
    this.#maxQueue = Math.max(this.#batchSize, options.maxQueue ?? 100_000);
    this.#tally = new WriteTally(
      options.onError ?? ((err) => process.stderr.write(`[hexarch] audit log: ${err.message}\n`)),
    );
    this.#commits = new GroupCommit(store, this.#batchSize, this.#tally);
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 5000;
    this.#removeExitHooks =
      (options.exitHooks ?? true)
        ? flushOnExit(async () => {
            await this.#flushWithin(this.#closeTimeoutMs, "the process exits");
          })
        : () => {};
  }

  /** What happened to records so far. */
  get stats(): DecisionLoggerStats {
    return {
      recorded: this.#tally.recorded,
      written: this.#tally.written,
      dropped: this.#tally.dropped,
      failures: this.#tally.failures,
      refused: this.#tally.refused,
      poisoned: this.#tally.poisoned,
    };
  }

  /** Records taken and not written yet: queued, or waiting for (or in) a durable commit. */
  get pending(): number {
    return this.#queue.length + this.#commits.pending;
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
    this.#tally.recorded++;
    if (this.durable) return this.#commits.take(record);
    this.#queue.push(record);
    if (this.#queue.length > this.#maxQueue) {
      const excess = this.#queue.length - this.#maxQueue;
      this.#queue.splice(0, excess);
      this.#tally.dropped += excess;
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

  /**
   * Writes every queued record, and waits for the durable records taken before it to
   * settle. Never rejects: failures go to `onError` and the records stay queued.
   */
  async flush(): Promise<void> {
    const settled = this.#commits.whenSettled(); // the durable records taken before this call
    await this.#write(false);
    await settled;
  }

  /**
   * Flushes for at most `ms`; reports (through `onError`) the records still unwritten then.
   * @returns How many are unwritten, and whether the time ran out.
   */
  async #flushWithin(ms: number, when: string): Promise<DecisionLoggerCloseResult> {
    const timedOut = (await within(this.flush(), ms)) === "timeout";
    const unwritten = this.pending;
    if (unwritten > 0)
      this.#tally.report(
        new GuardrailError(
          `${unwritten} audit record${unwritten === 1 ? "" : "s"} could not be written before ${when}${timedOut ? ` (the store did not finish within ${ms} ms)` : " (the store failed)"}; they are lost`,
          { code: "audit_records_unwritten" },
        ),
      );
    return { unwritten, timedOut };
  }

  /** Writes queued records: only full batches, or everything. One write loop at a time. */
  async #write(fullBatchesOnly: boolean): Promise<void> {
    while (this.#flushing !== undefined) await this.#flushing;
    if (this.#queue.length === 0) return;
    const run = async () => {
      while (this.#queue.length >= (fullBatchesOnly ? this.#batchSize : 1)) {
        const batch = this.#queue.slice(0, this.#batchSize);
        try {
          await this.store.append(batch);
        } catch (err) {
          this.#tally.failed(err);
          // One record alone, a store that could not be reached, or no record of the batch
          // could be written: the store is down. Keep the batch queued; the next flush retries.
          if (batch.length === 1 || storeUnreachable(err)) return;
          const gone = await isolatePoison(this.store, batch, this.#tally);
          if (gone.size === 0) return;
          // Only the batch's records left; the queue may have lost some of its head meanwhile (maxQueue).
          const head = Math.min(batch.length, this.#queue.length);
          this.#queue.splice(0, head, ...this.#queue.slice(0, head).filter((r) => !gone.has(r)));
          continue;
        }
        this.#queue.splice(0, batch.length);
        this.#tally.wrote(batch.length);
      }
    };
    this.#flushing = run().finally(() => {
      this.#flushing = undefined;
    });
    await this.#flushing;
  }

  /**
   * Flushes and closes the store, within `closeTimeoutMs` even when the store hangs.
   * Records it could not write are reported through `onError` and counted in the result
   * (awaiting it as a `Promise<void>` works too).
   * @throws what the store's own `close()` throws.
   */
  async close(): Promise<DecisionLoggerCloseResult> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#removeExitHooks();
    const started = Date.now();
    const flushed = await this.#flushWithin(this.#closeTimeoutMs, "the audit log closed");
    // The store gets what is left of the bound, and at least a second to let go.
    const left = Math.max(1000, this.#closeTimeoutMs - (Date.now() - started));
    const closing = this.store.close();
    if ((await within(closing, left)) === "timeout") {
      closing.catch(() => {}); // settles after we stopped waiting: nobody to tell
      this.#tally.report(
        new GuardrailError(`the audit store did not close within ${left} ms; left behind`, {
          code: "close_timeout",
        }),
      );
      return { unwritten: flushed.unwritten, timedOut: true };
    }
    await closing;
    return flushed;
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

  /**
   * Decisions per time bucket in a window (default: the 24 hours before now), counted by
   * the store, every bucket of the window listed (zeros where none). Buckets are aligned
   * to the epoch; `bucketMs` defaults to the shortest of 1m, 5m, 15m, 1h and 1d giving at
   * most 200 buckets. Confirmation events and provider calls are not counted.
   *
   * @throws GuardrailError `invalid_argument` for a window ending before it starts, a
   *   bucket that is not a whole number of seconds, or more than 2000 buckets.
   */
  async getTimeseries(
    options: Partial<AuditWindow> & { readonly bucketMs?: number } = {},
  ): Promise<Timeseries> {
    const { since, until } = windowOf(options);
    const bucketMs = options.bucketMs ?? defaultBucketMs(since, until);
    // Checked (and the bucket count bounded) before the store is asked.
    zeroFilled(since, until, bucketMs, []);
    await this.flush();
    const counts = await this.store.timeseries({
      since: new Date(since),
      until: new Date(until),
      bucketMs,
      ...(options.policyId !== undefined && { policyId: options.policyId }),
    });
    return {
      since: new Date(since).toISOString(),
      until: new Date(until).toISOString(),
      bucketMs,
      points: zeroFilled(since, until, bucketMs, counts),
    };
  }

  /**
   * Decisions in a window (default: the 24 hours before now), counted by the store: per
   * outcome, per policy, with the block rate and the most frequent block reasons.
   * Confirmation events and provider calls are not counted (as in `getPolicyStats`).
   *
   * @throws GuardrailError `invalid_argument` for a window ending before it starts.
   */
  async getSummary(
    options: Partial<AuditWindow> & { readonly topReasons?: number } = {},
  ): Promise<WindowSummary> {
    const { since, until } = windowOf(options);
    await this.flush();
    const counts = await this.store.summary(
      {
        since: new Date(since),
        until: new Date(until),
        ...(options.policyId !== undefined && { policyId: options.policyId }),
      },
      options.topReasons ?? 5,
    );
    return summaryOf(new Date(since).toISOString(), new Date(until).toISOString(), counts);
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
   * Every decision matching a filter, oldest first (`order: "desc"`: newest first, from
   * `beforeSeq` down when given), read a page at a time by position in the log, so an
   * export of millions of records holds one page in memory.
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
    options: { pageSize?: number; order?: "asc" | "desc" } = {},
  ): AsyncGenerator<ChainedRecord, void, undefined> {
    await this.flush();
    const pageSize = Math.max(1, options.pageSize ?? 1000);
    const desc = options.order === "desc";
    let remaining = filter.limit ?? Number.POSITIVE_INFINITY;
    // Newest first starts below `filter.beforeSeq` when given; oldest first keeps it as a bound.
    let at: number | undefined = desc ? filter.beforeSeq : 0;
    while (remaining > 0) {
      const limit = Math.min(pageSize, remaining);
      const page = await this.store.query({
        ...filter,
        limit,
        ...(desc
          ? { order: "desc", ...(at !== undefined && { beforeSeq: at }) }
          : { order: "asc", afterSeq: at ?? 0 }),
      });
      yield* page;
      const last = page[page.length - 1];
      if (page.length < limit || last === undefined) return;
      remaining -= page.length;
      at = last.seq;
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
  async verify(options: ChainWalkOptions = {}): Promise<VerifyResult> {
    await this.flush();
    // The walk, its rules (prune records, genesis start, head) and its messages: chain-verify.ts.
    return verifyChain(this.store, options);
  }

  async #prune(days: number, outcomes: readonly AuditOutcome[], dryRun = false): Promise<number> {
    if (!Number.isFinite(days) || days < 0)
      throw new GuardrailError(`days must be a non-negative number, got ${days}`, {
        code: "invalid_argument",
      });
    await this.flush();
    const before = new Date(Date.now() - days * 86_400_000).toISOString();
    return this.store.prune(before, outcomes, { dryRun });
  }
}
