/**
 * `MemoryStateStore`: counters in this process's memory.
 *
 * ## Rate limits: a sliding window of sub-buckets
 * A window of `W` ms is split into `B` buckets of `ceil(W / B)` ms (B = `precision`,
 * default 10). A key keeps, for the last `B + 1` buckets, the count of admitted requests
 * and the time of the latest one. A request at time `t` is admitted when the sum of every
 * bucket that may hold a request inside `(t - W, t]`, plus this request, stays within the
 * limit. The oldest bucket is left out once its latest request has left the window.
 *
 * - Never over the limit: the buckets summed cover the whole window, so no interval of
 *   length `W` ever holds more than `limit` admitted requests.
 * - Conservative by at most one bucket: while the oldest bucket still holds a request inside
 *   the window it counts whole, so a caller may be refused up to `W / B` early. A burst
 *   is forgotten exactly one window after its last request. That errs on the side of
 *   refusing.
 * - Constant memory per key (`2 × (B + 1)` numbers), constant time per check.
 *
 * ## Budgets
 * Calendar-period counters whose key names the period, so a new period starts at zero.
 * A counter is forgotten after its period ends.
 *
 * ## Memory bound
 * Every consume call also sweeps a few entries (in insertion order, resuming where the
 * last sweep stopped) and deletes those whose window or period is over. A full pass
 * remembers the earliest expiry it saw; sweeping then pauses until that instant (or an
 * earlier expiry is inserted), so a stable set of busy keys costs nothing. Idle keys are
 * therefore reclaimed without a timer, and the map holds only keys active within their
 * window plus a lag proportional to the sweep rate.
 *
 * @module
 */

import type { ConsumeResult, Counter, CounterAdjustment, StateStore } from "../state/types.ts";
import { checkOptions, integerRule, type RulesFor } from "../util/check-options.ts";

/** Options of {@link MemoryStateStore}. */
export interface MemoryStateStoreOptions {
  /**
   * Buckets per rate-limit window. More buckets refuse less early but use more memory
   * per key (two numbers per bucket).
   * @default 10
   */
  readonly precision?: number;
  /**
   * Entries examined for expiry on each consume call.
   * @default 2
   */
  readonly sweepPerCall?: number;
}

/** One rate-limit key: a ring of bucket counts. */
interface WindowEntry {
  kind: 0;
  /** Absolute index of the newest bucket. */
  head: number;
  /** Sum of the ring. */
  total: number;
  /** Bucket width in ms. */
  bucketMs: number;
  /** Window length in ms. */
  windowMs: number;
  /** Counts; slot `i % length` holds absolute bucket `i`. */
  counts: number[];
  /** Time of the latest admitted request in each slot. */
  lasts: number[];
}

/** One budget key. */
interface PeriodEntry {
  kind: 1;
  total: number;
  expiresAtMs: number;
}

type Entry = WindowEntry | PeriodEntry;

const OPTION_RULES = {
  precision: integerRule(1, 1000),
  sweepPerCall: integerRule(0),
} satisfies RulesFor<MemoryStateStoreOptions>;

/**
 * Rate-limit and budget counters held in memory, for one process. Decisions against it are
 * synchronous. Share state between processes with `RedisStateStore` instead.
 *
 * @example
 * ```ts
 * import { Guardian, MemoryStateStore } from "hexarch-guardrails";
 * const guardian = new Guardian({ state: new MemoryStateStore() });
 * ```
 */
export class MemoryStateStore implements StateStore {
  readonly #entries = new Map<string, Entry>();
  readonly #precision: number;
  readonly #sweepPerCall: number;
  #sweep: Iterator<[string, Entry]> | undefined;
  /** Earliest expiry among live entries seen in the current pass. */
  #passMinExpiry = Number.POSITIVE_INFINITY;
  /** No entry can expire before this instant: sweeping waits until then. */
  #resumeAtMs = Number.NEGATIVE_INFINITY;
  #lastNowMs = 0;
  // Scratch space reused by consume(); consume() is synchronous, so this is safe.
  #found: (Entry | undefined)[] = [];

  /** @throws InvalidOptionError for a `precision` or `sweepPerCall` that is not a whole number in range. */
  constructor(options: MemoryStateStoreOptions = {}) {
    checkOptions("MemoryStateStore", options, OPTION_RULES);
    this.#precision = options.precision ?? 10;
    this.#sweepPerCall = options.sweepPerCall ?? 2;
  }

  /** Number of keys currently held (for monitoring and tests). */
  get size(): number {
    return this.#entries.size;
  }

  /** {@inheritDoc StateStore.consume} */
  consume(counters: readonly Counter[], nowMs: number): ConsumeResult {
    this.#lastNowMs = nowMs;
    const n = counters.length;
    const totals = new Array<number>(n);
    const found = this.#found;
    const refusedIndex = this.#check(counters, nowMs, totals, true);
    if (refusedIndex >= 0) {
      found.fill(undefined, 0, n);
      this.#sweepSome(nowMs);
      return { admitted: false, totals, refusedIndex };
    }
    for (let i = 0; i < n; i++) {
      const c = counters[i] as Counter;
      const total = (totals[i] as number) + c.amount;
      totals[i] = total;
      let entry = found[i];
      if (c.kind === "window") {
        if (entry === undefined || entry.kind !== 0) {
          entry = this.#newWindow(c.windowMs, nowMs);
          this.#entries.set(c.key, entry);
          this.#noteExpiry(expiryOf(entry));
        }
        const slot = entry.head % entry.counts.length;
        entry.counts[slot] = (entry.counts[slot] as number) + c.amount;
        if (nowMs > (entry.lasts[slot] as number)) entry.lasts[slot] = nowMs;
        entry.total += c.amount;
      } else {
        if (entry === undefined || entry.kind !== 1) {
          entry = { kind: 1, total: 0, expiresAtMs: c.expiresAtMs };
          this.#entries.set(c.key, entry);
          this.#noteExpiry(c.expiresAtMs);
        }
        entry.total = total;
        entry.expiresAtMs = c.expiresAtMs;
      }
      found[i] = undefined;
    }
    this.#sweepSome(nowMs);
    return { admitted: true, totals, refusedIndex: -1 };
  }

  /**
   * What {@link MemoryStateStore.consume} would answer, moving nothing
   * ({@link hexarch-guardrails!StateStore.peek}): the same checks on the same numbers (a
   * window's ring is read as it would be advanced to `nowMs`, an ended period as zero),
   * with no write, no sweep, and no effect on later calls.
   */
  peek(counters: readonly Counter[], nowMs: number): ConsumeResult {
    const n = counters.length;
    const totals = new Array<number>(n);
    const refusedIndex = this.#check(counters, nowMs, totals, false);
    this.#found.fill(undefined, 0, n);
    if (refusedIndex >= 0) return { admitted: false, totals, refusedIndex };
    for (let i = 0; i < n; i++) totals[i] = (totals[i] as number) + (counters[i] as Counter).amount;
    return { admitted: true, totals, refusedIndex: -1 };
  }

  /**
   * The first loop of consume (and all of peek): reads every counter's current total into
   * `totals` and its entry into the scratch `#found`, and answers the index of the first
   * hard counter that refuses, or -1. With `commit`, a window's ring moves forward to
   * `nowMs` and an ended period is zeroed (as consume keeps them); without, both are only
   * computed.
   */
  #check(counters: readonly Counter[], nowMs: number, totals: number[], commit: boolean): number {
    const n = counters.length;
    const found = this.#found;
    let refusedIndex = -1;
    for (let i = 0; i < n; i++) {
      const c = counters[i] as Counter;
      const entry = this.#entries.get(c.key);
      let current = 0;
      if (entry !== undefined) {
        if (entry.kind === 0) {
          if (c.kind === "window")
            current = commit ? this.#advance(entry, nowMs) : windowCountAt(entry, nowMs);
        } else if (entry.expiresAtMs > nowMs) {
          current = entry.total;
        } else if (commit) {
          entry.total = 0;
        }
      }
      found[i] = entry;
      totals[i] = current;
      if (refusedIndex < 0 && c.hard && (current >= c.limit || current + c.amount > c.limit)) {
        refusedIndex = i;
      }
    }
    return refusedIndex;
  }

  /** {@inheritDoc StateStore.adjust} */
  adjust(adjustments: readonly CounterAdjustment[]): void {
    for (const a of adjustments) {
      const entry = this.#entries.get(a.key);
      if (entry === undefined || entry.kind !== 1) {
        if (a.delta > 0 && a.expiresAtMs > this.#lastNowMs) {
          this.#entries.set(a.key, { kind: 1, total: a.delta, expiresAtMs: a.expiresAtMs });
          this.#noteExpiry(a.expiresAtMs);
        }
        continue;
      }
      entry.total = Math.max(0, entry.total + a.delta);
    }
  }

  /** Forgets every counter. */
  clear(): void {
    this.#entries.clear();
    this.#sweep = undefined;
    this.#passMinExpiry = Number.POSITIVE_INFINITY;
    this.#resumeAtMs = Number.NEGATIVE_INFINITY;
  }

  /** Drops every counter. The store stays usable. */
  close(): void {
    this.clear();
  }

  #newWindow(windowMs: number, nowMs: number): WindowEntry {
    const bucketMs = Math.ceil(windowMs / this.#precision);
    return {
      kind: 0,
      head: Math.floor(nowMs / bucketMs),
      total: 0,
      bucketMs,
      windowMs,
      counts: new Array<number>(this.#precision + 1).fill(0),
      lasts: new Array<number>(this.#precision + 1).fill(0),
    };
  }

  /**
   * Moves a window's ring forward to `nowMs`, zeroing buckets that left it, and returns the
   * count that may still lie inside the window.
   */
  #advance(entry: WindowEntry, nowMs: number): number {
    const bucket = Math.floor(nowMs / entry.bucketMs);
    const steps = bucket - entry.head;
    const counts = entry.counts;
    const len = counts.length;
    if (steps > 0) {
      if (steps >= len) {
        counts.fill(0);
        entry.total = 0;
      } else {
        for (let b = entry.head + 1; b <= bucket; b++) {
          const slot = b % len;
          entry.total -= counts[slot] as number;
          counts[slot] = 0;
        }
      }
      entry.head = bucket;
    }
    // A clock that went back keeps counting in the newest bucket.
    const oldest = (entry.head + 1) % len;
    return (entry.lasts[oldest] as number) <= nowMs - entry.windowMs
      ? entry.total - (counts[oldest] as number)
      : entry.total;
  }

  #noteExpiry(expiresAtMs: number): void {
    if (expiresAtMs < this.#resumeAtMs) this.#resumeAtMs = expiresAtMs;
    if (expiresAtMs < this.#passMinExpiry) this.#passMinExpiry = expiresAtMs;
  }

  #sweepSome(nowMs: number): void {
    if (nowMs < this.#resumeAtMs) return;
    let budget = this.#sweepPerCall;
    if (budget <= 0) return;
    let it = this.#sweep ?? this.#entries.entries();
    while (budget-- > 0) {
      const next = it.next();
      if (next.done) {
        // A full pass: nothing can expire before the earliest expiry it saw.
        this.#resumeAtMs = this.#passMinExpiry;
        this.#passMinExpiry = Number.POSITIVE_INFINITY;
        it = this.#entries.entries();
        break;
      }
      const [key, entry] = next.value;
      const expiry = expiryOf(entry);
      // Deleting the current entry of a live Map iterator is safe in JavaScript.
      if (expiry <= nowMs) this.#entries.delete(key);
      else if (expiry < this.#passMinExpiry) this.#passMinExpiry = expiry;
    }
    this.#sweep = it;
  }
}

/**
 * What `#advance` would answer for `entry` at `nowMs`, without moving its ring: the count
 * that may still lie inside the window. Buckets the ring would zero are left out of the
 * sum; the oldest bucket kept is never one of them (they are the newest `steps` slots).
 */
function windowCountAt(entry: WindowEntry, nowMs: number): number {
  const counts = entry.counts;
  const len = counts.length;
  const bucket = Math.floor(nowMs / entry.bucketMs);
  const steps = bucket - entry.head;
  let total = entry.total;
  let head = entry.head;
  if (steps > 0) {
    if (steps >= len) return 0;
    for (let b = head + 1; b <= bucket; b++) total -= counts[b % len] as number;
    head = bucket;
  }
  const oldest = (head + 1) % len;
  return (entry.lasts[oldest] as number) <= nowMs - entry.windowMs
    ? total - (counts[oldest] as number)
    : total;
}

/** The instant after which an entry holds nothing (its last bucket or its period is over). */
function expiryOf(entry: Entry): number {
  return entry.kind === 1 ? entry.expiresAtMs : (entry.head + entry.counts.length) * entry.bucketMs;
}
