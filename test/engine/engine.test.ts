import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type ConsumeResult,
  type Counter,
  type CounterAdjustment,
  type Decision,
  DecisionBackendError,
  LocalDecisionClient,
  MemoryStateStore,
  parsePolicies,
  type StateStore,
  UnknownPolicyError,
} from "../../src/index.ts";
import { ManualClock } from "../../src/testing/index.ts";

function client(
  yaml: string,
  options: { state?: StateStore; failOpen?: boolean; clock?: ManualClock } = {},
) {
  const clock = options.clock ?? new ManualClock("2026-11-25T12:00:00Z");
  const c = new LocalDecisionClient({
    policies: parsePolicies(yaml),
    clock: clock.now,
    ...(options.state && { state: options.state }),
    ...(options.failOpen !== undefined && { failOpen: options.failOpen }),
  });
  const decide = async (ids: string | string[], ctx: Record<string, unknown> = {}) =>
    c.decide(ids, ctx);
  return { c, clock, decide };
}

const README = `
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
`;

describe("outcomes", () => {
  it("requires confirmation for a delete, and lets a confirmed one through", async () => {
    const { decide } = client(README);
    const d = await decide("safe_delete", { operation: "delete" });
    expect(d).toMatchObject({
      allowed: false,
      action: "require_confirmation",
      decision: "blocked",
    });
    expect(d.reason).toContain("safe_delete");
    expect(d.reason).toContain("rules[0]");
    expect(d.ruleId).toBe("safe_delete/rules[0]");
    expect(await decide("safe_delete", { operation: "delete", confirm: true })).toMatchObject({
      allowed: true,
      action: "allow",
    });
    // a truthy value that is not `true` does not confirm
    expect((await decide("safe_delete", { operation: "delete", confirm: "yes" })).allowed).toBe(
      false,
    );
  });

  it("lets calls through that no rule applies to, with matchedRules empty", async () => {
    const { decide } = client(README);
    const d = await decide("safe_delete", { operation: "read" });
    expect(d).toMatchObject({
      allowed: true,
      action: "allow",
      decision: "allowed",
      matchedRules: [],
    });
    expect(d.reason).toBe("Policy 'safe_delete' allowed the call");
  });

  it("applies a rule whose matcher field is missing from the context (fail closed)", async () => {
    const { decide } = client(README);
    expect((await decide("safe_delete", {})).action).toBe("require_confirmation");
  });

  it("takes the most severe outcome, and the higher priority among equals", async () => {
    const { decide } = client(`
policies:
  - id: p
    rules:
      - name: warns
        action: warn
      - name: confirms
        operation: delete
        action: require_confirmation
      - name: blocks-low
        when: { field: env, operator: equals, value: prod }
        action: block
        priority: 1
      - name: blocks-high
        when: { field: env, operator: equals, value: prod }
        action: block
        message: production is frozen
        priority: 5
`);
    expect((await decide("p", { operation: "read" })).action).toBe("warn");
    expect((await decide("p", { operation: "delete" })).action).toBe("require_confirmation");
    const d = await decide("p", { operation: "delete", env: "prod" });
    expect(d.action).toBe("block");
    expect(d.ruleId).toBe("p/blocks-high");
    expect(d.reason).toBe("Policy 'p' blocked the call: production is frozen (rule blocks-high)");
    expect(d.matchedRules).toEqual(["p/warns", "p/confirms", "p/blocks-low", "p/blocks-high"]);
  });

  it("says a disabled policy is disabled and allows; skips a disabled rule", async () => {
    const { decide } = client(`
policies:
  - id: off
    enabled: false
    rules: [{ action: block }]
  - id: partly
    rules:
      - action: block
        enabled: false
`);
    const d = await decide("off");
    expect(d.allowed).toBe(true);
    expect(d.reason).toMatch(/disabled/);
    expect((await decide("partly")).allowed).toBe(true);
  });

  it("throws UnknownPolicyError naming the known policies", () => {
    const { c } = client(README);
    expect(() => c.check("nope")).toThrow(UnknownPolicyError);
    expect(() => c.check("nope")).toThrow(/api_budget, rate_limit, safe_delete/);
  });
});

describe("rate limits", () => {
  it("keeps one counter per `per` value, and a shared one when the field is missing", async () => {
    const { decide } = client(README);
    for (let i = 0; i < 3; i++)
      expect((await decide("rate_limit", { userId: "a" })).allowed).toBe(true);
    const blocked = await decide("rate_limit", { userId: "a" });
    expect(blocked.allowed).toBe(false);
    expect(blocked.reason).toContain('limit of 3 requests per minute reached for userId "a"');
    expect((await decide("rate_limit", { userId: "b" })).allowed).toBe(true);
    for (let i = 0; i < 3; i++) await decide("rate_limit", {});
    expect((await decide("rate_limit", {})).allowed).toBe(false);
  });

  it("enforces every window of a rule", async () => {
    const { decide, clock } = client(`
policies:
  - id: r
    rules:
      - requests_per_minute: 2
        requests_per_hour: 3
        action: block
`);
    expect((await decide("r")).allowed).toBe(true);
    expect((await decide("r")).allowed).toBe(true);
    expect((await decide("r")).allowed).toBe(false); // minute
    clock.advance(70_000);
    expect((await decide("r")).allowed).toBe(true);
    const d = await decide("r");
    expect(d.allowed).toBe(false); // hour
    expect(d.reason).toContain("3 requests per hour");
  });

  it("says on a rate-limit refusal when to retry: the longest full window, not for budgets", async () => {
    const { decide, clock } = client(`
policies:
  - id: r
    rules:
      - requests_per_minute: 2
        requests_per_hour: 3
        action: block
  - id: rb
    rules:
      - requests_per_minute: 1
        action: block
      - daily_budget: 1
        action: block
`);
    expect((await decide("r")).rateLimit).toBeUndefined();
    await decide("r");
    const minute = await decide("r");
    expect(minute.rateLimit).toEqual({ limit: 2, windowMs: 60_000, retryAfterMs: 60_000 });
    expect(JSON.parse(JSON.stringify(minute)).rateLimit).toEqual(minute.rateLimit);
    clock.advance(70_000);
    await decide("r");
    // The minute window has room, the hour window does not.
    expect((await decide("r")).rateLimit).toEqual({
      limit: 3,
      windowMs: 3_600_000,
      retryAfterMs: 3_600_000,
    });
    expect((await decide("rb", { cost: 0.5 })).allowed).toBe(true);
    const both = await decide("rb", { cost: 0.75 }); // the window and the budget refuse
    expect(both.allowed).toBe(false);
    expect(both.rateLimit).toBeUndefined(); // waiting a minute would not help
    clock.advance(61_000);
    const budget = await decide("rb", { cost: 0.75 });
    expect(budget.reason).toContain("daily budget");
    expect(budget.rateLimit).toBeUndefined();
  });

  it("warns instead of blocking with action: warn, and keeps counting", async () => {
    const { decide } = client(`
policies:
  - id: r
    rules: [{ requests_per_minute: 1, action: warn }]
`);
    expect((await decide("r")).action).toBe("allow");
    const d = await decide("r");
    expect(d.action).toBe("warn");
    expect(d.reason).toContain("(2 used)");
  });

  it("asks for confirmation past the limit with action: require_confirmation", async () => {
    const { decide } = client(`
policies:
  - id: r
    rules: [{ requests_per_minute: 1, action: require_confirmation }]
`);
    await decide("r");
    expect((await decide("r")).action).toBe("require_confirmation");
    expect((await decide("r", { confirm: true })).action).toBe("allow");
  });

  it("warns from a percentage of a rate limit with warn_at_N%", async () => {
    const { decide } = client(`
policies:
  - id: r
    rules: [{ requests_per_minute: 10, action: warn_at_50% }]
`);
    const actions: string[] = [];
    for (let i = 0; i < 11; i++) actions.push((await decide("r")).action);
    expect(actions).toEqual([
      "allow",
      "allow",
      "allow",
      "allow",
      "warn",
      "warn",
      "warn",
      "warn",
      "warn",
      "warn",
      "block",
    ]);
  });
});

describe("budgets", () => {
  it("warns from the threshold and blocks a call that would exceed the budget", async () => {
    const { decide } = client(README);
    const actions: string[] = [];
    for (let i = 0; i < 6; i++)
      actions.push((await decide("api_budget", { resource: "openai", cost: 2 })).action);
    expect(actions).toEqual(["allow", "allow", "allow", "warn", "warn", "block"]);
  });

  it("counts money in integer micro-dollars: $0.10 + $0.20 fits a $0.30 budget", async () => {
    const { decide } = client(`
policies:
  - id: b
    rules: [{ daily_budget: 0.3, action: block }]
`);
    expect((await decide("b", { cost: 0.1 })).allowed).toBe(true);
    expect((await decide("b", { cost: 0.2 })).allowed).toBe(true);
    expect((await decide("b", { cost: 0.000001 })).allowed).toBe(false);
  });

  it("blocks a call with a negative or non-numeric cost", async () => {
    const { decide } = client(README);
    const d = await decide("api_budget", { resource: "openai", cost: -5 });
    expect(d.action).toBe("block");
    expect(d.reason).toContain("cost must be a non-negative number");
    expect((await decide("api_budget", { resource: "openai", cost: "1" })).action).toBe("block");
  });

  it("resets at the start of the next calendar month", async () => {
    const clock = new ManualClock("2026-11-30T23:00:00Z");
    const { decide } = client(README, { clock });
    expect((await decide("api_budget", { resource: "openai", cost: 10 })).allowed).toBe(true);
    expect((await decide("api_budget", { resource: "openai", cost: 1 })).allowed).toBe(false);
    clock.set("2026-12-01T00:00:00Z");
    expect((await decide("api_budget", { resource: "openai", cost: 1 })).allowed).toBe(true);
  });

  it("settles a reservation with the real cost and refunds one", async () => {
    const { c, decide } = client(README);
    const d = await decide("api_budget", { resource: "openai", cost: 5 });
    expect(d.reservation).toEqual([expect.objectContaining({ unit: "usd", amount: 5_000_000 })]);
    await c.settle(d, { costUsd: 1 }); // spent $1, not $5
    const d2 = await decide("api_budget", { resource: "openai", cost: 8.5 });
    expect(d2.action).toBe("warn"); // $9.50 of $10
    await c.refund(d2);
    expect((await decide("api_budget", { resource: "openai", cost: 9 })).action).toBe("warn"); // $10.00
    expect((await decide("api_budget", { resource: "openai", cost: 0.01 })).action).toBe("block");
  });

  it("keeps per-call limits statelessly: max_cost_per_call and max_tokens_per_request", async () => {
    const { decide } = client(`
policies:
  - id: q
    rules:
      - max_cost_per_call: 1
        max_tokens_per_request: 100
        action: warn_at_80%
`);
    expect((await decide("q", { cost: 0.5 })).action).toBe("allow");
    expect((await decide("q", { cost: 0.8 })).action).toBe("warn");
    expect((await decide("q", { cost: 1.01 })).action).toBe("block");
    expect((await decide("q", { tokens: 101 })).reason).toContain(
      "tokens per request 101 tokens exceeds",
    );
  });

  it("counts token budgets from `tokens`", async () => {
    const { decide } = client(`
policies:
  - id: t
    rules: [{ max_tokens_per_hour: 1000, action: block }]
`);
    expect((await decide("t", { tokens: 600 })).allowed).toBe(true);
    expect((await decide("t", { tokens: 600 })).allowed).toBe(false);
    expect((await decide("t", { tokens: 400 })).allowed).toBe(true);
  });

  it("block_at_N% makes N% of the limit the limit", async () => {
    const { decide } = client(`
policies:
  - id: b
    rules: [{ daily_budget: 10, action: block_at_90% }]
`);
    expect((await decide("b", { cost: 9 })).allowed).toBe(true);
    expect((await decide("b", { cost: 0.01 })).allowed).toBe(false);
  });
});

describe("several policies decided together", () => {
  it("consumes nothing when any policy blocks", async () => {
    const { c, decide } = client(README);
    const check = c.check(["rate_limit", "api_budget", "safe_delete"]);
    // Unconfirmed deletes are refused before any counter moves.
    for (let i = 0; i < 5; i++)
      expect((await check.decide({ userId: "u", operation: "delete" })).action).toBe(
        "require_confirmation",
      );
    // A budget refusal does not consume the rate limit either.
    await decide("api_budget", { resource: "openai", cost: 10 });
    for (let i = 0; i < 5; i++)
      expect((await check.decide({ userId: "u", resource: "openai", cost: 1 })).allowed).toBe(
        false,
      );
    for (let i = 0; i < 3; i++)
      expect((await decide("rate_limit", { userId: "u" })).allowed).toBe(true);
    expect((await decide("rate_limit", { userId: "u" })).allowed).toBe(false);
  });

  it("names every policy in policyId and lists every matched rule", async () => {
    const { c } = client(README);
    const d = (await c
      .check(["api_budget", "rate_limit"])
      .decide({ resource: "openai", userId: "u", cost: 1 })) as Decision;
    expect(d.policyId).toBe("api_budget,rate_limit");
    expect(d.matchedRules).toEqual(["api_budget/rules[0]", "rate_limit/rules[0]"]);
  });
});

describe("the decision", () => {
  it("carries a time-ordered UUIDv7, the UTC timestamp and its duration", async () => {
    const { decide, clock } = client(README);
    const a = await decide("rate_limit", { userId: "x" });
    clock.advance(1);
    const b = await decide("rate_limit", { userId: "x" });
    expect(a.decisionId).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(a.decisionId < b.decisionId).toBe(true);
    expect(a.decisionId).toBe(a.decisionId); // stable once read
    expect(a.timestamp).toBe("2026-11-25T12:00:00.000Z");
    expect(a.durationMs).toBeGreaterThanOrEqual(0);
    expect(JSON.parse(JSON.stringify(a))).toMatchObject({
      decisionId: a.decisionId,
      policyId: "rate_limit",
      decision: "allowed",
      timestamp: a.timestamp,
    });
  });
});

class FailingStore implements StateStore {
  consume(): ConsumeResult {
    throw new Error("connection refused");
  }
  adjust(): void {}
}

class AsyncStore implements StateStore {
  readonly inner = new MemoryStateStore();
  readonly before: () => Promise<void>;
  constructor(before: () => Promise<void> = () => Promise.resolve()) {
    this.before = before;
  }
  async consume(counters: readonly Counter[], nowMs: number): Promise<ConsumeResult> {
    await this.before();
    return this.inner.consume(counters, nowMs);
  }
  async adjust(a: readonly CounterAdjustment[]): Promise<void> {
    await this.before();
    this.inner.adjust(a);
  }
}

describe("state store failures and asynchronous stores", () => {
  it("fails closed with a clear reason and the backend error", async () => {
    const { decide } = client(README, { state: new FailingStore() });
    const d = await decide("rate_limit", { userId: "u" });
    expect(d.action).toBe("block");
    expect(d.reason).toContain("state store unavailable, failing closed (connection refused)");
    expect(d.error).toBeInstanceOf(DecisionBackendError);
    expect((d.error as Error).cause).toBeInstanceOf(Error);
    // Stateless checks still work without the store.
    expect((await decide("safe_delete", { operation: "read" })).allowed).toBe(true);
  });

  it("fails open when configured, and says so", async () => {
    const { decide } = client(README, { state: new FailingStore(), failOpen: true });
    const d = await decide("rate_limit", { userId: "u" });
    expect(d).toMatchObject({ allowed: true, failedOpen: true });
    expect(d.reason).toContain("failing open");
  });

  it("fails closed when an asynchronous store rejects", async () => {
    const store = new AsyncStore(() => Promise.reject(new Error("timeout")));
    const { c } = client(README, { state: store });
    const result = c.decide("rate_limit", { userId: "u" });
    expect(result).toBeInstanceOf(Promise);
    expect((await result).reason).toContain("timeout");
  });

  it("never overspends a budget or a rate limit under any interleaving of concurrent decisions", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(
          fc.record({ cost: fc.integer({ min: 0, max: 400 }), user: fc.constantFrom("a", "b") }),
          { minLength: 1, maxLength: 40 },
        ),
        async (s, calls) => {
          const store = new AsyncStore(() => s.schedule(Promise.resolve()));
          const { c } = client(
            `
policies:
  - id: guard
    rules:
      - daily_budget: 0.001
        action: block
      - requests_per_minute: 5
        per: user
        action: block
`,
            { state: store },
          );
          const pending = calls.map((call) =>
            Promise.resolve(c.decide("guard", { cost: call.cost / 1_000_000, user: call.user })),
          );
          const decisions = await s.waitFor(Promise.all(pending));
          let spent = 0;
          const perUser = new Map<string, number>();
          decisions.forEach((d, i) => {
            if (!d.allowed) return;
            const call = calls[i] as (typeof calls)[number];
            spent += call.cost;
            perUser.set(call.user, (perUser.get(call.user) ?? 0) + 1);
          });
          expect(spent).toBeLessThanOrEqual(1000);
          for (const n of perUser.values()) expect(n).toBeLessThanOrEqual(5);
        },
      ),
      { numRuns: 200 },
    );
  });
});
