import { describe, expect, it } from "vitest";
import {
  type Decision,
  Guardian,
  LocalDecisionClient,
  MemoryStateStore,
  parsePolicies,
  refundReservation,
  settleReservation,
} from "../../src/index.ts";
import { ManualClock } from "../../src/testing/index.ts";

const BUDGET = `
policies:
  - id: b
    rules:
      - { monthly_budget: 10, action: block }
`;

function setup() {
  const clock = new ManualClock("2026-11-25T12:00:00Z");
  const state = new MemoryStateStore();
  const c = new LocalDecisionClient({ policies: parsePolicies(BUDGET), clock: clock.now, state });
  /** Whether a call costing `usd` is admitted now (it is then refunded: nothing moves). */
  const decide = async (usd: number): Promise<Decision> => c.decide("b", { cost: usd });
  const fits = async (usd: number): Promise<boolean> => {
    const d = await decide(usd);
    if (d.allowed) await refundReservation(d, state);
    return d.allowed;
  };
  return { c, state, fits, decide };
}

describe("budget reservations, settled and refunded by the engine", () => {
  it("settles and refunds with the decision alone, in the store it was consumed from", async () => {
    const { decide, fits, state } = setup();
    const d = await decide(8);
    expect(await fits(2)).toBe(true);
    expect(await fits(2.01)).toBe(false);
    await settleReservation(d, { costUsd: 3 }, state); // $3 spent, not $8
    expect(await fits(7)).toBe(true);
    expect(await fits(7.01)).toBe(false);
    await refundReservation(d, state);
    expect(await fits(10)).toBe(true);
  });

  it("keeps one account for a decision and its spread copies", async () => {
    const { decide, fits, state } = setup();
    const d = await decide(4);
    const copy = { ...d };
    await settleReservation(copy, { costUsd: 6 }, state);
    await settleReservation(d, { costUsd: 6 }, state); // the same amount again: replaces, does not add
    expect(await fits(4)).toBe(true);
    expect(await fits(4.01)).toBe(false);
    await refundReservation(d, state);
    await refundReservation(copy, state); // refunding twice gives back nothing more
    expect(await fits(10)).toBe(true);
    expect(await fits(10.01)).toBe(false);
  });

  it("leaves a refunded amount alone when settled afterwards", async () => {
    const { decide, fits, state } = setup();
    const d = await decide(4);
    await refundReservation(d, state);
    await settleReservation(d, { costUsd: 9 }, state);
    expect(await fits(10)).toBe(true);
  });

  it("refunds on error only the amounts whose rule says refund_on_error", async () => {
    const clock = new ManualClock("2026-11-25T12:00:00Z");
    const c = new LocalDecisionClient({
      policies: parsePolicies(`
policies:
  - id: b
    rules:
      - { monthly_budget: 10, refund_on_error: false, action: block }
`),
      clock: clock.now,
    });
    const d = await c.decide("b", { cost: 6 });
    await refundReservation(d, c.state, { onError: true });
    expect((await c.decide("b", { cost: 4.01 })).allowed).toBe(false);
  });

  it("settles a deep copy from its estimates: only the decision or a spread shares one account", async () => {
    const { c, decide, fits } = setup();
    const d = await decide(2);
    await c.settle(d, { costUsd: 3 }); // $3 counted
    await c.settle(structuredClone(d), { costUsd: 3 }); // a new account: $2 → $3 again, +$1
    expect(await fits(6)).toBe(true);
    expect(await fits(6.01)).toBe(false);
  });

  it("lets a Guardian settle a guarded call's real cost without a decision client", async () => {
    const guardian = new Guardian({ policies: parsePolicies(BUDGET), env: {} });
    const ask = guardian.check("b", { cost: 5, settle: () => ({ costUsd: 1 }) })(
      async () => "answer",
    );
    await ask();
    await ask(); // $2 spent so far, not $10
    const probe = guardian.check("b", { cost: 8 })(async () => "ok");
    await expect(probe()).resolves.toBe("ok");
    await guardian.close();
  });

  it("gives a failed guarded call's reservation back", async () => {
    const guardian = new Guardian({ policies: parsePolicies(BUDGET), env: {} });
    const fail = guardian.check("b", { cost: 9 })(async () => {
      throw new Error("provider down");
    });
    await expect(fail()).rejects.toThrow("provider down");
    const probe = guardian.check("b", { cost: 10 })(async () => "ok");
    await expect(probe()).resolves.toBe("ok");
    await guardian.close();
  });
});
