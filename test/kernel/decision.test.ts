import { describe, expect, it } from "vitest";
import {
  type Decision,
  DecisionBackendError,
  decisionToJSON,
  LocalDecisionClient,
  parsePolicies,
  type StateStore,
} from "../../src/index.ts";
// Internal: makeDecision, which the engine and clients use to build decisions.
import { makeDecision } from "../../src/kernel/decision.ts";
import { ManualClock } from "../../src/testing/index.ts";

const POLICIES = `
policies:
  - id: open
    rules: []
  - id: careful
    rules:
      - { operation: write, action: warn }
  - id: closed
    rules:
      - { operation: drop, action: block }
  - id: confirm
    rules:
      - { operation: delete, action: require_confirmation }
  - id: limited
    rules:
      - { requests_per_minute: 1, per: userId, action: block }
  - id: budget
    rules:
      - { monthly_budget: 10, action: block }
`;

/** Every key of a decision, in the order every decision has them. */
const KEYS = [
  "decisionId",
  "policyId",
  "allowed",
  "action",
  "decision",
  "reason",
  "matchedRules",
  "ruleId",
  "durationMs",
  "timestamp",
  "timestampMs",
  "reservation",
  "error",
  "failedOpen",
  "rateLimit",
];

const failingStore: StateStore = {
  consume: () => {
    throw new Error("connection refused");
  },
  adjust: () => {},
};

/** One decision of each kind a user meets, made by the engine. */
async function decisionsOfEveryKind(): Promise<Record<string, Decision>> {
  const clock = new ManualClock("2026-11-25T12:00:00Z");
  const policies = parsePolicies(POLICIES);
  const c = new LocalDecisionClient({ policies, clock: clock.now });
  const limited = async () => c.decide("limited", { userId: "u1" });
  await limited();
  const failing = (failOpen: boolean) =>
    new LocalDecisionClient({ policies, clock: clock.now, state: failingStore, failOpen });
  return {
    allow: await c.decide("open", {}),
    warn: await c.decide("careful", { operation: "write" }),
    block: await c.decide("closed", { operation: "drop" }),
    require_confirmation: await c.decide("confirm", { operation: "delete" }),
    rateLimited: await limited(),
    reserved: await c.decide("budget", { cost: 2.5 }),
    failedOpen: await failing(true).decide("budget", { cost: 1 }),
    failedClosed: await failing(false).decide("budget", { cost: 1 }),
  };
}

describe("Decision is plain data", async () => {
  const all = await decisionsOfEveryKind();

  it("makes each kind with the fields that kind is about", () => {
    expect(all.allow).toMatchObject({ action: "allow", allowed: true, decision: "allowed" });
    expect(all.warn).toMatchObject({ action: "warn", allowed: true, ruleId: "careful/rules[0]" });
    expect(all.block).toMatchObject({ action: "block", allowed: false, decision: "blocked" });
    expect(all.require_confirmation).toMatchObject({
      action: "require_confirmation",
      decision: "blocked",
    });
    expect(all.rateLimited).toMatchObject({
      action: "block",
      rateLimit: { limit: 1, windowMs: 60_000, retryAfterMs: 60_000 },
    });
    expect(all.reserved?.reservation).toEqual([
      expect.objectContaining({ unit: "usd", amount: 2_500_000, refundOnError: true }),
    ]);
    expect(all.failedOpen).toMatchObject({ allowed: true, failedOpen: true });
    expect(all.failedOpen?.error).toBeInstanceOf(DecisionBackendError);
    expect(all.failedClosed).toMatchObject({ allowed: false, failedOpen: false });
    for (const d of Object.values(all)) {
      expect(d.decisionId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-/);
      expect(d.timestamp).toBe("2026-11-25T12:00:00.000Z");
      expect(d.timestampMs).toBe(Date.parse("2026-11-25T12:00:00Z"));
      expect(typeof d.reason).toBe("string");
    }
  });

  it.each(Object.keys(all))("%s: own enumerable data properties, one shape for all", (kind) => {
    const d = all[kind] as Decision;
    expect(Object.getPrototypeOf(d)).toBe(Object.prototype);
    expect(Object.keys(d)).toEqual(KEYS);
    for (const [key, desc] of Object.entries(Object.getOwnPropertyDescriptors(d))) {
      expect({ key, getter: desc.get !== undefined, enumerable: desc.enumerable }).toEqual({
        key,
        getter: false,
        enumerable: true,
      });
    }
  });

  it.each(Object.keys(all))("%s: survives spread and structuredClone field for field", (kind) => {
    const d = all[kind] as Decision;
    const spread = { ...d };
    const cloned = structuredClone(d);
    for (const key of KEYS) {
      const value = d[key as keyof Decision];
      expect(spread[key as keyof Decision]).toBe(value);
      if (key === "error") continue;
      expect(cloned[key as keyof Decision]).toEqual(value);
    }
    expect(cloned).toStrictEqual({ ...d, error: cloned.error });
    // An error crosses a structured clone as a plain Error with the same message and stack.
    if (d.error === undefined) expect(cloned.error).toBeUndefined();
    else {
      expect(cloned.error).toBeInstanceOf(Error);
      expect(cloned.error?.message).toBe(d.error.message);
      expect(cloned.error?.stack).toBe(d.error.stack);
    }
  });

  it.each(Object.keys(all))("%s: decisionToJSON gives the documented shape", (kind) => {
    const d = all[kind] as Decision;
    const json = JSON.parse(JSON.stringify(decisionToJSON(d)));
    expect(json).toStrictEqual({
      decisionId: d.decisionId,
      policyId: d.policyId,
      allowed: d.allowed,
      action: d.action,
      decision: d.decision,
      reason: d.reason,
      matchedRules: [...d.matchedRules],
      ...(d.ruleId !== undefined && { ruleId: d.ruleId }),
      durationMs: d.durationMs,
      timestamp: d.timestamp,
      ...(d.reservation !== undefined && { reservation: d.reservation }),
      ...(d.error !== undefined && { error: d.error.message }),
      ...(d.failedOpen !== undefined && { failedOpen: d.failedOpen }),
      ...(d.rateLimit !== undefined && { rateLimit: d.rateLimit }),
    });
    // JSON.stringify of the decision itself: the same fields plus timestampMs, keys that do
    // not apply left out, and an error as {} (Error has no JSON form).
    expect(JSON.parse(JSON.stringify(d))).toStrictEqual({
      ...json,
      timestampMs: d.timestampMs,
      ...(d.error !== undefined && { error: {} }),
    });
  });

  it("writes a failed decision's error as its message in decisionToJSON", () => {
    const json = decisionToJSON(all.failedClosed as Decision);
    expect(json.error).toBe("state store unavailable: connection refused");
    expect(Object.keys(json)).toEqual([
      "decisionId",
      "policyId",
      "allowed",
      "action",
      "decision",
      "reason",
      "matchedRules",
      "durationMs",
      "timestamp",
      "error",
      "failedOpen",
    ]);
  });

  it("builds a reason given as a function when the decision is made, once", () => {
    let calls = 0;
    const d = makeDecision({
      policyId: "p",
      action: "block",
      reason: () => `built ${++calls}`,
      matchedRules: [],
      durationMs: 0,
      timestampMs: 0,
    });
    expect({ ...d }.reason).toBe("built 1");
    expect(structuredClone(d).reason).toBe("built 1");
    expect(d.reason).toBe("built 1");
    expect(calls).toBe(1);
  });

  it("gives every decision of one millisecond its own, increasing id", () => {
    const ids = Array.from({ length: 1000 }, () =>
      makeDecision({
        policyId: "p",
        action: "allow",
        reason: "r",
        matchedRules: [],
        durationMs: 0,
        timestampMs: 1_700_000_000_000,
      }),
    ).map((d) => d.decisionId);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    expect(ids[0]?.slice(0, 13)).toBe("018bcfe5-6800");
  });
});
