import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { createClient } from "redis";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { Guardian } from "../../src/index.ts";
import { createServer, type RateLimitOptions } from "../../src/server/index.ts";
// Internal: the Redis key prefix the server's HTTP rate limit writes under, to inspect Redis.
import { httpRateLimitPrefix } from "../../src/server/rate-limit-store.ts";
import { REDIS_URL, redisReachable } from "../support/redis.ts";

const RUN = randomUUID().slice(0, 8);
const TOKEN = `rate-limit-redis-${RUN}-0123456789`;
const POLICIES = "policies:\n  - id: open\n    rules: [{ resource: '*', action: allow }]\n";

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

/** Deletes every key this file made (its own prefixes only). */
afterAll(async () => {
  if (!(await redisReachable("cleaning up the HTTP rate limiter's keys"))) return;
  const client = createClient({ url: REDIS_URL });
  await client.connect();
  for (const pattern of [`test:http-rate:${RUN}:*`, `${httpRateLimitPrefix(TOKEN)}*`]) {
    for await (const keys of client.scanIterator({ MATCH: pattern, COUNT: 1000 }))
      if (keys.length > 0) await client.del(keys);
  }
  await client.close();
});

async function instance(rateLimit: RateLimitOptions, apiToken = TOKEN): Promise<FastifyInstance> {
  const app = await createServer({
    guardian: new Guardian({ env: {}, policies: POLICIES }),
    apiToken,
    rateLimit,
    logger: false,
  });
  apps.push(app);
  return app;
}

const authorize = (app: FastifyInstance, token = TOKEN) =>
  app.inject({
    method: "POST",
    url: "/authorize",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    payload: { policyId: "open", context: {} },
  });

describe("the HTTP rate limiter with Redis", () => {
  it("counts a token's requests across instances", async (ctx) => {
    if (!(await redisReachable("the shared HTTP rate limiter test"))) return ctx.skip();
    const shared = {
      max: 5,
      redis: { url: REDIS_URL },
      redisKeyPrefix: `test:http-rate:${RUN}:a:`,
    };
    const [a, b] = [await instance(shared), await instance(shared)];
    const statuses: number[] = [];
    const remaining: string[] = [];
    for (const app of [a, b, a, b, a, b, a]) {
      const res = await authorize(app);
      statuses.push(res.statusCode);
      remaining.push(String(res.headers["x-ratelimit-remaining"]));
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    expect(remaining.slice(0, 5)).toEqual(["4", "3", "2", "1", "0"]);
    const limited = await authorize(b);
    expect(limited.json()).toMatchObject({ code: "rate_limited" });
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
  });

  it("counts callers without a valid token per IP across instances", async (ctx) => {
    if (!(await redisReachable("the shared HTTP rate limiter test"))) return ctx.skip();
    const shared = {
      maxPerIp: 3,
      redis: { url: REDIS_URL },
      redisKeyPrefix: `test:http-rate:${RUN}:b:`,
    };
    const [a, b] = [await instance(shared), await instance(shared)];
    const statuses: number[] = [];
    for (const app of [a, b, a, b])
      statuses.push((await app.inject({ method: "GET", url: "/health" })).statusCode);
    expect(statuses).toEqual([200, 200, 200, 429]);
    // The token's bucket is another one.
    expect((await authorize(a)).statusCode).toBe(200);
  });

  it("keeps deployments with different tokens apart by default", async (ctx) => {
    if (!(await redisReachable("the shared HTTP rate limiter test"))) return ctx.skip();
    const other = `${TOKEN}-other`;
    expect(httpRateLimitPrefix(other)).not.toBe(httpRateLimitPrefix(TOKEN));
    const a = await instance({ max: 2, redis: { url: REDIS_URL } });
    const b = await instance({ max: 2, redis: { url: REDIS_URL } }, other);
    expect([(await authorize(a)).statusCode, (await authorize(a)).statusCode]).toEqual([200, 200]);
    expect((await authorize(a)).statusCode).toBe(429);
    expect((await authorize(b, other)).statusCode).toBe(200);
    const client = createClient({ url: REDIS_URL });
    await client.connect();
    try {
      expect(await client.get(`${httpRateLimitPrefix(TOKEN)}token`)).toBe("3");
      expect(await client.pTTL(`${httpRateLimitPrefix(TOKEN)}token`)).toBeGreaterThan(0);
      await client.del([
        `${httpRateLimitPrefix(TOKEN)}token`,
        `${httpRateLimitPrefix(other)}token`,
      ]);
    } finally {
      await client.close();
    }
  });

  it("counts in the instance when Redis does not answer, without failing requests", async () => {
    // Nothing listens on port 1: every command fails (or times out) and the instance counts alone.
    const app = await instance({ max: 2, redis: { url: "redis://127.0.0.1:1" } });
    const started = Date.now();
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await authorize(app)).statusCode);
    expect(statuses).toEqual([200, 200, 429]);
    expect((await app.inject({ method: "GET", url: "/" })).statusCode).toBe(200);
    // One wait for Redis at most (500 ms), then 5 s of local counting.
    expect(Date.now() - started).toBeLessThan(2500);
  });
});
