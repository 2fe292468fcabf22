/**
 * Running policy test cases: each test decides against fresh in-memory state and its own
 * clock, and its last decision is checked against what the test expects.
 *
 * @module
 */

import type { Decision } from "../kernel/decision.ts";
import { MemoryStateStore } from "../memory/state-store.ts";
import type {
  PolicyTestCase,
  PolicyTestExpectation,
  PolicyTestFile,
  PolicyTestResult,
  PolicyTestStep,
} from "../policy/test-cases/types.ts";
import type { PolicySet } from "../policy/types.ts";
import { ManualClock } from "../util/manual-clock.ts";
import { nearest } from "../util/suggest.ts";
import { LocalDecisionClient } from "./local-decision-client.ts";

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

/** Whether the decision meets every part of the expectation. */
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

/** Runs one test against fresh state and its own clock. */
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
