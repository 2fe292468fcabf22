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

/** A sliding-window request counter (`requests_per_minute` and friends). */
export interface WindowCounter {
  readonly kind: "window";
  /** Counter key; unique per policy rule, window length and `per` value. */
  readonly key: string;
  /** Requests allowed in any window of `windowMs`. */
  readonly limit: number;
  /** Window length in ms. */
  readonly windowMs: number;
  /** Amount this call adds (1 for a request). */
  readonly amount: number;
  /** When true, going past `limit` refuses the whole decision; when false it only reports. */
  readonly hard: boolean;
}

/** A calendar-period counter: money (micro-dollars) or tokens for one hour, day or month. */
export interface PeriodCounter {
  readonly kind: "period";
  /** Counter key; it includes the period's index, so a new period starts at zero. */
  readonly key: string;
  /** Largest total allowed in the period (micro-dollars or tokens). */
  readonly limit: number;
  /** Amount this call reserves (its estimated cost in micro-dollars, or its tokens). */
  readonly amount: number;
  /** End of the period (UTC ms); the store may forget the counter after it. */
  readonly expiresAtMs: number;
  /** When true, going past `limit` refuses the whole decision; when false it only reports. */
  readonly hard: boolean;
}

/** One counter a decision touches. */
export type Counter = WindowCounter | PeriodCounter;

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
  /** End of the counter's period, as in {@link PeriodCounter.expiresAtMs}. */
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
   */
  consume(counters: readonly Counter[], nowMs: number): ConsumeResult | Promise<ConsumeResult>;
  /** Applies corrections to period counters (never refuses: spent money is spent). */
  adjust(adjustments: readonly CounterAdjustment[]): void | Promise<void>;
  /** Releases resources (connections, timers). */
  close?(): void | Promise<void>;
}
