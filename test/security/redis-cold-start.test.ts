/**
 * Attack: a new process's first burst of decisions against a Redis whose connection is
 * slow to open (driver loading, TLS, a far-away host). The time spent connecting used to
 * count against each command's deadline, so the whole first burst was refused.
 */
import { randomUUID } from "node:crypto";
import { connect, createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { Guardian } from "../../src/index.ts";
import { RedisStateStore } from "../../src/redis/index.ts";
import { REDIS_URL, redisReachable } from "../support/redis.ts";

const available = await redisReachable("the Redis cold-start tests").catch((err: unknown) => {
  describe("Redis", () => {
    it("is reachable (CI needs it for the Redis cold-start tests)", () => {
      throw err;
    });
  });
  return false;
});

/** A TCP proxy to Redis that holds each new connection for `delayMs` before relaying it. */
async function slowProxy(delayMs: number): Promise<{ url: string; server: Server }> {
  const target = new URL(REDIS_URL);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    client.pause();
    // Real wall-clock: the slow connect must outlast the store's real command timeout.
    setTimeout(() => {
      const upstream = connect(Number(target.port || 6379), target.hostname || "127.0.0.1");
      sockets.add(upstream);
      upstream.on("error", () => client.destroy());
      client.on("error", () => upstream.destroy());
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    }, delayMs);
  });
  server.on("close", () => {
    for (const s of sockets) s.destroy();
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return { url: `redis://127.0.0.1:${address.port}`, server };
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

const policies = {
  policies: [
    {
      id: "limited",
      rules: [
        { resource: "*", requests_per_minute: 1_000_000, action: "block" },
        { resource: "*", per: "userId", requests_per_minute: 1_000_000, action: "block" },
      ],
    },
  ],
};

describe.runIf(available)("a cold Redis connection and the first burst", () => {
  it("does not refuse a first burst whose connection takes longer than the command timeout", async () => {
    const proxy = await slowProxy(400);
    const state = new RedisStateStore({
      url: proxy.url,
      keyPrefix: `cold-${randomUUID()}:`,
      commandTimeoutMs: 200,
    });
    const guardian = new Guardian({ state, policies });
    closers.push(async () => {
      await guardian.close();
      await new Promise((done) => proxy.server.close(done));
    });
    const decisions = await Promise.all(
      Array.from({ length: 500 }, (_, i) => guardian.evaluate("limited", { userId: `u${i % 20}` })),
    );
    const refused = decisions.filter((d) => !d.allowed);
    expect(refused.map((d) => d.reason)).toEqual([]);
  });

  it("still fails closed, naming the connection, when Redis never accepts", async () => {
    // A port that refuses: the waiting decisions are refused after connectTimeoutMs.
    const closed = createServer();
    await new Promise<void>((done) => closed.listen(0, "127.0.0.1", done));
    const address = closed.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    await new Promise((done) => closed.close(done));
    const state = new RedisStateStore({
      url: `redis://127.0.0.1:${address.port}`,
      keyPrefix: `cold-${randomUUID()}:`,
      commandTimeoutMs: 200,
      connectTimeoutMs: 300,
    });
    const guardian = new Guardian({ state, policies });
    closers.push(async () => {
      await guardian.close();
    });
    const started = performance.now();
    const decisions = await Promise.all(
      Array.from({ length: 5 }, () => guardian.evaluate("limited", { userId: "u" })),
    );
    const elapsedMs = performance.now() - started;
    for (const d of decisions) {
      expect(d.allowed).toBe(false);
      expect(d.reason).toMatch(/could not connect to Redis within 300 ms/);
      expect(d.reason).toMatch(/ECONNREFUSED/);
    }
    expect(elapsedMs).toBeLessThan(5000);
  });

  it("refuses a connectTimeoutMs that is not a positive number", () => {
    expect(() => new RedisStateStore({ url: REDIS_URL, connectTimeoutMs: 0 })).toThrow(
      /connectTimeoutMs must be a positive number/,
    );
  });
});
