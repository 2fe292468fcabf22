/**
 * Policy test cases, like `opa test` for this language: a YAML (or JSON) file of contexts
 * and the decisions they must get, parsed by {@link parsePolicyTests} and run against a
 * policy set by {@link runPolicyTests}. Each test decides against fresh in-memory state and
 * its own clock, so stateful rules (rate limits, budgets) and schedules are tested exactly.
 *
 * ```yaml
 * tests:
 *   - name: unconfirmed delete needs confirmation
 *     policy: safe_delete
 *     context: { operation: delete }
 *     expect: require_confirmation
 * ```
 *
 * @module
 */

import { z } from "zod";
import { LocalDecisionClient } from "../decision/local-decision-client.ts";
import type { Context } from "../engine/compile-rule.ts";
import type { Decision, DecisionAction } from "../engine/decision.ts";
import { MemoryStateStore } from "../state/memory-state-store.ts";
import { ManualClock } from "../testing/manual-clock.ts";
import { describeValue } from "../util/describe.ts";
import type { DocPath, IssueCollector } from "./issues.ts";
import { nearest } from "./suggest.ts";
import type { PolicySet } from "./types.ts";
import { readYamlSource } from "./yaml-source.ts";

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

// ---------------------------------------------------------------------------------------
// The schema
// ---------------------------------------------------------------------------------------

const ACTIONS = ["allow", "warn", "block", "require_confirmation"] as const;
const INSTANT_TEXT = 'an ISO 8601 date-time with an offset, such as "2026-11-25T23:30:00Z"';
const DURATION_TEXT = 'a duration such as "500ms", "30s", "5m", "2h", "1d" or "1h30m"';
const INSTANT_RE =
  /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/i;
const DURATION_RE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;
const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** An instant in ms, or `undefined` when the text is not an ISO date-time with an offset. */
function parseInstant(text: string): number | undefined {
  const m = INSTANT_RE.exec(text.trim());
  if (!m) return undefined;
  const ms = Date.parse(text.trim());
  if (!Number.isFinite(ms)) return undefined;
  // Date.parse rolls 2026-02-30 over to March; refuse days the month does not have.
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const day = new Date(Date.UTC(y, mo - 1, d));
  return day.getUTCMonth() === mo - 1 && day.getUTCDate() === d ? ms : undefined;
}

/** A duration in ms, or `undefined` when the text is not one. */
function parseDuration(text: string): number | undefined {
  const compact = text.replace(/\s+/g, "");
  if (!DURATION_RE.test(compact)) return undefined;
  let ms = 0;
  for (const [, amount, unit] of compact.matchAll(DURATION_PART)) {
    ms += Number(amount) * (UNIT_MS[unit as string] as number);
  }
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

const Action = z.enum(ACTIONS);
const PolicyIds = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);
const ContextSchema = z.record(z.string(), z.unknown()).nullable();
const Instant = z.string().refine((s) => parseInstant(s) !== undefined, { message: INSTANT_TEXT });
const Duration = z
  .string()
  .refine((s) => parseDuration(s) !== undefined, { message: DURATION_TEXT });
const Repeat = z.number().int().min(1).max(MAX_REPEAT);
const ExpectObject = z.strictObject({
  allowed: z.boolean().optional(),
  action: Action.optional(),
  reason: z.string().min(1).optional(),
  rule: z.string().min(1).optional(),
});
const Expect = z.union([Action, ExpectObject]);
const StepSchema = z.strictObject({
  context: ContextSchema.optional(),
  repeat: Repeat.optional(),
  at: Instant.optional(),
  advance: Duration.optional(),
  expect: Expect.optional(),
});
const TestSchema = z.strictObject({
  name: z.string().min(1),
  policy: PolicyIds.optional(),
  context: ContextSchema.optional(),
  at: Instant.optional(),
  repeat: Repeat.optional(),
  expect: Expect.optional(),
  steps: z.array(StepSchema).min(1).optional(),
});
const TopSchema = z.strictObject({
  tests: z.array(z.unknown()).min(1),
  policy: PolicyIds.optional(),
  at: Instant.optional(),
});

type RawExpect = z.infer<typeof Expect>;

const TOP_KEYS = Object.keys(TopSchema.shape);
const TEST_KEYS = Object.keys(TestSchema.shape);
const STEP_KEYS = Object.keys(StepSchema.shape);
const EXPECT_KEYS = Object.keys(ExpectObject.shape);

/** What a key takes, for messages about values of the wrong shape. */
const EXPECTED_BY_KEY: Readonly<Record<string, string>> = {
  policy: "a policy id or a list of policy ids",
  expect: `one of ${ACTIONS.join(", ")}, or a mapping of ${EXPECT_KEYS.join(", ")}`,
  context: "a mapping of context fields",
  at: INSTANT_TEXT,
  advance: DURATION_TEXT,
  repeat: `a whole number from 1 to ${MAX_REPEAT}`,
};

function expectedFor(key: string): string | undefined {
  return Object.hasOwn(EXPECTED_BY_KEY, key) ? EXPECTED_BY_KEY[key] : undefined;
}

// ---------------------------------------------------------------------------------------
// Reporting problems
// ---------------------------------------------------------------------------------------

function describe(value: unknown): string {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) return "a mapping";
  return describeValue(value);
}

function valueAt(root: unknown, path: DocPath): unknown {
  let v = root;
  for (const seg of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

/** The keys known where an unknown key was found, and what to call that place. */
function section(path: DocPath): { known: readonly string[]; where: string } {
  const last = path[path.length - 1];
  if (path.length === 0) return { known: TOP_KEYS, where: "the test file" };
  if (last === "expect") return { known: EXPECT_KEYS, where: "'expect'" };
  if (path.length === 4 && path[2] === "steps") return { known: STEP_KEYS, where: "a step" };
  if (path.length === 2 && path[0] === "tests") return { known: TEST_KEYS, where: "a test" };
  return { known: [], where: "this section" };
}

function typeName(expected: string): string {
  switch (expected) {
    case "int":
      return "a whole number";
    case "array":
      return "a list";
    case "object":
    case "record":
      return "a mapping";
    case "boolean":
      return "true or false";
    default:
      return `a ${expected}`;
  }
}

/** Turns one zod issue (with `path` from the document's root) into a positioned message. */
function report(issue: z.core.$ZodIssue, path: DocPath, root: unknown, out: IssueCollector): void {
  const last = path[path.length - 1];
  const parent = path[path.length - 2];
  const key =
    typeof last === "string"
      ? last
      : typeof parent === "string"
        ? `${parent}[${String(last)}]`
        : String(last ?? "");
  const input = valueAt(root, path);
  const got = `got ${describe(input)}`;
  switch (issue.code) {
    case "unrecognized_keys": {
      const { known, where } = section(path);
      for (const k of issue.keys) {
        const hint = nearest(k, known);
        const moved =
          !hint && where === "a test" && STEP_KEYS.includes(k)
            ? " (it belongs in a step, under 'steps:')"
            : "";
        const suggestion = hint ? ` — did you mean '${hint}'?` : "";
        out.add([...path, k], `unknown key '${k}' in ${where}${suggestion}${moved}`, "key");
      }
      return;
    }
    case "invalid_type":
      if (input === undefined) out.add(path.slice(0, -1), `missing required key '${key}'`);
      else
        out.add(path, `'${key}' expected ${expectedFor(key) ?? typeName(issue.expected)}, ${got}`);
      return;
    case "invalid_value": {
      const values = issue.values.map(String);
      const hint = typeof input === "string" ? nearest(input, values) : undefined;
      out.add(
        path,
        `'${key}' expected one of ${values.join(", ")}, ${got}${hint ? ` — did you mean '${hint}'?` : ""}`,
      );
      return;
    }
    case "invalid_union": {
      // Report the branch that matches the value's type (a string, a list, a mapping).
      const isObject = input !== null && typeof input === "object";
      const branch = issue.errors.find(
        (errs) =>
          !errs.some(
            (e) =>
              e.path.length === 0 &&
              (e.code === "invalid_type" || (e.code === "invalid_value" && isObject)),
          ),
      );
      if (branch) {
        for (const e of branch) report(e, [...path, ...propertyPath(e.path)], root, out);
      } else {
        out.add(path, `'${key}' expected ${expectedFor(key) ?? "a different shape"}, ${got}`);
      }
      return;
    }
    case "too_small":
    case "too_big": {
      if (issue.code === "too_small" && issue.origin === "array") {
        out.add(path, `'${key}' is empty; expected at least ${String(issue.minimum)} item(s)`);
        return;
      }
      const what =
        issue.origin === "string"
          ? "a non-empty string"
          : (expectedFor(key) ?? "a number in range");
      out.add(path, `'${key}' expected ${what}, ${got}`);
      return;
    }
    case "custom":
      out.add(path, `'${key}' expected ${issue.message}, ${got}`);
      return;
    default:
      out.add(path, `'${key}': ${issue.message}`);
  }
}

function propertyPath(path: readonly PropertyKey[]): (string | number)[] {
  return path.filter((p): p is string | number => typeof p !== "symbol");
}

/** Reports every issue of a failed parse, `base` being where the parsed value sits. */
function reportAll(error: z.ZodError, base: DocPath, root: unknown, out: IssueCollector): void {
  for (const issue of error.issues)
    report(issue, [...base, ...propertyPath(issue.path)], root, out);
}

// ---------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------

function toExpectation(raw: RawExpect): PolicyTestExpectation {
  if (typeof raw === "string") return { action: raw };
  return {
    ...(raw.allowed !== undefined && { allowed: raw.allowed }),
    ...(raw.action !== undefined && { action: raw.action }),
    ...(raw.reason !== undefined && { reason: raw.reason }),
    ...(raw.rule !== undefined && { rule: raw.rule }),
  };
}

/** Reports an expectation that checks nothing or can never be met. */
function checkExpect(raw: RawExpect, path: DocPath, out: IssueCollector): void {
  if (typeof raw === "string") return;
  if (Object.keys(raw).length === 0) {
    out.add(path, `'expect' needs at least one of ${EXPECT_KEYS.join(", ")}`);
    return;
  }
  if (raw.allowed !== undefined && raw.action !== undefined) {
    const allows = raw.action === "allow" || raw.action === "warn";
    if (allows !== raw.allowed) {
      out.add(
        [...path, "allowed"],
        `'allowed: ${String(raw.allowed)}' can never hold with 'action: ${raw.action}'`,
      );
    }
  }
}

/**
 * Validates a policy test file given as YAML (or JSON) text or as an already-parsed object.
 *
 * @example
 * ```ts
 * const file = parsePolicyTests(readFileSync("hexarch.test.yaml", "utf8"), {
 *   source: "hexarch.test.yaml",
 * });
 * const results = await runPolicyTests(loadPolicyFile(), file);
 * ```
 * @throws PolicyFileError listing every problem as `file:line:column: message (at tests[2].expect)`.
 */
export function parsePolicyTests(
  input: string | object,
  options: ParsePolicyTestsOptions = {},
): PolicyTestFile {
  const source = options.source ?? "<inline>";
  const { data, issues: out } = readYamlSource(input, source, "a 'tests:' list");
  if (typeof data !== "object" || Array.isArray(data)) {
    out.add([], "expected a mapping with a 'tests:' list at the top level");
    out.throwIfAny();
  }

  const top = TopSchema.safeParse(data);
  if (!top.success) reportAll(top.error, [], data, out);
  // The file-wide defaults, each read on its own: a problem elsewhere at the top level
  // must not make every test look as if it lacked a policy.
  const raw = data as Record<string, unknown>;
  const defaultPolicy = PolicyIds.safeParse(raw.policy).data;
  const defaultAt = parseInstant(Instant.safeParse(raw.at).data ?? DEFAULT_TEST_TIME) as number;
  const rawTests = raw.tests;
  const line = (path: DocPath): number => out.position(path).line;

  const tests: PolicyTestCase[] = [];
  const firstByName = new Map<string, number>();
  if (Array.isArray(rawTests)) {
    for (let i = 0; i < rawTests.length; i++) {
      const at: DocPath = ["tests", i];
      const parsed = TestSchema.safeParse(rawTests[i]);
      if (!parsed.success) {
        reportAll(parsed.error, at, data, out);
        continue;
      }
      const t = parsed.data;
      const before = out.issues.length;
      const seen = firstByName.get(t.name);
      if (seen !== undefined) {
        out.add([...at, "name"], `duplicate test name '${t.name}' (also tests[${seen}])`);
      } else {
        firstByName.set(t.name, i);
      }
      const policy = t.policy ?? defaultPolicy;
      if (policy === undefined && raw.policy === undefined) {
        out.add(at, "missing required key 'policy' (or set a default 'policy' at the top level)");
      }
      const baseContext = t.context ?? {};
      let steps: PolicyTestStep[] = [];
      if (t.steps) {
        for (const k of ["expect", "repeat"] as const) {
          if (t[k] !== undefined) {
            out.add([...at, k], `'${k}' goes on each step when the test has 'steps'`, "key");
          }
        }
        if (!t.steps.some((s) => s.expect !== undefined)) {
          out.add([...at, "steps"], "no step has an 'expect': a test must check something");
        }
        t.steps.forEach((s, j) => {
          const sp: DocPath = [...at, "steps", j];
          if (s.at !== undefined && s.advance !== undefined) {
            out.add([...sp, "advance"], "a step takes 'at' or 'advance', not both", "key");
          }
          if (s.expect !== undefined) checkExpect(s.expect, [...sp, "expect"], out);
          const atMs = s.at === undefined ? undefined : parseInstant(s.at);
          steps.push({
            context: { ...baseContext, ...(s.context ?? {}) },
            repeat: s.repeat ?? 1,
            ...(atMs !== undefined && { atMs }),
            advanceMs: s.advance === undefined ? 0 : (parseDuration(s.advance) as number),
            ...(s.expect !== undefined && { expect: toExpectation(s.expect) }),
            line: line(sp),
          });
        });
      } else if (t.expect === undefined) {
        out.add(at, "missing required key 'expect' (or 'steps')");
      } else {
        checkExpect(t.expect, [...at, "expect"], out);
        steps = [
          {
            context: baseContext,
            repeat: t.repeat ?? 1,
            advanceMs: 0,
            expect: toExpectation(t.expect),
            line: line(at),
          },
        ];
      }
      if (out.issues.length > before || policy === undefined) continue;
      tests.push({
        name: t.name,
        policyIds: typeof policy === "string" ? [policy] : [...new Set(policy)],
        startMs: t.at === undefined ? defaultAt : (parseInstant(t.at) as number),
        steps,
        stepped: t.steps !== undefined,
        line: line(at),
      });
    }
  }
  out.throwIfAny();
  return { source, tests };
}

// ---------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------

/** The expectation in words: `block`, `allowed, action allow`, `reason containing "…"`. */
function describeExpectation(e: PolicyTestExpectation): string {
  const parts: string[] = [];
  if (e.allowed !== undefined) parts.push(e.allowed ? "allowed" : "not allowed");
  if (e.action !== undefined)
    parts.push(parts.length || e.reason || e.rule ? `action ${e.action}` : e.action);
  if (e.reason !== undefined) parts.push(`reason containing ${JSON.stringify(e.reason)}`);
  if (e.rule !== undefined) parts.push(`rule ${e.rule}`);
  return parts.join(", ");
}

/**
 * The decision in the expectation's terms, so the two read side by side: each part that
 * holds is worded as expected, each that does not shows what the decision has instead.
 */
function describeActual(e: PolicyTestExpectation, d: Decision): string {
  const parts: string[] = [];
  if (e.allowed !== undefined) parts.push(d.allowed ? "allowed" : "not allowed");
  if (e.action !== undefined) {
    parts.push(parts.length || e.reason || e.rule ? `action ${d.action}` : d.action);
  }
  if (e.reason !== undefined) {
    parts.push(
      d.reason.includes(e.reason)
        ? `reason containing ${JSON.stringify(e.reason)}`
        : `reason ${JSON.stringify(d.reason)}`,
    );
  }
  if (e.rule !== undefined) {
    parts.push(ruleMatches(e.rule, d.ruleId) ? `rule ${e.rule}` : `rule ${d.ruleId ?? "(none)"}`);
  }
  return parts.join(", ");
}

/** Whether the deciding rule is the one named: by full id, or by the part after `policy/`. */
function ruleMatches(rule: string, ruleId: string | undefined): boolean {
  return ruleId !== undefined && (ruleId === rule || ruleId.endsWith(`/${rule}`));
}

function meets(e: PolicyTestExpectation, d: Decision): boolean {
  if (e.allowed !== undefined && d.allowed !== e.allowed) return false;
  if (e.action !== undefined && d.action !== e.action) return false;
  if (e.reason !== undefined && !d.reason.includes(e.reason)) return false;
  return e.rule === undefined || ruleMatches(e.rule, d.ruleId);
}

/** Why an id cannot be decided: names the nearest id and every loaded one. */
function unknownPolicyMessage(id: string, known: readonly string[]): string {
  const hint = nearest(id, known);
  const list = known.length ? `known policies: ${known.join(", ")}` : "no policies are loaded";
  return `unknown policy '${id}'${hint ? ` — did you mean '${hint}'?` : ""} (${list})`;
}

async function runTest(
  policies: PolicySet,
  known: readonly string[],
  test: PolicyTestCase,
): Promise<PolicyTestResult> {
  const failure = (error: string, step?: number): PolicyTestResult => ({
    name: test.name,
    passed: false,
    expected: describeExpectation(
      (step === undefined ? undefined : test.steps[step]?.expect) ??
        test.steps.find((s) => s.expect)?.expect ??
        {},
    ),
    actual: "error",
    reason: "",
    ...(step !== undefined && test.stepped && { step }),
    error,
    line: test.line,
  });
  const missing = test.policyIds.find((id) => !known.includes(id));
  if (missing !== undefined) return failure(unknownPolicyMessage(missing, known));

  const clock = new ManualClock(test.startMs);
  const client = new LocalDecisionClient({
    policies,
    state: new MemoryStateStore(),
    clock: clock.now,
  });
  let checked: { step: number; expect: PolicyTestExpectation; decision: Decision } | undefined;
  try {
    for (let i = 0; i < test.steps.length; i++) {
      const step = test.steps[i] as PolicyTestStep;
      if (step.atMs !== undefined) clock.set(step.atMs);
      clock.advance(step.advanceMs);
      let decision: Decision | undefined;
      try {
        for (let r = 0; r < step.repeat; r++) {
          // The memory store decides synchronously: a long repeat need not await each one.
          const d = client.decide(test.policyIds, step.context);
          decision = d instanceof Promise ? await d : d;
        }
      } catch (err) {
        return failure(`the decision failed: ${(err as Error).message}`, i);
      }
      if (!step.expect || !decision) continue;
      checked = { step: i, expect: step.expect, decision };
      if (!meets(step.expect, decision)) break;
    }
  } finally {
    await client.close();
  }
  if (!checked) return failure("no step has an expectation");
  const { step, expect, decision } = checked;
  return {
    name: test.name,
    passed: meets(expect, decision),
    expected: describeExpectation(expect),
    actual: describeActual(expect, decision),
    reason: decision.reason,
    ...(test.stepped && { step }),
    line: test.line,
  };
}

/**
 * Runs every test against a policy set, in file order. Each test gets a fresh
 * `MemoryStateStore` and a `ManualClock` at its start instant; a test stops at its first
 * failing step. Never throws for a test that cannot run (an unknown policy id): that test
 * fails with {@link PolicyTestResult.error} naming the loaded policies.
 *
 * @example
 * ```ts
 * const results = await runPolicyTests(loadPolicyFile("hexarch.yaml"), parsePolicyTests(text));
 * for (const r of results) console.log(r.passed ? "PASS" : "FAIL", r.name, r.expected, r.actual);
 * ```
 */
export async function runPolicyTests(
  policies: PolicySet,
  tests: PolicyTestFile,
): Promise<PolicyTestResult[]> {
  const known = policies.policies.map((p) => p.id);
  const results: PolicyTestResult[] = [];
  for (const test of tests.tests) results.push(await runTest(policies, known, test));
  return results;
}
