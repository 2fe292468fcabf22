/**
 * The overhead of a guarded async call over the bare async call, on the guardrails
 * workload (memory state, no audit log).
 */

import { Guardian } from "../src/guardian/guardian.ts";
import { BENCH_POLICIES, type WorkloadContext } from "./workload.ts";

/** Nanoseconds per call (throughput) and per-call latency percentiles. */
export interface CallCost {
  readonly nsPerCall: number;
  readonly p50Ns: number;
  readonly p99Ns: number;
  readonly rejected: number;
}

async function bare(_ctx: WorkloadContext): Promise<number> {
  return 1;
}

const noop = () => 0;

/** Runs `call` over the workload: once for throughput, once timing every call. */
async function run(
  make: () => (ctx: WorkloadContext) => Promise<unknown>,
  work: readonly WorkloadContext[],
  setTime: (i: number) => void,
): Promise<CallCost> {
  let call = make();
  let rejected = 0;
  const count = () => {
    rejected++;
    return 0;
  };
  setTime(0);
  const t0 = performance.now();
  for (let i = 0; i < work.length; i++) {
    setTime(i);
    await call(work[i] as WorkloadContext).catch(count);
  }
  const nsPerCall = ((performance.now() - t0) * 1e6) / work.length;
  call = make(); // fresh counters, so the timed run sees the same stream
  const lat = new Float64Array(work.length);
  for (let i = 0; i < work.length; i++) {
    setTime(i);
    const s = performance.now();
    await call(work[i] as WorkloadContext).catch(noop);
    lat[i] = performance.now() - s;
  }
  lat.sort();
  const pct = (p: number) => (lat[Math.floor(lat.length * p)] as number) * 1e6;
  return { nsPerCall, p50Ns: pct(0.5), p99Ns: pct(0.99), rejected };
}

/** Measures the bare call and the guarded call (fresh state for each run). */
export async function guardedCallCost(
  work: readonly WorkloadContext[],
  setTime: (i: number) => void,
  clock: () => number,
): Promise<{ bare: CallCost; guarded: CallCost; noStacks: CallCost }> {
  const maker = (errorStacks: boolean) => () => {
    const guardian = new Guardian({
      policies: BENCH_POLICIES,
      clock,
      env: {},
      onWarn: () => {},
      errorStacks,
    });
    return guardian.check(["api_budget", "rate_limit", "safe_delete"], {
      context: (ctx: WorkloadContext) => ctx as unknown as Record<string, unknown>,
    })(bare);
  };
  const make = maker(true);
  // Warm up both paths.
  await run(() => bare, work.slice(0, 100_000), setTime);
  await run(make, work.slice(0, 100_000), setTime);
  const b = await run(() => bare, work, setTime);
  const g = await run(make, work, setTime);
  const n = await run(maker(false), work, setTime);
  return { bare: b, guarded: g, noStacks: n };
}
