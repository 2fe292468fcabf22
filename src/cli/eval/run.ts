/**
 * Running a cases file: against a decision server over HTTP, or in this process with the
 * engine `hexarch-ctl policy test` uses (no server).
 *
 * @module
 */

import { LocalDecisionClient } from "../../decision/local-decision-client.ts";
import { runPolicyTests } from "../../decision/run-policy-tests.ts";
import type { Decision } from "../../kernel/decision.ts";
import { UnknownPolicyError } from "../../kernel/errors.ts";
import {
  DEFAULT_TEST_TIME,
  type PolicyTestCase,
  type PolicyTestFile,
} from "../../policy/test-cases/index.ts";
import type { PolicySet } from "../../policy/types.ts";
import { CliError } from "../errors.ts";
import {
  createdId,
  diffAnswer,
  diffExpectation,
  fillTemplates,
  normalizeCreateBody,
  outcomeOf,
  outcomeOfExpectation,
  UnresolvedReference,
} from "./compare.ts";
import { isTokenKey, REDACTED } from "./report.ts";
import type { CaseResult, EvalStep, EvalSuite, FieldDiff, JsonObject, Outcome } from "./types.ts";

/** Where decisions come from. */
export type EvalTarget =
  | { readonly kind: "server"; readonly baseUrl: string; readonly token: string | undefined }
  | { readonly kind: "local"; readonly policies: PolicySet };

/** An HTTP answer: status and JSON body (`{}` when empty or not JSON). */
interface Answer {
  readonly status: number;
  readonly body: JsonObject;
}

const ROUTES = {
  authorize: "/authorize",
  create_policy: "/policies",
  create_rule: "/rules",
} as const;

/** Posts JSON to the server. */
async function post(
  target: { baseUrl: string; token: string | undefined },
  path: string,
  body: unknown,
): Promise<Answer> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-actor-id": "hexarch-eval",
  };
  if (target.token) headers.authorization = `Bearer ${target.token}`;
  let res: Response;
  try {
    // The path goes after the base URL's own path (`--url http://h/prefix/` keeps /prefix).
    res = await fetch(`${target.baseUrl.replace(/\/+$/, "")}${path}`, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      // A redirect's target is not the server under test: never followed, never a decision.
      redirect: "manual",
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    throw new CliError(`cannot reach ${target.baseUrl}: ${cause ?? (err as Error).message}`);
  }
  if (res.status >= 300 && res.status < 400) {
    await res.body?.cancel().catch(() => {});
    throw new CliError(
      `POST ${path} answered a redirect (${res.status}), which is not followed: give --url the server itself`,
    );
  }
  const text = await res.text();
  let parsed: unknown = {};
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = { body: text };
    }
  }
  const json =
    parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)
      ? (parsed as JsonObject)
      : { body: parsed };
  return { status: res.status, body: json };
}

/** A decision in the native `/authorize` answer's shape. */
function answerOf(d: Decision): JsonObject {
  return {
    allowed: d.allowed,
    decision: d.allowed ? "ALLOW" : "DENY",
    action: d.action,
    reason: d.reason,
    policies: d.policyId.split(","),
    decisionId: d.decisionId,
    matchedRules: [...d.matchedRules],
    timestamp: d.timestamp,
  };
}

/** Decides in-process; an unknown policy id answers as the server does (404 `unknown_policy`). */
async function decideLocally(
  local: LocalDecisionClient,
  policyId: string,
  context: JsonObject,
): Promise<Answer> {
  try {
    return { status: 200, body: answerOf(await local.decide(policyId, context)) };
  } catch (err) {
    if (!(err instanceof UnknownPolicyError)) throw err;
    return {
      status: 404,
      body: { statusCode: 404, error: "Not Found", code: "unknown_policy", message: err.message },
    };
  }
}

const policyIdsOf = (request: JsonObject): string[] =>
  typeof request.policyId === "string" ? [request.policyId] : [];

/** Runs the steps of a steps file in order; ids created by a step are available to later ones. */
async function runSteps(
  steps: readonly EvalStep[],
  target: EvalTarget,
  results: CaseResult[],
): Promise<CaseResult[]> {
  const created = new Map<string, JsonObject>();
  const createdRules = new Map<string, unknown>();
  const local =
    target.kind === "local" ? new LocalDecisionClient({ policies: target.policies }) : undefined;
  try {
    for (const step of steps) {
      const t0 = performance.now();
      const base = { id: step.id, type: step.type, policyIds: policyIdsOf(step.request) };
      const done = (r: Omit<CaseResult, "id" | "type" | "policyIds" | "durationMs">): void => {
        results.push({ ...base, ...r, durationMs: Math.round(performance.now() - t0) });
      };
      let request: JsonObject;
      let stepExpect: JsonObject | undefined;
      try {
        request = fillTemplates(step.request, created) as JsonObject;
        stepExpect = step.expect && (fillTemplates(step.expect, created) as JsonObject);
      } catch (err) {
        if (!(err instanceof UnresolvedReference)) throw err;
        done({ status: "fail", message: err.message, diffs: [], outcomes: [] });
        continue;
      }
      if (step.type !== "authorize") request = normalizeCreateBody(request, createdRules);
      let answer: Answer;
      try {
        if (local) {
          if (step.type !== "authorize" || typeof request.policyId !== "string") {
            const what =
              step.type === "authorize"
                ? "an authorize step without 'policyId' (the Python shape, decided by API-defined policies)"
                : `a ${step.type} step`;
            done({
              status: "fail",
              message: `${what} needs a server: run with --url URL or --start-server`,
              diffs: [],
              outcomes: [],
            });
            continue;
          }
          const context = request.context ?? {};
          // Refused as the server refuses it: a context is a JSON object.
          answer =
            context !== null && typeof context === "object" && !Array.isArray(context)
              ? await decideLocally(local, request.policyId, context as JsonObject)
              : {
                  status: 400,
                  body: {
                    statusCode: 400,
                    error: "Bad Request",
                    code: "invalid_body",
                    message: "body.context must be object",
                    field: "body.context",
                  },
                };
        } else if (target.kind === "server") {
          answer = await post(target, ROUTES[step.type], request);
        } else throw new CliError("unreachable");
      } catch (err) {
        done({ status: "fail", message: (err as Error).message, diffs: [], outcomes: [] });
        continue;
      }
      const expect = stepExpect ?? (step.type === "authorize" ? {} : undefined);
      let diffs: FieldDiff[];
      if (expect) {
        diffs = diffAnswer(expect, answer.status, answer.body);
        // Without an expected status, an answer that is not a success is a difference too.
        if (
          !("status_code" in expect || "statusCode" in expect) &&
          answer.status !== 200 &&
          answer.status !== 201
        ) {
          diffs.unshift({ field: "status_code", expected: 200, actual: answer.status });
        }
      } else {
        diffs =
          answer.status === 200 || answer.status === 201
            ? []
            : [{ field: "status_code", expected: 200, actual: answer.status }];
      }
      if (step.type !== "authorize" && diffs.length === 0) {
        created.set(step.id, answer.body);
        if (step.type === "create_rule") createdRules.set(step.id, createdId(answer.body));
      }
      const outcome =
        step.type === "authorize" && answer.status === 200
          ? outcomeOf(answer.body.action)
          : undefined;
      const failed = diffs.length > 0;
      done({
        status: failed ? "fail" : "pass",
        message: failed ? `${diffs.map(describeDiff).join("; ")}${serverMessage(answer)}` : "",
        diffs,
        expected: stepExpect ?? (step.type === "authorize" ? null : { status_code: 200 }),
        actual: { status_code: answer.status, ...answer.body },
        outcomes: !failed && outcome ? [outcome] : [],
      });
    }
  } finally {
    await local?.close();
  }
  return results;
}

/** ` (server: …)`: the message of an error answer, else nothing. */
function serverMessage(answer: Answer): string {
  const m = answer.body.message;
  return answer.status >= 400 && typeof m === "string" ? ` (server: ${m})` : "";
}

/** `action expected "block", got "allow"`. */
export function describeDiff(d: FieldDiff): string {
  const shown = (v: unknown): string =>
    v === undefined
      ? "(missing)"
      : isTokenKey(d.field)
        ? JSON.stringify(REDACTED)
        : JSON.stringify(v);
  return `${d.field} expected ${shown(d.expected)}, got ${shown(d.actual)}`;
}

const DEFAULT_START = Date.parse(DEFAULT_TEST_TIME);

/** Why a server cannot run a test (it sets the clock, it decides several policies together). */
function serverCannotRun(
  test: PolicyTestCase,
): { status: "skip" | "fail"; message: string } | undefined {
  if (test.policyIds.length !== 1) {
    return {
      status: "fail",
      message: `decides ${test.policyIds.length} policies together; POST /authorize takes one policyId: run it in-process (--policy-file without --url or --start-server)`,
    };
  }
  if (
    test.startMs !== DEFAULT_START ||
    test.steps.some((s) => s.atMs !== undefined || s.advanceMs > 0)
  ) {
    return {
      status: "skip",
      message:
        "sets the clock ('at' or 'advance'), which a server does not let a client do: run it in-process (--policy-file)",
    };
  }
  return undefined;
}

/** Runs one policy test against a server: each step `repeat` times, then its expectation. */
async function runTestOnServer(
  test: PolicyTestCase,
  target: { baseUrl: string; token: string | undefined },
): Promise<CaseResult> {
  const t0 = performance.now();
  const base = { id: test.name, type: "test" as const, policyIds: test.policyIds };
  const finish = (r: Omit<CaseResult, "id" | "type" | "policyIds" | "durationMs">): CaseResult => ({
    ...base,
    ...r,
    durationMs: Math.round(performance.now() - t0),
  });
  const cannot = serverCannotRun(test);
  if (cannot) return finish({ ...cannot, diffs: [], outcomes: [] });
  const outcomes: Outcome[] = [];
  let last: { expect: unknown; actual: unknown } | undefined;
  for (const [i, step] of test.steps.entries()) {
    let answer: Answer | undefined;
    try {
      for (let r = 0; r < step.repeat; r++) {
        answer = await post(target, "/authorize", {
          policyId: test.policyIds[0],
          context: step.context,
        });
        if (answer.status !== 200) break;
      }
    } catch (err) {
      return finish({ status: "fail", message: (err as Error).message, diffs: [], outcomes: [] });
    }
    if (!answer) continue;
    const where = test.stepped ? ` (steps[${i}])` : "";
    if (answer.status !== 200) {
      const msg = typeof answer.body.message === "string" ? `: ${answer.body.message}` : "";
      return finish({
        status: "fail",
        message: `POST /authorize answered ${answer.status}${where}${msg}`,
        diffs: [],
        actual: answer.body,
        outcomes: [],
      });
    }
    if (!step.expect) continue;
    last = { expect: step.expect, actual: answer.body };
    const diffs = diffExpectation(step.expect, answer.body);
    if (diffs.length > 0) {
      return finish({
        status: "fail",
        message: `${diffs.map(describeDiff).join("; ")}${where}`,
        diffs,
        expected: step.expect,
        actual: answer.body,
        outcomes: [],
      });
    }
    const o = outcomeOf(answer.body.action);
    if (o) outcomes.push(o);
  }
  if (!last)
    return finish({
      status: "fail",
      message: "no step has an expectation",
      diffs: [],
      outcomes: [],
    });
  return finish({
    status: "pass",
    message: "",
    diffs: [],
    expected: last.expect,
    actual: last.actual,
    outcomes,
  });
}

/** Runs a `tests:` file: in this process with `runPolicyTests`, or test by test against a server. */
async function runTests(
  file: PolicyTestFile,
  target: EvalTarget,
  out: CaseResult[],
): Promise<CaseResult[]> {
  if (target.kind === "server") {
    for (const test of file.tests) out.push(await runTestOnServer(test, target));
    return out;
  }
  const t0 = performance.now();
  const results = await runPolicyTests(target.policies, file);
  const each = Math.round((performance.now() - t0) / Math.max(1, results.length));
  const mapped = results.map((r, i) => {
    const test = file.tests[i] as PolicyTestCase;
    const diffs: FieldDiff[] =
      r.passed || r.error ? [] : [{ field: "decision", expected: r.expected, actual: r.actual }];
    const where = r.step === undefined ? "" : ` (steps[${r.step}])`;
    const outcomes = r.passed
      ? test.steps.flatMap((s) => {
          const o = s.expect ? outcomeOfExpectation(s.expect) : undefined;
          return o ? [o] : [];
        })
      : [];
    return {
      id: r.name,
      type: "test",
      status: r.passed ? "pass" : "fail",
      message: r.passed
        ? ""
        : `${r.error ?? `expected ${r.expected}, got ${r.actual}${r.reason ? ` (reason: ${r.reason})` : ""}`}${where}`,
      diffs,
      expected: r.expected,
      actual: r.error ? "error" : r.actual,
      policyIds: test.policyIds,
      outcomes,
      durationMs: each,
    } satisfies CaseResult;
  });
  out.push(...mapped);
  return out;
}

/**
 * Runs every case of a suite against a target, in file order. Each result is pushed onto
 * `results` as soon as it is known (what an interrupted run reports), which is answered.
 */
export function runSuite(
  suite: EvalSuite,
  target: EvalTarget,
  results: CaseResult[] = [],
): Promise<CaseResult[]> {
  return suite.kind === "steps"
    ? runSteps(suite.steps, target, results)
    : runTests(suite.file, target, results);
}
