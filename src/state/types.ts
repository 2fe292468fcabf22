/**
 * The `StateStore` contract: where rate-limit windows and budget counters live.
 *
 * A decision hands the store every counter it touches in one call. The store checks all
 * of them and either consumes all of them or none: a call refused by one counter never
 * moves another. This makes one round trip per decision possible for remote stores
 * (Redis runs it as one script).
 *
 * @module
 */

/**
 * One counter a decision touches: a sliding-window request counter (`kind: "window"`,
 * `requests_per_minute` and friends) or a calendar-period counter of money or tokens
 * (`kind: "period"`, budgets). Both kinds share one shape so stores stay monomorphic.
 */
export interface Counter {
  readonly kind: "window" | "period";
  /**
   * Counter key; unique per policy rule, window or period, and `per` value. A period
   * counter's key names the period, so a new period starts from zero.
   */
  readonly key: string;
  /** Largest total allowed: requests in any window, or micro-dollars / tokens in the period. */
  readonly limit: number;
  /** Amount this call adds: 1 request, or its estimated cost (micro-dollars) or tokens. */
  readonly amount: number;
  /** Window length in ms (`window` counters; 0 for `period`). */
  readonly windowMs: number;
  /** End of the period, UTC ms (`period` counters; 0 for `window`); the store may forget the counter after it. */
  readonly expiresAtMs: number;
  /** When true, going past `limit` refuses the whole decision; when false it only reports. */
  readonly hard: boolean;
}

/** What a store answers for one decision's counters. */
export interface ConsumeResult {
  /** True when every counter was consumed; false when a hard counter refused and none moved. */
  readonly admitted: boolean;
  /**
   * Per counter, in request order: the total after this call when admitted, otherwise the
   * total as it stands (without this call).
   */
  readonly totals: readonly number[];
  /** Index of the first counter that refused, or -1. */
  readonly refusedIndex: number;
}

/** A correction to a period counter after the call ran (settling a reservation or refunding it). */
export interface CounterAdjustment {
  readonly key: string;
  /** Amount to add; negative to give back. */
  readonly delta: number;
  /** End of the counter's period, as in {@link Counter.expiresAtMs} of a `period` counter. */
  readonly expiresAtMs: number;
}

/**
 * Where counters live. Implementations: `MemoryStateStore` (one process) and
 * `RedisStateStore` from `hexarch-guardrails/redis` (shared).
 *
 * A store may answer synchronously; the decision path then stays synchronous too, which
 * is what makes in-process decisions take nanoseconds rather than microseconds.
 */
export interface StateStore {
  /**
   * Checks every counter and consumes all of them, or none when any hard counter would go
   * past its limit. A counter refuses when its total already reached the limit or this
   * call's amount would take it past.
   *
   * Each key appears at most once in `counters`: keys are unique per policy, rule, window
   * or period and `per` value, and a check lists each policy once. Stores need not (and
   * the built-in ones do not) add up two counters with the same key in one call. A key
   * keeps its kind: it is always a window or always a period (the engine's keys name it).
   */
  consume(counters: readonly Counter[], nowMs: number): ConsumeResult | Promise<ConsumeResult>;
  /**
   * What {@link StateStore.consume} would answer for these counters at `nowMs`, without
   * moving anything: `admitted`, the totals as they would be after the call (as they stand
   * when refused) and `refusedIndex`, exactly as `consume` computes them (a window's
   * sliding-window math included), while no counter, window ring or expiry changes. A
   * later `consume` answers as if the peek never happened.
   *
   * Dry-run decisions (`guardian.decide(id, ctx, { dryRun: true })`, `POST /authorize`
   * with `dry_run: true`) use it. Optional: a store without it cannot answer a dry run,
   * and such a decision is refused (`dry_run_unsupported`) without consuming anything.
   * The built-in stores implement it.
   */
  peek?(counters: readonly Counter[], nowMs: number): ConsumeResult | Promise<ConsumeResult>;
  /** Applies corrections to period counters (never refuses: spent money is spent). */
  adjust(adjustments: readonly CounterAdjustment[]): void | Promise<void>;
  /** Releases resources (connections, timers). */
  close?(): void | Promise<void>;
}
