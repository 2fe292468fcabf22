/**
 * `npm run bench`: the guardrails decision benchmark.
 *
 * 1,000,000 seeded contexts, each decided against the Python README's three policies
 * (budget, per-user rate limit, confirmation of deletes) by three contenders in one run:
 * this engine with MemoryStateStore, a hand-written floor, and casbin + rate-limiter-flexible.
 * Time is simulated (0.5 ms per context, through Date.now) so every contender sees the
 * same stream at the same instants. Throughput is the median of several runs; latency
 * percentiles come from a separate run that times every call.
 */

import { MemoryStateStore } from "../src/memory/state-store.ts";
import { auditBench } from "./audit.bench.ts";
import { floor, hexarch, PEER_BUDGET_WINDOW_DAYS, peer, type Verdict } from "./contenders.ts";
import { guardedCallCost } from "./guarded-call.ts";
import { importBench } from "./import.bench.ts";
import { llmOverheadBench } from "./llm-overhead.ts";
import { redisBench } from "./redis.bench.ts";
import { makeWorkload, type WorkloadContext } from "./workload.ts";

const N = Number(process.env.BENCH_CONTEXTS ?? 1_000_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
/**
 * `engine`, `audit`, `redis`, `llm` or `import` runs only that part
 * (`BENCH_ONLY=audit npm run bench`).
 */
const ONLY = process.env.BENCH_ONLY;
const START = Date.UTC(2026, 10, 2, 0, 0, 0);
const STEP_MS = 0.5;

let simNow = START;
const realDateNow = Date.now;
const clock = () => simNow;
// rate-limiter-flexible reads Date.now(); route everyone through the simulated clock.
Date.now = () => Math.floor(simNow);

type Decide = (ctx: WorkloadContext) => Verdict | Promise<Verdict>;

interface Result {
  name: string;
  perSecond: number;
  p50Ns: number;
  p99Ns: number;
  counts: [number, number, number];
}

async function throughput(
  make: () => Promise<Decide> | Decide,
  work: WorkloadContext[],
  isAsync: boolean,
): Promise<{ seconds: number; counts: [number, number, number] }> {
  const decide = await make();
  const counts: [number, number, number] = [0, 0, 0];
  simNow = START;
  const t0 = performance.now();
  if (isAsync) {
    for (let i = 0; i < work.length; i++) {
      counts[await (decide(work[i] as WorkloadContext) as Promise<Verdict>)]++;
      simNow += STEP_MS;
    }
  } else {
    for (let i = 0; i < work.length; i++) {
      counts[decide(work[i] as WorkloadContext) as Verdict]++;
      simNow += STEP_MS;
    }
  }
  return { seconds: (performance.now() - t0) / 1000, counts };
}

async function latencies(
  make: () => Promise<Decide> | Decide,
  work: WorkloadContext[],
  isAsync: boolean,
): Promise<Float64Array> {
  const decide = await make();
  const out = new Float64Array(work.length);
  simNow = START;
  for (let i = 0; i < work.length; i++) {
    const ctx = work[i] as WorkloadContext;
    const t0 = performance.now();
    if (isAsync) await decide(ctx);
    else void decide(ctx); // a sync contender: returns a verdict, never a promise
    out[i] = performance.now() - t0;
    simNow += STEP_MS;
  }
  return out.sort();
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function measure(
  name: string,
  make: () => Promise<Decide> | Decide,
  work: WorkloadContext[],
  isAsync: boolean,
): Promise<Result> {
  // Warm up the JIT on a slice, on a throwaway instance.
  await throughput(make, work.slice(0, Math.min(200_000, work.length)), isAsync);
  const runs: number[] = [];
  let counts: [number, number, number] = [0, 0, 0];
  for (let r = 0; r < RUNS; r++) {
    const t = await throughput(make, work, isAsync);
    runs.push(work.length / t.seconds);
    counts = t.counts;
  }
  const lat = await latencies(make, work, isAsync);
  const pct = (p: number) =>
    (lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] as number) * 1e6;
  return { name, perSecond: median(runs), p50Ns: pct(0.5), p99Ns: pct(0.99), counts };
}

function bytesPerKey(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return Number.NaN;
  const store = new MemoryStateStore({ sweepPerCall: 0 });
  const keys = 1_000_000;
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < keys; i++) {
    store.consume(
      [
        {
          kind: "window",
          key: `rate_limit/rules[0]:w60000|user-${i}`,
          limit: 100,
          windowMs: 60_000,
          expiresAtMs: 0,
          amount: 1,
          hard: true,
        },
      ],
      START,
    );
  }
  gc();
  const after = process.memoryUsage().heapUsed;
  if (store.size !== keys) throw new Error("store lost keys");
  return (after - before) / keys;
}

function fmtRate(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : `${(n / 1e3).toFixed(1)}k`;
}
function fmtNs(n: number): string {
  return n >= 1000 ? `${(n / 1000).toFixed(2)} µs` : `${Math.round(n)} ns`;
}

async function main(): Promise<void> {
  if (ONLY === "audit") return auditBench();
  if (ONLY === "import") return importBench();
  if (ONLY === "llm") {
    Date.now = realDateNow;
    await llmOverheadBench();
    return;
  }
  if (ONLY === "redis") {
    Date.now = realDateNow; // Redis and its TTLs keep real time
    return redisBench();
  }
  console.log(
    `workload: ${N.toLocaleString("en-US")} contexts, 1,000 users, 70/20/10 read/write/delete, half the deletes confirmed, openai on half`,
  );
  console.log(
    `node ${process.version}, ${RUNS} throughput runs per contender (median), latency from one timed run\n`,
  );
  const work = makeWorkload(N);
  const results = [
    await measure("hexarch-guardrails (MemoryStateStore)", () => hexarch(clock), work, false),
    await measure("floor (hand-written Maps)", () => floor(clock), work, false),
    await measure("casbin + rate-limiter-flexible", () => peer(), work, true),
  ];
  const [ours, fl, pr] = results as [Result, Result, Result];
  const rows = results.map((r) => [
    r.name,
    fmtRate(r.perSecond),
    fmtNs(r.p50Ns),
    fmtNs(r.p99Ns),
    `${(r.perSecond / fl.perSecond).toFixed(2)}x`,
    `${(r.perSecond / pr.perSecond).toFixed(1)}x`,
    r.counts.map((c) => c.toLocaleString("en-US")).join(" / "),
  ]);
  const head = [
    "contender",
    "decisions/s",
    "p50",
    "p99",
    "vs floor",
    "vs peer",
    "allowed / warned / blocked",
  ];
  const widths = head.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => (r[i] as string).length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)))
      .join("  ");
  console.log(line(head));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) console.log(line(r));
  console.log(
    `\nhexarch: ${fmtRate(ours.perSecond)} decisions/s, ${(fl.perSecond / ours.perSecond).toFixed(1)}x from the floor, ${(ours.perSecond / pr.perSecond).toFixed(1)}x the peer stack; p99 ${fmtNs(ours.p99Ns)}`,
  );
  console.log("notes:");
  console.log(
    `- the peer's "monthly" budget is a ${PEER_BUDGET_WINDOW_DAYS}-day window: RateLimiterMemory cannot hold a 30-day key (Node timers overflow at ~24.8 days), so it only approximates a calendar month`,
  );
  console.log(
    "- the peer consumes the rate limit even when the budget then refuses; hexarch consumes all counters or none",
  );
  console.log(
    "- the floor uses fixed one-minute windows; hexarch uses a sliding window, so their blocked counts differ slightly",
  );
  console.log(
    "\nguarded async call (Guardian.check of the three policies, memory state, no audit) vs the bare async call:",
  );
  const { bare, guarded, noStacks } = await guardedCallCost(
    work,
    (i) => {
      simNow = START + i * STEP_MS;
    },
    clock,
  );
  const overhead = guarded.nsPerCall - bare.nsPerCall;
  const guardedPerSecond = 1e9 / guarded.nsPerCall;
  console.log(
    `  bare     ${fmtNs(bare.nsPerCall)}/call  p50 ${fmtNs(bare.p50Ns)}  p99 ${fmtNs(bare.p99Ns)}`,
  );
  console.log(
    `  guarded  ${fmtNs(guarded.nsPerCall)}/call  p50 ${fmtNs(guarded.p50Ns)}  p99 ${fmtNs(guarded.p99Ns)}  (${guarded.rejected.toLocaleString("en-US")} rejected with PolicyViolation)`,
  );
  const noStacksPerSecond = 1e9 / noStacks.nsPerCall;
  console.log(
    `  guarded, errorStacks: false  ${fmtNs(noStacks.nsPerCall)}/call  p50 ${fmtNs(noStacks.p50Ns)}  p99 ${fmtNs(noStacks.p99Ns)}; ${fmtRate(noStacksPerSecond)} guarded calls/s = ${(noStacksPerSecond / pr.perSecond).toFixed(1)}x the peer stack`,
  );
  console.log(
    `  overhead ${fmtNs(overhead)}/call (${(guarded.nsPerCall / bare.nsPerCall).toFixed(1)}x the bare call), p50 overhead ${fmtNs(guarded.p50Ns - bare.p50Ns)}; ${fmtRate(guardedPerSecond)} guarded calls/s = ${(guardedPerSecond / pr.perSecond).toFixed(1)}x the peer stack's decisions/s`,
  );
  const bpk = bytesPerKey();
  console.log(
    `\nMemoryStateStore: ${Number.isNaN(bpk) ? "run with --expose-gc to measure" : `${Math.round(bpk)} bytes per key`} (1,000,000 distinct rate-limit keys)`,
  );
  Date.now = realDateNow;
  if (ONLY !== "engine") await auditBench();
}

main()
  .then(async () => {
    if (ONLY !== undefined && ONLY !== "") return;
    // After main() has returned, so its million-context workload can be collected first.
    (globalThis as { gc?: () => void }).gc?.();
    await redisBench();
    await llmOverheadBench();
    importBench();
  })
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
