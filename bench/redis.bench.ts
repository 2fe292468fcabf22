/**
 * The Redis state benchmark (`BENCH_ONLY=redis npm run bench`, and part of `npm run bench`):
 * decisions per second and p50/p99 latency of a per-user rate limit plus a global budget
 * kept in one real Redis, at 1 and at 64 decisions in flight, by two contenders in one run:
 *
 * - **hexarch-guardrails**: `LocalDecisionClient` with `RedisStateStore` — both counters
 *   checked and consumed by one Lua script, all or nothing (the decisions asked in one
 *   turn of the event loop share that script, decided in order);
 * - **rate-limiter-flexible**: two `RateLimiterRedis` (node-redis, `useRedisPackage`), the
 *   rate limit consumed first and then the budget, with `reward` giving back what a refused
 *   decision took, so that it too consumes all or nothing; once on a default client, once
 *   on a client without node-redis's per-command timeout (see {@link newClient}).
 *
 * Each uses its own node-redis connection to the same Redis, fresh keys for every run,
 * and the same stream of decisions. Redis requests per decision are counted by Redis
 * itself (`INFO commandstats`: EVAL + EVALSHA + EXEC calls), and for hexarch also at the
 * client; CPU per decision is Redis's (`INFO cpu`) plus this process's (`process.cpuUsage`).
 * Throughput is the median of `BENCH_RUNS` runs (contenders alternate); latency
 * percentiles pool every decision of those runs. `BENCH_REDIS_DECISIONS` (default 40,000)
 * sets the decisions per run at 64 in flight (a quarter of it at 1), and
 * `HEXARCH_BENCH_REDIS_URL` the server. Without a reachable Redis the part is skipped.
 */

import { randomUUID } from "node:crypto";
import { RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import { createClient } from "redis";
import { LocalDecisionClient } from "../src/decision/local-decision-client.ts";
import { parsePolicies } from "../src/policy/load.ts";
import { RedisStateStore } from "../src/redis/index.ts";
import { prng } from "./workload.ts";

const REDIS_URL = process.env.HEXARCH_BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
/** Decisions per run at 64 in flight; a quarter of that at 1 in flight. */
const DECISIONS = Number(process.env.BENCH_REDIS_DECISIONS ?? 40_000);
const USERS = 1000;
const PER_USER_PER_MINUTE = 100;
const BUDGET_USD = 1.2;
const COST_USD = 0.0001;
const COST_MICROS = Math.round(COST_USD * 1e6);
const BUDGET_MICROS = Math.round(BUDGET_USD * 1e6);

/** One decision of the stream. */
interface Call {
  readonly userId: string;
  readonly resource: "openai" | "postgres";
  readonly cost?: number;
}

/** 0 allowed, 1 refused by the rate limit or the budget, 2 failed. */
type Verdict = 0 | 1 | 2;
type Decide = (call: Call) => Promise<Verdict>;

const POLICIES = `
policies:
  - id: llm
    rules:
      - id: per_user
        resource: "*"
        requests_per_minute: ${PER_USER_PER_MINUTE}
        per: userId
        action: block
      - id: budget
        resource: openai
        monthly_budget: ${BUDGET_USD}
        action: block
`;

/**
 * A skewed stream: a few users are hot (user-0 alone gets 10% of the calls, so the rate
 * limit refuses some), half the calls are `openai` at $0.0001, and the $1.20 budget runs
 * out partway through a 64-in-flight run.
 */
function makeCalls(count: number, seed = 7): Call[] {
  const rand = prng(seed);
  return Array.from({ length: count }, () => {
    const userId = `user-${Math.floor(USERS * rand() ** 3)}`;
    return rand() < 0.5
      ? { userId, resource: "openai", cost: COST_USD }
      : { userId, resource: "postgres" };
  });
}

/**
 * node-redis 6 and later time every command with an `AbortSignal.timeout` of its own (5 s
 * unless `commandOptions.timeout` says otherwise). `RedisStateStore` turns that off for its
 * commands (it times them itself, with one shared timer); rate-limiter-flexible has no
 * timeout of its own, so it runs twice: on a default client (timed by node-redis), and on
 * one with `commandOptions: { timeout: 0 }` (no command timeout at all: faster, and less
 * safe) — the peer at its fastest.
 */
const newClient = (untimed = false) =>
  createClient({ url: REDIS_URL, ...(untimed && { commandOptions: { timeout: 0 } }) });
type NodeRedis = ReturnType<typeof newClient>;

async function connect(untimed = false): Promise<NodeRedis> {
  const client = newClient(untimed);
  client.on("error", () => {});
  await client.connect();
  return client;
}

/** hexarch-guardrails: one prepared check, both counters in one script. */
function hexarch(client: NodeRedis, keyPrefix: string, sent: { n: number }): Decide {
  const counted = {
    sendCommand: (args: string[], options?: Record<string, unknown>) => {
      sent.n++;
      return client.sendCommand(args, options);
    },
  };
  const decisions = new LocalDecisionClient({
    policies: parsePolicies(POLICIES),
    state: new RedisStateStore({ client: counted, keyPrefix }),
  });
  const check = decisions.check("llm");
  return async (call) => {
    const d = await check.decide(call as unknown as Record<string, unknown>);
    if (d.allowed) return 0;
    return d.error === undefined ? 1 : 2;
  };
}

const refused = (e: unknown) => e instanceof RateLimiterRes;

/** rate-limiter-flexible: two RateLimiterRedis, consumed in turn, rewarded back on refusal. */
function peer(client: NodeRedis, keyPrefix: string): Decide {
  const rate = new RateLimiterRedis({
    storeClient: client,
    useRedisPackage: true,
    keyPrefix: `${keyPrefix}rate`,
    points: PER_USER_PER_MINUTE,
    duration: 60,
  });
  const budget = new RateLimiterRedis({
    storeClient: client,
    useRedisPackage: true,
    keyPrefix: `${keyPrefix}budget`,
    points: BUDGET_MICROS,
    duration: 30 * 86_400,
  });
  return async (call) => {
    try {
      await rate.consume(call.userId, 1);
    } catch (e) {
      if (!refused(e)) return 2;
      // A refused request counted past the limit; give it back so refusals consume nothing.
      await rate.reward(call.userId, 1);
      return 1;
    }
    if (call.resource !== "openai") return 0;
    try {
      await budget.consume("openai", COST_MICROS);
      return 0;
    } catch (e) {
      if (!refused(e)) return 2;
      // All or nothing: the refused budget amount and the rate limit's point go back.
      await Promise.all([budget.reward("openai", COST_MICROS), rate.reward(call.userId, 1)]);
      return 1;
    }
  };
}

/** Seconds of CPU Redis has used so far (user + system, all its threads). */
async function redisCpu(admin: NodeRedis): Promise<number> {
  const info = String(await admin.sendCommand(["INFO", "cpu"]));
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(info)?.[1]);
  return field("used_cpu_user") + field("used_cpu_sys");
}

/** Calls to EVAL, EVALSHA and EXEC so far, by Redis's own count. */
async function scriptCalls(admin: NodeRedis): Promise<number> {
  const info = String(await admin.sendCommand(["INFO", "commandstats"]));
  let n = 0;
  for (const m of info.matchAll(/^cmdstat_(eval|evalsha|exec):calls=(\d+)/gm)) n += Number(m[2]);
  return n;
}

async function dropKeys(admin: NodeRedis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = (await admin.sendCommand([
      "SCAN",
      cursor,
      "MATCH",
      `${prefix}*`,
      "COUNT",
      "1000",
    ])) as [string, string[]];
    cursor = next;
    if (keys.length) await admin.sendCommand(["UNLINK", ...keys]);
  } while (cursor !== "0");
}

interface RunResult {
  readonly seconds: number;
  readonly latenciesMs: Float64Array;
  readonly counts: [number, number, number];
  readonly requests: number;
  /** CPU seconds used by Redis and by this process during the run. */
  readonly redisCpu: number;
  readonly nodeCpu: number;
}

/** Decides every call, `inFlight` at a time. */
async function run(
  decide: Decide,
  calls: readonly Call[],
  inFlight: number,
  admin: NodeRedis,
): Promise<RunResult> {
  const latenciesMs = new Float64Array(calls.length);
  const counts: [number, number, number] = [0, 0, 0];
  const before = await scriptCalls(admin);
  const redisBefore = await redisCpu(admin);
  const nodeBefore = process.cpuUsage();
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < calls.length) {
        const i = next++;
        const s = performance.now();
        counts[await decide(calls[i] as Call)]++;
        latenciesMs[i] = performance.now() - s;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const node = process.cpuUsage(nodeBefore);
  const redisCpuUsed = (await redisCpu(admin)) - redisBefore;
  const requests = (await scriptCalls(admin)) - before;
  return {
    seconds,
    latenciesMs,
    counts,
    requests,
    redisCpu: redisCpuUsed,
    nodeCpu: (node.user + node.system) / 1e6,
  };
}

interface Summary {
  readonly name: string;
  readonly inFlight: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly requestsPerDecision: number;
  /** CPU µs per decision: Redis's, and this process's (the client, all its threads). */
  readonly redisUs: number;
  readonly nodeUs: number;
  readonly counts: [number, number, number];
  readonly clientCommandsPerDecision?: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number;
}

async function reachable(): Promise<boolean> {
  const client = createClient({
    url: REDIS_URL,
    socket: { connectTimeout: 2000, reconnectStrategy: false },
  });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.close();
    return true;
  } catch {
    return false;
  }
}

/** Runs the Redis benchmark and prints its table. */
export async function redisBench(): Promise<void> {
  console.log(
    "\nredis: per-user rate limit + global budget in one Redis, hexarch vs rate-limiter-flexible",
  );
  if (!(await reachable())) {
    console.log(`  skipped: Redis is not reachable at ${REDIS_URL} (HEXARCH_BENCH_REDIS_URL)`);
    return;
  }
  const admin = await connect();
  const ours = await connect();
  const theirs = await connect();
  const theirsUntimed = await connect(true);
  const server = String(await admin.sendCommand(["INFO", "server"]));
  const version = /redis_version:(\S+)/.exec(server)?.[1] ?? "?";
  console.log(
    `  Redis ${version} at ${REDIS_URL}, node ${process.version}; ${USERS.toLocaleString("en-US")} users (skewed), ${PER_USER_PER_MINUTE}/minute per user, $${BUDGET_USD} budget, half the calls openai at $${COST_USD}`,
  );
  const summaries: Summary[] = [];
  try {
    for (const inFlight of [1, 64]) {
      const calls = makeCalls(inFlight === 1 ? Math.round(DECISIONS / 4) : DECISIONS);
      const contenders = [
        { name: "hexarch-guardrails (RedisStateStore)", client: ours, hexarch: true },
        { name: PEER, client: theirs, hexarch: false },
        { name: PEER_UNTIMED, client: theirsUntimed, hexarch: false },
      ];
      const results = new Map<string, RunResult[]>();
      const sentBy = new Map<string, number>();
      // Warm-up (loads the scripts, the JIT), then RUNS alternating rounds.
      for (let round = -1; round < RUNS; round++) {
        for (const c of contenders) {
          const prefix = `hexarch-bench:${randomUUID().slice(0, 8)}:`;
          const sent = { n: 0 };
          const decide = c.hexarch ? hexarch(c.client, prefix, sent) : peer(c.client, prefix);
          const r = await run(decide, round < 0 ? calls.slice(0, 2000) : calls, inFlight, admin);
          await dropKeys(admin, prefix);
          if (round < 0) continue;
          results.set(c.name, [...(results.get(c.name) ?? []), r]);
          sentBy.set(c.name, (sentBy.get(c.name) ?? 0) + sent.n);
        }
      }
      for (const c of contenders) {
        const rs = results.get(c.name) as RunResult[];
        const all = new Float64Array(rs.reduce((n, r) => n + r.latenciesMs.length, 0));
        let o = 0;
        for (const r of rs) {
          all.set(r.latenciesMs, o);
          o += r.latenciesMs.length;
        }
        all.sort();
        const decisions = calls.length * rs.length;
        summaries.push({
          name: c.name,
          inFlight,
          perSecond: median(rs.map((r) => calls.length / r.seconds)),
          p50Ms: percentile(all, 0.5),
          p99Ms: percentile(all, 0.99),
          requestsPerDecision: rs.reduce((n, r) => n + r.requests, 0) / decisions,
          redisUs: (rs.reduce((n, r) => n + r.redisCpu, 0) * 1e6) / decisions,
          nodeUs: (rs.reduce((n, r) => n + r.nodeCpu, 0) * 1e6) / decisions,
          counts: (rs.at(-1) as RunResult).counts,
          ...(c.hexarch && { clientCommandsPerDecision: (sentBy.get(c.name) ?? 0) / decisions }),
        });
      }
    }
  } finally {
    await Promise.all([admin.close(), ours.close(), theirs.close(), theirsUntimed.close()]);
  }
  printTable(summaries);
}

const PEER = "rate-limiter-flexible (2x RateLimiterRedis)";
const PEER_UNTIMED = "  the same, client without command timeout";

function printTable(summaries: readonly Summary[]): void {
  const head = [
    "contender",
    "in flight",
    "decisions/s",
    "p50",
    "p99",
    "Redis requests/decision",
    "CPU µs/decision Redis + node",
    "allowed / refused / failed",
  ];
  const rows = summaries.map((s) => [
    s.name,
    String(s.inFlight),
    `${(s.perSecond / 1000).toFixed(1)}k`,
    `${(s.p50Ms * 1000).toFixed(0)} µs`,
    `${(s.p99Ms * 1000).toFixed(0)} µs`,
    s.requestsPerDecision.toFixed(2) +
      (s.clientCommandsPerDecision === undefined
        ? ""
        : ` (client sent ${s.clientCommandsPerDecision.toFixed(2)})`),
    `${s.redisUs.toFixed(1)} + ${s.nodeUs.toFixed(1)}`,
    s.counts.map((c) => c.toLocaleString("en-US")).join(" / "),
  ]);
  const widths = head.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => (r[i] as string).length)),
  );
  const line = (cells: readonly string[]) =>
    `  ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join("  ")}`;
  console.log(line(head));
  console.log(`  ${widths.map((w) => "-".repeat(w)).join("  ")}`);
  for (const r of rows) console.log(line(r));
  for (const inFlight of [1, 64]) {
    const [a, ...peers] = summaries.filter((s) => s.inFlight === inFlight) as [
      Summary,
      Summary,
      Summary,
    ];
    for (const b of peers) {
      const which = b.name === PEER ? "rate-limiter-flexible" : "it without command timeout";
      console.log(
        `  ${inFlight} in flight: hexarch ${(a.perSecond / b.perSecond).toFixed(2)}x the decisions/s of ${which}, p50 ${(a.p50Ms / b.p50Ms).toFixed(2)}x, p99 ${(a.p99Ms / b.p99Ms).toFixed(2)}x its latency, ${((b.redisUs + b.nodeUs) / (a.redisUs + a.nodeUs)).toFixed(2)}x less CPU per decision`,
      );
    }
  }
  console.log(
    "  notes: requests are EVAL/EVALSHA/EXEC calls counted by Redis (INFO commandstats); CPU is Redis's (INFO cpu) and this process's (process.cpuUsage), both on the same machine",
  );
  console.log(
    "  rate-limiter-flexible needs 2 requests in turn for an allowed openai call and gives a refused call's points back with reward (1-2 more); its windows are fixed, hexarch's slide",
  );
  console.log(
    "  node-redis 6+ times each command itself (AbortSignal.timeout, 5 s by default); RedisStateStore turns that off and times its commands with one shared timer (commandTimeoutMs); the last peer row has no command timeout at all",
  );
  console.log(
    "  RedisStateStore sends the decisions asked in one turn of the event loop as one script, decided in order (two scripts when none is out, so that Redis and this process work at once; at most 128 decisions a script): each decision waits for exactly one round trip, and Redis runs far fewer requests than decisions",
  );
}
