import { afterEach, describe, expect, it, vi } from "vitest";
import {
  ConfirmationRequired,
  type DecisionEntry,
  Guardian,
  type GuardianOptions,
  GuardrailError,
  PolicyViolation,
  UnknownPolicyError,
} from "../../src/index.ts";
import { ManualClock } from "../../src/testing/index.ts";

const POLICIES = `
policies:
  - id: api_budget
    rules:
      - resource: openai
        monthly_budget: 10
        action: warn_at_80%
  - id: rate_limit
    rules:
      - requests_per_minute: 3
        per: userId
        action: block
  - id: safe_delete
    rules:
      - operation: delete
        action: require_confirmation
  - id: keep_on_error
    rules:
      - daily_budget: 1
        refund_on_error: false
`;

function guardian(options: GuardianOptions = {}) {
  const entries: DecisionEntry[] = [];
  const warnings: string[] = [];
  const clock = new ManualClock("2026-11-25T12:00:00Z");
  const g = new Guardian({
    policies: POLICIES,
    clock: clock.now,
    env: {},
    auditLogger: { record: (e) => void entries.push(e) },
    onWarn: (d) => void warnings.push(d.reason),
    ...options,
  });
  return { g, entries, warnings, clock };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("guarding a function", () => {
  it("throws ConfirmationRequired before the body runs, and runs it once confirmed", async () => {
    const { g } = guardian();
    const body = vi.fn(async (id: string) => `deleted ${id}`);
    const del = g.check("safe_delete", { operation: "delete" })(body);
    await expect(del("u1")).rejects.toBeInstanceOf(ConfirmationRequired);
    expect(body).not.toHaveBeenCalled();
    const err = await del("u1").catch((e: unknown) => e);
    expect(err).toMatchObject({ policyId: "safe_delete", action: "require_confirmation" });
    expect((err as PolicyViolation).reason).toContain("requires confirmation");
    expect((err as PolicyViolation).decision.allowed).toBe(false);

    const confirmed = g.check("safe_delete", { operation: "delete", context: { confirm: true } })(
      body,
    );
    await expect(confirmed("u1")).resolves.toBe("deleted u1");
    await expect(g.withContext({ confirm: true }, () => del("u2"))).resolves.toBe("deleted u2");
  });

  it("keeps the function's name, length and this, and returns a Promise for sync functions too", async () => {
    const { g } = guardian();
    function add(this: { base: number }, a: number, b: number) {
      return this.base + a + b;
    }
    const guarded = g.check("rate_limit")(add);
    expect(guarded.name).toBe("add");
    expect(guarded.length).toBe(2);
    const obj = { base: 10, add: guarded };
    const result = obj.add(1, 2);
    expect(result).toBeInstanceOf(Promise);
    await expect(result).resolves.toBe(13);
  });

  it("passes the function's errors through unchanged", async () => {
    const { g } = guardian();
    const boom = new Error("boom");
    await expect(
      g.check("rate_limit")(() => {
        throw boom;
      })(),
    ).rejects.toBe(boom);
    await expect(
      g.check("rate_limit")(async () => {
        throw boom;
      })(),
    ).rejects.toBe(boom);
  });

  it("refuses an unknown policy when check() is called, naming the policies that exist", () => {
    const { g } = guardian();
    expect(() => g.check("nope")).toThrow(UnknownPolicyError);
    expect(() => g.check("nope")).toThrow(/api_budget, rate_limit, safe_delete/);
  });

  it("rejects something that is neither a function nor a method", () => {
    const { g } = guardian();
    const guard = g.check("rate_limit") as unknown as (x: unknown) => unknown;
    expect(() => guard(42)).toThrow(GuardrailError);
  });

  it("blocked calls consume no quota", async () => {
    const { g } = guardian();
    const call = g.check("rate_limit", { userId: "u" })(async () => "ok");
    for (let i = 0; i < 3; i++) await call();
    await expect(call()).rejects.toBeInstanceOf(PolicyViolation);
    await expect(call()).rejects.not.toBeInstanceOf(ConfirmationRequired);
  });
});

describe("the decision's context", () => {
  it("merges check options, then the withContext scope; the first argument's userId fills in a missing user", async () => {
    const seen: Record<string, unknown>[] = [];
    const g = new Guardian({
      env: {},
      policies: "policies: [{ id: p, rules: [] }]",
      decisionClient: {
        checkPolicy: (_id, ctx) => {
          seen.push({ ...ctx });
          return { allowed: true };
        },
      },
    });
    const fn = g.check("p", {
      resource: "db",
      operation: "read",
      cost: 0.5,
      metadata: { team: "a" },
      context: { env: "prod" },
    })(async function listUsers(_q: { user_id: string }) {
      return 1;
    });
    await fn({ user_id: "alice" });
    expect(seen[0]).toEqual({
      env: "prod",
      resource: "db",
      operation: "read",
      cost: 0.5,
      metadata: { team: "a" },
      functionName: "listUsers",
      userId: "alice",
    });
    await g.withContext({ userId: "bob", env: "staging" }, async () => {
      await Promise.resolve();
      await g.withContext({ tenant: "t1" }, () => fn({ user_id: "mallory" }));
    });
    expect(seen[1]).toMatchObject({ userId: "bob", env: "staging", tenant: "t1" });
  });

  it("computes context, cost and userId from the call's arguments", async () => {
    const { g } = guardian();
    const ask = g.check("api_budget", {
      resource: "openai",
      cost: (prompt: string) => prompt.length / 100,
      userId: (_prompt: string, user: string) => user,
    })(async (prompt: string, _user: string) => prompt.toUpperCase());
    await expect(ask("x".repeat(900), "alice")).resolves.toHaveLength(900); // $9
    await expect(ask("x".repeat(200), "alice")).rejects.toBeInstanceOf(PolicyViolation); // $11
  });
});

describe("budgets", () => {
  it("1,000 concurrent calls against a $10 budget at $0.05 each admit exactly 200", async () => {
    const { g } = guardian({ onWarn: () => {} });
    let ran = 0;
    let refused = 0;
    // Every admitted call stays in flight until all 1,000 were decided.
    let openGate: () => void = () => {};
    const gate = new Promise<void>((done) => {
      openGate = done;
    });
    const decided = () => {
      if (ran + refused === 1000) openGate();
    };
    const call = g.check("api_budget", { resource: "openai", cost: 0.05 })(async () => {
      ran++;
      decided();
      await gate;
    });
    const results = await Promise.allSettled(
      Array.from({ length: 1000 }, () =>
        call().catch((err: unknown) => {
          refused++;
          decided();
          throw err;
        }),
      ),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(200);
    expect(ran).toBe(200);
  });

  it("settles the reservation with the real cost from the result", async () => {
    const { g } = guardian();
    const ask = g.check("api_budget", {
      resource: "openai",
      cost: 5,
      settle: (r: { usd: number }) => r.usd,
    })(async () => ({ usd: 1 }));
    await ask(); // reserved $5, really $1
    const d = await g.evaluate("api_budget", { resource: "openai", cost: 9 });
    expect(d.action).toBe("warn"); // $10 of $10: the first call counted $1
  });

  it("refunds the reservation when the function throws, unless the policy says refund_on_error: false", async () => {
    const { g } = guardian();
    const failing = g.check("api_budget", { resource: "openai", cost: 9 })(async () => {
      throw new Error("API down");
    });
    await expect(failing()).rejects.toThrow("API down");
    expect((await g.evaluate("api_budget", { resource: "openai", cost: 9 })).allowed).toBe(true);

    const kept = g.check("keep_on_error", { cost: 1 })(() => {
      throw new Error("x");
    });
    await expect(kept()).rejects.toThrow("x");
    expect((await g.evaluate("keep_on_error", { cost: 0.01 })).allowed).toBe(false);
  });
});

describe("outcomes and hooks", () => {
  it("runs a warned call and tells onWarn", async () => {
    const { g, warnings } = guardian();
    const ask = g.check("api_budget", { resource: "openai", cost: 8.5 })(async () => "answer");
    await expect(ask()).resolves.toBe("answer");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("85% of the monthly budget used");
  });

  it("writes one concise line to stderr by default, without a stack trace", async () => {
    const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const g = new Guardian({ policies: POLICIES, env: {} });
    await g.check("api_budget", { resource: "openai", cost: 9 })(async function summarize() {})();
    expect(write).toHaveBeenCalledTimes(1);
    const line = String(write.mock.calls[0]?.[0]);
    expect(line).toMatch(
      /^\[hexarch\] summarize\(\) warning: Policy 'api_budget' warning: 90% of the monthly budget used/,
    );
    expect(line.trim().split("\n")).toHaveLength(1);
  });

  it("records every decision with the function name, user and metadata", async () => {
    const { g, entries } = guardian();
    const fn = g.check("safe_delete", { operation: "delete", metadata: { env: "prod" } })(
      async function purge(_a: { userId: string }) {},
    );
    await fn({ userId: "alice" }).catch(() => {});
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      functionName: "purge",
      userId: "alice",
      metadata: { env: "prod" },
      mode: "enforce",
    });
    expect(entries[0]?.decision.decision).toBe("blocked");
  });

  it("never lets a failing audit sink or onWarn break the call", async () => {
    const errors: Error[] = [];
    const g = new Guardian({
      policies: POLICIES,
      env: {},
      auditLogger: { record: () => Promise.reject(new Error("disk full")) },
      onWarn: () => {
        throw new Error("bad hook");
      },
      onError: (e) => void errors.push(e),
    });
    await expect(
      g.check("api_budget", { resource: "openai", cost: 9 })(async () => 1)(),
    ).resolves.toBe(1);
    // The audit write fails in the background: wait for its report.
    await vi.waitFor(() => expect(errors).toHaveLength(2));
    expect(errors.map((e) => e.message).sort()).toEqual([
      "audit failed: disk full",
      "onWarn failed: bad hook",
    ]);
  });

  it("evaluate() answers without throwing; enforce() throws like a guarded call", async () => {
    const { g } = guardian();
    const d = await g.evaluate("safe_delete", { operation: "delete" });
    expect(d).toMatchObject({ allowed: false, action: "require_confirmation" });
    await expect(g.enforce("safe_delete", { operation: "delete" })).rejects.toBeInstanceOf(
      ConfirmationRequired,
    );
    await expect(g.enforce("safe_delete", { operation: "read" })).resolves.toMatchObject({
      allowed: true,
    });
  });

  it("lists and returns the loaded policies", () => {
    const { g } = guardian();
    expect(g.listPolicies()).toEqual(["api_budget", "rate_limit", "safe_delete", "keep_on_error"]);
    expect(g.getPolicy("safe_delete")?.rules[0]?.action).toBe("require_confirmation");
    expect(g.getPolicy("nope")).toBeUndefined();
  });

  it("close() closes the audit sink", async () => {
    const close = vi.fn();
    const g = new Guardian({
      policies: POLICIES,
      env: {},
      auditLogger: { record: () => {}, close },
    });
    await g.close();
    expect(close).toHaveBeenCalledOnce();
  });
});

describe("modes", () => {
  it("monitor: would-be blocks run, are reported and recorded as monitor", async () => {
    const { g, entries, warnings } = guardian({ mode: "monitor" });
    await expect(
      g.check("safe_delete", { operation: "delete" })(async () => "done")(),
    ).resolves.toBe("done");
    expect(entries[0]).toMatchObject({ mode: "monitor" });
    expect(entries[0]?.decision.decision).toBe("blocked");
    expect(warnings[0]).toContain("requires confirmation");
  });

  it("off: nothing is evaluated", async () => {
    const checkPolicy = vi.fn(() => ({ allowed: false }));
    const g = new Guardian({ mode: "off", decisionClient: { checkPolicy }, env: {} });
    await expect(g.check("anything")(async () => 1)()).resolves.toBe(1);
    expect(checkPolicy).not.toHaveBeenCalled();
    expect((await g.evaluate("anything")).allowed).toBe(true);
  });

  it("HEXARCH_MODE sets the default; the mode option wins; enforcement: warn means monitor", () => {
    expect(new Guardian({ policies: POLICIES, env: { HEXARCH_MODE: "off" } }).mode).toBe("off");
    expect(
      new Guardian({ policies: POLICIES, env: { HEXARCH_MODE: "off" }, mode: "enforce" }).mode,
    ).toBe("enforce");
    expect(new Guardian({ policies: `enforcement: warn\n${POLICIES}`, env: {} }).mode).toBe(
      "monitor",
    );
    expect(
      new Guardian({ policies: `enforcement: warn\n${POLICIES}`, env: { HEXARCH_MODE: "enforce" } })
        .mode,
    ).toBe("enforce");
    expect(() => new Guardian({ policies: POLICIES, env: { HEXARCH_MODE: "loud" } })).toThrow(
      /HEXARCH_MODE must be/,
    );
  });

  it("off mode does not need a policy file", () => {
    const g = new Guardian({ env: { HEXARCH_MODE: "off" }, cwd: "/" });
    expect(g.mode).toBe("off");
    expect(g.listPolicies()).toEqual([]);
  });
});

describe("custom decision clients and their failures", () => {
  it("accepts the Python SDK's checkPolicy contract, sync or async", async () => {
    const g = new Guardian({
      env: {},
      decisionClient: {
        checkPolicy: async (_id, ctx) =>
          ctx.amount && Number(ctx.amount) > 100
            ? { allowed: false, reason: "too much", action: "block" }
            : { allowed: true, action: "warn", reason: "watch it" },
      },
      onWarn: () => {},
    });
    const pay = g.check("payments", { context: (amount: number) => ({ amount }) })(
      async (amount: number) => amount,
    );
    await expect(pay(5)).resolves.toBe(5);
    const err = await pay(500).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PolicyViolation);
    expect((err as PolicyViolation).reason).toBe("too much");
  });

  it("fails closed with a PolicyViolation saying the backend failed", async () => {
    const g = new Guardian({
      env: {},
      decisionClient: {
        checkPolicy: () => {
          throw new Error("ECONNREFUSED");
        },
      },
    });
    const body = vi.fn();
    const err = await g
      .check("p")(body)()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PolicyViolation);
    expect((err as PolicyViolation).reason).toContain(
      "decision backend failed, failing closed (ECONNREFUSED)",
    );
    expect(body).not.toHaveBeenCalled();
  });

  it("fails open when asked, and records why", async () => {
    const entries: DecisionEntry[] = [];
    const g = new Guardian({
      env: {},
      failOpen: true,
      decisionClient: { checkPolicy: () => Promise.reject(new Error("503")) },
      auditLogger: { record: (e) => void entries.push(e) },
    });
    await expect(g.check("p")(async () => "ran")()).resolves.toBe("ran");
    expect(entries[0]?.decision).toMatchObject({ allowed: true, failedOpen: true });
    expect(entries[0]?.decision.reason).toContain("failing open (503)");
  });

  it("fails open per policy with fail_open: true in the file; HEXARCH_POLICY_FAIL_CLOSED=false opens all", async () => {
    const down = { checkPolicy: () => Promise.reject(new Error("down")) };
    const policies =
      "policies: [{ id: soft, fail_open: true, rules: [] }, { id: hard, rules: [] }]";
    const g = new Guardian({ env: {}, policies, decisionClient: down });
    await expect(g.check("soft")(async () => 1)()).resolves.toBe(1);
    await expect(g.check("hard")(async () => 1)()).rejects.toBeInstanceOf(PolicyViolation);
    const open = new Guardian({
      env: { HEXARCH_POLICY_FAIL_CLOSED: "false" },
      decisionClient: down,
    });
    await expect(open.check("hard")(async () => 1)()).resolves.toBe(1);
  });

  it("times out a client that never answers", async () => {
    const g = new Guardian({
      env: {},
      timeoutMs: 20,
      decisionClient: { checkPolicy: () => new Promise(() => {}) },
    });
    const err = await g
      .check("p")(async () => 1)()
      .catch((e: unknown) => e);
    expect((err as PolicyViolation).reason).toContain("did not answer within 20 ms");
  });

  it("treats a malformed answer as a failure", async () => {
    const g = new Guardian({
      env: {},
      decisionClient: { checkPolicy: () => ({ ok: true }) as never },
    });
    const err = await g
      .check("p")(async () => 1)()
      .catch((e: unknown) => e);
    expect((err as PolicyViolation).reason).toContain("not {allowed, reason, action}");
  });

  it("lets the local engine's state store fail closed without crashing", async () => {
    const g = new Guardian({
      env: {},
      policies: POLICIES,
      state: {
        consume: () => {
          throw new Error("store gone");
        },
        adjust: () => {},
      },
    });
    const err = await g
      .check("rate_limit")(async () => 1)()
      .catch((e: unknown) => e);
    expect((err as PolicyViolation).reason).toContain(
      "state store unavailable, failing closed (store gone)",
    );
  });
});

describe("the policy file's logging section", () => {
  it("appends one JSON line per decision at or above the level, without the context", async () => {
    const { mkdtempSync, readFileSync, rmSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(join(tmpdir(), "hexarch-log-"));
    const g = new Guardian({
      env: {},
      cwd: dir,
      onWarn: () => {},
      policies: `
logging: { enabled: true, level: warning, file: decisions.jsonl }
${POLICIES}`,
    });
    const call = g.check("safe_delete", { operation: "delete", context: { secret: "s3cr3t" } })(
      async function wipe() {},
    );
    await call().catch(() => {});
    await g.check("safe_delete", { operation: "read" })(async () => {})();
    await g.close();
    const lines = readFileSync(join(dir, "decisions.jsonl"), "utf8").trim().split("\n");
    expect(lines).toHaveLength(1); // the allowed read is below `warning`
    const entry = JSON.parse(lines[0] as string);
    expect(entry).toMatchObject({
      policy_id: "safe_delete",
      function_name: "wipe",
      decision: "blocked",
      action: "require_confirmation",
    });
    expect(lines[0]).not.toContain("s3cr3t");
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("stack traces", () => {
  it("captures one by default and none with errorStacks: false", async () => {
    const withStack = await guardian()
      .g.check("safe_delete", { operation: "delete" })(async () => {})()
      .catch((e: unknown) => e);
    expect((withStack as Error).stack).toMatch(/\n\s+at /);
    const without = await guardian({ errorStacks: false })
      .g.check("safe_delete", { operation: "delete" })(async () => {})()
      .catch((e: unknown) => e);
    expect(without).toBeInstanceOf(ConfirmationRequired);
    expect((without as Error).stack).not.toMatch(/\n\s+at /);
    expect((without as Error).stack).toContain(
      "ConfirmationRequired: Policy 'safe_delete' requires confirmation",
    );
  });
});

describe("the refusal error", () => {
  it("carries the reason as its message, which callers may still replace", async () => {
    const err = (await guardian()
      .g.check("safe_delete", { operation: "delete" })(async function purge(_id: number) {})(7)
      .catch((e: unknown) => e)) as ConfirmationRequired;
    expect(err.message).toBe(err.reason);
    expect(err.message).toMatch(/^Policy 'safe_delete' requires confirmation/);
    expect(String(err)).toBe(`ConfirmationRequired: ${err.reason}`);
    expect(err.binding).toEqual({ policyId: "safe_delete", fingerprint: expect.any(String) });
    expect(err.binding).toBe(err.binding); // computed once
    err.message = `[retry 2] ${err.message}`;
    expect(err.message).toMatch(/^\[retry 2\] Policy 'safe_delete'/);
    expect(err.reason).toMatch(/^Policy 'safe_delete'/);
    expect(Object.keys(err)).not.toContain("message");
  });

  it("binds a refused call to its own arguments", async () => {
    const purge = guardian().g.check("safe_delete", { operation: "delete" })(
      async (_id: number) => {},
    );
    const one = (await purge(1).catch((e: unknown) => e)) as ConfirmationRequired;
    const two = (await purge(2).catch((e: unknown) => e)) as ConfirmationRequired;
    const again = (await purge(1).catch((e: unknown) => e)) as ConfirmationRequired;
    expect(one.binding?.fingerprint).not.toBe(two.binding?.fingerprint);
    expect(one.binding?.fingerprint).toBe(again.binding?.fingerprint);
  });
});

describe("recordSpend", () => {
  it("counts spend reported after the fact against the budgets that apply, and nothing else", async () => {
    const { g, entries, clock } = guardian({
      policies: `
policies:
  - id: llm
    rules:
      - { resource: openai, monthly_budget: 1, per: userId, action: block }
      - { resource: openai, max_tokens_per_day: 500, action: block }
      - { resource: openai, requests_per_minute: 1, action: block }
      - { resource: anthropic, monthly_budget: 1, action: block }
`,
    });
    const call = (userId: string) =>
      g.evaluate("llm", { resource: "openai", userId, cost: 0.01, tokens: 1 });
    // Three reports of $0.40 for u1: $1.20 spent, past the limit (spent money is spent).
    for (let i = 0; i < 3; i++) {
      expect(
        await g.recordSpend("llm", { resource: "openai", userId: "u1", costUsd: 0.4, tokens: 100 }),
      ).toEqual({ counters: 2 });
    }
    expect(entries).toEqual([]); // nothing was decided, so nothing was recorded
    const u1 = await call("u1");
    expect(u1.allowed).toBe(false);
    expect(u1.reason).toContain("$1.00");
    // u2's budget is its own; the rate limit (1 a minute) was not moved by the reports.
    expect((await call("u2")).allowed).toBe(true);
    clock.advance(61_000);
    // 300 of 500 tokens used: one more report of 200 spends the token budget for everyone.
    await g.recordSpend("llm", { resource: "openai", userId: "u3", tokens: 200 });
    const u3 = await call("u3");
    expect(u3.allowed).toBe(false);
    expect(u3.reason).toMatch(/token/);
  });

  it("moves no counter for a context no budget applies to, or in off mode", async () => {
    expect(
      await guardian().g.recordSpend("api_budget", { resource: "anthropic", costUsd: 5 }),
    ).toEqual({ counters: 0 });
    expect(
      await guardian({ mode: "off" }).g.recordSpend("api_budget", {
        resource: "openai",
        costUsd: 5,
      }),
    ).toEqual({ counters: 0 });
  });

  it("refuses bad amounts, unknown policies and remote decision clients", async () => {
    const { g } = guardian();
    await expect(g.recordSpend("api_budget", { costUsd: -1 })).rejects.toMatchObject({
      code: "invalid_argument",
      message: expect.stringMatching(/costUsd must be a non-negative number/),
    });
    await expect(g.recordSpend("api_budget", { tokens: Number.NaN })).rejects.toThrow(/tokens/);
    await expect(g.recordSpend("nope", { costUsd: 1 })).rejects.toBeInstanceOf(UnknownPolicyError);
    const remote = new Guardian({
      env: {},
      decisionClient: { checkPolicy: async () => ({ allowed: true }) },
    });
    await expect(remote.recordSpend("x", { costUsd: 1 })).rejects.toThrow(
      /decided in this process/,
    );
    await expect(remote.recordSpend("x", { costUsd: 1 })).rejects.toMatchObject({
      code: "embedded_engine_required",
    });
  });
});
