/**
 * The three contenders of the decision benchmark, each deciding the same three checks
 * (budget, per-user rate limit, confirmation of deletes) for one context.
 */

import { newEnforcer, newModelFromString, StringAdapter } from "casbin";
import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import { LocalDecisionClient } from "../src/decision/local-decision-client.ts";
import { MemoryStateStore } from "../src/memory/state-store.ts";
import { parsePolicies } from "../src/policy/load.ts";
import { BENCH_POLICIES, type WorkloadContext } from "./workload.ts";

/** 0 allowed, 1 warned, 2 blocked. */
export type Verdict = 0 | 1 | 2;

/** hexarch-guardrails: the three policies decided together by one prepared check. */
export function hexarch(clock: () => number) {
  const client = new LocalDecisionClient({
    policies: parsePolicies(BENCH_POLICIES),
    state: new MemoryStateStore(),
    clock,
  });
  const check = client.check(["api_budget", "rate_limit", "safe_delete"]);
  return (ctx: WorkloadContext): Verdict => {
    // The memory store answers synchronously, so the decision is not a Promise.
    const d = check.decide(ctx as unknown as Record<string, unknown>) as { action: string };
    return d.action === "allow" ? 0 : d.action === "warn" ? 1 : 2;
  };
}

/**
 * The floor: what a developer would hand-write with Maps for exactly these three checks
 * (fixed one-minute windows, one budget counter, no reasons, no configuration).
 */
export function floor(clock: () => number) {
  const windows = new Map<string, { start: number; count: number }>();
  let spentMicros = 0;
  const limitMicros = 10_000_000;
  const warnMicros = 8_000_000;
  return (ctx: WorkloadContext): Verdict => {
    if (ctx.operation === "delete" && ctx.confirm !== true) return 2;
    const now = clock();
    let w = windows.get(ctx.userId);
    if (w === undefined || now - w.start >= 60_000) {
      w = { start: now, count: 0 };
      windows.set(ctx.userId, w);
    }
    if (w.count >= 100) return 2;
    const cost = ctx.resource === "openai" ? Math.round((ctx.cost ?? 0) * 1e6) : 0;
    if (
      ctx.resource === "openai" &&
      (spentMicros >= limitMicros || spentMicros + cost > limitMicros)
    )
      return 2;
    w.count++;
    if (ctx.resource !== "openai") return 0;
    spentMicros += cost;
    return spentMicros >= warnMicros ? 1 : 0;
  };
}

const CASBIN_MODEL = `
[request_definition]
r = sub, obj, act

[policy_definition]
p = sub_rule, obj, act

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = eval(p.sub_rule) && keyMatch(r.obj, p.obj) && r.act == p.act
`;

const CASBIN_POLICY = `
p, true, *, read
p, true, *, write
p, r.sub.confirm == true, *, delete
`;

/** Seconds a RateLimiterMemory can hold a key: Node timers overflow past 2^31-1 ms (~24.8 days). */
export const PEER_BUDGET_WINDOW_DAYS = 24;

/**
 * The peer stack a TypeScript developer would assemble today: casbin (ABAC) for the
 * delete confirmation, rate-limiter-flexible for the per-user limit and, as a points
 * budget, for the monthly spend. Its memory limiter cannot hold a 30-day window, so the
 * "monthly" budget is a 24-day window.
 */
export async function peer() {
  const enforcer = await newEnforcer(
    newModelFromString(CASBIN_MODEL),
    new StringAdapter(CASBIN_POLICY),
  );
  const rate = new RateLimiterMemory({ points: 100, duration: 60 });
  const budget = new RateLimiterMemory({
    points: 10_000_000,
    duration: PEER_BUDGET_WINDOW_DAYS * 86_400,
  });
  return async (ctx: WorkloadContext): Promise<Verdict> => {
    const ok = enforcer.enforceSync({ confirm: ctx.confirm === true }, ctx.resource, ctx.operation);
    if (!ok) return 2;
    try {
      await rate.consume(ctx.userId, 1);
    } catch (e) {
      if (e instanceof RateLimiterRes) return 2;
      throw e;
    }
    if (ctx.resource !== "openai") return 0;
    try {
      const res = await budget.consume("openai", Math.round((ctx.cost ?? 0) * 1e6));
      return res.consumedPoints >= 8_000_000 ? 1 : 0;
    } catch (e) {
      if (e instanceof RateLimiterRes) return 2;
      throw e;
    }
  };
}
