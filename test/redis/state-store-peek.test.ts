/**
 * `RedisStateStore.peek` (dry runs) against a real Redis: one read-only script per peek,
 * nothing written, the fallback for a Redis without `EVALSHA_RO`, and dry-run decisions of
 * a Guardian sharing the store. The StateStore contract (test/contract) checks its answers.
 */
import { randomUUID } from "node:crypto";
import { RESP_TYPES } from "redis";
import { describe, expect, it } from "vitest";
import { Guardian, parsePolicies } from "../../src/index.ts";
import { type RedisLike, RedisStateStore } from "../../src/redis/index.ts";
import { periodCounter, windowCounter } from "../contract/state-store.contract.ts";
import { redisForFile } from "../support/redis.ts";

/** One client for the tests' own looks into Redis; undefined when it is not reachable. */
const admin = await redisForFile(
  "the RedisStateStore peek tests",
  "RedisStateStore.peek against Redis",
);

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);
const uniquePrefix = () => `hexarch-test:${randomUUID().slice(0, 8)}:peek:`;

/** Every key under a prefix with its raw bytes (hex) and whether it has a TTL. */
async function snapshot(prefix: string): Promise<Record<string, string>> {
  const redis = admin as NonNullable<typeof admin>;
  const keys = (await redis.sendCommand(["KEYS", `${prefix}*`])) as string[];
  const out: Record<string, string> = {};
  for (const key of keys.sort()) {
    const bytes = (await redis.sendCommand(["GET", key], {
      typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer },
    })) as Buffer;
    const ttl = Number(await redis.sendCommand(["PTTL", key]));
    out[key] = `${bytes.toString("hex")} ttl:${ttl > 0}`;
  }
  return out;
}

async function dropKeys(prefix: string): Promise<void> {
  const redis = admin as NonNullable<typeof admin>;
  const keys = (await redis.sendCommand(["KEYS", `${prefix}*`])) as string[];
  if (keys.length) await redis.sendCommand(["UNLINK", ...keys]);
}

/**
 * A node-redis-shaped client recording the commands sent; with `noReadOnly`, it answers
 * `EVALSHA_RO`/`EVAL_RO` as a Redis before 7.0 does.
 */
function recording(noReadOnly = false): { client: RedisLike; sent: string[] } {
  const redis = admin as NonNullable<typeof admin>;
  const sent: string[] = [];
  return {
    sent,
    client: {
      sendCommand: (args, options) => {
        const name = String(args[0]);
        sent.push(name);
        if (noReadOnly && name.endsWith("_RO"))
          return Promise.reject(
            new Error(`ERR unknown command '${name}', with args beginning with: `),
          );
        return redis.sendCommand(args, options);
      },
    },
  };
}

if (admin) {
  describe("RedisStateStore.peek against Redis", () => {
    it("runs one read-only script per peek and writes nothing", async () => {
      const keyPrefix = uniquePrefix();
      const { client, sent } = recording();
      const store = new RedisStateStore({ client, keyPrefix });
      try {
        const counters = [windowCounter("w", 3, 1000), periodCounter("b", 100, 30, T0 + 2000)];
        await store.consume(counters, T0);
        await store.consume(counters, T0 + 150);
        const before = await snapshot(keyPrefix);
        sent.length = 0;
        // At the same time, a bucket later, past the window and past the period.
        for (const t of [150, 300, 1500, 2500]) await store.peek(counters, T0 + t);
        expect(sent.every((c) => c === "EVALSHA_RO" || c === "EVAL_RO")).toBe(true);
        expect(sent.filter((c) => c === "EVALSHA_RO")).toHaveLength(4);
        expect(await snapshot(keyPrefix)).toEqual(before);
        // And the next consume answers as if no peek happened.
        expect(await store.consume(counters, T0 + 300)).toEqual({
          admitted: true,
          totals: [3, 90],
          refusedIndex: -1,
        });
      } finally {
        await dropKeys(keyPrefix);
      }
    });

    it("peeks with a plain script on a Redis without EVALSHA_RO, asking for it once", async () => {
      const keyPrefix = uniquePrefix();
      const { client, sent } = recording(true);
      const store = new RedisStateStore({ client, keyPrefix });
      try {
        await store.consume([windowCounter("w", 2)], T0);
        await store.consume([windowCounter("w", 2)], T0);
        const before = await snapshot(keyPrefix);
        sent.length = 0;
        expect(await store.peek([windowCounter("w", 2)], T0 + 1)).toEqual({
          admitted: false,
          totals: [2],
          refusedIndex: 0,
        });
        expect(await store.peek([windowCounter("other", 2)], T0 + 1)).toEqual({
          admitted: true,
          totals: [1],
          refusedIndex: -1,
        });
        expect(sent).toEqual(["EVALSHA_RO", "EVALSHA", "EVALSHA"]);
        expect(await snapshot(keyPrefix)).toEqual(before);
      } finally {
        await dropKeys(keyPrefix);
      }
    });

    it("sees the consumes asked before it in the same turn", async () => {
      const keyPrefix = uniquePrefix();
      const store = new RedisStateStore({ client: admin, keyPrefix });
      try {
        const first = store.consume([periodCounter("b", 100, 40)], T0);
        const second = store.consume([periodCounter("b", 100, 40)], T0);
        const peeked = store.peek([periodCounter("b", 100, 40)], T0);
        const third = store.consume([periodCounter("b", 100, 10)], T0);
        expect((await first).totals).toEqual([40]);
        expect((await second).totals).toEqual([80]);
        expect(await peeked).toEqual({ admitted: false, totals: [80], refusedIndex: 0 });
        expect(await third).toEqual({ admitted: true, totals: [90], refusedIndex: -1 });
      } finally {
        await dropKeys(keyPrefix);
      }
    });

    it("lets a Guardian on Redis make dry-run decisions that consume nothing", async () => {
      const keyPrefix = uniquePrefix();
      const state = new RedisStateStore({ client: admin, keyPrefix });
      const guardian = new Guardian({
        policies: parsePolicies(
          "policies:\n  - id: rl\n    rules:\n      - requests_per_minute: 2\n        per: userId\n        action: block\n",
        ),
        state,
        clock: () => T0,
      });
      try {
        for (let i = 0; i < 5; i++) {
          const dry = await guardian.decide("rl", { userId: "u" }, { dryRun: true });
          expect(dry.action).toBe("allow");
        }
        const real = [];
        for (let i = 0; i < 3; i++)
          real.push((await guardian.decide("rl", { userId: "u" })).action);
        expect(real).toEqual(["allow", "allow", "block"]);
        const dry = await guardian.decide("rl", { userId: "u" }, { dryRun: true });
        expect(dry.action).toBe("block");
        expect(dry.reason).toMatch(/requests per minute/);
      } finally {
        await guardian.close();
        await dropKeys(keyPrefix);
      }
    });
  });
}
