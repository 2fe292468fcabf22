import { describe, expectTypeOf, it } from "vitest";
import type {
  Decision,
  DecisionAction,
  Guardian,
  LocalDecisionClient,
  PolicyRule,
  PolicyViolation,
  RulesEngine,
  StateStore,
} from "../../src/index.ts";

describe("public types", () => {
  it("Decision is a union discriminated by action and allowed", () => {
    const d = {} as Decision;
    if (d.allowed) {
      expectTypeOf(d.action).toEqualTypeOf<"allow" | "warn">();
      expectTypeOf(d.decision).toEqualTypeOf<"allowed" | "warned">();
    } else {
      expectTypeOf(d.action).toEqualTypeOf<"block" | "require_confirmation">();
      expectTypeOf(d.decision).toEqualTypeOf<"blocked">();
    }
    if (d.action === "warn") expectTypeOf(d.decision).toEqualTypeOf<"warned">();
  });

  it("decisions are readonly", () => {
    expectTypeOf<Decision["matchedRules"]>().toEqualTypeOf<readonly string[]>();
    const d = {} as Decision;
    // @ts-expect-error a decision cannot be changed
    d.reason = "changed";
  });

  it("LocalDecisionClient.decide may answer synchronously", () => {
    expectTypeOf<LocalDecisionClient["decide"]>().returns.toEqualTypeOf<
      Decision | Promise<Decision>
    >();
  });

  it("PolicyViolation carries the decision", () => {
    expectTypeOf<PolicyViolation["decision"]>().toEqualTypeOf<Decision>();
    expectTypeOf<PolicyViolation["action"]>().toEqualTypeOf<DecisionAction>();
  });

  it("RulesEngine results say whether the call is blocked", () => {
    expectTypeOf<ReturnType<RulesEngine["evaluate"]>["blocked"]>().toEqualTypeOf<boolean>();
  });

  it("a StateStore may be synchronous or asynchronous", () => {
    expectTypeOf<ReturnType<StateStore["consume"]>>().toMatchTypeOf<object>();
    expectTypeOf<PolicyRule["action"]>().toEqualTypeOf<
      "allow" | "warn" | "block" | "require_confirmation"
    >();
  });
});

describe("Guardian types", () => {
  const guardian = {} as Guardian;

  it("a wrapped function keeps its parameters and returns a Promise of its result", () => {
    const sync = guardian.check("p")((a: string, b: number) => a.length + b);
    expectTypeOf(sync).parameters.toEqualTypeOf<[string, number]>();
    expectTypeOf(sync).returns.toEqualTypeOf<Promise<number>>();
    const asyncFn = guardian.check("p")(async (id: string) => ({ id }));
    expectTypeOf(asyncFn).returns.toEqualTypeOf<Promise<{ id: string }>>();
  });

  it("keeps `this`", () => {
    const m = guardian.check("p")(function (this: { base: number }, n: number) {
      return this.base + n;
    });
    expectTypeOf(m).thisParameter.toEqualTypeOf<{ base: number }>();
  });

  it("decorates async methods with standard decorators", () => {
    class Service {
      @guardian.check("safe_delete")
      async remove(id: string): Promise<boolean> {
        return id.length > 0;
      }
    }
    expectTypeOf<Service["remove"]>().toEqualTypeOf<(id: string) => Promise<boolean>>();
  });

  it("check options take functions of the call's arguments", () => {
    guardian.check("api_budget", {
      cost: (prompt: string) => prompt.length * 1e-6,
      userId: (_prompt: string, user: { id: string }) => user.id,
      settle: (r: { usage: { total: number } }) => ({ tokens: r.usage.total }),
    });
  });
});
