import { describe, expectTypeOf, it } from "vitest";
import type {
  Decision,
  DecisionAction,
  LocalDecisionClient,
  PolicyRule,
  PolicyViolation,
  RulesEngine,
  StateStore,
} from "../src/index.ts";

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
