import { describe, expect, it } from "vitest";
// Internal: the client the server uses to record API-key refusals.
import { refusingClient } from "../../src/decision/refusing-client.ts";
import {
  ConfirmationRequired,
  type DecisionEntry,
  type DecisionRecorder,
  Guardian,
  type GuardianOptions,
  GuardrailError,
  MemoryConfirmationStore,
  UnknownPolicyError,
} from "../../src/index.ts";

const POLICIES = `
policies:
  - id: limited
    rules:
      - requests_per_minute: 1
        per: userId
        action: block
  - id: careful
    rules:
      - operation: delete
        action: require_confirmation
  - id: noisy
    rules:
      - resource: "*"
        action: warn
  - id: spend
    rules:
      - resource: "open*"
        daily_budget: 5
  - id: spend_off
    enabled: false
    rules:
      - resource: openai
        daily_budget: 5
`;

function guardian(options: GuardianOptions = {}) {
  const entries: DecisionEntry[] = [];
  const warnings: { reason: string; mode: string; name: string | undefined }[] = [];
  const g = new Guardian({
    policies: POLICIES,
    env: {},
    auditLogger: { record: (e) => void entries.push(e) },
    onWarn: (d, call) =>
      void warnings.push({ reason: d.reason, mode: call.mode, name: call.functionName }),
    ...options,
  });
  return { g, entries, warnings };
}

const collector = (durable = false) => {
  const entries: DecisionEntry[] = [];
  const recorder: DecisionRecorder = { durable, record: (e) => void entries.push(e) };
  return { entries, recorder };
};

describe("Guardian.decide", () => {
  it("returns a refusal instead of throwing, recorded as enforce records it", async () => {
    const { g, entries } = guardian();
    const ctx = { userId: "ann", confirmationToken: "secret.part" };
    const first = await g.decide("limited", ctx, {
      record: { functionName: "POST /send", metadata: { requestId: "r1" } },
    });
    const second = await g.decide("limited", ctx, {
      record: { functionName: "POST /send", metadata: { requestId: "r2" } },
    });
    expect([first.allowed, second.allowed]).toEqual([true, false]);
    expect(second.action).toBe("block");
    expect(entries).toHaveLength(2);
    expect(entries[1]).toMatchObject({
      decision: second,
      functionName: "POST /send",
      userId: "ann",
      context: { userId: "ann" },
      metadata: { requestId: "r2" },
      mode: "enforce",
    });
    expect(JSON.stringify(entries[1]?.context)).not.toContain("secret.part");
    // enforce makes the same decision and the same record, and throws.
    const enforced = guardian();
    await enforced.g.enforce("limited", { userId: "ann" }, { name: "POST /send" });
    await expect(
      enforced.g.enforce("limited", { userId: "ann" }, { name: "POST /send" }),
    ).rejects.toMatchObject({ code: "policy_violation" });
    expect(enforced.entries[1]).toMatchObject({ functionName: "POST /send", mode: "enforce" });
  });

  it("records nothing with record: false, nor through evaluate; unknown ids throw", async () => {
    const { g, entries, warnings } = guardian();
    await g.decide("noisy", {}, { record: false });
    await g.evaluate("noisy", {});
    expect(entries).toEqual([]);
    // warn defaults to true for decide, false for evaluate.
    expect(warnings).toHaveLength(1);
    await expect(g.decide("nope", {})).rejects.toBeInstanceOf(UnknownPolicyError);
  });

  it("calls onWarn for warnings and monitor-mode refusals, unless warn: false", async () => {
    const { g, warnings, entries } = guardian({ mode: "monitor" });
    await g.decide("limited", { userId: "bo" }, { record: { functionName: "f" } });
    const refused = await g.decide("limited", { userId: "bo" }, { record: { functionName: "f" } });
    expect(refused.allowed).toBe(false);
    expect(warnings).toEqual([{ reason: refused.reason, mode: "monitor", name: "f" }]);
    expect(entries[1]?.mode).toBe("monitor");
    await g.decide("limited", { userId: "bo" }, { warn: false });
    expect(warnings).toHaveLength(1);
  });

  it("makes metadata from the decision before recording, and records nothing when that fails", async () => {
    const { g, entries } = guardian();
    const seen: string[] = [];
    await g.decide(
      "noisy",
      {},
      {
        record: {
          metadata: async (d) => {
            seen.push(d.action);
            return { action: d.action };
          },
        },
      },
    );
    expect(seen).toEqual(["warn"]);
    expect(entries[0]?.metadata).toEqual({ action: "warn" });
    const boom = new Error("no approval store");
    await expect(
      g.decide("noisy", {}, { record: { metadata: () => Promise.reject(boom) } }),
    ).rejects.toBe(boom);
    expect(entries).toHaveLength(1);
  });

  it("records to another recorder instead of its own log, with the context and user given", async () => {
    const { g, entries } = guardian();
    const other = collector();
    await g.decide(
      "noisy",
      { userId: "ann", secret: 1 },
      {
        record: { to: other.recorder, userId: "svc", context: { shown: true } },
      },
    );
    expect(entries).toEqual([]);
    expect(other.entries).toHaveLength(1);
    expect(other.entries[0]).toMatchObject({ userId: "svc", context: { shown: true } });
    // Without an own log or a `to`, the metadata function is not called.
    const bare = new Guardian({ policies: POLICIES, env: {}, onWarn: () => {} });
    let called = false;
    const metadata = () => {
      called = true;
      return {};
    };
    await bare.decide("noisy", {}, { record: { metadata } });
    expect(called).toBe(false);
  });

  it("rejects with audit_write_failed when a durable recorder cannot write", async () => {
    const { g } = guardian();
    const failing: DecisionRecorder = {
      durable: true,
      record: () => Promise.reject(new Error("disk full")),
    };
    const err = await g.decide("noisy", {}, { record: { to: failing } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(GuardrailError);
    expect(err).toMatchObject({ code: "audit_write_failed" });
    expect((err as Error).message).toContain("disk full");
  });

  it("decides with a client in enforce mode whatever the Guardian's mode, recorded by the same path", async () => {
    for (const mode of ["monitor", "off"] as const) {
      const { g, entries } = guardian({ mode });
      const decision = await g.decide(
        "hexarch:api-key",
        { route: "POST /x" },
        {
          client: refusingClient("API key 'k1' is revoked", "revoked_key"),
          record: { functionName: "POST /x", metadata: { code: "revoked_key" } },
        },
      );
      expect(decision).toMatchObject({
        allowed: false,
        action: "block",
        policyId: "hexarch:api-key",
        reason: "API key 'k1' is revoked",
        matchedRules: ["revoked_key"],
      });
      expect(entries).toEqual([
        expect.objectContaining({ decision, mode: "enforce", context: { route: "POST /x" } }),
      ]);
      // Without record options too: the client's refusal is recorded as enforced.
      entries.length = 0;
      await g.decide("hexarch:api-key", {}, { client: refusingClient("revoked", "revoked_key") });
      expect(entries).toEqual([expect.objectContaining({ mode: "enforce" })]);
    }
  });

  it("checks a confirmation token against a client's require_confirmation, never sending it", async () => {
    const store = new MemoryConfirmationStore();
    const { g } = guardian({ confirmations: store });
    const seen: unknown[] = [];
    const client = {
      decide: (_id: string, ctx: Record<string, unknown>) => {
        seen.push(ctx);
        // A token that checks out is decided again as confirmed.
        return ctx.confirm === true
          ? { allowed: true }
          : { allowed: false, action: "require_confirmation", reason: "ask first" };
      },
    };
    const ctx = { operation: "wire", amount: 9 };
    const asked = await g.decide("remote", ctx, { client });
    expect(asked.action).toBe("require_confirmation");
    const binding = g.confirmationBinding("remote", ctx);
    if (!binding) throw new Error("the context could not be bound");
    const token = await store.create({ ...binding, requestedBy: "ann" });
    await store.approve(token, { approvedBy: "bob" });
    const confirmed = await g.decide("remote", { ...ctx, confirmationToken: token }, { client });
    expect(confirmed.allowed).toBe(true);
    expect(JSON.stringify(seen)).not.toContain(token);
    // Once: the token is used up.
    const again = await g.decide("remote", { ...ctx, confirmationToken: token }, { client });
    expect(again.allowed).toBe(false);
  });

  it("fails closed when a client throws, naming the failure, even on a Guardian that fails open", async () => {
    const open = guardian({ failOpen: true }).g;
    const refused = await open.decide(
      "remote",
      {},
      { client: { decide: () => Promise.reject(new Error("connection refused")) } },
    );
    expect(refused).toMatchObject({ allowed: false, action: "block", failedOpen: false });
    const { g, entries } = guardian();
    const decision = await g.decide(
      "remote",
      {},
      {
        client: {
          decide: () => {
            throw new Error("connection refused");
          },
        },
      },
    );
    expect(decision.allowed).toBe(false);
    expect(decision.reason).toContain("connection refused");
    expect(entries).toHaveLength(1);
  });

  it("answers off mode with an unrecorded allow", async () => {
    const { g, entries } = guardian({ mode: "off" });
    const d = await g.decide("limited", { userId: "x" });
    expect(d.allowed).toBe(true);
    expect(d.reason).toContain("guardrails are off");
    expect(entries).toEqual([]);
  });
});

describe("Guardian.confirmationBinding", () => {
  it("is the binding enforce's ConfirmationRequired carries, scope included, and a token for it confirms", async () => {
    const store = new MemoryConfirmationStore();
    const { g } = guardian({ confirmations: store });
    const ctx = { operation: "delete", id: 7 };
    const err = await g.withContext({ tenant: "t1" }, () =>
      g.enforce("careful", ctx).then(
        () => undefined,
        (e: unknown) => e,
      ),
    );
    expect(err).toBeInstanceOf(ConfirmationRequired);
    const binding = g.withContext({ tenant: "t1" }, () => g.confirmationBinding("careful", ctx));
    expect(binding).toEqual((err as ConfirmationRequired).binding);
    expect(g.confirmationBinding("careful", ctx)).not.toEqual(binding);
    // A token approved for the binding lets decide through, once.
    if (!binding) throw new Error("the context could not be bound");
    const token = await store.create({ ...binding, requestedBy: "ann" });
    await store.approve(token, { approvedBy: "bob" });
    const decide = () =>
      g.withContext({ tenant: "t1" }, () =>
        g.decide("careful", { ...ctx, confirmationToken: token }),
      );
    expect((await decide()).allowed).toBe(true);
    expect((await decide()).allowed).toBe(false);
  });
});

describe("Guardian.spendPolicies", () => {
  it("names the enabled policies with a money or token budget on the resource", () => {
    const { g } = guardian();
    expect(g.spendPolicies("openai")).toEqual(["spend"]);
    expect(g.spendPolicies("anthropic")).toEqual([]);
  });
});
