/**
 * Validating a policy test file into a {@link PolicyTestFile}, every problem reported
 * with its position.
 *
 * @module
 */

import type { DocPath, IssueCollector } from "../issues.ts";
import { readYamlSource } from "../yaml-source.ts";
import { reportAll } from "./report.ts";
import {
  EXPECT_KEYS,
  Instant,
  PolicyIds,
  parseDuration,
  parseInstant,
  type RawExpect,
  TestSchema,
  TopSchema,
} from "./schema.ts";
import {
  DEFAULT_TEST_TIME,
  type ParsePolicyTestsOptions,
  type PolicyTestCase,
  type PolicyTestExpectation,
  type PolicyTestFile,
  type PolicyTestStep,
} from "./types.ts";

/** An expectation as written, in the {@link PolicyTestExpectation} shape. */
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
