/**
 * toRego: exact Rego text for several policies (golden files in test/golden/rego/), the
 * translation of each construct, and what cannot be translated.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Guardian, PolicyFileError, parsePolicies, UnknownPolicyError } from "../../src/index.ts";
import { toRego } from "../../src/opa/index.ts";
// Internal: the RE2-to-Rego pattern translation alone.
import { re2Pattern } from "../../src/opa/rego-syntax.ts";

const GOLDEN = fileURLToPath(new URL("../golden/rego/", import.meta.url));

/** Compares with `test/golden/rego/<name>`; `UPDATE_GOLDEN=1` rewrites the file instead. */
function expectGolden(name: string, actual: string): void {
  const file = `${GOLDEN}${name}`;
  if (process.env.UPDATE_GOLDEN === "1" || !existsSync(file)) {
    if (process.env.CI === "true" && !existsSync(file))
      throw new Error(
        `golden file ${name} is missing (run UPDATE_GOLDEN=1 npx vitest run test/opa-rego.test.ts)`,
      );
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, actual);
  }
  expect(actual).toBe(readFileSync(file, "utf8"));
}

/**
 * What can be checked without OPA: brackets balance outside strings and comments, and every
 * helper (`_name`) the module refers to is defined in it — a reference to a missing rule is
 * the mistake a generator is most likely to make, and OPA would refuse the module for it.
 */
function expectWellFormed(rego: string): void {
  const code = rego
    .split("\n")
    .map((line) => line.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/#.*$/, ""))
    .join("\n");
  const stack: string[] = [];
  const pairs: Record<string, string> = { ")": "(", "]": "[", "}": "{" };
  for (const c of code) {
    if ("([{".includes(c)) stack.push(c);
    else if (c in pairs) expect(stack.pop(), `unbalanced ${c}`).toBe(pairs[c]);
  }
  expect(stack).toEqual([]);
  const defined = new Set([...code.matchAll(/^(_\w+)\b/gm)].map((m) => m[1]));
  const used = new Set([...code.matchAll(/(?<![\w.])(_\w+)\b/g)].map((m) => m[1]));
  expect([...used].filter((u) => !defined.has(u))).toEqual([]);
  // Every helper defined is used by something else.
  for (const name of defined) {
    const uses = [...code.matchAll(new RegExp(`(?<![\\w.])${name}\\b`, "g"))].length;
    const definitions = [...code.matchAll(new RegExp(`^${name}\\b`, "gm"))].length;
    expect(uses, `${name} is defined but never used`).toBeGreaterThan(definitions);
  }
  expect(rego).toMatch(/^package \w+(\.\w+|\["[^"]+"\])+$/m);
  expect(code).toContain("\nimport rego.v1\n");
}

/** The Python README's three policies, as DESIGN.md quotes them. */
const README = `policies:
  - id: api_budget
    description: Protect against overspending
    rules:
      - resource: openai
        monthly_budget: 10          # USD per calendar month
        action: warn_at_80%         # warn from 80%; block a call that would exceed it
  - id: rate_limit
    rules:
      - resource: "*"
        requests_per_minute: 100
        action: block
  - id: safe_delete
    rules:
      - operation: delete
        action: require_confirmation   # passes with context.confirm === true
`;

const BUSINESS_HOURS = `policies:
  - id: business_hours
    description: Production deploys of risky changes on weekdays, 09:00-17:00 Berlin time
    timezone: Europe/Berlin
    rules:
      - name: office_hours
        operation: deploy
        when:
          - { environment: production }
          - { field: change.risk, operator: in, value: [high, critical] }
        allowed_hours: "09:00-17:00"
        allowed_days: weekdays
        action: block
      - name: lunch
        operation: [deploy, "rollback*"]
        forbidden_hours: ["12:00-13:00"]
        action: warn
        message: a deploy over lunch has fewer people watching
`;

const KITCHEN_SINK = readFileSync(
  fileURLToPath(new URL("../golden/rego/kitchen-sink.yaml", import.meta.url)),
  "utf8",
);

describe("toRego", () => {
  it("writes the README's three policies", () => {
    for (const id of ["api_budget", "rate_limit", "safe_delete"]) {
      const rego = toRego(README, id);
      expectWellFormed(rego);
      expectGolden(`${id}.rego`, rego);
    }
  });

  it("writes schedules in the rule's time zone, with when conditions", () => {
    const rego = toRego(BUSINESS_HOURS, "business_hours");
    expectWellFormed(rego);
    expectGolden("business_hours.rego", rego);
  });

  it("writes every construct it translates", () => {
    const rego = toRego(KITCHEN_SINK, "kitchen-sink");
    expectWellFormed(rego);
    expectGolden("kitchen-sink.rego", rego);
  });

  it("is deterministic, from YAML text or a loaded PolicySet", () => {
    const set = parsePolicies(KITCHEN_SINK);
    expect(toRego(set, "kitchen-sink")).toBe(toRego(KITCHEN_SINK, "kitchen-sink"));
    expect(toRego(KITCHEN_SINK, "kitchen-sink")).toBe(toRego(KITCHEN_SINK, "kitchen-sink"));
  });

  it("puts the policy under another package path on request", () => {
    const rego = toRego(README, "safe_delete", { path: "org/guardrails" });
    expect(rego).toContain("\npackage org.guardrails.safe_delete\n");
    expect(rego).toContain("# POST /v1/data/org/guardrails/safe_delete with");
  });

  it("quotes package parts that are not plain names", () => {
    const yaml =
      "policies: [{ id: my-policy, rules: [{ action: block }] }, { id: default, rules: [{ action: block }] }]";
    expect(toRego(yaml, "my-policy")).toContain('\npackage hexarch["my-policy"]\n');
    expect(toRego(yaml, "default")).toContain('\npackage hexarch["default"]\n');
  });

  it("allows every call of a disabled policy", () => {
    const rego = toRego(
      "policies: [{ id: off, enabled: false, rules: [{ action: block }] }]",
      "off",
    );
    expectWellFormed(rego);
    expect(rego).toContain(
      `default decision := {"allowed": true, "action": "allow", "reason": "Policy 'off' is disabled; the call is allowed"}`,
    );
    expect(rego).not.toContain("_outcomes");
  });

  it("leaves counters out, and says so", () => {
    const rego = toRego(README, "rate_limit");
    expect(rego).toContain(
      "# Not translated: requests_per_minute: 100 — counters, kept by the application's StateStore.",
    );
    expect(rego).not.toContain('decision := {"allowed": _allows');
  });

  it("gives the engine's reason, the rule's message replacing the generated text", () => {
    const rego = toRego(BUSINESS_HOURS, "business_hours");
    expect(rego).toContain(
      '"reason": "Policy \'business_hours\' blocked the call: outside allowed hours 09:00-17:00 (Europe/Berlin) (rule office_hours)"',
    );
    expect(rego).toContain(
      '"reason": "Policy \'business_hours\' warning: a deploy over lunch has fewer people watching (rule lunch)"',
    );
  });

  it("names an unknown policy", () => {
    expect(() => toRego(README, "safe_delet")).toThrow(UnknownPolicyError);
    expect(() => toRego(README, "safe_delet")).toThrow(
      "unknown policy 'safe_delet' (known policies: api_budget, rate_limit, safe_delete)",
    );
  });

  it("never meets a regular expression RE2 cannot run: such a policy does not load", () => {
    const yaml = `policies:
  - id: p
    rules:
      - name: no_secrets
        when: { field: text, operator: matches, value: "^(?!public).*" }
`;
    const err = (() => {
      try {
        return toRego(yaml, "p");
      } catch (e) {
        return e;
      }
    })();
    // The embedded engine runs RE2 too (matching in linear time), so the pattern is refused
    // where the policy loads, at its line and column, before any translation.
    expect(err).toBeInstanceOf(PolicyFileError);
    expect((err as Error).message).toContain("<inline>:5:");
    expect((err as Error).message).toContain("lookahead and lookbehind are not supported");
  });
});

/**
 * Every reason the module can give: its constant reasons, and its `sprintf` formats as
 * patterns (`%s`, `%d`, `%v` standing for any text).
 */
function regoReasons(rego: string): RegExp[] {
  const out: RegExp[] = [];
  for (const m of rego.matchAll(/"(?:reason|confirmed)": (sprintf\()?("(?:[^"\\]|\\.)*")/g)) {
    const text = JSON.parse(m[2] as string) as string;
    const escaped = text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    out.push(
      new RegExp(`^${m[1] ? escaped.replace(/%[sdv]/g, ".+").replaceAll("%%", "%") : escaped}$`),
    );
  }
  return out;
}

describe("the module's reasons are the engine's", () => {
  const at = (iso: string) => Date.parse(iso);
  const check = async (
    yaml: string,
    id: string,
    cases: readonly [string, Record<string, unknown>, string][],
  ) => {
    const reasons = regoReasons(toRego(yaml, id));
    for (const [when, context, expected] of cases) {
      const guardian = new Guardian({ policies: yaml, clock: () => at(when), env: {} });
      const d = await guardian.evaluate(id, context);
      expect(d.reason, JSON.stringify(context)).toContain(expected);
      expect(
        reasons.some((r) => r.test(d.reason)),
        `no Rego reason gives: ${d.reason}`,
      ).toBe(true);
    }
  };

  it("for every trigger of the kitchen sink", async () => {
    // 10:00 in New York on a Wednesday: no schedule fires; claude-* is explicitly allowed.
    const calm = "2026-01-14T15:00:00Z";
    const ok = {
      model: "claude-3",
      feature: "x",
      userId: "alice",
      confirm: true,
      backup_verified: true,
    };
    await check(KITCHEN_SINK, "kitchen-sink", [
      [calm, ok, "allowed the call: matched model claude-* (rule rules[10])"],
      [calm, {}, "model (gpt-4*) is not allowed"],
      [calm, { model: "gpt-4o" }, "model 'gpt-4o' is not allowed"],
      [calm, { model: "o1" }, "feature 'beta' is disabled"],
      [calm, { model: "o1", feature: "x" }, "no user id in the context; allowed_users applies"],
      [calm, { model: "o1", feature: "x", userId: "bob" }, "user 'bob' is not allowed"],
      [calm, { model: "o1", feature: "x", userId: 7, ownerId: 7 }, "requires confirm to be true"],
      [
        calm,
        { ...ok, userId: "bob", roles: ["admin"], backup_verified: false },
        // Confirming the call does not stand in for the backup.
        "blocked the call: requires backup_verified to be true in the context (rule rules[2])",
      ],
      [calm, { ...ok, userId: "bob" }, "allowed the call: confirmed (rule admins)"],
      [calm, { ...ok, limit: "x" }, `parameter 'limit' must be a number, got "x"`],
      [calm, { ...ok, limit: 0 }, "parameter 'limit' = 0 is below the minimum 1"],
      [calm, { ...ok, limit: 500 }, "parameter 'limit' = 500 is above the maximum 100"],
      [calm, { ...ok, mode: 5 }, "parameter 'mode' must be a string or a list to have a length"],
      [calm, { ...ok, mode: "a very long mode" }, "parameter 'mode' is 16 long"],
      [calm, { ...ok, mode: "slow" }, `parameter 'mode' = "slow" is not one of the allowed values`],
      [calm, { ...ok, cost: -1 }, "cost must be a non-negative number, got -1"],
      [calm, { ...ok, cost: 0.6 }, "cost per call $0.60 exceeds the limit of $0.50"],
      [calm, { ...ok, cost: 0.45 }, "cost per call $0.45 is at 90% of the limit of $0.50"],
      [calm, { ...ok, tokens: 5000 }, "tokens per request 5000 tokens exceeds the limit of 4000"],
      ["2026-01-14T08:00:00Z", ok, "inside forbidden hours 22:00-06:00 (america/new_york)"],
      ["2026-01-18T17:00:00Z", ok, "sunday is a forbidden day (america/new_york)"],
      ["2026-01-14T17:30:00Z", ok, "inside denied window 12:00-13:00 (america/new_york)"],
      ["2026-12-25T15:00:00Z", ok, "inside denied window 2026-12-24T05:00:00.000Z to"],
      [
        calm,
        {
          ...ok,
          operation: "drop_table",
          resource: "db1",
          env: "production",
          user: { tier: "free", roles: ["dev"] },
          tags: ["sensitive"],
          name: "tmp_12",
          amount: 15,
          tier: "silver",
          score: 0.5,
          path: "/admin/users",
          note: "",
          "odd-key": 2,
        },
        "blocked the call: matched operation delete or drop_*, resource db?, and its conditions held (rule no_prod_deletes)",
      ],
    ]);
  });

  it("for schedules and the README's policies", async () => {
    const deploy = { operation: "deploy", environment: "production", change: { risk: "high" } };
    await check(BUSINESS_HOURS, "business_hours", [
      ["2026-01-14T10:00:00Z", deploy, "allowed the call"],
      ["2026-01-14T07:00:00Z", deploy, "outside allowed hours 09:00-17:00 (Europe/Berlin)"],
      ["2026-01-17T10:00:00Z", deploy, "saturday is not an allowed day (Europe/Berlin)"],
      ["2026-01-14T11:30:00Z", { operation: "rollback-db" }, "a deploy over lunch"],
    ]);
    await check(README, "safe_delete", [
      [
        "2026-01-14T10:00:00Z",
        { operation: "delete" },
        "requires confirmation: matched operation delete",
      ],
      ["2026-01-14T10:00:00Z", { operation: "delete", confirm: true }, "confirmed (rule rules[0])"],
      ["2026-01-14T10:00:00Z", { operation: "read" }, "Policy 'safe_delete' allowed the call"],
    ]);
  });
});

describe("re2Pattern", () => {
  it("keeps what RE2 reads the same way", () => {
    for (const p of ["^tmp_\\d+$", "a|b", "[a-z]+", "(?<name>x)", "\\w\\s\\b", "x{2,5}", "\\/"]) {
      expect(re2Pattern(p)).toBe(p);
    }
  });

  it("rewrites \\u, \\c and property escapes", () => {
    expect(re2Pattern("\\u0041\\u{1F600}")).toBe("\\x{41}\\x{1F600}");
    expect(re2Pattern("\\cJ")).toBe("\\x{A}");
    expect(re2Pattern("\\p{Script=Greek}\\P{Lu}\\p{gc=Nd}")).toBe("\\p{Greek}\\P{Lu}\\p{Nd}");
  });

  it("names what RE2 lacks", () => {
    const problem = (p: string) => (re2Pattern(p) as { problem: string }).problem;
    expect(problem("(?=a)")).toBe("lookahead (?= or (?!");
    expect(problem("(?<!a)b")).toBe("lookbehind (?<= or (?<!");
    expect(problem("(a)\\1")).toBe("the backreference \\1");
    expect(problem("(?<n>a)\\k<n>")).toBe("a named backreference \\k<…>");
    expect(problem("[^]")).toBe("the class [^]");
    expect(problem("\\p{Letter}")).toBe("the property escape \\p{Letter}");
    expect(problem("\\uD83D")).toContain("surrogate");
    expect(problem("a{1001}")).toContain("at most 1000");
  });
});
