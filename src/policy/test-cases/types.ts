/**
 * The shapes of policy test cases: a validated test file, its tests and steps, what a
 * step expects, and the outcome of running a test; plus the defaults they use.
 *
 * @module
 */

import type { Context } from "../../kernel/context.ts";
import type { DecisionAction } from "../../kernel/decision.ts";

/** The instant a test starts at when neither the test nor the file sets `at` (a Thursday, midnight UTC). */
export const DEFAULT_TEST_TIME = "2026-01-01T00:00:00Z";

/** The most decisions one `repeat` may ask for. */
export const MAX_REPEAT = 1_000_000;

/** What a step checks of its (last) decision. Every key given must hold. */
export interface PolicyTestExpectation {
  /** Whether the call may run (`allow` and `warn` are allowed). */
  readonly allowed?: boolean;
  /** The decision's action. */
  readonly action?: DecisionAction;
  /** A substring of the decision's reason (case-sensitive). */
  readonly reason?: string;
  /** The rule that decided: its full id (`rate_limit/rules[0]`) or the part after the policy id (`rules[0]`). */
  readonly rule?: string;
}

/** One step of a test: decide `repeat` times with `context`, then check the last decision. */
export interface PolicyTestStep {
  /** The context (the test's `context` with the step's merged over it). */
  readonly context: Context;
  /** How many times to decide; the expectation applies to the last decision. */
  readonly repeat: number;
  /** Set the clock to this instant (ms since the epoch) before deciding. */
  readonly atMs?: number;
  /** Move the clock forward by this many ms before deciding. */
  readonly advanceMs: number;
  /** What the last decision must be; without one the step only sets up state. */
  readonly expect?: PolicyTestExpectation;
  /** Where the step starts in its file (1-based; 0 when parsed from an object). */
  readonly line: number;
}

/** One validated test. */
export interface PolicyTestCase {
  readonly name: string;
  /** The policy ids decided together (one or more). */
  readonly policyIds: readonly string[];
  /** The clock's start, ms since the epoch. */
  readonly startMs: number;
  /** The steps, in order. A test written without `steps` has exactly one. */
  readonly steps: readonly PolicyTestStep[];
  /** True when the file wrote `steps:` (results then name the step). */
  readonly stepped: boolean;
  /** Where the test starts in its file (1-based; 0 when parsed from an object). */
  readonly line: number;
}

/** A validated test file. */
export interface PolicyTestFile {
  /** The file it came from, or `<inline>`. */
  readonly source: string;
  readonly tests: readonly PolicyTestCase[];
}

/** The outcome of one test. */
export interface PolicyTestResult {
  readonly name: string;
  readonly passed: boolean;
  /** The expectation checked, e.g. `block` or `allowed, action allow`. */
  readonly expected: string;
  /** The same terms read from the decision, e.g. `warn`; `error` when the test could not run. */
  readonly actual: string;
  /** The reason of the decision checked (empty when the test could not run). */
  readonly reason: string;
  /** For a test with `steps`: index (0-based, as in `steps[1]`) of the step reported — the one that failed, else the last checked. */
  readonly step?: number;
  /** Why the test could not run (an unknown policy id, a failing backend). */
  readonly error?: string;
  /** Where the test starts in its file (1-based; 0 when parsed from an object). */
  readonly line: number;
}

/** Options of {@link parsePolicyTests}. */
export interface ParsePolicyTestsOptions {
  /**
   * Name used in error messages and {@link PolicyTestFile.source}.
   * @default "<inline>"
   */
  readonly source?: string;
}
