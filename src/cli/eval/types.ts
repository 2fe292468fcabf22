/**
 * The shapes of `hexarch-ctl eval run`: a cases file read into steps or tests, and what
 * running each gave.
 *
 * @module
 */

import type { PolicyTestFile } from "../../policy/test-cases/index.ts";

/** The step types a steps file may use. */
export const STEP_TYPES = ["authorize", "create_policy", "create_rule"] as const;

/** One of {@link STEP_TYPES}. */
export type StepType = (typeof STEP_TYPES)[number];

/** A plain JSON object. */
export type JsonObject = Record<string, unknown>;

/** One step of a steps file (the Python harness's format, or native `/authorize` bodies). */
export interface EvalStep {
  readonly id: string;
  readonly type: StepType;
  /** The body sent (templates not yet filled in). */
  readonly request: JsonObject;
  /** The fields the answer must have; for `create_*` steps without one, a 200 or 201. */
  readonly expect?: JsonObject | undefined;
  /** 0-based position in `steps`. */
  readonly index: number;
}

/** A cases file, read and checked. */
export type EvalSuite =
  | {
      readonly kind: "steps";
      readonly name: string;
      readonly source: string;
      readonly steps: readonly EvalStep[];
    }
  | {
      readonly kind: "tests";
      readonly name: string;
      readonly source: string;
      readonly file: PolicyTestFile;
    };

/** A field whose value differs from the expected one. */
export interface FieldDiff {
  readonly field: string;
  readonly expected: unknown;
  readonly actual: unknown;
}

/** How a case ended: `skip` when the mode cannot run it (a test that sets the clock, against a server). */
export type CaseStatus = "pass" | "fail" | "skip";

/** What the decision of a checked case was, in coverage terms. */
export type Outcome = "allow" | "warn" | "deny";

/** The result of one case (a step, or a test of a `tests:` file). */
export interface CaseResult {
  /** The step's `id` or the test's `name`. */
  readonly id: string;
  /** The step type, or `test`. */
  readonly type: StepType | "test";
  readonly status: CaseStatus;
  /** Why it failed or was skipped; empty when it passed. */
  readonly message: string;
  /** The fields that differ (empty when it passed or could not run). */
  readonly diffs: readonly FieldDiff[];
  readonly expected?: unknown;
  readonly actual?: unknown;
  /** The policy ids decided (native shape and tests), for coverage. */
  readonly policyIds: readonly string[];
  /** The outcomes the case checked and saw hold, for coverage. */
  readonly outcomes: readonly Outcome[];
  readonly durationMs: number;
}

/** Allow, warn and deny cases per rule key (and per `action: X`). */
export interface KeyCoverage {
  readonly key: string;
  readonly allow: readonly string[];
  readonly warn: readonly string[];
  readonly deny: readonly string[];
}

/** The whole run, as written to `results.json`. */
export interface EvalReport {
  readonly meta: {
    readonly timestampUtc: string;
    readonly cases: string;
    readonly casesName: string;
    readonly format: "steps" | "tests";
    readonly mode: "url" | "start-server" | "in-process";
    readonly baseUrl: string | null;
    readonly policyFile: string | null;
    readonly version: string;
    /** The signal that stopped the run before every case ran (`SIGINT`, `SIGTERM`). */
    readonly interrupted?: string;
  };
  readonly summary: {
    readonly total: number;
    readonly passed: number;
    readonly failed: number;
    readonly skipped: number;
  };
  readonly results: readonly CaseResult[];
  /** `null` when no policy file was given (the keys of the policies are unknown). */
  readonly coverage: readonly KeyCoverage[] | null;
}
