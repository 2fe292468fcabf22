/**
 * The Redis server the integration tests use, and whether it answers: in CI an unreachable
 * server fails the tests; elsewhere they skip with a printed notice.
 */
import { connect } from "node:net";
import { createClient } from "redis";
import { afterAll, describe, it } from "vitest";

/** The test server (`HEXARCH_TEST_REDIS_URL` overrides it). */
export const REDIS_URL = process.env.HEXARCH_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

let answer: Promise<boolean> | undefined;

/** True when a PING to `url` is answered with PONG within 2 s (plain RESP, no client library). */
function ping(url: string): Promise<boolean> {
  const u = new URL(url);
  return new Promise<boolean>((done) => {
    const socket = connect({ host: u.hostname || "127.0.0.1", port: Number(u.port || 6379) });
    let reply = "";
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(2000, () => finish(false));
    socket.on("error", () => finish(false));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      reply += chunk.toString("latin1");
      // A server that wants a password answers -NOAUTH: not usable by these tests.
      if (reply.includes("\r\n")) finish(reply.startsWith("+PONG"));
    });
  });
}

/**
 * True when Redis answers. When it does not: throws in CI (`CI` set), else prints that
 * `what` is skipped and returns false.
 */
export async function redisReachable(what: string): Promise<boolean> {
  answer ??= ping(REDIS_URL);
  if (await answer) return true;
  if (process.env.CI)
    throw new Error(`Redis is not reachable at ${REDIS_URL} (CI needs it for ${what})`);
  console.warn(`[skip] Redis is not reachable at ${REDIS_URL}: ${what} skipped`);
  return false;
}

const adminClient = () => createClient({ url: REDIS_URL });

/** A connected node-redis client (the tests' own looks into Redis). */
export type AdminClient = ReturnType<typeof adminClient>;

/**
 * What a Redis test file needs before its tests: Redis reachable — else, in CI, a failing
 * test that says why, elsewhere a skipped one named after `suite` — and one connected
 * client for the tests' own looks into Redis, closed after the file. `undefined` when
 * Redis is not reachable.
 */
export async function redisForFile(what: string, suite: string): Promise<AdminClient | undefined> {
  const available = await redisReachable(what).catch((err: unknown) => {
    describe("Redis", () => {
      it(`is reachable (CI needs it for ${what})`, () => {
        throw err;
      });
    });
    return false;
  });
  if (!available) {
    if (!process.env.CI)
      describe(suite, () => {
        it.skip(`needs Redis at ${REDIS_URL}, which is not reachable`, () => {});
      });
    return undefined;
  }
  const admin = adminClient();
  admin.on("error", () => {});
  await admin.connect();
  afterAll(async () => {
    await admin.close();
  });
  return admin;
}
