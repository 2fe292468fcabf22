import { describe, expect, it } from "vitest";
import {
  GuardrailError,
  LocalDecisionClient,
  PolicyFileError,
  parsePolicies,
  RulesEngine,
  type StateStore,
} from "../../src/index.ts";
import { ManualClock } from "../../src/testing/index.ts";

const client = (
  yaml: string,
  clock = new ManualClock("2026-11-25T12:00:00Z"),
  state?: StateStore,
) =>
  new LocalDecisionClient({
    policies: parsePolicies(yaml),
    clock: clock.now,
    ...(state && { state }),
  });
const decide = async (c: LocalDecisionClient, id: string | string[], ctx: unknown) =>
  c.decide(id, ctx as Record<string, unknown>);
const fails = (yaml: string): PolicyFileError => {
  try {
    parsePolicies(yaml, { source: "h.yaml" });
  } catch (err) {
    if (err instanceof PolicyFileError) return err;
    throw err;
  }
  throw new Error("expected a PolicyFileError");
};

describe("decisions never throw on odd contexts", () => {
  const c = client(`
policies:
  - id: p
    rules:
      - monthly_budget: 10
      - requests_per_minute: 100
        per: tenant
      - allowed_users: ["@self"]
`);
  it.each([
    ["a BigInt cost", { cost: 10n, userId: "u", ownerId: "u" }],
    [
      "a cyclic cost",
      (() => {
        const o: Record<string, unknown> = {};
        o.self = o;
        return { cost: o };
      })(),
    ],
    ["a null-prototype owner", { userId: "u", ownerId: Object.create(null) }],
    ["an object per value", { tenant: { id: "acme" }, userId: "u", ownerId: "u" }],
    [
      "a throwing getter",
      Object.defineProperty({}, "cost", {
        get: () => {
          throw new Error("boom");
        },
        enumerable: true,
      }),
    ],
    ["null", null],
    ["undefined", undefined],
  ])("blocks with a reason for %s", async (_what, ctx) => {
    const d = await decide(c, "p", ctx);
    expect(d.allowed).toBe(false);
    expect(typeof d.reason).toBe("string");
  });

  it("says why an object cannot key a counter", async () => {
    const d = await decide(c, "p", { tenant: { id: "acme" }, userId: "u", ownerId: "u" });
    expect(d.reason).toContain(
      "'tenant' must be a string or a number to key a counter, got an object",
    );
  });

  it("fails closed when a store answers garbage", async () => {
    const bad = client("policies: [{ id: p, rules: [{ requests_per_minute: 1 }] }]", undefined, {
      consume: () => undefined as never,
      adjust: () => {},
    });
    const d = await decide(bad, "p", {});
    expect(d.reason).toContain("failing closed");
  });
});

describe("engine edge cases", () => {
  it("does not let a confirmation stand in for another precondition", async () => {
    const c = client(
      "policies:\n  - id: migrate\n    rules:\n      - requires: [confirm, backup_verified]\n        action: require_confirmation\n",
    );
    expect(await decide(c, "migrate", {})).toMatchObject({ action: "require_confirmation" });
    const unbacked = await decide(c, "migrate", { confirm: true });
    expect(unbacked).toMatchObject({ allowed: false, action: "block" });
    expect(unbacked.reason).toContain("requires backup_verified to be true");
    expect(await decide(c, "migrate", { backup_verified: true })).toMatchObject({
      action: "require_confirmation",
    });
    expect(await decide(c, "migrate", { confirm: true, backup_verified: true })).toMatchObject({
      allowed: true,
    });
  });

  it("handles policies with more than 30 rules", async () => {
    const rules = Array.from(
      { length: 32 },
      (_, i) => `      - { operation: op${i}, action: warn }`,
    ).join("\n");
    const c = client(`policies:\n  - id: many\n    rules:\n${rules}\n`);
    const d = await decide(c, "many", { operation: "op31" });
    expect(d.action).toBe("warn");
    expect(d.matchedRules).toEqual(["many/rules[31]"]);
  });

  it("counts the real spend of a call settled without an estimate, once", async () => {
    const c = client("policies: [{ id: b, rules: [{ monthly_budget: 10 }] }]");
    const first = await decide(c, "b", {});
    await c.settle(first, { costUsd: 6 });
    await c.settle(first, { costUsd: 6 }); // settling again replaces, it does not add
    expect((await decide(c, "b", { cost: 4 })).allowed).toBe(true);
    expect((await decide(c, "b", { cost: 0.01 })).allowed).toBe(false);
  });

  it("refunds what a settled call counts, and only once", async () => {
    const c = client("policies: [{ id: b, rules: [{ monthly_budget: 10 }] }]");
    const d = await decide(c, "b", { cost: 4 });
    await c.settle(d, { costUsd: 7 });
    await c.refund(d);
    await c.refund(d);
    expect((await decide(c, "b", { cost: 10 })).allowed).toBe(true);
  });

  it("keeps a check of [a, b] apart from a policy named 'a,b', and refuses an empty list", async () => {
    const c = client(`
policies:
  - { id: a, rules: [] }
  - { id: b, rules: [] }
  - { id: "a,b", rules: [{ action: block }] }
`);
    expect((await decide(c, ["a", "b"], {})).allowed).toBe(true);
    expect((await decide(c, "a,b", {})).allowed).toBe(false);
    expect(() => c.check([])).toThrow(GuardrailError);
  });

  it("lets the most severe refusing counter decide", async () => {
    const c = client(`
policies:
  - id: p
    rules:
      - { requests_per_minute: 1, action: require_confirmation }
      - { requests_per_minute: 1, action: block }
`);
    await decide(c, "p", {});
    expect((await decide(c, "p", {})).action).toBe("block");
  });

  it("puts a denied window that crosses midnight on the day it starts", async () => {
    const clock = new ManualClock("2026-11-28T01:00:00Z"); // Saturday 01:00 UTC
    const c = client(
      "policies: [{ id: w, rules: [{ denied_windows: [{ days: friday, hours: '22:00-02:00' }] }] }]",
      clock,
    );
    expect((await decide(c, "w", {})).allowed).toBe(false);
    clock.set("2026-11-27T01:00:00Z"); // Friday 01:00 belongs to Thursday night
    expect((await decide(c, "w", {})).allowed).toBe(true);
    clock.set("2026-11-27T23:00:00Z");
    expect((await decide(c, "w", {})).allowed).toBe(false);
  });

  it("gives allowed: true, enabled: true and requires_approval the action they mean when none is written", async () => {
    const c = client(`
policies:
  - id: models
    rules: [{ model: tinyllama, allowed: true }]
  - id: flags
    rules: [{ feature: export, enabled: true }]
  - id: approval
    rules: [{ operation: drop, requires_approval: true }]
`);
    expect((await decide(c, "models", { model: "tinyllama" })).action).toBe("allow");
    expect((await decide(c, "flags", { feature: "export" })).action).toBe("allow");
    expect((await decide(c, "approval", { operation: "drop" })).action).toBe(
      "require_confirmation",
    );
    expect((await decide(c, "approval", { operation: "drop", confirm: true })).action).toBe(
      "allow",
    );
  });
});

describe("loader edge cases", () => {
  it("reports a misspelled `field` in a condition instead of ignoring the rule", () => {
    const err = fails(
      "policies: [{ id: p, rules: [{ when: { feild: amount, operator: gt, value: 1000 } }] }]",
    );
    expect(err.message).toContain("unknown key 'feild' in condition — did you mean 'field'?");
  });

  it("reports an unknown time zone next to a denied window instead of crashing", () => {
    const err = fails(`
policies:
  - id: p
    timezone: Mars/Olympus
    rules: [{ denied_windows: [{ start: "2024-12-24T00:00", end: "2024-12-26T00:00" }] }]
`);
    expect(err.message).toContain("unknown time zone 'Mars/Olympus'");
  });

  it("reads YAML merge keys and many aliases, and refuses a self-referencing alias", () => {
    const merged = parsePolicies(`
defaults: &limits { requests_per_minute: 5, action: block }
policies:
  - id: p
    rules:
      - <<: *limits
        per: userId
`);
    expect(merged.policies[0]?.rules[0]?.rateLimits[0]?.limit).toBe(5);
    const many = Array.from(
      { length: 150 },
      (_, i) => `  - { id: p${i}, timezone: *tz, rules: [] }`,
    ).join("\n");
    expect(parsePolicies(`zone: &tz Europe/Berlin\npolicies:\n${many}\n`).policies).toHaveLength(
      150,
    );
    expect(fails("policies: [{ id: p, rules: [{ when: &w { all: [*w] } }] }]").message).toMatch(
      /alias/,
    );
  });

  it("explains inherited key names, infinite numbers and budgets below one micro-dollar", () => {
    expect(fails("policies: [{ id: p, rules: [{ constructor: 1 }] }]").message).toContain(
      "unknown key 'constructor' in rule",
    );
    expect(
      fails("policies: [{ id: p, rules: [{ requests_per_minute: 1e400 }] }]").message,
    ).toContain("a finite number");
    expect(fails("policies: [{ id: p, rules: [{ daily_budget: 0.0000001 }] }]").message).toContain(
      "below the smallest amount counted",
    );
  });

  it("RulesEngine refuses malformed rules with a GuardrailError", () => {
    expect(
      () =>
        new RulesEngine({
          rules: [
            {
              id: "r",
              conditions: [{ field: "a..b", operator: "equals", value: 1 }],
              actions: ["block"],
            },
          ],
        }),
    ).toThrow(GuardrailError);
    expect(() => new RulesEngine({ rules: [{ id: "r", actions: ["block"] } as never] })).toThrow(
      /conditions list/,
    );
  });
});

describe("ManualClock", () => {
  it("refuses an invalid instant in set() as the constructor does, and keeps its time", () => {
    expect(() => new ManualClock("not a date")).toThrow(
      expect.objectContaining({ code: "invalid_argument" }),
    );
    const clock = new ManualClock("2026-11-25T12:00:00Z");
    const start = clock.now();
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, "soon", new Date("garbage")]) {
      expect(() => clock.set(bad)).toThrow(/^not a valid instant: /);
      expect(() => clock.set(bad)).toThrow(GuardrailError);
      expect(() => clock.set(bad)).toThrow(expect.objectContaining({ code: "invalid_argument" }));
      expect(clock.now()).toBe(start);
    }
    clock.set("2026-11-26T00:00:00Z");
    expect(clock.now()).toBe(Date.UTC(2026, 10, 26));
    clock.set(new Date(0));
    expect(clock.now()).toBe(0);
  });
});
