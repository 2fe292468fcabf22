/**
 * What a {@link DecisionLogger} takes and tells: its options and their rules, its
 * counters, what `close()` and `getPolicyStats` answer.
 *
 * @module
 */

import {
  booleanRule,
  functionRule,
  methodsRule,
  nonNegativeMsRule,
  type OptionRule,
  type RulesFor,
} from "../util/check-options.ts";
import type { DecisionLogger } from "./decision-logger.ts";

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
   * be written), for those who must never lose one. Concurrent records share a
   * transaction (group commit): those taken while one append is in flight go together in
   * the next (up to `batchSize`), and each `record()` promise settles when its batch
   * commits or fails.
   * @default false
   */
  readonly durable?: boolean;
  /**
   * How long `close()` (and the exit hooks) may spend writing what is queued and closing
   * the store, in ms. Records still unwritten then are reported through `onError` and in
   * the result of `close()`, never dropped silently.
   * @default 5000
   */
  readonly closeTimeoutMs?: number;
  /** Told about store failures (once per kind until a write succeeds again). Default: one line on stderr. */
  readonly onError?: (error: Error) => void;
  /**
   * Flush on `beforeExit`, `SIGINT` and `SIGTERM`.
   * @default true
   */
  readonly exitHooks?: boolean;
}

/** What the store given to a DecisionLogger must offer. */
export const STORE_RULE: OptionRule = methodsRule("AuditStore", ["append", "close"]);
/** A count: `batchSize` and `maxQueue` are rounded up to at least one batch anyway. */
const COUNT_RULE: OptionRule = {
  expected: "a positive number of records",
  test: (v) => typeof v === "number" && v > 0 && !Number.isNaN(v),
};
/** The rule for each {@link DecisionLoggerOptions} key. */
export const OPTION_RULES = {
  batchSize: COUNT_RULE,
  flushIntervalMs: nonNegativeMsRule,
  maxQueue: COUNT_RULE,
  durable: booleanRule,
  closeTimeoutMs: nonNegativeMsRule,
  onError: functionRule("a function (error) => void"),
  exitHooks: booleanRule,
} satisfies RulesFor<DecisionLoggerOptions>;

/** Counters of what happened to records. */
export interface DecisionLoggerStats {
  readonly recorded: number;
  readonly written: number;
  readonly dropped: number;
  readonly failures: number;
  /** Durable records whose write failed: their callers were told (the promise rejected). */
  readonly refused: number;
  /**
   * Queued records the store refused alone while the records around them were written
   * (poison records): dropped so they cannot block the log, each reported through
   * `onError`. Also counted in `dropped`.
   */
  readonly poisoned: number;
}

/** What `close()` resolves to. */
export interface DecisionLoggerCloseResult {
  /**
   * Records taken but not known to be written when `close()` gave up: the store failed,
   * or the bound (`closeTimeoutMs`) ran out. Also reported through `onError` when above 0.
   */
  readonly unwritten: number;
  /** True when flushing or closing the store did not finish within `closeTimeoutMs`. */
  readonly timedOut: boolean;
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
