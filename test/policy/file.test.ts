import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  GuardrailError,
  loadPolicyFile,
  PolicyFileError,
  type PolicyFileIssue,
  parsePolicies,
} from "../../src/index.ts";

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

/** Parses `input` and returns the PolicyFileError it must throw. */
function failure(input: string | object, source = "hexarch.yaml"): PolicyFileError {
  try {
    parsePolicies(input, { source });
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyFileError);
    return err as PolicyFileError;
  }
  throw new Error("expected parsePolicies to throw a PolicyFileError");
}

/** Asserts the error holds exactly one issue, at `line:column` and `path`, and the message says so. */
function expectIssue(
  err: PolicyFileError,
  where: { line: number; column: number; path: string },
  ...fragments: string[]
): PolicyFileIssue {
  expect(err.issues).toHaveLength(1);
  const issue = err.issues[0] as PolicyFileIssue;
  expect(issue).toMatchObject({ file: "hexarch.yaml", ...where });
  expect(err.message).toContain(`hexarch.yaml:${where.line}:${where.column}: `);
  for (const f of fragments) {
    expect(issue.message).toContain(f);
    expect(err.message).toContain(f);
  }
  return issue;
}

describe("PolicyFileError", () => {
  it("is a GuardrailError named PolicyFileError", () => {
    const err = failure("policies: 5\n");
    expect(err).toBeInstanceOf(GuardrailError);
    expect(err.name).toBe("PolicyFileError");
  });

  it("ends the message with the path inside the document", () => {
    const err = failure(yaml`
      policies:
        - id: a
          rules:
            - requests_per_minute: 0
    `);
    expect(err.message).toMatch(/\(at policies\[0\]\.rules\[0\]\.requests_per_minute\)$/);
  });
});

describe("YAML that does not parse", () => {
  it("reports a syntax error with its line and column", () => {
    const err = failure(yaml`
      policies:
        - id: broken
          rules: [unclosed, list:::
    `);
    expectIssue(err, { line: 3, column: 30, path: "" }, "invalid YAML", "end with a ]");
  });

  it("reports tabs used for indentation", () => {
    const err = failure("policies:\n\t- id: a\n\t  rules: []\n");
    expect(err.issues.map((i) => [i.line, i.column])).toEqual([
      [2, 1],
      [3, 1],
    ]);
    expect(err.message).toContain("hexarch.yaml:2:1: invalid YAML: Tabs are not allowed");
    expect(err.message).toContain("hexarch.yaml:3:1: invalid YAML: Tabs are not allowed");
  });

  it("reports a duplicate key, naming the key", () => {
    const err = failure(yaml`
      policies:
        - id: a
          rules:
            - requests_per_minute: 5
              requests_per_minute: 10
    `);
    expectIssue(err, { line: 5, column: 9, path: "" }, "requests_per_minute");
    expect(err.message).toMatch(/unique|duplicate/i);
  });
});

describe("the shape of the whole file", () => {
  it("reports an empty file at line 1, with the issue as data", () => {
    const err = failure("");
    expect(err.message).toContain("empty");
    expect(err.message).toContain("'policies:'");
    expectIssue(err, { line: 1, column: 1, path: "" }, "empty");
  });

  it("treats a file of only comments as empty", () => {
    const err = failure("# policies go here\n");
    expect(err.message).toMatch(/^hexarch\.yaml(:1:1)?: the file is empty/);
  });

  it.each([
    ["a list", "- id: a\n- id: b\n"],
    ["a string", "just some text\n"],
  ])("rejects %s at the top level", (_what, text) => {
    const err = failure(text);
    expectIssue(
      err,
      { line: 1, column: 1, path: "" },
      "expected a mapping with a 'policies:' list at the top level",
    );
  });

  it("reports a missing `policies` and suggests it for a typo, pointing at the typo", () => {
    const err = failure(yaml`
      # deploy guardrails
      enforcement: strict
      polices:
        - id: a
          rules: []
    `);
    expectIssue(
      err,
      { line: 3, column: 1, path: "" },
      "missing the 'policies:' list",
      "found 'polices' — did you mean 'policies'?",
    );
  });

  it("reports a missing `policies` without a suggestion when nothing is close", () => {
    const err = failure("rules:\n  - action: block\n");
    const issue = expectIssue(
      err,
      { line: 1, column: 1, path: "" },
      "missing the 'policies:' list",
    );
    expect(issue.message).not.toContain("did you mean");
  });

  it.each([
    ["nope", 11, '"nope"'],
    ["", 11, "null"],
  ])("rejects `policies: %s` that is not a list", (value, column, got) => {
    const err = failure(`policies: ${value}\n`);
    expectIssue(err, { line: 1, column, path: "policies" }, "expected a list", `got ${got}`);
  });

  it("reports a policy without id or rules", () => {
    const err = failure(yaml`
      policies:
        - description: no id here
          rules: []
        - id: no_rules
    `);
    expect(err.issues).toEqual([
      expect.objectContaining({
        line: 2,
        path: "policies[0]",
        message: "missing required key 'id'",
      }),
      expect.objectContaining({
        line: 4,
        path: "policies[1]",
        message: "missing required key 'rules'",
      }),
    ]);
    expect(err.message).toContain("2 problems in hexarch.yaml");
    expect(err.message).toContain("hexarch.yaml:2:5: missing required key 'id'");
    expect(err.message).toContain("hexarch.yaml:4:5: missing required key 'rules'");
  });

  it("reports `rules` that is not a list", () => {
    const err = failure(yaml`
      policies:
        - id: a
          rules: {action: block}
    `);
    expectIssue(
      err,
      { line: 3, column: 12, path: "policies[0].rules" },
      "'rules' expected a list",
      "got a mapping",
    );
  });

  it("rejects an unknown enforcement mode and logging level, suggesting the near one", () => {
    const err = failure(yaml`
      enforcement: lenient
      logging:
        level: warnin
      policies: []
    `);
    expect(err.issues.map((i) => [i.line, i.column, i.path])).toEqual([
      [1, 14, "enforcement"],
      [3, 10, "logging.level"],
    ]);
    expect(err.message).toContain(
      `hexarch.yaml:1:14: 'enforcement' expected one of strict, warn, got "lenient"`,
    );
    expect(err.message).toContain("hexarch.yaml:3:10: 'level' expected one of");
    expect(err.message).toContain("did you mean 'warning'?");
  });

  it("rejects a non-positive opa.timeout_seconds", () => {
    const err = failure(yaml`
      opa:
        url: http://localhost:8181
        timeout_seconds: -1
      policies: []
    `);
    expectIssue(
      err,
      { line: 3, column: 20, path: "opa.timeout_seconds" },
      "'timeout_seconds' expected a number > 0",
      "got number -1",
    );
  });
});

describe("unknown and misplaced keys", () => {
  it("suggests the rule key a typo was meant to be", () => {
    const err = failure(yaml`
      policies:
        - id: rate_limit
          rules:
            - resource: "*"
              request_per_minute: 100
              action: block
    `);
    expectIssue(
      err,
      { line: 5, column: 9, path: "policies[0].rules[0].request_per_minute" },
      "unknown key 'request_per_minute' in rule",
      "did you mean 'requests_per_minute'?",
    );
  });

  it("suggests the snake_case key for a camelCase one", () => {
    const err = failure(yaml`
      policies:
        - id: rate_limit
          rules:
            - requestsPerMinute: 100
    `);
    expectIssue(
      err,
      { line: 4, column: 9, path: "policies[0].rules[0].requestsPerMinute" },
      "unknown key 'requestsPerMinute' in rule",
      "did you mean 'requests_per_minute'?",
    );
  });

  it("suggests the policy key a typo was meant to be", () => {
    const err = failure(yaml`
      policies:
        - id: a
          descripton: typo
          rules: []
    `);
    expectIssue(
      err,
      { line: 3, column: 5, path: "policies[0].descripton" },
      "unknown key 'descripton' in policy",
      "did you mean 'description'?",
    );
  });

  it("says where a rule key put at policy level belongs", () => {
    const err = failure(yaml`
      policies:
        - id: a
          requests_per_minute: 5
          rules: []
    `);
    expectIssue(
      err,
      { line: 3, column: 5, path: "policies[0].requests_per_minute" },
      "unknown key 'requests_per_minute' in policy",
      "it belongs inside a rule, under 'rules:'",
    );
  });

  it.each([
    ["concurrent_limit: 5", "concurrent_limit", "use requests_per_second"],
    ["max_iterations: 10", "max_iterations", "count them in your own loop"],
    ["timeout_seconds: 30", "timeout_seconds", "set them on the call itself"],
  ])("explains that `%s` (from the Python templates) is not supported", (line, key, advice) => {
    const err = failure(yaml`
      policies:
        - id: workers
          rules:
            - resource: celery
              ${line}
    `);
    expectIssue(
      err,
      { line: 5, column: 9, path: `policies[0].rules[0].${key}` },
      `'${key}' is not supported`,
      advice,
    );
  });
});

describe("values of the wrong type or range", () => {
  const ruleWith = (line: string) => yaml`
    policies:
      - id: a
        rules:
          - ${line}
  `;

  it("rejects a string where a number is expected", () => {
    const err = failure(ruleWith('requests_per_minute: "100"'));
    expectIssue(
      err,
      { line: 4, column: 30, path: "policies[0].rules[0].requests_per_minute" },
      "'requests_per_minute' expected a number",
      'got "100"',
    );
  });

  it("rejects a negative limit", () => {
    const err = failure(ruleWith("monthly_budget: -5"));
    expectIssue(
      err,
      { line: 4, column: 25, path: "policies[0].rules[0].monthly_budget" },
      "'monthly_budget' expected a number > 0",
      "got number -5",
    );
  });

  it("rejects a zero request limit", () => {
    const err = failure(ruleWith("requests_per_hour: 0"));
    expectIssue(
      err,
      { line: 4, column: 28, path: "policies[0].rules[0].requests_per_hour" },
      "expected a number > 0",
      "got number 0",
    );
  });

  it("rejects a fractional requests_per_minute", () => {
    const err = failure(ruleWith("requests_per_minute: 2.5"));
    expectIssue(
      err,
      { line: 4, column: 30, path: "policies[0].rules[0].requests_per_minute" },
      "'requests_per_minute' expected a whole number",
      "got number 2.5",
    );
  });

  it("rejects a string where a boolean is expected", () => {
    const err = failure(yaml`
      policies:
        - id: a
          enabled: "no"
          rules: []
    `);
    expectIssue(
      err,
      { line: 3, column: 14, path: "policies[0].enabled" },
      "'enabled' expected a boolean",
      'got "no"',
    );
  });

  it("rejects a percentage over 100", () => {
    const err = failure(yaml`
      policies:
        - id: a
          rules:
            - monthly_budget: 5
              alert_at_percentage: 150
    `);
    expectIssue(
      err,
      { line: 5, column: 30, path: "policies[0].rules[0].alert_at_percentage" },
      "expected a number ≤ 100",
      "got number 150",
    );
  });
});

describe("actions", () => {
  const withAction = (action: string) => yaml`
    policies:
      - id: a
        rules:
          - monthly_budget: 10
            action: ${action}
  `;
  const where = { line: 5, column: 17, path: "policies[0].rules[0].action" };

  it("suggests the % a warn_at_N action is missing", () => {
    const err = failure(withAction("warn_at_80"));
    expectIssue(
      err,
      where,
      'invalid action "warn_at_80"',
      "expected one of allow, warn, block, require_confirmation, warn_at_N%",
      "did you mean 'warn_at_80%'?",
    );
  });

  it("suggests the % a block_at_N action is missing", () => {
    const err = failure(withAction("block_at_90"));
    expectIssue(err, where, "did you mean 'block_at_90%'?");
  });

  it.each([
    ["blok", "block"],
    ["wran", "warn"],
    ["require_confirm", "require_confirmation"],
  ])("suggests a plain action for the typo %s", (typo, fix) => {
    const err = failure(withAction(typo));
    expectIssue(err, where, `invalid action "${typo}"`, `did you mean '${fix}'?`);
  });

  it("explains that queue (from the Python Django template) is not supported", () => {
    const err = failure(withAction("queue"));
    const issue = expectIssue(
      err,
      where,
      'invalid action "queue"',
      "queueing is not supported",
      "expected one of",
    );
    expect(issue.message).not.toContain("did you mean");
  });

  it.each([
    ["warn_at_0%", "warn_at_N% needs 0 < N ≤ 100, got 0"],
    ["block_at_150%", "block_at_N% needs 0 < N ≤ 100, got 150"],
  ])("rejects the out-of-range percentage in %s", (action, message) => {
    const err = failure(withAction(action));
    expectIssue(err, where, message);
  });
});

describe("time windows, days and time zones", () => {
  it("rejects a time window that is not HH:MM-HH:MM, pointing at the list entry", () => {
    const err = failure(yaml`
      policies:
        - id: a
          rules:
            - forbidden_hours: ["22:00-06:00", "22:00-6:00"]
    `);
    expectIssue(
      err,
      { line: 4, column: 42, path: "policies[0].rules[0].forbidden_hours[1]" },
      `'forbidden_hours[1]' expected "HH:MM-HH:MM" (24-hour clock), got`,
      'got "22:00-6:00"',
    );
  });

  it("rejects an hour past 24:00", () => {
    const err = failure(yaml`
      policies:
        - id: a
          rules:
            - allowed_hours: "09:00-25:00"
    `);
    expectIssue(
      err,
      { line: 4, column: 24, path: "policies[0].rules[0].allowed_hours" },
      "'allowed_hours' expected",
      'got "09:00-25:00"',
    );
  });

  it("rejects an unknown day name, listing the accepted forms", () => {
    const err = failure(yaml`
      policies:
        - id: a
          rules:
            - forbidden_days: [friday, fryday]
    `);
    expectIssue(
      err,
      { line: 4, column: 34, path: "policies[0].rules[0].forbidden_days[1]" },
      "'forbidden_days[1]' expected a day name (monday, mon, weekdays, weekends), got",
      'got "fryday"',
    );
  });

  it("rejects unknown time zones at file, policy and rule level", () => {
    const err = failure(yaml`
      timezone: Nowhere/Here
      policies:
        - id: a
          timezone: Europe/Berln
          rules:
            - allowed_hours: "09:00-17:00"
              timezone: Mars/Olympus
    `);
    expect(err.issues.map((i) => [i.line, i.column, i.path])).toEqual([
      [1, 11, "timezone"],
      [4, 15, "policies[0].timezone"],
      [7, 19, "policies[0].rules[0].timezone"],
    ]);
    for (const zone of ["Nowhere/Here", "Europe/Berln", "Mars/Olympus"]) {
      expect(err.message).toContain(`unknown time zone '${zone}'`);
    }
    expect(err.message).toContain("hexarch.yaml:4:15: unknown time zone 'Europe/Berln'");
    expect(err.issues[0]?.message).toContain("expected an IANA name such as UTC or Europe/Berlin");
  });

  it("rejects a denied window that ends before it starts", () => {
    const err = failure(yaml`
      policies:
        - id: freeze
          rules:
            - denied_windows:
                - start: "2026-12-24T00:00"
                  end: "2026-12-20T00:00"
    `);
    expectIssue(
      err,
      { line: 6, column: 18, path: "policies[0].rules[0].denied_windows[0].end" },
      "end must be after start",
    );
  });
});

describe("duplicates", () => {
  it("rejects a duplicate policy id, naming the line of the first", () => {
    const err = failure(yaml`
      policies:
        - id: api_budget
          rules: []
        - id: rate_limit
          rules: []
        - id: api_budget
          rules: []
    `);
    expectIssue(
      err,
      { line: 6, column: 9, path: "policies[2].id" },
      "duplicate policy id 'api_budget'",
      "first defined on line 2",
    );
  });

  it("rejects duplicate rule ids within a policy", () => {
    const err = failure(yaml`
      policies:
        - id: a
          rules:
            - id: nightly
              action: block
            - id: nightly
              action: warn
    `);
    expectIssue(
      err,
      { line: 6, column: 13, path: "policies[0].rules[1].id" },
      "duplicate rule id 'a/nightly' in policy 'a'",
    );
  });

  it("allows the same rule id in different policies", () => {
    const set = parsePolicies(yaml`
      policies:
        - id: a
          rules:
            - id: nightly
        - id: b
          rules:
            - id: nightly
    `);
    expect(set.policies.map((p) => p.rules[0]?.id)).toEqual(["a/nightly", "b/nightly"]);
  });
});

describe("keys that disagree or need a partner", () => {
  it("rejects alert_at_percentage that disagrees with warn_at_N%", () => {
    const err = failure(yaml`
      policies:
        - id: a
          rules:
            - monthly_budget: 10
              alert_at_percentage: 75
              action: warn_at_80%
    `);
    expectIssue(
      err,
      { line: 5, column: 30, path: "policies[0].rules[0].alert_at_percentage" },
      "alert_at_percentage (75%) disagrees with action (80%)",
      "keep one threshold",
    );
  });

  it("rejects warn_at_percentage that disagrees with alert_at_percentage", () => {
    const err = failure(yaml`
      policies:
        - id: a
          rules:
            - max_tokens_per_hour: 1000
              alert_at_percentage: 70
              warn_at_percentage: 80
    `);
    expectIssue(
      err,
      { line: 6, column: 29, path: "policies[0].rules[0].warn_at_percentage" },
      "warn_at_percentage (80%) disagrees with alert_at_percentage (70%)",
    );
  });

  it("accepts thresholds that agree", () => {
    const set = parsePolicies(yaml`
      policies:
        - id: a
          rules:
            - monthly_budget: 10
              alert_at_percentage: 80
              action: warn_at_80%
    `);
    expect(set.policies[0]?.rules[0]?.warnAtPercent).toBe(80);
  });

  it.each([
    ["action: warn_at_80%", "action", 17],
    ["alert_at_percentage: 80", "alert_at_percentage", 30],
  ])("rejects a percentage threshold (%s) on a rule without a quantity limit", (line, key, col) => {
    const err = failure(yaml`
      policies:
        - id: a
          rules:
            - operation: delete
              ${line}
    `);
    expectIssue(
      err,
      { line: 5, column: col, path: `policies[0].rules[0].${key}` },
      "a percentage threshold needs a quantity limit in the same rule",
    );
  });

  it("rejects `per` on a rule without counters", () => {
    const err = failure(yaml`
      policies:
        - id: a
          rules:
            - operation: delete
              per: userId
    `);
    expectIssue(
      err,
      { line: 5, column: 14, path: "policies[0].rules[0].per" },
      "'per' keys the rule's counters, but the rule has none",
      "add requests_per_* or a budget",
    );
  });

  it("rejects a malformed `per` field path", () => {
    const err = failure(yaml`
      policies:
        - id: a
          rules:
            - requests_per_minute: 5
              per: user..id
    `);
    expectIssue(
      err,
      { line: 5, column: 14, path: "policies[0].rules[0].per" },
      "malformed field path 'user..id'",
    );
  });

  it("rejects `allowed` without `model`", () => {
    const err = failure(yaml`
      policies:
        - id: a
          rules:
            - allowed: false
    `);
    expectIssue(
      err,
      { line: 4, column: 18, path: "policies[0].rules[0].allowed" },
      "'allowed' applies to a 'model' rule",
      "add model:",
    );
  });

  it("rejects `min` without `parameter`, pointing at the key", () => {
    const err = failure(yaml`
      policies:
        - id: a
          rules:
            - min: 0
    `);
    expectIssue(
      err,
      { line: 4, column: 9, path: "policies[0].rules[0].min" },
      "'min' bounds a call parameter; add parameter: <name>",
    );
  });

  it("rejects `parameter` without any bound", () => {
    const err = failure(yaml`
      policies:
        - id: a
          rules:
            - parameter: temperature
    `);
    expectIssue(
      err,
      { line: 4, column: 20, path: "policies[0].rules[0].parameter" },
      "'parameter' needs at least one of min, max, max_length, allowed_values",
    );
  });

  it("rejects min greater than max", () => {
    const err = failure(yaml`
      policies:
        - id: a
          rules:
            - parameter: temperature
              min: 2
              max: 1
    `);
    expectIssue(
      err,
      { line: 5, column: 14, path: "policies[0].rules[0].min" },
      "min (2) is greater than max (1)",
    );
  });

  it("rejects two spellings of the same budget", () => {
    const err = failure(yaml`
      policies:
        - id: a
          rules:
            - monthly_budget: 5
              monthly_budget_usd: 5
    `);
    expectIssue(
      err,
      { line: 5, column: 29, path: "policies[0].rules[0].monthly_budget_usd" },
      "monthly_budget_usd and monthly_budget mean the same budget; keep one",
    );
  });
});

describe("`when` conditions", () => {
  const withWhen = (when: string) => yaml`
    policies:
      - id: a
        rules:
          - when: ${when}
  `;

  it("suggests the operator a typo was meant to be", () => {
    const err = failure(withWhen("{field: user.role, operator: equal, value: admin}"));
    expectIssue(
      err,
      { line: 4, column: 44, path: "policies[0].rules[0].when.operator" },
      "unknown operator 'equal'",
      "did you mean 'equals'?",
    );
  });

  it("suggests the operator under the `op` alias too", () => {
    const err = failure(withWhen("{field: amount, op: greater_then, value: 100}"));
    expectIssue(
      err,
      { line: 4, column: 35, path: "policies[0].rules[0].when.op" },
      "unknown operator 'greater_then'",
      "did you mean 'greater_than'?",
    );
  });

  it("reports a comparison without an operator", () => {
    const err = failure(withWhen("{field: user.role, value: admin}"));
    expectIssue(
      err,
      { line: 4, column: 15, path: "policies[0].rules[0].when" },
      "condition needs an 'operator' (or 'op')",
      "operator: equals",
    );
  });

  it("reports an invalid regular expression", () => {
    const err = failure(withWhen(`{field: path, operator: regex, value: "([a-z"}`));
    expectIssue(
      err,
      { line: 4, column: 53, path: "policies[0].rules[0].when.value" },
      "invalid regular expression /([a-z/: error parsing regexp: missing closing ]",
      "RE2 syntax",
    );
  });

  it.each([
    ["[1]", 52],
    ["[1, 2, 3]", 52],
    ['[1, "z"]', 52],
    ["5", 52],
  ])("reports `between` with the wrong shape %s", (value, column) => {
    const err = failure(withWhen(`{field: n, operator: between, value: ${value}}`));
    expectIssue(
      err,
      { line: 4, column, path: "policies[0].rules[0].when.value" },
      "'between' expects [low, high], two numbers or two strings",
    );
  });

  it.each([
    ["user..role", 23],
    ["roles[x]", 23],
    [".user", 23],
  ])("reports the malformed field path %s", (field, column) => {
    const err = failure(withWhen(`{field: "${field}", operator: exists}`));
    expectIssue(
      err,
      { line: 4, column, path: "policies[0].rules[0].when.field" },
      `malformed field path '${field}'`,
      "expected e.g. user.roles[0]",
    );
  });

  it("reports a malformed field path in the {field: value} shorthand", () => {
    const err = failure(withWhen(`{"a..b": 1}`));
    expectIssue(
      err,
      { line: 4, column: 16, path: "policies[0].rules[0].when.a..b" },
      "malformed field path 'a..b'",
    );
  });

  it("reports problems inside any/all with their own positions", () => {
    const err = failure(yaml`
      policies:
        - id: a
          rules:
            - when:
                any:
                  - {field: plan, operator: eqauls, value: pro}
                  - {field: seats, operator: between, value: [5, "x"]}
    `);
    expect(err.issues.map((i) => [i.line, i.path])).toEqual([
      [6, "policies[0].rules[0].when.any[0].operator"],
      [7, "policies[0].rules[0].when.any[1].value"],
    ]);
    expect(err.message).toContain("did you mean 'equals'?");
  });

  it("suggests the condition key a transposition typo was meant to be", () => {
    const err = failure(withWhen("{field: a, operator: equals, valeu: 1}"));
    const typo = err.issues.find((i) => i.path === "policies[0].rules[0].when.valeu");
    expect(typo?.message).toContain("unknown key 'valeu' in condition");
    expect(typo?.message).toContain("did you mean 'value'?");
  });
});

describe("several problems in one file", () => {
  it("reports them all in one error, sorted by line", () => {
    const err = failure(yaml`
      policies:
        - id: first
          timezone: Mars/Base
          rules:
            - requests_per_minit: 5
        - id: second
          rules:
            - monthly_budget: 5
              alert_at_percentage: 70
              warn_at_percentage: 80
            - action: blok
            - forbidden_days: [someday]
    `);
    expect(err.issues.map((i) => i.line)).toEqual([3, 5, 10, 11, 12]);
    expect(err.message.split("\n")[0]).toBe("5 problems in hexarch.yaml:");
    expect(err.message).toContain("  hexarch.yaml:3:15: unknown time zone 'Mars/Base'");
    expect(err.message).toContain("  hexarch.yaml:5:9: unknown key 'requests_per_minit'");
    expect(err.message).toContain("  hexarch.yaml:10:29: warn_at_percentage (80%) disagrees");
    expect(err.message).toContain(`  hexarch.yaml:11:17: invalid action "blok"`);
    expect(err.message).toContain(`  hexarch.yaml:12:26: 'forbidden_days[0]' expected a day name`);
    const lines = err.message.split("\n").slice(1);
    expect(lines).toHaveLength(5);
  });

  it("reports a duplicate policy id together with that policy's own problems", () => {
    const err = failure(yaml`
      policies:
        - id: a
          rules: []
        - id: a
          rules:
            - action: blok
    `);
    expect(err.issues.map((i) => [i.line, i.path])).toEqual([
      [4, "policies[1].id"],
      [6, "policies[1].rules[0].action"],
    ]);
  });

  it("reports a top-level problem together with problems inside the policies", () => {
    const err = failure(yaml`
      enforcement: lenient
      policies:
        - id: a
          timezone: Mars/Base
          rules: []
    `);
    expect(err.issues.map((i) => [i.line, i.path])).toEqual([
      [1, "enforcement"],
      [4, "policies[0].timezone"],
    ]);
  });
});

describe("policies given as an object", () => {
  it("reports problems without line and column, naming the path", () => {
    const err = failure(
      { policies: [{ id: "a", rules: [{ request_per_minute: 5 }] }] },
      "<inline>",
    );
    expect(err.issues).toEqual([
      {
        file: "<inline>",
        line: 0,
        column: 0,
        path: "policies[0].rules[0].request_per_minute",
        message: "unknown key 'request_per_minute' in rule — did you mean 'requests_per_minute'?",
      },
    ]);
    expect(err.message).toBe(
      "<inline>: unknown key 'request_per_minute' in rule — did you mean 'requests_per_minute'? (at policies[0].rules[0].request_per_minute)",
    );
    expect(err.message).not.toMatch(/:\d+:\d+:/);
  });

  it("uses <inline> as the default source name", () => {
    let caught: unknown;
    try {
      parsePolicies({ policies: [{ id: "a", rules: [{ action: "warn_at_80" }] }] });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(PolicyFileError);
    expect((caught as Error).message).toMatch(/^<inline>: invalid action "warn_at_80"/);
    expect((caught as Error).message).toContain("did you mean 'warn_at_80%'?");
  });

  it("reports a duplicate id without a line to refer to", () => {
    const err = failure(
      {
        policies: [
          { id: "a", rules: [] },
          { id: "a", rules: [] },
        ],
      },
      "config.json",
    );
    expect(err.message).toBe("config.json: duplicate policy id 'a' (at policies[1].id)");
  });

  it.each([
    ["a list", []],
    ["a mapping without policies", { polices: [] }],
  ])("rejects %s", (_what, input) => {
    const err = failure(input, "<inline>");
    expect(err.message).toMatch(/^<inline>: (expected a mapping|missing the 'policies:' list)/);
    expect(err.issues[0]).toMatchObject({ line: 0, column: 0 });
  });

  it("loads a valid object, with rule lines of 0", () => {
    const set = parsePolicies({
      policies: [
        { id: "safe_delete", rules: [{ operation: "delete", action: "require_confirmation" }] },
      ],
    });
    expect(set.source).toBe("<inline>");
    expect(set.policies[0]?.rules[0]).toMatchObject({
      id: "safe_delete/rules[0]",
      operation: ["delete"],
      action: "require_confirmation",
      line: 0,
    });
  });
});

describe("a valid file", () => {
  it("loads every kind of rule into a PolicySet", () => {
    const set = parsePolicies(
      yaml`
        # Everything a TypeScript user may write beyond the Python keys.
        timezone: Europe/Berlin
        enforcement: strict
        policies:
          - id: api_budget
            description: Protect against overspending
            rules:
              - resource: openai
                monthly_budget: 10
                action: warn_at_80%
              - name: per_call_cap
                resource: [openai, anthropic]
                max_cost_per_call: 0.5
                daily_budget: 2.5
                per: tenant.id
                message: Ask finance before large jobs
          - id: rate_limit
            timezone: America/New_York
            rules:
              - id: burst
                resource: "api/*"
                requests_per_second: 5
                requests_per_day: 10000
                priority: 10
          - id: office_hours
            rules:
              - operation: deploy
                allowed_hours: "09:00-17:00"
                allowed_days: weekdays
                denied_windows:
                  - "12:00-13:00"
                  - {days: [fri], hours: "15:00-24:00"}
                timezone: UTC
                action: require_confirmation
              - operation: cleanup
                enabled: false
          - id: conditions
            rules:
              - when:
                  - {field: user.tier, op: gte, value: 2}
                  - {plan: [pro, team]}
                requires: [confirm, backup_verified]
                action: require_approval
      `,
      { source: "hexarch.yaml" },
    );

    expect(set.source).toBe("hexarch.yaml");
    expect(set.mode).toBe("enforce");
    expect(set.policies.map((p) => [p.id, p.timezone])).toEqual([
      ["api_budget", "Europe/Berlin"],
      ["rate_limit", "America/New_York"],
      ["office_hours", "Europe/Berlin"],
      ["conditions", "Europe/Berlin"],
    ]);

    const [budget, cap] = set.policies[0]?.rules ?? [];
    expect(budget).toMatchObject({
      id: "api_budget/rules[0]",
      line: 8,
      budgets: [{ key: "monthly_budget", unit: "usd", period: "month", limit: 10_000_000 }],
      warnAtPercent: 80,
      action: "block",
      timezone: "Europe/Berlin",
    });
    expect(cap).toMatchObject({
      id: "api_budget/per_call_cap",
      name: "per_call_cap",
      resource: ["openai", "anthropic"],
      maxCostPerCallMicros: 500_000,
      budgets: [{ key: "daily_budget", period: "day", limit: 2_500_000 }],
      per: "tenant.id",
      message: "Ask finance before large jobs",
      action: "block",
    });

    expect(set.policies[1]?.rules[0]).toMatchObject({
      id: "rate_limit/burst",
      priority: 10,
      timezone: "America/New_York",
      rateLimits: [
        { key: "requests_per_second", limit: 5, windowMs: 1000 },
        { key: "requests_per_day", limit: 10_000, windowMs: 86_400_000 },
      ],
    });

    const [deploy, cleanup] = set.policies[2]?.rules ?? [];
    expect(deploy).toMatchObject({
      timezone: "UTC",
      action: "require_confirmation",
      schedule: {
        allowedHours: [{ startMinute: 540, endMinute: 1020 }],
        allowedDays: [1, 2, 3, 4, 5],
        deniedWindows: [
          { kind: "recurring", hours: { startMinute: 720, endMinute: 780 } },
          { kind: "recurring", days: [5], hours: { startMinute: 900, endMinute: 1440 } },
        ],
      },
    });
    expect(cleanup).toMatchObject({ enabled: false, operation: ["cleanup"] });

    expect(set.policies[3]?.rules[0]).toMatchObject({
      when: {
        all: [
          { field: "user.tier", operator: "greater_or_equal", value: 2 },
          { field: "plan", operator: "in", value: ["pro", "team"] },
        ],
      },
      requires: ["confirm", "backup_verified"],
      action: "require_confirmation",
    });
  });

  it("accepts JSON text and reports its problems with positions", () => {
    expect(parsePolicies('{"policies": [{"id": "a", "rules": []}]}').policies).toHaveLength(1);
    const err = failure('{"policies": [{"id": "a", "rules": [{"request_per_minute": 5}]}]}');
    expectIssue(
      err,
      { line: 1, column: 38, path: "policies[0].rules[0].request_per_minute" },
      "did you mean 'requests_per_minute'?",
    );
  });

  it("accepts an empty policies list", () => {
    expect(parsePolicies("policies: []\n").policies).toEqual([]);
  });
});

describe("loadPolicyFile errors name the file on disk", () => {
  it("prefixes every issue with the file's path", () => {
    const dir = mkdtempSync(join(tmpdir(), "hexarch-policy-file-"));
    try {
      const file = join(dir, "hexarch.yaml");
      writeFileSync(
        file,
        yaml`
          policies:
            - id: rate_limit
              rules:
                - request_per_minute: 100
        `,
      );
      let caught: unknown;
      try {
        loadPolicyFile(file, { env: {} });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(PolicyFileError);
      const err = caught as PolicyFileError;
      expect(err.message).toContain(`${file}:4:9: unknown key 'request_per_minute' in rule`);
      expect(err.issues[0]).toMatchObject({ file, line: 4, column: 9 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reports an empty file on disk by its path", () => {
    const dir = mkdtempSync(join(tmpdir(), "hexarch-policy-file-"));
    try {
      const file = join(dir, "hexarch.yaml");
      writeFileSync(file, "");
      let caught: unknown;
      try {
        loadPolicyFile(file, { env: {} });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(PolicyFileError);
      expect((caught as Error).message).toMatch(/the file is empty; expected a 'policies:' list/);
      expect((caught as Error).message.startsWith(file)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
