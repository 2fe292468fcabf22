/**
 * `when:` conditions fail closed, written as the attack: a caller who dresses a compared
 * value in another type (`amount: "1000"`, `[1000]`, `{v: 1000}`, `true`) must not step
 * around a rule that blocks `when: amount > 100`. Such a comparison is unknown (Kleene
 * logic); a rule whose conditions are unknown applies, unless it is an `allow` rule.
 */
import { describe, expect, it } from "vitest";
// Internal: conditions compiled alone, without a policy around them.
import { compileTruth, FALSE, TRUE, type Truth, UNKNOWN } from "../../src/engine/conditions.ts";
import { type Condition, Guardian, RulesEngine } from "../../src/index.ts";
import { keyedServer } from "../support/api-server.ts";
import { closeAfterEach, tempDbs } from "../support/cleanup.ts";

const POLICIES = `
policies:
  - id: spend
    rules:
      - when: { field: amount, operator: greater_than, value: 100 }
        action: block
  - id: not_small
    rules:
      - when: { not: { field: amount, operator: less_or_equal, value: 100 } }
        action: block
  - id: any_of
    rules:
      - when:
          any:
            - { field: amount, op: gt, value: 100 }
            - { field: region, operator: equals, value: embargoed }
        action: block
  - id: all_of
    rules:
      - when:
          all:
            - { field: env, operator: equals, value: prod }
            - { field: amount, op: gt, value: 100 }
        action: block
  - id: gold
    rules:
      - when: { field: tier, operator: equals, value: gold }
        action: allow
        message: gold tier
  - id: review
    rules:
      - when: { field: amount, op: between, value: [100, 10000] }
        action: require_confirmation
  - id: destructive
    rules:
      - when: { field: operation, operator: in, value: [delete, drop] }
        action: block
  - id: dates
    rules:
      - when: { field: day, op: greater_than, value: "2026-01-01" }
        action: block
`;

const guardian = () => new Guardian({ policies: POLICIES, env: {}, onWarn: () => {} });

/** The disguises of 1000 a caller may send; each is present and of the wrong type. */
const DISGUISES: readonly [string, unknown][] = [
  ["a numeric string", "1000"],
  ["a list", [1000]],
  ["a map", { v: 1000 }],
  ["a boolean", true],
  ["NaN", Number.NaN],
];

describe("escaping a blocking when: rule with a value of another type (Guardian.evaluate)", () => {
  it("blocks the well-typed value and lets a small one through", async () => {
    const g = guardian();
    expect((await g.evaluate("spend", { amount: 1000 })).allowed).toBe(false);
    expect((await g.evaluate("spend", { amount: 50 })).allowed).toBe(true);
    expect((await g.evaluate("not_small", { amount: 50 })).allowed).toBe(true);
  });

  for (const [what, amount] of DISGUISES) {
    it(`does not escape greater_than with ${what}, and says why`, async () => {
      const d = await guardian().evaluate("spend", { amount });
      expect(d.allowed).toBe(false);
      expect(d.action).toBe("block");
      expect(d.matchedRules).toEqual(["spend/rules[0]"]);
      expect(d.reason).toContain(
        `context.amount is ${what === "NaN" ? "NaN" : what.replace("a numeric string", "a string")}, greater_than needs a number: the rule applies (fail closed)`,
      );
    });

    it(`does not escape not:, any: or all: compositions with ${what}`, async () => {
      const g = guardian();
      // not(unknown) stays unknown: the negation cannot turn the miss into a pass.
      expect((await g.evaluate("not_small", { amount })).allowed).toBe(false);
      // any: no part true, one unknown → unknown → applies.
      expect((await g.evaluate("any_of", { amount, region: "eu" })).allowed).toBe(false);
      // all: a false part decides (false beats unknown); otherwise unknown → applies.
      expect((await g.evaluate("all_of", { amount, env: "dev" })).allowed).toBe(true);
      expect((await g.evaluate("all_of", { amount, env: "prod" })).allowed).toBe(false);
    });

    it(`asks for confirmation on a between rule with ${what}`, async () => {
      const g = guardian();
      const d = await g.evaluate("review", { amount });
      expect(d.action).toBe("require_confirmation");
      expect((await g.evaluate("review", { amount, confirm: true })).allowed).toBe(true);
    });
  }

  it("blocks an in: list of strings against a wrapped or retyped value", async () => {
    const g = guardian();
    expect((await g.evaluate("destructive", { operation: "read" })).allowed).toBe(true);
    expect((await g.evaluate("destructive", { operation: "delete" })).allowed).toBe(false);
    for (const operation of [["delete"], { v: "delete" }, 7, true]) {
      const d = await g.evaluate("destructive", { operation });
      expect(d.allowed, JSON.stringify(operation)).toBe(false);
      expect(d.reason).toMatch(/operation/);
    }
  });

  it("does not grant an allow rule on an unknown condition", async () => {
    const g = guardian();
    const granted = await g.evaluate("gold", { tier: "gold" });
    expect(granted.matchedRules).toEqual(["gold/rules[0]"]);
    expect(granted.reason).toContain("gold tier");
    for (const tier of [["gold"], { tier: "gold" }, 1, true]) {
      const d = await g.evaluate("gold", { tier });
      expect(d.matchedRules, JSON.stringify(tier)).toEqual([]);
      expect(d.reason).not.toContain("gold tier");
    }
  });

  it("keeps string ordering for ISO dates, and refuses a number where a date belongs", async () => {
    const g = guardian();
    expect((await g.evaluate("dates", { day: "2026-05-04" })).allowed).toBe(false);
    expect((await g.evaluate("dates", { day: "2025-12-31" })).allowed).toBe(true);
    const d = await g.evaluate("dates", { day: 20260504 });
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain("context.day is a number, greater_than needs a string");
  });

  it("treats null as missing (documented): pair the rule with not_exists to refuse both", async () => {
    const g = guardian();
    expect((await g.evaluate("spend", { amount: null })).allowed).toBe(true);
    expect((await g.evaluate("spend", {})).allowed).toBe(true);
    const strict = new Guardian({
      env: {},
      policies: `
policies:
  - id: spend
    rules:
      - when:
          any:
            - { field: amount, op: gt, value: 100 }
            - { field: amount, operator: not_exists }
        action: block
`,
    });
    expect((await strict.evaluate("spend", { amount: null })).allowed).toBe(false);
    expect((await strict.evaluate("spend", {})).allowed).toBe(false);
    expect((await strict.evaluate("spend", { amount: "1000" })).allowed).toBe(false);
    expect((await strict.evaluate("spend", { amount: 5 })).allowed).toBe(true);
  });
});

describe("escaping a RulesEngine rule with a value of another type", () => {
  const engine = new RulesEngine({
    rules: [
      {
        id: "big",
        conditions: [{ field: "amount", operator: "gt", value: 100 }],
        actions: ["deny"],
      },
      {
        id: "gold",
        conditions: [{ field: "tier", operator: "equals", value: "gold" }],
        actions: ["allow"],
      },
      {
        id: "pdf",
        conditions: [{ field: "file", operator: "ends_with", value: ".exe" }],
        actions: ["alert"],
      },
    ],
  });

  for (const [what, amount] of DISGUISES) {
    it(`blocks amount as ${what}`, () => {
      const r = engine.evaluate({ amount });
      expect(r.blocked).toBe(true);
      expect(r.matchedRules).toEqual(["big"]);
      expect(r.reason).toContain("context.amount is");
      expect(r.reason).toContain("the rule applies (fail closed)");
    });
  }

  it("does not match an allow rule on an unknown condition, and warns on a wrong-typed file", () => {
    expect(engine.evaluate({ tier: "gold" }).matchedRules).toEqual(["gold"]);
    expect(engine.evaluate({ tier: ["gold"] }).matchedRules).toEqual([]);
    const warned = engine.evaluate({ file: ["a.exe"] });
    expect(warned.action).toBe("warn");
    expect(warned.reason).toContain("context.file is a list, ends_with needs a string");
    expect(engine.evaluate({ amount: 50, file: "a.pdf" }).matchedRules).toEqual([]);
  });
});

describe("Kleene logic of all, any and not", () => {
  // A comparison whose truth the context picks: x = 1 true, x = 0 false, x = "?" unknown.
  const cmp = (field: string): Condition => ({ field, operator: "equals", value: 1 });
  const value = (t: Truth) => (t === TRUE ? 1 : t === FALSE ? 0 : "?");
  const truths: Truth[] = [FALSE, TRUE, UNKNOWN];

  it("follows the truth tables", () => {
    const all = compileTruth({ all: [cmp("a"), cmp("b")] }).test;
    const any = compileTruth({ any: [cmp("a"), cmp("b")] }).test;
    const not = compileTruth({ not: cmp("a") }).test;
    for (const a of truths) {
      expect(not({ a: value(a) })).toBe(a === UNKNOWN ? UNKNOWN : a === TRUE ? FALSE : TRUE);
      for (const b of truths) {
        const ctx = { a: value(a), b: value(b) };
        const wantAll = a === FALSE || b === FALSE ? FALSE : a === TRUE && b === TRUE ? TRUE : 2;
        const wantAny = a === TRUE || b === TRUE ? TRUE : a === FALSE && b === FALSE ? FALSE : 2;
        expect(all(ctx), JSON.stringify(ctx)).toBe(wantAll);
        expect(any(ctx), JSON.stringify(ctx)).toBe(wantAny);
      }
    }
  });

  it("explains the comparison that made a nested condition unknown", () => {
    const c = compileTruth({
      all: [
        cmp("a"),
        { not: { any: [cmp("b"), { field: "n", operator: "matches", value: "x" }] } },
      ],
    });
    expect(c.test({ a: 1, b: 0, n: 7 })).toBe(UNKNOWN);
    expect(c.explain({ a: 1, b: 0, n: 7 })).toBe("context.n is a number, matches needs a string");
  });
});

describe("escaping an API rule over HTTP with a value of another type", () => {
  const tempDb = tempDbs("hexarch-sec-conditions");
  const closers = closeAfterEach();
  const TOKEN = "test-token-0123456789abcdef";

  async function server(failureMode: "FAIL_CLOSED" | "FAIL_OPEN") {
    const { req: send } = await keyedServer({
      path: tempDb(),
      policies: POLICIES,
      token: TOKEN,
      closers,
    });
    const req = (url: string, payload: object) => send("POST", url, undefined, payload);
    // Allowed unless the risk is over 5, written as a negation: the shape a wrong type
    // would have turned into an allow when a mistyped comparison was simply false.
    const rule = (
      await req("/rules", {
        name: "risk-gate",
        rule_type: "CONSTRAINT",
        priority: 10,
        enabled: true,
        condition: { not: { field: "input.context.risk_score", op: "gt", value: 5 } },
      })
    ).json();
    const policy = await req("/policies", {
      name: "gate",
      scope: "GLOBAL",
      scope_value: null,
      failure_mode: failureMode,
      rule_ids: [rule.id],
    });
    expect(policy.statusCode).toBe(200);
    return async (risk: unknown) =>
      (await req("/authorize", { action: "invoke", context: { risk_score: risk } })).json();
  }

  for (const mode of ["FAIL_CLOSED", "FAIL_OPEN"] as const) {
    it(`denies every disguise of a risk of 7 under ${mode}, naming the field`, async () => {
      const authorize = await server(mode);
      expect((await authorize(3)).allowed).toBe(true);
      expect((await authorize(7)).allowed).toBe(false);
      for (const risk of ["7", [7], { v: 7 }, true]) {
        const answer = await authorize(risk);
        expect(answer.allowed, JSON.stringify(risk)).toBe(false);
        expect(answer.decision).toBe("DENY");
        expect(answer.reason).toMatch(/^policy_denied:/);
        expect(answer.reason).toContain("input.context.risk_score is");
        expect(answer.reason).toContain("greater_than needs a number");
      }
    });
  }
});
