import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
// Internal: policy test cases have no public name yet (hexarch-ctl policy test uses them).
import { runPolicyTests } from "../../src/decision/run-policy-tests.ts";
import {
  loadPolicyFile,
  PolicyFileError,
  type PolicyFileIssue,
  parsePolicies,
} from "../../src/index.ts";
// Internal: policy test cases have no public name yet (hexarch-ctl policy test uses them).
import {
  DEFAULT_TEST_TIME,
  type PolicyTestResult,
  parsePolicyTests,
} from "../../src/policy/test-cases/index.ts";

/** Strips the common indentation of a template literal, so YAML can be written inline. */
function yaml(strings: TemplateStringsArray, ...values: unknown[]): string {
  const lines = String.raw({ raw: strings }, ...values)
    .replace(/^\n/, "")
    .replace(/\n[ ]*$/, "")
    .split("\n");
  const indent = Math.min(
    ...lines.filter((l) => l.trim() !== "").map((l) => /^ */.exec(l)?.[0].length ?? 0),
  );
  return `${lines.map((l) => l.slice(indent)).join("\n")}\n`;
}

const POLICIES = parsePolicies(yaml`
  policies:
    - id: api_budget
      rules:
        - resource: openai
          monthly_budget: 10
          action: warn_at_80%
    - id: rate_limit
      rules:
        - resource: "*"
          requests_per_minute: 3
          per: userId
          action: block
    - id: safe_delete
      rules:
        - operation: delete
          action: require_confirmation
    - id: business_hours
      rules:
        - name: office_hours
          operation: deploy
          allowed_hours: "09:00-17:00"
          action: block
`);

/** Parses and runs a test file against {@link POLICIES}. */
async function run(text: string | object): Promise<PolicyTestResult[]> {
  return runPolicyTests(POLICIES, parsePolicyTests(text, { source: "t.test.yaml" }));
}

/** Runs a file holding one test and returns its result. */
async function runOne(text: string): Promise<PolicyTestResult> {
  const results = await run(text);
  expect(results).toHaveLength(1);
  return results[0] as PolicyTestResult;
}

/** Parses `input` and returns the issues of the PolicyFileError it must throw. */
function problems(input: string | object): { message: string; issues: PolicyFileIssue[] } {
  try {
    parsePolicyTests(input, { source: "t.test.yaml" });
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyFileError);
    const e = err as PolicyFileError;
    return { message: e.message, issues: [...e.issues] };
  }
  throw new Error("expected parsePolicyTests to throw a PolicyFileError");
}

describe("the examples", () => {
  it("passes entirely against the example policy file", async () => {
    const dir = new URL("../../examples/policy-tests/", import.meta.url);
    const policies = loadPolicyFile(fileURLToPath(new URL("hexarch.yaml", dir)));
    const file = parsePolicyTests(readFileSync(new URL("hexarch.test.yaml", dir), "utf8"), {
      source: "hexarch.test.yaml",
    });
    const results = await runPolicyTests(policies, file);
    expect(results.length).toBeGreaterThanOrEqual(10);
    expect(results.filter((r) => !r.passed)).toEqual([]);
    // Every policy of the example file is tested.
    const tested = new Set(file.tests.flatMap((t) => t.policyIds));
    expect([...tested].sort()).toEqual(policies.policies.map((p) => p.id).sort());
  });

  it("passes the example in docs/policy-language.md", async () => {
    const doc = readFileSync(new URL("../../docs/policy-language.md", import.meta.url), "utf8");
    const section = doc.slice(doc.indexOf("## Testing policies"));
    const block = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    expect(block).toContain("tests:");
    const policies = loadPolicyFile(
      fileURLToPath(new URL("../../examples/policy-tests/hexarch.yaml", import.meta.url)),
    );
    const results = await runPolicyTests(policies, parsePolicyTests(block as string));
    expect(results).toHaveLength(4);
    expect(results.filter((r) => !r.passed)).toEqual([]);
  });
});

describe("parsePolicyTests", () => {
  it("reads YAML, JSON and objects into one shape", () => {
    const fromYaml = parsePolicyTests(yaml`
      tests:
        - name: one
          policy: safe_delete
          context: { operation: delete }
          expect: require_confirmation
    `);
    expect(fromYaml.source).toBe("<inline>");
    expect(fromYaml.tests).toEqual([
      {
        name: "one",
        policyIds: ["safe_delete"],
        startMs: Date.parse(DEFAULT_TEST_TIME),
        steps: [
          {
            context: { operation: "delete" },
            repeat: 1,
            advanceMs: 0,
            expect: { action: "require_confirmation" },
            line: 2,
          },
        ],
        stepped: false,
        line: 2,
      },
    ]);
    const data = {
      tests: [
        {
          name: "one",
          policy: "safe_delete",
          context: { operation: "delete" },
          expect: "require_confirmation",
        },
      ],
    };
    const fromJson = parsePolicyTests(JSON.stringify(data));
    expect(fromJson.tests[0]?.steps[0]).toEqual({ ...fromYaml.tests[0]?.steps[0], line: 1 });
    const fromObject = parsePolicyTests(data);
    expect(fromObject.tests[0]).toMatchObject({ name: "one", line: 0 });
  });

  it("reads steps: the test's context under each step's, advances and instants", () => {
    const file = parsePolicyTests(yaml`
      tests:
        - name: steps
          policy: [api_budget, rate_limit, api_budget]
          context: { resource: openai, userId: u1 }
          steps:
            - context: { cost: 1 }
            - context: { userId: u2 }
              advance: 1h30m
              expect: allow
            - at: "2026-03-01T12:00:00+01:00"
              repeat: 3
              expect: { allowed: true }
    `);
    const test = file.tests[0];
    expect(test?.policyIds).toEqual(["api_budget", "rate_limit"]);
    expect(test?.stepped).toBe(true);
    expect(test?.steps).toEqual([
      { context: { resource: "openai", userId: "u1", cost: 1 }, repeat: 1, advanceMs: 0, line: 6 },
      {
        context: { resource: "openai", userId: "u2" },
        repeat: 1,
        advanceMs: 5_400_000,
        expect: { action: "allow" },
        line: 7,
      },
      {
        context: { resource: "openai", userId: "u1" },
        repeat: 3,
        atMs: Date.parse("2026-03-01T11:00:00Z"),
        advanceMs: 0,
        expect: { allowed: true },
        line: 10,
      },
    ]);
  });

  it("takes the file's policy and at as defaults", () => {
    const file = parsePolicyTests(yaml`
      policy: safe_delete
      at: "2026-06-01T10:00:00Z"
      tests:
        - name: a
          expect: allow
        - name: b
          policy: rate_limit
          at: "2026-06-02T10:00:00Z"
          expect: allow
    `);
    expect(file.tests.map((t) => [t.policyIds, t.startMs])).toEqual([
      [["safe_delete"], Date.parse("2026-06-01T10:00:00Z")],
      [["rate_limit"], Date.parse("2026-06-02T10:00:00Z")],
    ]);
  });

  it("reports every problem with its line, column and path, and suggests fixes", () => {
    const { message, issues } = problems(yaml`
      tests:
        - name: typo in the action
          policy: safe_delete
          expect: alow
        - name: typo in a key
          polcy: safe_delete
          expect: { action: blok, reasn: x }
        - name: wrong shapes
          policy: 5
          context: [1]
          repeat: 0
          at: "2026-02-30T00:00:00Z"
          advance: 1m
          expect: warn
        - name: a bad step
          policy: [safe_delete, 3]
          steps:
            - advance: 5x
              expect: allow
        - just a string
    `);
    expect(issues.map((i) => [`${i.line}:${i.column}`, i.path])).toEqual([
      ["4:13", "tests[0].expect"],
      ["6:5", "tests[1].polcy"],
      ["7:23", "tests[1].expect.action"],
      ["7:29", "tests[1].expect.reasn"],
      ["9:13", "tests[2].policy"],
      ["10:14", "tests[2].context"],
      ["11:13", "tests[2].repeat"],
      ["12:9", "tests[2].at"],
      ["13:5", "tests[2].advance"],
      ["16:27", "tests[3].policy[1]"],
      ["18:18", "tests[3].steps[0].advance"],
      ["20:5", "tests[4]"],
    ]);
    const text = issues.map((i) => i.message);
    expect(text[0]).toBe(
      `'expect' expected one of allow, warn, block, require_confirmation, got "alow" — did you mean 'allow'?`,
    );
    expect(text[1]).toBe("unknown key 'polcy' in a test — did you mean 'policy'?");
    expect(text[2]).toContain("did you mean 'block'?");
    expect(text[3]).toBe("unknown key 'reasn' in 'expect' — did you mean 'reason'?");
    expect(text[4]).toBe("'policy' expected a policy id or a list of policy ids, got 5");
    expect(text[5]).toBe("'context' expected a mapping of context fields, got a list");
    expect(text[6]).toBe("'repeat' expected a whole number from 1 to 1000000, got 0");
    expect(text[7]).toContain("'at' expected an ISO 8601 date-time with an offset");
    expect(text[8]).toBe("unknown key 'advance' in a test (it belongs in a step, under 'steps:')");
    expect(text[9]).toBe("'policy[1]' expected a string, got 3");
    expect(text[10]).toContain(`'advance' expected a duration such as "500ms"`);
    expect(text[11]).toBe(`'tests[4]' expected a mapping, got "just a string"`);
    expect(message).toMatch(/^12 problems in t\.test\.yaml:\n {2}t\.test\.yaml:4:13: 'expect'/);
    expect(message).toContain("t.test.yaml:11:13: 'repeat' expected");
    expect(message).toContain("(at tests[2].repeat)");
  });

  it("reports tests that check nothing, contradict themselves or mix forms", () => {
    const { issues } = problems(yaml`
      tests:
        - name: a
          policy: safe_delete
          expect: { allowed: true, action: block }
        - name: a
          policy: safe_delete
          expect: {}
        - name: no expectation
          policy: safe_delete
        - name: steps without expect
          policy: safe_delete
          steps:
            - at: "2026-01-01T00:00:00Z"
              advance: 5s
        - name: expect beside steps
          policy: safe_delete
          repeat: 2
          expect: warn
          steps:
            - expect: warn
        - name: no policy
          expect: allow
    `);
    expect(issues.map((i) => [i.path, i.message])).toEqual([
      ["tests[0].expect.allowed", "'allowed: true' can never hold with 'action: block'"],
      ["tests[1].name", "duplicate test name 'a' (also tests[0])"],
      ["tests[1].expect", "'expect' needs at least one of allowed, action, reason, rule"],
      ["tests[2]", "missing required key 'expect' (or 'steps')"],
      ["tests[3].steps", "no step has an 'expect': a test must check something"],
      ["tests[3].steps[0].advance", "a step takes 'at' or 'advance', not both"],
      ["tests[4].repeat", "'repeat' goes on each step when the test has 'steps'"],
      ["tests[4].expect", "'expect' goes on each step when the test has 'steps'"],
      ["tests[5]", "missing required key 'policy' (or set a default 'policy' at the top level)"],
    ]);
  });

  it("reports problems with the file as a whole", () => {
    expect(problems("").message).toBe(
      "t.test.yaml:1:1: the file is empty; expected a 'tests:' list",
    );
    expect(problems("- a\n").message).toBe(
      "t.test.yaml:1:1: expected a mapping with a 'tests:' list at the top level",
    );
    expect(problems("tests: []\n").message).toBe(
      "t.test.yaml:1:8: 'tests' is empty; expected at least 1 item(s) (at tests)",
    );
    expect(problems("test:\n  - name: x\n").issues.map((i) => i.message)).toEqual([
      "missing required key 'tests'",
      "unknown key 'test' in the test file — did you mean 'tests'?",
    ]);
    expect(problems("tests:\n  - name: x\n    name: y\n").message).toBe(
      "t.test.yaml:3:5: invalid YAML: duplicate key 'name' (map keys must be unique)",
    );
    expect(
      problems('at: "tomorrow"\ntests: [{ name: x, policy: p, expect: allow }]\n').message,
    ).toContain("t.test.yaml:1:5: 'at' expected an ISO 8601 date-time");
    // An object has no lines to point at.
    expect(problems({ tests: [{ name: 1 }] }).issues[0]).toMatchObject({
      line: 0,
      path: "tests[0].name",
    });
  });
});

describe("runPolicyTests", () => {
  it("checks each form of expect", async () => {
    const results = await run(yaml`
      tests:
        - name: an action
          policy: safe_delete
          context: { operation: delete }
          expect: require_confirmation
        - name: allowed and action
          policy: safe_delete
          context: { operation: delete, confirm: true }
          expect: { allowed: true, action: allow }
        - name: not allowed
          policy: safe_delete
          context: { operation: delete }
          expect: { allowed: false }
        - name: a reason
          policy: safe_delete
          context: { operation: delete }
          expect: { reason: "requires confirmation" }
        - name: a rule by its short id
          policy: business_hours
          context: { operation: deploy }
          expect: { action: block, rule: office_hours }
        - name: a rule by its full id
          policy: business_hours
          context: { operation: deploy }
          expect: { rule: business_hours/office_hours }
    `);
    expect(results.map((r) => [r.name, r.passed, r.expected, r.actual])).toEqual([
      ["an action", true, "require_confirmation", "require_confirmation"],
      ["allowed and action", true, "allowed, action allow", "allowed, action allow"],
      ["not allowed", true, "not allowed", "not allowed"],
      [
        "a reason",
        true,
        `reason containing "requires confirmation"`,
        `reason containing "requires confirmation"`,
      ],
      [
        "a rule by its short id",
        true,
        "action block, rule office_hours",
        "action block, rule office_hours",
      ],
      [
        "a rule by its full id",
        true,
        "rule business_hours/office_hours",
        "rule business_hours/office_hours",
      ],
    ]);
    expect(results[0]?.reason).toBe(
      "Policy 'safe_delete' requires confirmation: matched operation delete (rule rules[0])",
    );
    expect(results.every((r) => r.step === undefined && r.error === undefined)).toBe(true);
  });

  it("reports expected against actual for a failing case", async () => {
    const results = await run(yaml`
      tests:
        - name: wrong action
          policy: safe_delete
          context: { operation: delete }
          expect: allow
        - name: wrong details
          policy: business_hours
          context: { operation: deploy }
          expect: { allowed: false, reason: "weekend", rule: "rules[1]" }
    `);
    expect(results[0]).toEqual({
      name: "wrong action",
      passed: false,
      expected: "allow",
      actual: "require_confirmation",
      reason:
        "Policy 'safe_delete' requires confirmation: matched operation delete (rule rules[0])",
      line: 2,
    });
    expect(results[1]).toMatchObject({
      passed: false,
      expected: `not allowed, reason containing "weekend", rule rules[1]`,
      // The parts that hold read as expected; the others show the decision's.
      actual: `not allowed, reason "Policy 'business_hours' blocked the call: outside allowed hours 09:00-17:00 (UTC) (rule office_hours)", rule business_hours/office_hours`,
    });
  });

  it("repeats a decision against the same state and checks the last", async () => {
    const results = await run(yaml`
      tests:
        - name: the third call is allowed
          policy: rate_limit
          context: { userId: alice }
          repeat: 3
          expect: allow
        - name: the fourth is blocked
          policy: rate_limit
          context: { userId: alice }
          repeat: 4
          expect: { action: block, reason: "3 requests per minute" }
        - name: each test starts from empty counters
          policy: rate_limit
          context: { userId: alice }
          expect: allow
    `);
    expect(results.map((r) => r.passed)).toEqual([true, true, true]);
    expect(results[1]?.reason).toContain(`reached for userId "alice"`);
  });

  it("runs steps in order against one state, moving the clock", async () => {
    const results = await run(yaml`
      tests:
        - name: budget
          policy: api_budget
          context: { resource: openai }
          steps:
            - context: { cost: 7 }
              expect: allow
            - context: { cost: 1 }
              expect: warn
            - context: { cost: 3 }
              expect: block
            - context: { cost: 2 }
              expect: { action: warn, reason: "100% of the monthly budget used" }
            - at: "2026-02-01T00:00:00Z"
              context: { cost: 9 }
              expect: warn
        - name: rate limit over time
          policy: rate_limit
          context: { userId: bob }
          steps:
            - repeat: 3
            - expect: block
            - advance: 30s
              expect: block
            - advance: 30s
              expect: allow
        - name: fails at its second step
          policy: rate_limit
          steps:
            - repeat: 3
              expect: allow
            - expect: allow
            - expect: block
    `);
    expect(results.map((r) => [r.name, r.passed, r.step])).toEqual([
      ["budget", true, 4],
      ["rate limit over time", true, 3],
      ["fails at its second step", false, 1],
    ]);
    expect(results[2]).toMatchObject({ expected: "allow", actual: "block" });
  });

  it("sets the clock with at, defaulting to a documented instant", async () => {
    const results = await run(yaml`
      tests:
        - name: default instant is midnight
          policy: business_hours
          context: { operation: deploy }
          expect: block
        - name: at noon
          policy: business_hours
          at: "2026-01-01T12:00:00Z"
          context: { operation: deploy }
          expect: allow
        - name: at with an offset
          policy: business_hours
          at: "2026-01-01T17:30:00+01:00"
          context: { operation: deploy }
          expect: allow
        - name: a step sets the clock
          policy: business_hours
          context: { operation: deploy }
          steps:
            - at: "2026-01-01T16:59:59Z"
              expect: allow
            - advance: 1s
              expect: block
    `);
    expect(results.map((r) => r.passed)).toEqual([true, true, true, true]);
    expect(DEFAULT_TEST_TIME).toBe("2026-01-01T00:00:00Z");
  });

  it("decides a list of policies together", async () => {
    const result = await runOne(yaml`
      tests:
        - name: both
          policy: [safe_delete, rate_limit]
          context: { operation: delete, confirm: true, userId: carol }
          repeat: 4
          expect: { action: block, reason: "Policy 'rate_limit'" }
    `);
    expect(result.passed).toBe(true);
  });

  it("fails a test naming an unknown policy, and runs the others", async () => {
    const results = await run(yaml`
      tests:
        - name: typo
          policy: safe_delet
          context: { operation: delete }
          expect: require_confirmation
        - name: one of two unknown
          policy: [safe_delete, nope]
          steps:
            - expect: allow
        - name: fine
          policy: safe_delete
          expect: require_confirmation
    `);
    expect(results[0]).toEqual({
      name: "typo",
      passed: false,
      expected: "require_confirmation",
      actual: "error",
      reason: "",
      error:
        "unknown policy 'safe_delet' — did you mean 'safe_delete'? (known policies: api_budget, rate_limit, safe_delete, business_hours)",
      line: 2,
    });
    expect(results[1]).toMatchObject({ passed: false, actual: "error" });
    expect(results[1]?.error).toMatch(/^unknown policy 'nope' \(known policies: /);
    expect(results[2]?.passed).toBe(true);
  });
});
