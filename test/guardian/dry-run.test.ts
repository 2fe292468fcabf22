import { describe, expect, it, vi } from "vitest";
import {
  type DecisionEntry,
  Guardian,
  type GuardianOptions,
  type GuardrailError,
  MemoryConfirmationStore,
  MemoryStateStore,
  type StateStore,
} from "../../src/index.ts";

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);

const POLICIES = `
policies:
  - id: limited
    rules:
      - requests_per_minute: 2
        per: userId
        action: block
  - id: spend
    rules:
      - resource: openai
        daily_budget: 5
  - id: careful
    rules:
      - operation: delete
        action: require_confirmation
  - id: noisy
    rules:
      - resource: "*"
        action: warn
  - id: plain
    rules:
      - operation: drop
        action: block
`;

function guardian(options: GuardianOptions = {}) {
  const entries: DecisionEntry[] = [];
  const warnings: string[] = [];
  const g = new Guardian({
    policies: POLICIES,
    env: {},
    clock: () => T0,
    auditLogger: { record: (e) => void entries.push(e) },
    onWarn: (d) => void warnings.push(d.reason),
    ...options,
  });
  return { g, entries, warnings };
}

describe("Guardian.decide with dryRun", () => {
  it("moves no rate-limit window: 5 dry runs, then 2 real calls pass and the third is refused", async () => {
    const { g } = guardian();
    for (let i = 0; i < 5; i++) {
      const dry = await g.decide("limited", { userId: "ann" }, { dryRun: true });
      expect(dry.action).toBe("allow");
    }
    const real = [];
    for (let i = 0; i < 3; i++) real.push((await g.decide("limited", { userId: "ann" })).action);
    expect(real).toEqual(["allow", "allow", "block"]);
    // At the limit, a dry run reports the refusal a real call gets, with its retry hint.
    const dry = await g.decide("limited", { userId: "ann" }, { dryRun: true });
    expect(dry).toMatchObject({ action: "block", rateLimit: { limit: 2, windowMs: 60_000 } });
    expect(dry.reason).toBe((await g.decide("limited", { userId: "ann" })).reason);
  });

  it("reports a cost over the remaining budget as blocked and spends nothing", async () => {
    const { g } = guardian();
    const first = await g.decide("spend", { resource: "openai", cost: 3 });
    expect(first.allowed).toBe(true);
    const over = await g.decide("spend", { resource: "openai", cost: 2.5 }, { dryRun: true });
    expect(over.action).toBe("block");
    expect(over.reason).toMatch(/daily budget/);
    // Within the budget: allowed, with no reservation to settle or refund.
    const within = await g.decide("spend", { resource: "openai", cost: 2 }, { dryRun: true });
    expect(within).toMatchObject({ action: "allow", reservation: undefined });
    // Nothing was spent: exactly the $2 left can still be spent for real.
    expect((await g.decide("spend", { resource: "openai", cost: 2 })).allowed).toBe(true);
    expect((await g.decide("spend", { resource: "openai", cost: 0.01 })).allowed).toBe(false);
  });

  it("records nothing and warns no one, whatever record and warn say", async () => {
    const { g, entries, warnings } = guardian();
    const dry = await g.decide(
      "noisy",
      { resource: "db" },
      { dryRun: true, warn: true, record: { functionName: "POST /x" } },
    );
    expect(dry.action).toBe("warn");
    expect(await g.evaluate("limited", { userId: "bob" }, { dryRun: true })).toMatchObject({
      action: "allow",
    });
    expect(entries).toEqual([]);
    expect(warnings).toEqual([]);
    // The same decision for real is recorded and warned about.
    await g.decide("noisy", { resource: "db" });
    expect(entries).toHaveLength(1);
    expect(warnings).toHaveLength(1);
  });

  it("evaluate with dryRun consumes nothing, evaluate without does", async () => {
    const { g } = guardian();
    for (let i = 0; i < 3; i++) await g.evaluate("limited", { userId: "cy" }, { dryRun: true });
    expect((await g.evaluate("limited", { userId: "cy" })).allowed).toBe(true);
    expect((await g.evaluate("limited", { userId: "cy" })).allowed).toBe(true);
    expect((await g.evaluate("limited", { userId: "cy" })).allowed).toBe(false);
  });

  it("checks a confirmation token without using it, and says what it would do", async () => {
    const store = new MemoryConfirmationStore();
    const { g } = guardian({ confirmations: store });
    const ctx = { operation: "delete", id: 7 };
    const asked = await g.decide("careful", ctx, { dryRun: true });
    expect(asked.action).toBe("require_confirmation");
    // No request was created by the dry run.
    expect(await store.list?.({ status: "all" })).toEqual([]);
    const binding = g.confirmationBinding("careful", ctx);
    if (!binding) throw new Error("the context could not be bound");
    const token = await store.create({ ...binding, requestedBy: "ann" });
    await store.approve(token, { approvedBy: "bob" });
    for (let i = 0; i < 2; i++) {
      const dry = await g.decide("careful", { ...ctx, confirmationToken: token }, { dryRun: true });
      expect(dry.allowed).toBe(true);
      expect(dry.reason).toContain("dry run: the confirmation token would be used");
    }
    expect((await store.get(token))?.status).toBe("approved");
    // A token for another call is refused in a dry run as in a real one.
    const wrong = await g.decide(
      "careful",
      { operation: "delete", id: 8, confirmationToken: token },
      { dryRun: true },
    );
    expect(wrong.action).toBe("require_confirmation");
    expect(wrong.reason).toContain("confirmation token refused");
    // The real call still gets to use it, once.
    expect((await g.decide("careful", { ...ctx, confirmationToken: token })).allowed).toBe(true);
    expect((await store.get(token))?.status).toBe("consumed");
  });

  it("refuses a dry run the state store cannot answer (no peek), never consuming, even failing open", async () => {
    const inner = new MemoryStateStore();
    const consume = vi.fn((counters: Parameters<StateStore["consume"]>[0], now: number) =>
      inner.consume(counters, now),
    );
    const noPeek: StateStore = { consume, adjust: (a) => inner.adjust(a) };
    const { g, entries } = guardian({ state: noPeek, failOpen: true });
    const dry = await g.decide("limited", { userId: "ann" }, { dryRun: true });
    expect(dry).toMatchObject({ allowed: false, action: "block", failedOpen: false });
    expect(dry.reason).toContain("the state store cannot answer a dry run");
    expect((dry.error as GuardrailError | undefined)?.code).toBe("dry_run_unsupported");
    expect(consume).not.toHaveBeenCalled();
    expect(entries).toEqual([]);
    // A policy without counters needs no store: its dry run is answered.
    expect((await g.decide("plain", { operation: "drop" }, { dryRun: true })).reason).toMatch(
      /blocked the call/,
    );
    expect((await g.decide("limited", { userId: "ann" })).allowed).toBe(true);
    expect(consume).toHaveBeenCalledTimes(1);
  });

  it("passes the dry run to a decision client, and refuses one that has only checkPolicy", async () => {
    const { g } = guardian();
    const inputs: unknown[] = [];
    const client = {
      decide: (_id: string, _ctx: unknown, input?: unknown) => {
        inputs.push(input);
        return { allowed: true };
      },
    };
    expect((await g.decide("remote", {}, { client, dryRun: true })).allowed).toBe(true);
    expect(inputs).toEqual([{ dryRun: true }]);

    const checkPolicy = vi.fn(() => ({ allowed: true }));
    const legacy = new Guardian({ decisionClient: { checkPolicy } as never, env: {} });
    const refused = await legacy.decide("anything", {}, { dryRun: true });
    expect(refused).toMatchObject({ allowed: false, action: "block" });
    expect((refused.error as GuardrailError | undefined)?.code).toBe("dry_run_unsupported");
    expect(checkPolicy).not.toHaveBeenCalled();
    expect((await legacy.decide("anything", {})).allowed).toBe(true);
    expect(checkPolicy).toHaveBeenCalledTimes(1);
  });
});
