import {
  type ChildProcess,
  type ChildProcessWithoutNullStreams,
  spawn,
  spawnSync,
} from "node:child_process";
import { randomUUID } from "node:crypto";
import { createServer } from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { createClient, RESP_TYPES } from "redis";
import { afterAll, describe, expect, it, vi } from "vitest";
import {
  type Counter,
  DecisionBackendError,
  Guardian,
  GuardrailError,
  LocalDecisionClient,
  MemoryStateStore,
  PolicyViolation,
  parsePolicies,
  type StateStore,
} from "../../src/index.ts";
import { perPolicyHashTag, type RedisLike, RedisStateStore } from "../../src/redis/index.ts";
import {
  periodCounter,
  runStateStoreContract,
  windowCounter,
} from "../contract/state-store.contract.ts";
import { REDIS_URL, redisForFile } from "../support/redis.ts";

/** One client for the tests' own looks into Redis; undefined when it is not reachable. */
const admin = await redisForFile("the RedisStateStore tests", "RedisStateStore against Redis");
const _available = admin !== undefined;

const redis = () => {
  if (!admin) throw new Error("Redis is not reachable");
  return admin;
};

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);

/** A key prefix no other test or run uses. */
const uniquePrefix = () => `hexarch-test:${randomUUID().slice(0, 8)}:state:`;

async function keysUnder(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = (await redis().sendCommand([
      "SCAN",
      cursor,
      "MATCH",
      `${prefix}*`,
      "COUNT",
      "1000",
    ])) as [string, string[]];
    cursor = next;
    keys.push(...batch);
  } while (cursor !== "0");
  return keys.sort();
}

async function dropKeys(prefix: string): Promise<void> {
  const keys = await keysUnder(prefix);
  if (keys.length) await redis().sendCommand(["UNLINK", ...keys]);
}

/** A key's raw bytes. */
async function raw(key: string): Promise<Buffer> {
  return (await redis().sendCommand(["GET", key], {
    typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer },
  })) as Buffer;
}

/**
 * A budget as stored (layout 2, see state-scripts.ts): the byte 2, then the total and the
 * period's end as little-endian doubles.
 */
async function budgetOf(key: string) {
  const bytes = await raw(key);
  expect(bytes.length).toBe(17);
  expect(bytes[0]).toBe(2);
  return { total: bytes.readDoubleLE(1), endMs: bytes.readDoubleLE(9) };
}

/**
 * A rate-limit window as stored (layout 2): the byte 2, then little-endian doubles — the
 * header (newest bucket, bucket width, window length, sum), then a (count, latest time)
 * pair per bucket.
 */
async function windowOf(key: string) {
  const bytes = await raw(key);
  expect(bytes[0]).toBe(2);
  const numbers = Array.from({ length: (bytes.length - 1) / 8 }, (_, i) =>
    bytes.readDoubleLE(1 + i * 8),
  );
  const pairs = numbers.slice(4);
  return {
    head: numbers[0],
    bucketMs: numbers[1],
    windowMs: numbers[2],
    total: numbers[3],
    counts: pairs.filter((_, i) => i % 2 === 0),
    lasts: pairs.filter((_, i) => i % 2 === 1),
  };
}

/** A node-redis-shaped client that records the commands sent through it. */
function counting(): { client: RedisLike; sent: string[][] } {
  const sent: string[][] = [];
  return {
    sent,
    client: {
      sendCommand: (args, options) => {
        sent.push(args);
        return redis().sendCommand(args, options);
      },
    },
  };
}

if (admin) {
  runStateStoreContract("RedisStateStore (client)", async () => {
    const keyPrefix = uniquePrefix();
    return {
      store: new RedisStateStore({ client: admin, keyPrefix }),
      cleanup: () => dropKeys(keyPrefix),
    };
  });

  runStateStoreContract("RedisStateStore (url)", async () => {
    const keyPrefix = uniquePrefix();
    const store = new RedisStateStore({ url: REDIS_URL, keyPrefix });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await dropKeys(keyPrefix);
      },
    };
  });

  describe("RedisStateStore against Redis", () => {
    const prefixes: string[] = [];
    const prefix = () => {
      const p = uniquePrefix();
      prefixes.push(p);
      return p;
    };
    afterAll(async () => {
      for (const p of prefixes) await dropKeys(p);
    });

    it("keeps a window at <prefix>{all}:<key> as packed doubles that expire a window, a bucket and the clock tolerance after its newest bucket", async () => {
      const keyPrefix = prefix();
      const store = new RedisStateStore({ client: admin, keyPrefix });
      await store.consume([windowCounter("rate_limit/rules[0]:w60000:0|alice", 5)], T0 + 1000);
      await store.consume([windowCounter("rate_limit/rules[0]:w60000:0|alice", 5)], T0 + 1500);
      const key = `${keyPrefix}{all}:rate_limit/rules[0]:w60000:0|alice`;
      expect(store.redisKey("rate_limit/rules[0]:w60000:0|alice")).toBe(key);
      expect(await keysUnder(keyPrefix)).toEqual([key]);
      // 6 s buckets; the newest is bucket floor((T0 + 1000) / 6000), in slot bucket % 11.
      const bucket = Math.floor((T0 + 1000) / 6000);
      const counts = Array<number>(11).fill(0);
      counts[bucket % 11] = 2;
      const lasts = Array<number>(11).fill(0);
      lasts[bucket % 11] = T0 + 1500;
      expect(await windowOf(key)).toEqual({
        head: bucket,
        bucketMs: 6000,
        windowMs: 60_000,
        total: 2,
        counts,
        lasts,
      });
      // Forgotten when its newest bucket has left the window, plus 1 s of clock tolerance.
      const ttl = Number(await admin.sendCommand(["PTTL", key]));
      const expected = (bucket + 11) * 6000 - (T0 + 1000) + 1000;
      expect(ttl).toBeLessThanOrEqual(expected);
      expect(ttl).toBeGreaterThan(expected - 2000);
      // A move to a later bucket moves the expiry with it.
      await store.consume([windowCounter("rate_limit/rules[0]:w60000:0|alice", 5)], T0 + 30_000);
      const later = Math.floor((T0 + 30_000) / 6000);
      expect((await windowOf(key)).head).toBe(later);
      const ttl2 = Number(await admin.sendCommand(["PTTL", key]));
      expect(ttl2).toBeLessThanOrEqual((later + 11) * 6000 - (T0 + 30_000) + 1000);
      expect(ttl2).toBeGreaterThan((later + 11) * 6000 - (T0 + 30_000) - 1000);
    });

    it("keeps a budget as its total and period end, forgotten when the period ends", async () => {
      const keyPrefix = prefix();
      const store = new RedisStateStore({ client: admin, keyPrefix, clockToleranceMs: 5000 });
      const end = T0 + 3_600_000;
      await store.consume([periodCounter("api_budget/rules[0]:$m682|", 10_000_000, 2500, end)], T0);
      const key = `${keyPrefix}{all}:api_budget/rules[0]:$m682|`;
      expect(await budgetOf(key)).toEqual({ total: 2500, endMs: end });
      const ttl = Number(await admin.sendCommand(["PTTL", key]));
      expect(ttl).toBeLessThanOrEqual(3_600_000 + 5000);
      expect(ttl).toBeGreaterThan(3_600_000);
      // Settling keeps the key's lifetime.
      await store.adjust([{ key: "api_budget/rules[0]:$m682|", delta: -500, expiresAtMs: end }]);
      expect(await budgetOf(key)).toEqual({ total: 2000, endMs: end });
      expect(Number(await admin.sendCommand(["PTTL", key]))).toBeGreaterThan(3_600_000);
    });

    it("takes one round trip per decision, and one per settle", async () => {
      const { client, sent } = counting();
      const keyPrefix = prefix();
      const state = new RedisStateStore({ client, keyPrefix });
      const decisions = new LocalDecisionClient({
        policies: parsePolicies(`
policies:
  - id: llm
    rules:
      - resource: "*"
        requests_per_minute: 100
        per: userId
        action: block
      - resource: openai
        monthly_budget: 10
        action: warn_at_80%
`),
        state,
      });
      const check = decisions.check("llm");
      await check.decide({ userId: "warm-up", resource: "openai", cost: 0.01 }); // loads the script
      sent.length = 0;
      const made = [];
      for (let i = 0; i < 20; i++) {
        made.push(await check.decide({ userId: `u${i % 3}`, resource: "openai", cost: 0.01 }));
      }
      expect(made.every((d) => d.allowed)).toBe(true);
      expect(sent.map((a) => a[0])).toEqual(Array(20).fill("EVALSHA"));
      // Two counters (the user's window and the budget) in that one script.
      expect(sent[0]?.[2]).toBe("2");
      // Its numbers as one JSON array (precision, tolerance, one decision, its now and
      // number of counters, then limit, amount and window or period end of each counter),
      // its kinds as letters.
      const numbers = JSON.parse(sent[0]?.[5] as string) as number[];
      expect(numbers).toHaveLength(11);
      expect(numbers.slice(0, 3)).toEqual([10, 1000, 1]);
      expect(numbers[4]).toBe(2);
      expect(sent[0]?.[6]).toBe("WP");
      sent.length = 0;
      await decisions.settle(made[0] as (typeof made)[number], { costUsd: 0.002 });
      expect(sent.map((a) => a[0])).toEqual(["EVALSHA"]);
      const budgetKey = (await keysUnder(keyPrefix)).find((k) => k.includes("$m"));
      expect((await budgetOf(budgetKey as string)).total).toBe(21 * 10_000 - 8000);
    });

    it("answers exactly as MemoryStateStore for any sequence of decisions and adjustments (monotonic clock)", async () => {
      await fc.assert(
        fc.asyncProperty(opsArbitrary(false), async (ops) => {
          const keyPrefix = prefix();
          const ours = new RedisStateStore({ client: admin, keyPrefix, precision: 4 });
          try {
            await replay(ops, ours, new MemoryStateStore({ precision: 4 }));
          } finally {
            await dropKeys(keyPrefix);
          }
        }),
        { numRuns: Number(process.env.DIFF_RUNS ?? 60) },
      );
    });

    it("answers exactly as MemoryStateStore when the clock goes back and forth", async () => {
      await fc.assert(
        fc.asyncProperty(opsArbitrary(true), async (ops) => {
          const keyPrefix = prefix();
          const ours = new RedisStateStore({ client: admin, keyPrefix });
          try {
            // A memory store that never sweeps: it forgets nothing the clock may come back to.
            await replay(ops, ours, new MemoryStateStore({ sweepPerCall: 0 }));
          } finally {
            await dropKeys(keyPrefix);
          }
        }),
        { numRuns: Number(process.env.DIFF_RUNS ?? 60) },
      );
    });

    it("decides decisions asked together exactly as MemoryStateStore deciding them one after another", async () => {
      await fc.assert(
        fc.asyncProperty(
          opsArbitrary(true),
          fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 30 }),
          async (ops, sizes) => {
            const keyPrefix = prefix();
            const ours = new RedisStateStore({ client: admin, keyPrefix });
            try {
              await replay(ops, ours, new MemoryStateStore({ sweepPerCall: 0 }), sizes);
            } finally {
              await dropKeys(keyPrefix);
            }
          },
        ),
        { numRuns: Number(process.env.DIFF_RUNS ?? 60) },
      );
    });

    it("decides the decisions asked in one turn with one script, at most 128 a script", async () => {
      const { client, sent } = counting();
      const keyPrefix = prefix();
      const store = new RedisStateStore({ client, keyPrefix });
      const budget = (amount: number) => periodCounter("shared-budget", 1000, amount, T0 + 60_000);
      const results = await Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          store.consume([windowCounter(`user-${i % 7}`, 40), budget(5)], T0 + i),
        ),
      );
      // 128 + 128 + 44 decisions: three scripts, each decision waiting for one of them.
      expect(sent.map((a) => a[0])).toEqual(["EVALSHA", "EVALSHA", "EVALSHA"]);
      expect(sent.map((a) => Number(a[2]))).toEqual([256, 256, 88]);
      // In order: the budget of 1000 admits the first 200 at 5 each, then refuses.
      expect(results.filter((r) => r.admitted)).toHaveLength(200);
      expect(results.slice(0, 200).every((r) => r.admitted)).toBe(true);
      expect(results[199]?.totals[1]).toBe(1000);
      // Decision 200 is user-4's 29th: 28 admitted before it.
      expect(results[200]).toEqual({ admitted: false, totals: [28, 1000], refusedIndex: 1 });
      // Each user's window counted only its admitted decisions.
      expect((await windowOf(store.redisKey("user-0"))).total).toBe(29);
      expect((await budgetOf(store.redisKey("shared-budget"))).total).toBe(1000);
    });

    it("fails only the decision whose key holds something else, not the others asked with it", async () => {
      const keyPrefix = prefix();
      const store = new RedisStateStore({ client: admin, keyPrefix });
      await admin.sendCommand(["HSET", store.redisKey("not-a-counter"), "f", "1"]);
      await admin.sendCommand(["SET", store.redisKey("short-budget"), "xyz"]);
      const [before, wrongType, wrongLayout, both, after] = await Promise.allSettled([
        store.consume([windowCounter("w", 5), periodCounter("b", 100, 10)], T0),
        store.consume([windowCounter("w", 5), windowCounter("not-a-counter", 5)], T0),
        store.consume([periodCounter("short-budget", 100, 1), windowCounter("w", 5)], T0),
        store.consume([windowCounter("w", 5), periodCounter("w", 100, 1)], T0),
        store.consume([windowCounter("w", 5), periodCounter("b", 100, 10)], T0),
      ]);
      expect(before).toEqual({
        status: "fulfilled",
        value: { admitted: true, totals: [1, 10], refusedIndex: -1 },
      });
      expect(after).toEqual({
        status: "fulfilled",
        value: { admitted: true, totals: [2, 20], refusedIndex: -1 },
      });
      for (const [failed, reason] of [
        [wrongType, /not-a-counter: WRONGTYPE/],
        [wrongLayout, /short-budget does not hold a budget/],
        [both, /:w is both a window and a budget/],
      ] as const) {
        expect(failed.status).toBe("rejected");
        const err = (failed as PromiseRejectedResult).reason as Error;
        expect(err).toBeInstanceOf(DecisionBackendError);
        expect(err.message).toMatch(reason);
      }
      // Nothing was counted for the failed ones: the window saw two decisions.
      expect((await windowOf(store.redisKey("w"))).total).toBe(2);
    });

    it("decides in the order asked across scripts, corrections and close", async () => {
      const keyPrefix = prefix();
      const store = new RedisStateStore({ client: admin, keyPrefix });
      const w = windowCounter("order-w", 2);
      // p1 and p2 go as two scripts (the second a turn later); p3, asked in between,
      // goes behind p2: the limit of 2 admits p1 and p2, and refuses p3.
      const p1 = store.consume([w], T0);
      const p2 = store.consume([w], T0);
      await new Promise((r) => process.nextTick(r));
      const p3 = store.consume([w], T0);
      expect((await Promise.all([p1, p2, p3])).map((r) => r.admitted)).toEqual([true, true, false]);
      // A correction asked after a decision reaches Redis after it.
      const end = T0 + 60_000;
      const consumed = store.consume([periodCounter("order-b", 100, 10, end)], T0);
      const corrected = store.adjust([{ key: "order-b", delta: -4, expiresAtMs: end }]);
      await Promise.all([consumed, corrected]);
      expect((await budgetOf(store.redisKey("order-b"))).total).toBe(6);
      // Decisions asked before close are answered, from a store that owns its connection.
      const owned = new RedisStateStore({ url: REDIS_URL, keyPrefix });
      await owned.consume([windowCounter("order-c", 5)], T0); // connected
      const asked = [1, 2, 3].map(() => owned.consume([windowCounter("order-c", 5)], T0));
      await owned.close();
      expect((await Promise.all(asked)).map((r) => r.totals[0])).toEqual([2, 3, 4]);
    });

    it("refuses a window that does not last a positive time, alone", async () => {
      const store = new RedisStateStore({ client: admin, keyPrefix: prefix() });
      const [good, zero, nan] = await Promise.allSettled([
        store.consume([windowCounter("ok", 5)], T0),
        store.consume([windowCounter("zero", 5, 0)], T0),
        store.consume([windowCounter("nan", 5, Number.NaN)], T0),
      ]);
      expect(good.status).toBe("fulfilled");
      for (const bad of [zero, nan]) {
        expect(bad.status).toBe("rejected");
        expect((bad as PromiseRejectedResult).reason).toBeInstanceOf(GuardrailError);
        expect(((bad as PromiseRejectedResult).reason as Error).message).toMatch(
          /must last a positive number of ms/,
        );
      }
    });

    it("answers an infinite total as infinite", async () => {
      const store = new RedisStateStore({ client: admin, keyPrefix: prefix() });
      const soft = { ...periodCounter("inf", 10, Number.POSITIVE_INFINITY), hard: false };
      expect(await store.consume([soft], T0)).toEqual(new MemoryStateStore().consume([soft], T0));
    });

    it("sends decisions of different hash tags in different scripts", async () => {
      const { client, sent } = counting();
      const keyPrefix = prefix();
      const store = new RedisStateStore({ client, keyPrefix, hashTag: perPolicyHashTag });
      const results = await Promise.all([
        store.consume([windowCounter("p1/rate:w1000:0|u", 5)], T0),
        store.consume([windowCounter("p2/rate:w1000:0|u", 5)], T0),
        store.consume([windowCounter("p1/rate:w1000:0|u", 5)], T0),
      ]);
      expect(results.map((r) => r.totals[0])).toEqual([1, 1, 2]);
      // Every script's keys share one tag; p2's decision went in a script of its own.
      const tagsPerScript = sent.map(
        (a) => new Set(a.slice(3, 3 + Number(a[2])).map((k) => /\{(\w+)\}/.exec(k)?.[1])),
      );
      expect(tagsPerScript.every((tags) => tags.size === 1)).toBe(true);
      expect(tagsPerScript.filter((tags) => tags.has("p2"))).toHaveLength(1);
      expect(sent.reduce((n, a) => n + Number(a[2]), 0)).toBe(3);
    });

    it("keeps two scripts out: a batch asked while none is out goes as two, the second a turn later", async () => {
      const { client, sent } = counting();
      const keyPrefix = prefix();
      const store = new RedisStateStore({ client, keyPrefix });
      const ask = (count: number, from: number) =>
        Array.from({ length: count }, (_, i) =>
          store.consume([windowCounter(`u${from + i}`, 5)], T0),
        );
      const first = ask(10, 0);
      await new Promise((r) => process.nextTick(r));
      // The first half left at once; the second waits for the next turn of the event loop.
      expect(sent.map((a) => Number(a[2]))).toEqual([5]);
      await new Promise((r) => setImmediate(r));
      expect(sent.map((a) => Number(a[2]))).toEqual([5, 5]);
      // Asked while scripts are out, a batch goes whole.
      const second = ask(6, 10);
      await new Promise((r) => process.nextTick(r));
      expect(sent.map((a) => Number(a[2]))).toEqual([5, 5, 6]);
      const results = await Promise.all([...first, ...second]);
      expect(results.every((r) => r.admitted && r.totals[0] === 1)).toBe(true);
    });

    it("matches MemoryStateStore at the smallest and the largest precision", async () => {
      for (const precision of [1, 7, 1000]) {
        const keyPrefix = prefix();
        const ours = new RedisStateStore({ client: admin, keyPrefix, precision });
        const reference = new MemoryStateStore({ precision });
        for (let i = 0; i < 40; i++) {
          const counters = [windowCounter("w", 5, 1000), periodCounter("b", 30, i % 3)];
          const now = T0 + i * 97;
          expect(await ours.consume(counters, now), `precision ${precision}, step ${i}`).toEqual(
            reference.consume(counters, now),
          );
        }
      }
    });

    it("puts a decision's keys in one hash-tag slot per policy with perPolicyHashTag, and refuses a decision across tags", async () => {
      expect(perPolicyHashTag("rate_limit/rules[0]:w60000:0|u1")).toBe("rate_limit");
      expect(perPolicyHashTag("we{ir}d/x:w1:0|")).toBe("we_ir_d");
      expect(perPolicyHashTag("no-slash")).toBe("no-slash");
      const { client, sent } = counting();
      const keyPrefix = prefix();
      const store = new RedisStateStore({ client, keyPrefix, hashTag: perPolicyHashTag });
      await store.consume(
        [windowCounter("p1/rate:w1000:0|u", 5), periodCounter("p1/budget:$d1|", 10, 1)],
        T0,
      );
      expect(await keysUnder(keyPrefix)).toEqual([
        `${keyPrefix}{p1}:p1/budget:$d1|`,
        `${keyPrefix}{p1}:p1/rate:w1000:0|u`,
      ]);
      sent.length = 0;
      const err = await store
        .consume([windowCounter("p1/rate:w1000:0|u", 5), periodCounter("p2/b:$d1|", 10, 1)], T0)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GuardrailError);
      expect((err as Error).message).toMatch(/must share a hash tag.*\{p1\}.*\{p2\}/);
      expect(sent).toEqual([]);
      // A fixed tag of one's own works too; a tag with braces is refused when built.
      const tenant = new RedisStateStore({ client: admin, keyPrefix, hashTag: "tenant-7" });
      expect(tenant.redisKey("k")).toBe(`${keyPrefix}{tenant-7}:k`);
      expect(() => new RedisStateStore({ client: admin, hashTag: "a}b" })).toThrow(/hash tag/);
    });

    it("holds one rate limit and one budget exactly across 4 processes deciding at once", async () => {
      const keyPrefix = prefix();
      const fixture = fileURLToPath(new URL("../fixtures/redis-worker.ts", import.meta.url));
      const children = [0, 1, 2, 3].map((i) =>
        spawn(process.execPath, [fixture, REDIS_URL, keyPrefix, String(T0), "500", "8", `${i}`]),
      );
      try {
        const outputs = children.map((child) => lines(child));
        await Promise.all(outputs.map((o) => o.next()));
        for (const child of children) child.stdin.write("go\n");
        const results = await Promise.all(
          outputs.map(
            async (o) =>
              JSON.parse(await o.next()) as {
                pid: number;
                admitted: number;
                admittedOpenai: number;
                admittedMicros: number;
                refusedByRate: number;
                refusedByBudget: number;
                other: string[];
                startedAt: number;
                endedAt: number;
              },
          ),
        );
        const sum = (f: (r: (typeof results)[number]) => number) =>
          results.reduce((n, r) => n + f(r), 0);
        expect(new Set(results.map((r) => r.pid)).size).toBe(4);
        expect(results.flatMap((r) => r.other)).toEqual([]);
        // They decided at the same time: some two of them overlapped.
        const overlapping = results.filter((a) =>
          results.some((b) => a !== b && a.startedAt < b.endedAt && b.startedAt < a.endedAt),
        );
        expect(overlapping.length).toBeGreaterThanOrEqual(2);
        // 2,000 attempts: exactly the limit admitted, exactly the budget spent.
        expect(sum((r) => r.admitted + r.refusedByRate + r.refusedByBudget)).toBe(2000);
        expect(sum((r) => r.admitted)).toBe(300);
        expect(sum((r) => r.admittedOpenai)).toBe(20);
        expect(sum((r) => r.admittedMicros)).toBe(1_000_000);
        expect(sum((r) => r.refusedByBudget)).toBeGreaterThan(0);
        // All or nothing: the window counted only admitted calls (budget refusals did not
        // move it), and the budget only admitted openai calls (rate refusals did not move it).
        const keys = await keysUnder(keyPrefix);
        expect(keys).toHaveLength(2);
        const budget = keys.find((k) => k.includes(":$d")) as string;
        const rate = keys.find((k) => k.includes(":w60000:")) as string;
        expect((await budgetOf(budget)).total).toBe(1_000_000);
        expect((await windowOf(rate)).total).toBe(300);
      } finally {
        for (const child of children) child.kill();
      }
    });
  });
}

/** Reads a child's stdout line by line; fails with its stderr when it exits early. */
function lines(child: ChildProcessWithoutNullStreams): { next(): Promise<string> } {
  const queue: string[] = [];
  const waiting: { resolve: (line: string) => void; reject: (err: Error) => void }[] = [];
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  createInterface({ input: child.stdout }).on("line", (line) => {
    const w = waiting.shift();
    if (w) w.resolve(line);
    else queue.push(line);
  });
  child.on("exit", (code) => {
    for (const w of waiting.splice(0))
      w.reject(new Error(`child exited with ${code} before answering: ${stderr}`));
  });
  return {
    next: () => {
      const line = queue.shift();
      if (line !== undefined) return Promise.resolve(line);
      if (child.exitCode !== null)
        return Promise.reject(new Error(`child exited with ${child.exitCode}: ${stderr}`));
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
  };
}

// ---------------------------------------------------------------------------------------
// Differential testing against MemoryStateStore.

type Op =
  | { readonly kind: "consume"; readonly dt: number; readonly picks: readonly Pick[] }
  | { readonly kind: "adjust"; readonly delta: number };

interface Pick {
  readonly counter: number;
  readonly amount: number;
  readonly hard: boolean;
}

/**
 * Counters 0-2 are windows (1 s / precision-sized buckets, 60 s, 250 ms), 3-4 budgets: 3
 * never ends; 4's period is 2 s long and moves on (a new end) every 2 s of the clock.
 */
function counterFor(p: Pick, now: number): Counter {
  switch (p.counter) {
    case 0:
      return { ...windowCounter("w-1s", 4, 1000), hard: p.hard };
    case 1:
      return { ...windowCounter("w-60s", 12, 60_000), hard: p.hard };
    case 2:
      return { ...windowCounter("w-250ms", 2, 250), hard: p.hard };
    case 3:
      return periodCounter("budget-forever", 300, p.amount, T0 + 86_400_000, p.hard);
    default:
      return periodCounter(
        "budget-2s",
        200,
        p.amount,
        T0 + 2000 * (1 + Math.floor((now - T0) / 2000)),
        p.hard,
      );
  }
}

function opsArbitrary(clockMovesBack: boolean): fc.Arbitrary<Op[]> {
  const pick = fc.record({
    counter: fc.integer({ min: 0, max: 4 }),
    amount: fc.integer({ min: 0, max: 70 }),
    hard: fc.oneof(
      { arbitrary: fc.constant(true), weight: 4 },
      { arbitrary: fc.constant(false), weight: 1 },
    ),
  });
  const consume = fc.record({
    kind: fc.constant("consume" as const),
    dt: clockMovesBack ? fc.integer({ min: -400, max: 600 }) : fc.integer({ min: 0, max: 700 }),
    picks: fc.uniqueArray(pick, { minLength: 1, maxLength: 3, selector: (p) => p.counter }),
  });
  // Adjustments go to the budget that never ends. (The engine adjusts a budget with the
  // end it was consumed with; budget-2s keeps one key while its end moves, where the
  // memory store's answer would depend on whether its sweep had run.)
  const adjust = fc.record({
    kind: fc.constant("adjust" as const),
    delta: fc.integer({ min: -80, max: 80 }),
  });
  return fc.array(fc.oneof({ arbitrary: consume, weight: 5 }, { arbitrary: adjust, weight: 1 }), {
    minLength: 1,
    maxLength: 60,
  });
}

/**
 * Runs `ops` on both stores and expects the same answers. The consume steps go to `ours`
 * in groups of `sizes[g]` (cycled) asked in one turn without waiting (one by one, each
 * awaited, by default), while the reference decides them one by one.
 */
async function replay(
  ops: readonly Op[],
  ours: StateStore,
  reference: MemoryStateStore,
  sizes: readonly number[] = [1],
) {
  let now = T0;
  let group: { counters: Counter[]; now: number; step: number }[] = [];
  let g = 0;
  const decideGroup = async () => {
    const asked = group;
    group = [];
    g++;
    const got = await Promise.all(asked.map((q) => ours.consume(q.counters, q.now)));
    for (const [i, q] of asked.entries()) {
      const want = reference.consume(q.counters, q.now);
      expect(got[i], `step ${q.step} at T0+${q.now - T0}: ${JSON.stringify(q.counters)}`).toEqual(
        want,
      );
    }
  };
  for (const [step, op] of ops.entries()) {
    if (op.kind === "adjust") {
      if (group.length) await decideGroup();
      const counter = counterFor({ counter: 3, amount: 0, hard: true }, now);
      const adjustment = { key: counter.key, delta: op.delta, expiresAtMs: counter.expiresAtMs };
      await ours.adjust([adjustment]);
      reference.adjust([adjustment]);
      continue;
    }
    now += op.dt;
    group.push({ counters: op.picks.map((p) => counterFor(p, now)), now, step });
    if (group.length >= (sizes[g % sizes.length] as number)) await decideGroup();
  }
  if (group.length) await decideGroup();
}

// ---------------------------------------------------------------------------------------
// Outages, on a Redis server of the test's own (pausing or restarting the shared one would
// disturb the other test files running at the same time).

const hasRedisServer = spawnSync("redis-server", ["--version"]).status === 0;
if (!hasRedisServer) {
  if (process.env.CI) {
    describe("redis-server", () => {
      it("is installed (CI needs it for the Redis outage tests)", () => {
        throw new Error("redis-server is not on the PATH");
      });
    });
  } else {
    describe("RedisStateStore when Redis stops answering", () => {
      it.skip("needs the redis-server binary to start a private server", () => {});
    });
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** Starts `redis-server` on `port` (no persistence) and resolves once it accepts connections. */
function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  return new Promise((resolve, reject) => {
    let log = "";
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${log}`)), 10_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes("Ready to accept connections")) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}: ${log}`));
    });
  });
}

async function stopRedis(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}

const OUTAGE_POLICIES = `
policies:
  - id: limited
    rules:
      - resource: "*"
        requests_per_minute: 1000
        action: block
  - id: lenient
    fail_open: true
    rules:
      - resource: "*"
        requests_per_minute: 1000
        action: block
`;

/** Retries `attempt` until it resolves, for at most `ms`: Redis comes back when it does. */
const eventually = <T>(attempt: () => Promise<T>, ms: number): Promise<T> =>
  vi.waitFor(attempt, { timeout: ms, interval: 100 });

describe.runIf(hasRedisServer)("RedisStateStore when Redis stops answering", () => {
  it("fails guarded calls closed (open where the policy says so) while Redis is paused, then recovers", async () => {
    const port = await freePort();
    const server = await startRedis(port);
    const url = `redis://127.0.0.1:${port}`;
    const pauser = createClient({ url });
    pauser.on("error", () => {});
    await pauser.connect();
    const state = new RedisStateStore({ url, commandTimeoutMs: 300 });
    const guardian = new Guardian({ policies: OUTAGE_POLICIES, state, onWarn: () => {} });
    const strict = guardian.check("limited")(async () => "ran");
    const lenient = guardian.check("lenient")(async () => "ran");
    const failOpen = new Guardian({ policies: OUTAGE_POLICIES, state, failOpen: true });
    const anyway = failOpen.check("limited")(async () => "ran");
    try {
      // The first call connects and loads the script: on a loaded machine that may take
      // longer than the 300 ms command timeout, so it is retried.
      expect(await eventually(() => strict(), 5000)).toBe("ran");
      expect(await strict()).toBe("ran");
      await pauser.sendCommand(["CLIENT", "PAUSE", "3000"]);
      const pausedAt = Date.now();
      const err = await strict().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PolicyViolation);
      const violation = err as PolicyViolation;
      expect(violation.reason).toMatch(
        /^Policy 'limited' blocked the call: state store unavailable, failing closed \(Redis did not answer script state consume within 300 ms\)$/,
      );
      expect(violation.decision.error).toBeInstanceOf(DecisionBackendError);
      // A policy with fail_open: true, and a Guardian with failOpen: true, let calls run.
      expect(await lenient()).toBe("ran");
      expect(await anyway()).toBe("ran");
      const decision = await guardian.evaluate("limited", {});
      expect(decision).toMatchObject({ allowed: false, action: "block" });
      expect(Date.now() - pausedAt).toBeLessThan(2500); // all of that happened during the pause
      // Once Redis answers again, so do the guarded calls.
      expect(await eventually(() => strict(), 6000)).toBe("ran");
      expect(Date.now() - pausedAt).toBeGreaterThanOrEqual(2900);
    } finally {
      await guardian.close();
      await pauser.close().catch(() => {});
      await stopRedis(server);
    }
  });

  it("reconnects after Redis restarts (a { url } store and a node-redis client passed in)", async () => {
    const port = await freePort();
    let server = await startRedis(port);
    const url = `redis://127.0.0.1:${port}`;
    const own = createClient({ url });
    own.on("error", () => {});
    await own.connect();
    const stores = [
      new RedisStateStore({ url, commandTimeoutMs: 300 }),
      new RedisStateStore({ client: own, commandTimeoutMs: 300 }),
    ];
    const guardians = stores.map((state) => new Guardian({ policies: OUTAGE_POLICIES, state }));
    const calls = guardians.map((g) => g.check("limited")(async () => "ran"));
    try {
      for (const call of calls) expect(await call()).toBe("ran");
      await stopRedis(server);
      for (const call of calls) {
        const err = await call().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(PolicyViolation);
        expect((err as PolicyViolation).reason).toMatch(/failing closed \(Redis /);
      }
      // The { url } store says why it cannot reach Redis.
      const err = await stores[0]
        ?.consume([windowCounter("k", 5)], Date.now())
        .catch((e: unknown) => e);
      expect((err as Error).message).toMatch(
        /^Redis did not answer script state consume within 300 ms \(last connection error: .*ECONNREFUSED/,
      );
      server = await startRedis(port);
      // The restarted server knows no scripts: EVALSHA's NOSCRIPT falls back to EVAL.
      for (const call of calls) expect(await eventually(() => call(), 8000)).toBe("ran");
    } finally {
      for (const g of guardians) await g.close();
      await own.close().catch(() => {});
      await stopRedis(server);
    }
  });
});

describe("RedisStateStore without Redis", () => {
  it("fails with DecisionBackendError, not a hang, when Redis does not answer", async () => {
    const store = new RedisStateStore({
      url: "redis://127.0.0.1:1",
      commandTimeoutMs: 200,
      connectTimeoutMs: 250,
    });
    try {
      const err = await store.consume([windowCounter("k", 1)], T0).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DecisionBackendError);
      expect((err as Error).message).toMatch(
        /^RedisStateStore could not connect to Redis within 250 ms \(last connection error: .*ECONNREFUSED/,
      );
      await expect(
        store.adjust([{ key: "b", delta: 1, expiresAtMs: T0 + 1000 }]),
      ).rejects.toBeInstanceOf(DecisionBackendError);
    } finally {
      await store.close();
    }
    await expect(store.consume([windowCounter("k", 1)], T0)).rejects.toThrow(
      /RedisStateStore is closed/,
    );
  });

  it("times out each silent command on time while the others are answered", async () => {
    vi.useFakeTimers();
    try {
      let calls = 0;
      const store = new RedisStateStore({
        commandTimeoutMs: 100,
        client: {
          // Every other command is never answered; the rest are admitted at once.
          sendCommand: () => (calls++ % 2 === 0 ? new Promise(() => {}) : Promise.resolve([-1, 1])),
        },
      });
      // Eight commands 30 ms apart (fake time): timeouts overlap other commands' answers.
      const all = Promise.all(
        Array.from({ length: 8 }, async (_, i) => {
          await new Promise((r) => setTimeout(r, i * 30));
          const started = performance.now();
          const result = await store.consume([windowCounter("k", 5)], T0).then(
            (r) => r.admitted,
            (e: unknown) => e as Error,
          );
          return { result, took: performance.now() - started };
        }),
      );
      await vi.advanceTimersByTimeAsync(7 * 30 + 100);
      const outcomes = await all;
      for (const [i, { result, took }] of outcomes.entries()) {
        if (i % 2 === 1) {
          expect(result).toBe(true);
          expect(took).toBe(0);
        } else {
          expect(result).toBeInstanceOf(DecisionBackendError);
          expect((result as Error).message).toBe(
            "Redis did not answer script state consume within 100 ms",
          );
          expect(took).toBe(100);
        }
      }
    } finally {
      vi.useRealTimers();
    }
  });

  it("refuses an answer that is not a consume result", async () => {
    for (const answer of [null, "OK", [0], [-1, null], [5, "1"], [-1, "1", "2"], [-1.5, 1]]) {
      const store = new RedisStateStore({
        client: { sendCommand: () => Promise.resolve(answer) },
      });
      await expect(
        store.consume([windowCounter("k", 1)], T0),
        JSON.stringify(answer),
      ).rejects.toThrow(/unexpected reply/);
    }
    // A text where the index stands is the script's reason this decision was not decided.
    const store = new RedisStateStore({
      client: { sendCommand: () => Promise.resolve(["k is both a window and a budget", 0]) },
    });
    await expect(store.consume([windowCounter("k", 1)], T0)).rejects.toThrow(
      new DecisionBackendError(
        "Redis could not decide the counters: k is both a window and a budget",
      ),
    );
  });

  it("asks nothing of Redis for a decision without counters or an empty adjustment", async () => {
    const asked: string[][] = [];
    const store = new RedisStateStore({
      client: {
        sendCommand: (args) => {
          asked.push(args);
          return Promise.resolve(null);
        },
      },
    });
    expect(await store.consume([], T0)).toEqual({ admitted: true, totals: [], refusedIndex: -1 });
    await store.adjust([]);
    expect(asked).toEqual([]);
  });

  it("checks its options when built", () => {
    const bad: [unknown, RegExp][] = [
      [{}, /needs \{ client \}/],
      [undefined, /needs \{ client \} or \{ url \}/],
      [{ url: REDIS_URL, client: { call: () => null } }, /not both/],
      [{ url: "http://127.0.0.1:6379" }, /redis:\/\/ or rediss:\/\/ URL/],
      [{ url: REDIS_URL, precision: 0 }, /precision must be an integer from 1 to 1000/],
      [{ url: REDIS_URL, precision: 2.5 }, /precision/],
      [{ url: REDIS_URL, hashTag: "" }, /hash tag/],
      [{ url: REDIS_URL, hashTag: "{x}" }, /hash tag/],
      [{ url: REDIS_URL, clockToleranceMs: -1 }, /clockToleranceMs/],
      [{ url: REDIS_URL, commandTimeoutMs: 0 }, /commandTimeoutMs must be a positive number/],
      [{ url: REDIS_URL, keyPrefix: 5 }, /keyPrefix must be a string/],
    ];
    for (const [options, message] of bad) {
      expect(() => new RedisStateStore(options as never), JSON.stringify(options)).toThrow(message);
    }
  });
});
