import { describe, expect, it } from "vitest";
// Internal: conditions compiled alone, without a policy around them.
import { compileCondition, resolveOperator } from "../../src/engine/conditions.ts";
import {
  type Condition,
  LocalDecisionClient,
  OPERATOR_ALIASES,
  OPERATORS,
  type Operator,
  PolicyFileError,
  parsePolicies,
} from "../../src/index.ts";
// Internal: field paths parsed and read alone.
import { compileFieldPath, parseFieldPath } from "../../src/policy/field-path.ts";
// Internal: glob matching alone, including its worst cases.
import { compileGlob, compileGlobs } from "../../src/policy/glob.ts";
import { ManualClock } from "../../src/testing/index.ts";

type Ctx = Record<string, unknown>;

/** Compiles a condition and evaluates it on a context. */
const holds = (condition: Condition, ctx: Ctx): boolean => compileCondition(condition)(ctx);

/** A comparison on field `x` (value left out when `undefined`). */
const on = (operator: Operator, value: unknown, field = "x"): Condition =>
  value === undefined ? { field, operator } : { field, operator, value };

/** Decides policy `p` of a policy file (YAML text or an object) on a fixed manual clock. */
function policyClient(policy: string | object) {
  const clock = new ManualClock("2026-05-04T12:00:00Z");
  const client = new LocalDecisionClient({ policies: parsePolicies(policy), clock: clock.now });
  return async (ctx: Ctx) => client.decide("p", ctx);
}

/** Whether a rule `{when, action: block}` (a rule that fires whenever it applies) blocks `ctx`. */
async function whenBlocks(when: unknown, ctx: Ctx): Promise<boolean> {
  const decide = policyClient({ policies: [{ id: "p", rules: [{ when, action: "block" }] }] });
  return !(await decide(ctx)).allowed;
}

/**
 * For each canonical operator: a value, field values for which it holds, and field values
 * for which it does not (all present and non-null).
 */
const CASES: Record<Operator, { value?: unknown; yes: unknown[]; no: unknown[] }> = {
  equals: { value: "prod", yes: ["prod"], no: ["dev", "Prod", ""] },
  not_equals: { value: "prod", yes: ["dev", "Prod"], no: ["prod"] },
  in: { value: ["free", "trial"], yes: ["free", "trial"], no: ["pro", "Free"] },
  not_in: { value: ["free", "trial"], yes: ["pro"], no: ["free", "trial"] },
  contains: {
    value: "admin",
    yes: ["sysadmin", "admin", ["dev", "admin"]],
    no: ["user", "ADMIN", ["dev"], ["administrator"]],
  },
  not_contains: {
    value: "admin",
    yes: ["user", ["dev"], ["administrator"]],
    no: ["sysadmin", ["admin"]],
  },
  starts_with: { value: "gpt-", yes: ["gpt-4o", "gpt-"], no: ["chatgpt-4", "GPT-4"] },
  ends_with: { value: ".pdf", yes: ["a.pdf", ".pdf"], no: ["a.pdf.exe", "apdf"] },
  matches: { value: "ord-\\d+$", yes: ["ord-42", "my-ord-7"], no: ["ord-", "ord-42x"] },
  between: { value: [10, 20], yes: [10, 15, 20, 10.5], no: [9.99, 21, -15] },
  greater_than: { value: 100, yes: [100.01, 1e9], no: [100, 99, -101] },
  greater_or_equal: { value: 100, yes: [100, 101], no: [99.99] },
  less_than: { value: 100, yes: [99.99, -1], no: [100, 101] },
  less_or_equal: { value: 100, yes: [100, 0], no: [100.01] },
  exists: { yes: ["x", 0, false, "", [], {}], no: [] },
  not_exists: { yes: [], no: ["x", 0, false, "", [], {}] },
};

describe("operators", () => {
  it("has a case for every operator", () => {
    expect(Object.keys(CASES).sort()).toEqual([...OPERATORS].sort());
  });

  describe.each([...OPERATORS])("%s", (operator) => {
    const { value, yes, no } = CASES[operator];

    it("holds and fails for the expected field values (compileCondition)", () => {
      for (const v of yes)
        expect(holds(on(operator, value), { x: v }), JSON.stringify(v)).toBe(true);
      for (const v of no)
        expect(holds(on(operator, value), { x: v }), JSON.stringify(v)).toBe(false);
    });

    it("holds and fails for the same values in a policy's when:", async () => {
      const condition =
        value === undefined ? { field: "x", operator } : { field: "x", operator, value };
      for (const v of yes)
        expect(await whenBlocks(condition, { x: v }), JSON.stringify(v)).toBe(true);
      for (const v of no)
        expect(await whenBlocks(condition, { x: v }), JSON.stringify(v)).toBe(false);
    });

    const missingHolds = operator === "not_exists";
    it(`${missingHolds ? "holds" : "fails"} when the field is missing or null`, async () => {
      for (const ctx of [{}, { x: null }, { y: "prod" }]) {
        expect(holds(on(operator, value), ctx), JSON.stringify(ctx)).toBe(missingHolds);
        const condition =
          value === undefined ? { field: "x", operator } : { field: "x", operator, value };
        expect(await whenBlocks(condition, ctx), JSON.stringify(ctx)).toBe(missingHolds);
      }
      // A missing step on the way to a nested field counts as missing too.
      for (const ctx of [{}, { user: null }, { user: "alice" }, { user: { name: null } }]) {
        expect(holds(on(operator, value, "user.name"), ctx), JSON.stringify(ctx)).toBe(
          missingHolds,
        );
      }
    });
  });

  it("compares equals/in strictly for scalars: no type coercion", () => {
    expect(holds(on("equals", 1), { x: "1" })).toBe(false);
    expect(holds(on("equals", true), { x: "true" })).toBe(false);
    expect(holds(on("equals", 0), { x: false })).toBe(false);
    expect(holds(on("in", [1, 2]), { x: "1" })).toBe(false);
    expect(holds(on("in", [1, "1"]), { x: 1 })).toBe(true);
    expect(holds(on("in", [true]), { x: true })).toBe(true);
  });

  it("compares lists and maps deeply: equal content, map key order ignored, list order kept", () => {
    expect(holds(on("equals", { a: 1, b: [1, 2] }), { x: { b: [1, 2], a: 1 } })).toBe(true);
    expect(holds(on("equals", { a: 1 }), { x: { a: 1, b: 2 } })).toBe(false);
    expect(holds(on("equals", [1, 2]), { x: [2, 1] })).toBe(false);
    expect(holds(on("equals", [1, 2]), { x: { 0: 1, 1: 2 } })).toBe(false);
    expect(holds(on("not_equals", [1, 2]), { x: [1, 2] })).toBe(false);
    expect(holds(on("in", [[1, 2], { id: 7 }]), { x: { id: 7 } })).toBe(true);
    expect(holds(on("not_in", [[1, 2], { id: 7 }]), { x: [2, 1] })).toBe(true);
    expect(holds(on("contains", { id: 7 }), { x: [{ id: 1 }, { id: 7 }] })).toBe(true);
  });

  it("matches a regular expression anywhere in the string unless anchored", () => {
    expect(holds(on("matches", "admin"), { x: "superadmin-1" })).toBe(true);
    expect(holds(on("matches", "^admin$"), { x: "superadmin" })).toBe(false);
    expect(holds(on("matches", "^admin$"), { x: "admin" })).toBe(true);
    // The same compiled predicate gives the same answer every time (no stateful lastIndex).
    const p = compileCondition(on("matches", "a"));
    expect([p({ x: "a" }), p({ x: "a" }), p({ x: "a" })]).toEqual([true, true, true]);
  });

  it("compares strings with strings: between and the orderings work on ISO dates", () => {
    expect(holds(on("between", ["2026-01-01", "2026-12-31"]), { x: "2026-05-04" })).toBe(true);
    expect(holds(on("between", ["2026-01-01", "2026-12-31"]), { x: "2027-01-01" })).toBe(false);
    expect(holds(on("greater_than", "2026-01-01"), { x: "2026-05-04" })).toBe(true);
    expect(holds(on("less_or_equal", "b"), { x: "b" })).toBe(true);
    expect(holds(on("less_than", "b"), { x: "c" })).toBe(false);
  });

  it("fails every comparison whose field has the wrong type, including the not_* operators", () => {
    const wrong: [Operator, unknown, unknown[]][] = [
      ["contains", "admin", [42, true, { admin: true }]],
      ["not_contains", "admin", [42, true, { admin: true }]],
      ["starts_with", "4", [42, true, ["4"]]],
      ["ends_with", "2", [42, true, ["2"]]],
      ["matches", "^\\d+$", [42, true, ["42"]]],
      ["between", [10, 20], ["15", true, [15]]],
      ["between", ["a", "m"], [5, ["b"]]],
      ["greater_than", 100, ["200", true, [200]]],
      ["greater_than", "m", [5]],
      ["greater_or_equal", 100, ["100", [100]]],
      ["less_than", 100, ["50", false, [50]]],
      ["less_or_equal", 100, ["100", { v: 1 }]],
    ];
    for (const [operator, value, fields] of wrong) {
      for (const x of fields) {
        expect(holds(on(operator, value), { x }), `${operator} ${JSON.stringify(x)}`).toBe(false);
      }
    }
  });

  it("treats wrong-typed fields in a policy as unknown: a blocking rule applies (fail closed)", async () => {
    const rule = { field: "tags", operator: "not_contains", value: "internal" };
    expect(await whenBlocks(rule, { tags: ["public"] })).toBe(true);
    expect(await whenBlocks(rule, { tags: ["internal"] })).toBe(false);
    expect(await whenBlocks(rule, { tags: 7 })).toBe(true);
    expect(await whenBlocks(rule, { tags: { internal: true } })).toBe(true);
    const gt = { field: "amount", op: "gt", value: 1000 };
    expect(await whenBlocks(gt, { amount: 5000 })).toBe(true);
    expect(await whenBlocks(gt, { amount: 500 })).toBe(false);
    expect(await whenBlocks(gt, { amount: "5000" })).toBe(true);
  });
});

describe("operator aliases", () => {
  const aliases = Object.entries(OPERATOR_ALIASES);

  it("resolves every alias to its canonical operator, and canonical names to themselves", () => {
    for (const [alias, canonical] of aliases) expect(resolveOperator(alias), alias).toBe(canonical);
    for (const op of OPERATORS) expect(resolveOperator(op)).toBe(op);
    expect(aliases).toEqual(
      expect.arrayContaining([
        ["gt", "greater_than"],
        ["gte", "greater_or_equal"],
        ["lt", "less_than"],
        ["lte", "less_or_equal"],
        ["regex", "matches"],
        ["eq", "equals"],
        ["ne", "not_equals"],
      ]),
    );
  });

  it("resolves nothing else, including names inherited by every object", () => {
    for (const name of ["greater", "equal", "GT", "", "constructor", "toString", "__proto__"]) {
      expect(resolveOperator(name), name).toBeUndefined();
    }
  });

  it.each(aliases)("%s means %s in a policy, under operator: or op:", async (alias, canonical) => {
    const { value, yes, no } = CASES[canonical];
    for (const key of ["operator", "op"]) {
      const condition = { field: "x", [key]: alias, value };
      for (const v of yes) expect(await whenBlocks(condition, { x: v }), `${key} ${v}`).toBe(true);
      for (const v of no) expect(await whenBlocks(condition, { x: v }), `${key} ${v}`).toBe(false);
    }
  });

  it("accepts operator names in any case and with surrounding spaces in a policy", async () => {
    expect(await whenBlocks({ field: "n", operator: " GTE ", value: 5 }, { n: 5 })).toBe(true);
    expect(await whenBlocks({ field: "n", operator: "Less_Than", value: 5 }, { n: 5 })).toBe(false);
  });

  it("rejects an unknown operator when the policy loads, suggesting the nearest name", () => {
    const load = (operator: string) =>
      parsePolicies({
        policies: [{ id: "p", rules: [{ when: { field: "x", operator, value: 1 } }] }],
      });
    expect(() => load("greater_thn")).toThrow(/unknown operator 'greater_thn'.*greater_than/);
    expect(() => load("approximately")).toThrow(PolicyFileError);
  });

  it("rejects an operator named like an inherited object property when the policy loads", () => {
    for (const operator of ["constructor", "__proto__"]) {
      expect(
        () =>
          parsePolicies({
            policies: [{ id: "p", rules: [{ when: { field: "x", operator, value: 1 } }] }],
          }),
        operator,
      ).toThrow(/unknown operator/);
    }
  });
});

describe("composition with all, any and not", () => {
  const tierFree: Condition = { field: "tier", operator: "equals", value: "free" };
  const bigAmount: Condition = { field: "amount", operator: "greater_than", value: 1000 };
  const verified: Condition = { field: "verified", operator: "equals", value: true };

  it("all holds only when every part holds", () => {
    const c: Condition = { all: [tierFree, bigAmount] };
    expect(holds(c, { tier: "free", amount: 5000 })).toBe(true);
    expect(holds(c, { tier: "free", amount: 10 })).toBe(false);
    expect(holds(c, { tier: "pro", amount: 5000 })).toBe(false);
    expect(holds(c, { tier: "free" })).toBe(false);
  });

  it("any holds when at least one part holds", () => {
    const c: Condition = { any: [tierFree, bigAmount] };
    expect(holds(c, { tier: "pro", amount: 5000 })).toBe(true);
    expect(holds(c, { tier: "free", amount: 10 })).toBe(true);
    expect(holds(c, { tier: "pro", amount: 10 })).toBe(false);
    expect(holds(c, {})).toBe(false);
  });

  it("not inverts, so not(equals) holds for a missing field where not_equals fails", () => {
    expect(holds({ not: verified }, { verified: false })).toBe(true);
    expect(holds({ not: verified }, { verified: true })).toBe(false);
    expect(holds({ not: verified }, {})).toBe(true);
    expect(holds(on("not_equals", true, "verified"), {})).toBe(false);
    expect(holds({ not: { not: verified } }, { verified: true })).toBe(true);
  });

  it("nests to any depth", () => {
    const c: Condition = {
      all: [tierFree, { any: [bigAmount, { not: verified }] }],
    };
    expect(holds(c, { tier: "free", amount: 5000, verified: true })).toBe(true);
    expect(holds(c, { tier: "free", amount: 10, verified: false })).toBe(true);
    expect(holds(c, { tier: "free", amount: 10, verified: true })).toBe(false);
    expect(holds(c, { tier: "pro", amount: 5000, verified: false })).toBe(false);
  });

  it("composes the same way in a policy, where a when: list means all", async () => {
    const decide = policyClient(`
policies:
  - id: p
    rules:
      - when:
          - { field: user.tier, operator: in, value: [free, trial] }
          - any:
              - { field: amount, op: gt, value: 1000 }
              - not: { field: user.verified, operator: equals, value: true }
          - { environment: production }
        action: block
`);
    const blocked = async (ctx: Ctx) => !(await decide(ctx)).allowed;
    const base = { environment: "production", user: { tier: "free", verified: true } };
    expect(await blocked({ ...base, amount: 5000 })).toBe(true);
    expect(await blocked({ ...base, amount: 10 })).toBe(false);
    expect(await blocked({ ...base, amount: 10, user: { tier: "trial", verified: false } })).toBe(
      true,
    );
    expect(await blocked({ ...base, amount: 10, user: { tier: "trial" } })).toBe(true);
    expect(await blocked({ ...base, amount: 5000, user: { tier: "pro" } })).toBe(false);
    expect(await blocked({ ...base, amount: 5000, environment: "staging" })).toBe(false);
    expect(await blocked({ amount: 5000, user: base.user })).toBe(false);
  });

  it("says in the reason that the rule's conditions held", async () => {
    const decide = policyClient({
      policies: [{ id: "p", rules: [{ id: "big", when: bigAmount, action: "block" }] }],
    });
    const d = await decide({ amount: 5000 });
    expect(d.reason).toMatch(/^Policy 'p' blocked the call: .*conditions held.* \(rule big\)$/);
    expect(d.ruleId).toBe("p/big");
    expect((await decide({ amount: 5 })).matchedRules).toEqual([]);
  });

  it("rejects all/any with other keys or an empty list, and not with other keys", () => {
    const load = (when: unknown) => () =>
      parsePolicies({ policies: [{ id: "p", rules: [{ when }] }] });
    expect(load({ all: [] })).toThrow(/'all' expects a non-empty list/);
    expect(load({ any: [tierFree], x: 1 })).toThrow(/'any' must be the only key/);
    expect(load({ not: tierFree, x: 1 })).toThrow(/'not' must be the only key/);
  });

  it("rejects an empty list of conditions, which would switch the rule on or off unnoticed", () => {
    const load = (when: unknown) => () =>
      parsePolicies({ policies: [{ id: "p", rules: [{ when, action: "block" }] }] });
    expect(load([])).toThrow(/empty list of conditions/);
    expect(load({ not: [] })).toThrow(
      /empty list of conditions.*\(at policies\[0\]\.rules\[0\]\.when\.not\)/,
    );
    expect(load([tierFree])).not.toThrow();
  });
});

describe("field paths", () => {
  const ctx = {
    user: { name: "ada", roles: ["admin", "dev"], meta: { "0": "zero" } },
    orders: [{ items: [{ sku: "A-1" }, { sku: "B-2" }] }, { items: [] }],
  };

  it("reads dotted paths with list indexes", () => {
    expect(holds(on("equals", "admin", "user.roles[0]"), ctx)).toBe(true);
    expect(holds(on("equals", "dev", "user.roles[1]"), ctx)).toBe(true);
    expect(holds(on("equals", "B-2", "orders[0].items[1].sku"), ctx)).toBe(true);
    expect(holds(on("contains", "dev", "user.roles"), ctx)).toBe(true);
    expect(compileFieldPath("orders[0].items[0].sku")(ctx)).toBe("A-1");
    expect(compileFieldPath("user")(ctx)).toBe(ctx.user);
  });

  it("treats an index past the end, an index into a map, or a step through a scalar as missing", () => {
    for (const path of [
      "user.roles[2]",
      "user.meta[0]",
      "user.name.first",
      "orders[1].items[0].sku",
      "orders[9]",
      "user.roles.first",
    ]) {
      expect(compileFieldPath(path)(ctx), path).toBeUndefined();
      expect(holds(on("exists", undefined, path), ctx), path).toBe(false);
      expect(holds(on("not_exists", undefined, path), ctx), path).toBe(true);
    }
  });

  it("never reads properties every object inherits", () => {
    for (const path of [
      "toString",
      "constructor",
      "__proto__",
      "user.constructor",
      "user.hasOwnProperty",
    ]) {
      expect(compileFieldPath(path)(ctx), path).toBeUndefined();
      expect(holds(on("exists", undefined, path), ctx), path).toBe(false);
    }
    expect(compileFieldPath("constructor")({ constructor: "own" })).toBe("own");
  });

  it("parses a path into its segments", () => {
    expect(parseFieldPath("user.roles[0]")).toEqual(["user", "roles", 0]);
    expect(parseFieldPath("a.b[10][2].c")).toEqual(["a", "b", 10, 2, "c"]);
    expect(parseFieldPath("tenant_id")).toEqual(["tenant_id"]);
  });

  it("rejects malformed paths, directly and when a policy loads", () => {
    for (const bad of ["", ".a", "a.", "a..b", "a[", "a[x]", "a[-1]", "a]", "a[0"]) {
      expect(parseFieldPath(bad), bad).toBeUndefined();
      expect(() => compileFieldPath(bad), bad).toThrow(/malformed field path/);
    }
    expect(() =>
      parsePolicies({
        policies: [{ id: "p", rules: [{ when: { field: "user..roles", operator: "exists" } }] }],
      }),
    ).toThrow(/malformed field path 'user..roles'/);
    expect(() =>
      parsePolicies({ policies: [{ id: "p", rules: [{ when: { "user[x]": 1 } }] }] }),
    ).toThrow(/malformed field path/);
  });

  it("reads dotted paths in a policy's when:", async () => {
    const rule = { field: "user.roles[0]", operator: "equals", value: "guest" };
    expect(await whenBlocks(rule, { user: { roles: ["guest", "admin"] } })).toBe(true);
    expect(await whenBlocks(rule, { user: { roles: ["admin", "guest"] } })).toBe(false);
    expect(await whenBlocks(rule, { user: { roles: [] } })).toBe(false);
    expect(await whenBlocks(rule, {})).toBe(false);
  });
});

describe("the {field: value} shorthand in when:", () => {
  it("means equals for a scalar value", async () => {
    const when = { environment: "production" };
    expect(await whenBlocks(when, { environment: "production" })).toBe(true);
    expect(await whenBlocks(when, { environment: "staging" })).toBe(false);
    expect(await whenBlocks(when, {})).toBe(false);
    expect(await whenBlocks({ beta: true }, { beta: true })).toBe(true);
    // A string where a boolean belongs is unknown: a blocking rule applies (fail closed).
    expect(await whenBlocks({ beta: true }, { beta: "true" })).toBe(true);
    expect(await whenBlocks({ retries: 3 }, { retries: 3 })).toBe(true);
  });

  it("means in for a list value", async () => {
    const when = { tier: ["free", "trial"] };
    expect(await whenBlocks(when, { tier: "free" })).toBe(true);
    expect(await whenBlocks(when, { tier: "trial" })).toBe(true);
    expect(await whenBlocks(when, { tier: "pro" })).toBe(false);
    // A list is of no kind listed (strings): unknown, so the blocking rule applies.
    expect(await whenBlocks(when, { tier: ["free", "trial"] })).toBe(true);
    expect(await whenBlocks(when, {})).toBe(false);
  });

  it("takes dotted paths as keys and means all when there are several keys", async () => {
    const when = { environment: "production", "user.roles[0]": ["guest", "anonymous"] };
    expect(await whenBlocks(when, { environment: "production", user: { roles: ["guest"] } })).toBe(
      true,
    );
    expect(await whenBlocks(when, { environment: "staging", user: { roles: ["guest"] } })).toBe(
      false,
    );
    expect(await whenBlocks(when, { environment: "production", user: { roles: ["admin"] } })).toBe(
      false,
    );
  });

  it("works from YAML, mixed with full comparisons in a list", async () => {
    const decide = policyClient(`
policies:
  - id: p
    rules:
      - when:
          - environment: production
          - region: [eu-west-1, eu-central-1]
          - { field: amount, operator: gte, value: 100 }
        action: block
`);
    const ctx = { environment: "production", region: "eu-west-1", amount: 100 };
    expect((await decide(ctx)).allowed).toBe(false);
    expect((await decide({ ...ctx, region: "us-east-1" })).allowed).toBe(true);
    expect((await decide({ ...ctx, amount: 99 })).allowed).toBe(true);
  });
});

describe("comparison values are checked when the policy loads", () => {
  const load = (when: unknown) => () =>
    parsePolicies({ policies: [{ id: "p", rules: [{ when }] }] });

  it("rejects a value that does not fit its operator", () => {
    expect(load({ field: "x", operator: "in", value: "free" })).toThrow(/'in' expects a list/);
    expect(load({ field: "x", operator: "not_in", value: 3 })).toThrow(/'not_in' expects a list/);
    expect(load({ field: "x", operator: "between", value: [1] })).toThrow(/'between' expects/);
    expect(load({ field: "x", operator: "between", value: [1, "9"] })).toThrow(/'between' expects/);
    expect(load({ field: "x", operator: "gt", value: [1] })).toThrow(/'greater_than' expects/);
    expect(load({ field: "x", operator: "starts_with", value: 1 })).toThrow(
      /'starts_with' expects/,
    );
    expect(load({ field: "x", operator: "matches", value: "(" })).toThrow(
      /invalid regular expression/i,
    );
    expect(load({ field: "x", operator: "equals" })).toThrow(/'equals' expects a value/);
  });

  it("requires an operator and rejects unknown keys with a suggestion", () => {
    expect(load({ field: "x", value: 1 })).toThrow(/needs an 'operator'/);
    expect(load({ field: "x", operator: "equals", valeu: 1 })).toThrow(/did you mean 'value'/);
  });

  it("lets exists and not_exists go without a value", async () => {
    expect(await whenBlocks({ field: "x", operator: "exists" }, { x: 1 })).toBe(true);
    expect(await whenBlocks({ field: "x", op: "not_exists" }, { x: 1 })).toBe(false);
  });
});

describe("glob matching", () => {
  const cases: [string, string[], string[]][] = [
    ["*", ["", "anything", "a.b/c d"], []],
    ["db.*", ["db.", "db.users", "db.users.read"], ["db", "dbXusers", "xdb.users", "DB.users"]],
    ["user-?", ["user-1", "user-a", "user-."], ["user-", "user-10", "user1"]],
    ["a*b", ["ab", "axxb", "a*b"], ["abc", "ba"]],
    ["*.pdf", ["x.pdf", ".pdf"], ["xpdf", "x.pdf.bak"]],
    ["gpt-4*", ["gpt-4", "gpt-4o-mini"], ["gpt-3.5", "xgpt-4"]],
    ["api/v?/*", ["api/v1/users", "api/v2/"], ["api/v10/users", "api/v1"]],
    ["file[1].*", ["file[1].txt"], ["file1.txt", "file[1]xtxt"]],
    ["(a|b)*", ["(a|b)", "(a|b)c"], ["a", "b", "ab"]],
    ["a+b?", ["a+bc"], ["aabc", "abc"]],
    ["^a$*", ["^a$", "^a$z"], ["a", "az"]],
    ["\\d*", ["\\d", "\\d9"], ["9", "d9"]],
    ["{x}?", ["{x}1"], ["x1", "{x}"]],
    ["a-z?", ["a-zq"], ["bq", "a-z"]],
  ];

  it.each(cases)("%s", (pattern, yes, no) => {
    const match = compileGlob(pattern);
    for (const v of yes) expect(match(v), `${pattern} vs ${v}`).toBe(true);
    for (const v of no) expect(match(v), `${pattern} vs ${v}`).toBe(false);
  });

  it("treats a pattern without wildcards as an exact, case-sensitive string", () => {
    const match = compileGlob("db.users");
    expect(match("db.users")).toBe(true);
    expect(match("dbXusers")).toBe(false);
    expect(match("db.users2")).toBe(false);
    expect(match("DB.users")).toBe(false);
    expect(compileGlob("a+b")("aab")).toBe(false);
  });

  it("matches a list when any pattern matches", () => {
    const match = compileGlobs(["db.*", "cache", "q?"]);
    for (const v of ["db.x", "cache", "q1"]) expect(match(v), v).toBe(true);
    for (const v of ["cache2", "queue", "q", "xdb.x"]) expect(match(v), v).toBe(false);
    const literals = compileGlobs(["read", "list"]);
    expect([literals("read"), literals("list"), literals("write")]).toEqual([true, true, false]);
    expect(compileGlobs(["only"])("only")).toBe(true);
    expect(compileGlobs(["only"])("other")).toBe(false);
    expect(compileGlobs(["x", "*"])("anything")).toBe(true);
  });
});

describe("resource and operation matchers in a policy", () => {
  const decide = policyClient(`
policies:
  - id: p
    rules:
      - id: no_db_deletes
        resource: "db.*"
        operation: [delete, "drop_?able", "truncate*"]
        action: block
`);
  const blocked = async (ctx: Ctx) => !(await decide(ctx)).allowed;

  it("applies a rule only when every matcher matches", async () => {
    expect(await blocked({ resource: "db.users", operation: "delete" })).toBe(true);
    expect(await blocked({ resource: "db.users", operation: "drop_table" })).toBe(true);
    expect(await blocked({ resource: "db.users", operation: "truncate_all" })).toBe(true);
    expect(await blocked({ resource: "db.users", operation: "read" })).toBe(false);
    expect(await blocked({ resource: "cache", operation: "delete" })).toBe(false);
    expect(await blocked({ resource: "dbXusers", operation: "delete" })).toBe(false);
    expect(await blocked({ resource: "db.users", operation: "drop_tables" })).toBe(false);
    expect(await blocked({ resource: "db.users", operation: "Delete" })).toBe(false);
  });

  it("lets a matcher whose field the context lacks (or holds null) match", async () => {
    expect(await blocked({ operation: "delete" })).toBe(true);
    expect(await blocked({ resource: "db.users" })).toBe(true);
    expect(await blocked({})).toBe(true);
    expect(await blocked({ resource: null, operation: null })).toBe(true);
    expect(await blocked({ operation: "read" })).toBe(false);
  });

  it("matches a field that holds a non-string (fail closed)", async () => {
    expect(await blocked({ resource: 42, operation: "delete" })).toBe(true);
    expect(await blocked({ resource: ["db.users"], operation: "delete" })).toBe(true);
  });

  it("does the same for a single literal resource", async () => {
    const one = policyClient({ policies: [{ id: "p", rules: [{ resource: "openai" }] }] });
    const isBlocked = async (ctx: Ctx) => !(await one(ctx)).allowed;
    expect(await isBlocked({ resource: "openai" })).toBe(true);
    expect(await isBlocked({})).toBe(true);
    expect(await isBlocked({ resource: "openai2" })).toBe(false);
    expect(await isBlocked({ resource: "OpenAI" })).toBe(false);
    expect(await isBlocked({ resource: 1 })).toBe(true);
    const d = await one({ resource: "openai" });
    expect(d.reason).toBe("Policy 'p' blocked the call: matched resource openai (rule rules[0])");
  });

  it("matches every resource, whatever its type, with *", async () => {
    const any = policyClient({ policies: [{ id: "p", rules: [{ resource: "*" }] }] });
    expect((await any({ resource: "x" })).allowed).toBe(false);
    expect((await any({ resource: 42 })).allowed).toBe(false);
    expect((await any({})).allowed).toBe(false);
  });

  it("contrasts with when:, where a missing field fails the condition", async () => {
    const decideBoth = policyClient({
      policies: [
        {
          id: "p",
          rules: [{ resource: "db.*", when: { field: "env", operator: "equals", value: "prod" } }],
        },
      ],
    });
    expect((await decideBoth({ env: "prod" })).allowed).toBe(false); // resource missing: matches
    expect((await decideBoth({ resource: "db.x" })).allowed).toBe(true); // env missing: fails
    expect((await decideBoth({ resource: "db.x", env: "prod" })).allowed).toBe(false);
  });
});
