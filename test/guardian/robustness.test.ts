import { describe, expect, it, vi } from "vitest";
import {
  ConfirmationRequired,
  type DecisionEntry,
  Guardian,
  GuardrailError,
  MemoryConfirmationStore,
  PolicyViolation,
} from "../../src/index.ts";

const CONFIRM =
  "policies: [{ id: safe_delete, rules: [{ operation: delete, action: require_confirmation }] }]";
const reason = (e: unknown) => (e as PolicyViolation).reason;

describe("nothing a backend or hook does crashes the host", () => {
  it("turns a circular or BigInt answer from a decision client into a fail-closed decision", async () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const async = new Guardian({
      env: {},
      decisionClient: { checkPolicy: async () => circular as never },
    });
    await expect(async.check("p")(async () => 1)()).rejects.toBeInstanceOf(PolicyViolation);
    const sync = new Guardian({
      env: {},
      decisionClient: { checkPolicy: () => ({ allowed: "yes", n: 1n }) as never },
    });
    expect(
      reason(
        await sync
          .check("p")(async () => 1)()
          .catch((e: unknown) => e),
      ),
    ).toContain("not {allowed, reason, action}");
    expect((await sync.evaluate("p")).allowed).toBe(false);
  });

  it("catches rejections of async onWarn and onError hooks", async () => {
    const unhandled: unknown[] = [];
    const track = (reason: unknown) => void unhandled.push(reason);
    process.on("unhandledRejection", track);
    try {
      const errorHook: Promise<void>[] = [];
      const g = new Guardian({
        env: {},
        policies: "policies: [{ id: w, rules: [{ action: warn }] }]",
        onWarn: async () => {
          throw new Error("slack down");
        },
        onError: (err) => {
          const rejected = Promise.reject(new Error(`pager down (${err.message})`));
          errorHook.push(rejected);
          return rejected;
        },
      });
      await expect(g.check("w")(async () => "ran")()).resolves.toBe("ran");
      // onWarn's rejection reaches onError, whose own rejection must be caught too.
      await vi.waitFor(() => expect(errorHook).toHaveLength(1));
      await Promise.allSettled(errorHook);
      // Node reports an unhandled rejection once the microtasks drain: by the next macrotask.
      await new Promise((r) => setImmediate(r));
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", track);
    }
  });

  it("applies an async settle function's answer", async () => {
    const g = new Guardian({
      env: {},
      policies: "policies: [{ id: b, rules: [{ monthly_budget: 10 }] }]",
    });
    const call = g.check("b", { cost: 5, settle: async () => 0.01 })(async () => 1);
    await call();
    await call();
    // Reserved $5 twice; once both settle at $0.01 a $9.90 call fits.
    await vi.waitFor(async () => expect((await g.evaluate("b", { cost: 9.9 })).allowed).toBe(true));
  });

  it("times out a state store that never answers", async () => {
    const g = new Guardian({
      env: {},
      timeoutMs: 30,
      policies: "policies: [{ id: r, rules: [{ requests_per_minute: 5 }] }]",
      state: { consume: () => new Promise(() => {}), adjust: () => {} },
    });
    expect(
      reason(
        await g
          .check("r")(async () => 1)()
          .catch((e: unknown) => e),
      ),
    ).toContain("no answer within 30 ms");
  });

  it("validates timeoutMs, and Infinity means no timeout", async () => {
    expect(() => new Guardian({ env: {}, policies: CONFIRM, timeoutMs: 0 })).toThrow(
      GuardrailError,
    );
    expect(() => new Guardian({ env: {}, policies: CONFIRM, timeoutMs: Number.NaN })).toThrow(
      /timeoutMs/,
    );
    vi.useFakeTimers();
    try {
      const g = new Guardian({
        env: {},
        timeoutMs: Number.POSITIVE_INFINITY,
        decisionClient: {
          // An hour late: far past any default timeout.
          checkPolicy: () => new Promise((r) => setTimeout(() => r({ allowed: true }), 3_600_000)),
        },
      });
      const answered = expect(g.check("p")(async () => "ok")()).resolves.toBe("ok");
      await vi.advanceTimersByTimeAsync(3_600_000);
      await answered;
    } finally {
      vi.useRealTimers();
    }
  });

  it("returns a rejected Promise, never a synchronous throw, when arguments cannot be fingerprinted", () => {
    const g = new Guardian({
      env: {},
      policies: CONFIRM,
      confirmations: new MemoryConfirmationStore(),
    });
    const del = g.check("safe_delete", { operation: "delete" })(async (_d: Date) => 1);
    const result = del(new Date(Number.NaN));
    expect(result).toBeInstanceOf(Promise);
    return expect(result).rejects.toBeInstanceOf(ConfirmationRequired);
  });

  it("closes every backend even when one fails, then reports it", async () => {
    const g = new Guardian({
      env: {},
      policies: CONFIRM,
      auditLogger: { record: () => {}, close: () => Promise.reject(new Error("flush failed")) },
    });
    await expect(g.close()).rejects.toThrow("flush failed");
  });

  it("says an accessor cannot be guarded", () => {
    const g = new Guardian({ env: {}, policies: CONFIRM });
    const guard = g.check("safe_delete") as unknown as (
      t: object,
      k: string,
      d: PropertyDescriptor,
    ) => unknown;
    expect(() => guard({}, "x", { get: () => 1 })).toThrow(/not an accessor/);
  });
});

describe("confirmation tokens stay secret and are spent only on calls that run", () => {
  const setup = (policies = CONFIRM) => {
    const entries: DecisionEntry[] = [];
    const confirmations = new MemoryConfirmationStore();
    const g = new Guardian({
      env: {},
      policies,
      confirmations,
      auditLogger: { record: (e) => void entries.push(e) },
    });
    return { g, confirmations, entries };
  };

  it("keeps tokens out of the audit log and away from remote decision clients", async () => {
    const { g, entries } = setup();
    await g
      .withContext({ confirmationToken: "id.secret" }, () =>
        g.check("safe_delete", { operation: "delete" })(async () => 1)(),
      )
      .catch(() => {});
    expect(entries[0]?.context).not.toHaveProperty("confirmationToken");
    const seen: Record<string, unknown>[] = [];
    const remote = new Guardian({
      env: {},
      decisionClient: {
        checkPolicy: (_p, ctx) => {
          seen.push({ ...ctx });
          return { allowed: true };
        },
      },
    });
    await remote.withContext({ confirmation_token: "id.secret" }, () =>
      remote.check("p")(async () => 1)(),
    );
    expect(seen[0]).not.toHaveProperty("confirmation_token");
  });

  it("does not use up a token when another rule refuses the confirmed call", async () => {
    const { g, confirmations } = setup(`
policies:
  - id: safe_delete
    rules:
      - { operation: delete, action: require_confirmation }
      - { requests_per_minute: 1 }
`);
    const del = g.check("safe_delete", { operation: "delete" })(async (id: string) => id);
    const first = await del("a").catch((e: unknown) => e as ConfirmationRequired);
    const t1 = confirmations.create(
      (first as ConfirmationRequired).binding as NonNullable<ConfirmationRequired["binding"]>,
    );
    confirmations.approve(t1, { approvedBy: "bob" });
    await expect(g.withContext({ confirmationToken: t1 }, () => del("a"))).resolves.toBe("a");
    const second = await del("b").catch((e: unknown) => e as ConfirmationRequired);
    const t2 = confirmations.create(
      (second as ConfirmationRequired).binding as NonNullable<ConfirmationRequired["binding"]>,
    );
    confirmations.approve(t2, { approvedBy: "bob" });
    const refused = await g
      .withContext({ confirmationToken: t2 }, () => del("b"))
      .catch((e: unknown) => e);
    expect(reason(refused)).toContain("limit of 1 requests per minute reached");
    expect(confirmations.get(t2)?.status).toBe("approved"); // still usable later
  });

  it("refuses when an async store answers nonsense or never answers", async () => {
    const odd = new Guardian({
      env: {},
      policies: CONFIRM,
      timeoutMs: 30,
      confirmations: {
        create: () => "t",
        approve: () => ({}) as never,
        deny: () => ({}) as never,
        get: async () =>
          ({ status: "approved", policyId: "safe_delete", fingerprint: "x" }) as never,
        consume: async () => undefined as never,
      },
    });
    const del = odd.check("safe_delete", { operation: "delete" })(async () => 1);
    expect(
      reason(
        await odd.withContext({ confirmationToken: "a.b" }, () => del()).catch((e: unknown) => e),
      ),
    ).toContain("confirmation token refused");
    const hung = new Guardian({
      env: {},
      policies: CONFIRM,
      timeoutMs: 30,
      confirmations: {
        create: () => "t",
        approve: () => ({}) as never,
        deny: () => ({}) as never,
        get: () => new Promise(() => {}),
        consume: () => new Promise(() => {}),
      },
    });
    const del2 = hung.check("safe_delete", { operation: "delete" })(async () => 1);
    expect(
      reason(
        await hung.withContext({ confirmationToken: "a.b" }, () => del2()).catch((e: unknown) => e),
      ),
    ).toContain("did not answer within 30 ms");
  });

  it("rejects altered token strings and a TTL that is not a positive number", () => {
    const store = new MemoryConfirmationStore();
    const token = store.create({ policyId: "p", fingerprint: "f" });
    expect(store.get(`${token}=`)).toBeUndefined();
    // Every other spelling of the last character, including ones that differ only in its
    // unused bits, is refused.
    const last = token.at(-1) as string;
    for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") {
      if (c !== last) expect(store.get(token.slice(0, -1) + c)).toBeUndefined();
    }
    expect(store.get(token)).toBeDefined();
    expect(() => new MemoryConfirmationStore({ ttlMs: Number.NaN })).toThrow(/ttlMs/);
    expect(() => store.create({ policyId: "p", fingerprint: "f", ttlMs: -1 })).toThrow(/ttlMs/);
  });
});

describe("enforce()", () => {
  it("tells onWarn like a guarded call does", async () => {
    const warned: string[] = [];
    const g = new Guardian({
      env: {},
      policies: "policies: [{ id: w, rules: [{ action: warn }] }]",
      onWarn: (d) => void warned.push(d.reason),
    });
    await g.enforce("w", {});
    expect(warned).toHaveLength(1);
  });
});
