/**
 * Signed confirmation tokens used once across processes: RedisReplayGuard against real
 * Redis.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DecisionBackendError, fingerprintCall, SignedConfirmationStore } from "../../src/index.ts";
import { RedisReplayGuard } from "../../src/redis/index.ts";
import { REDIS_URL, redisReachable } from "../support/redis.ts";

const available = await redisReachable("the RedisReplayGuard tests").catch((err: unknown) => {
  describe("Redis", () => {
    it("is reachable (CI needs it for the RedisReplayGuard tests)", () => {
      throw err;
    });
  });
  return false;
});

const secret = "a-32-byte-secret-for-hmac-sha256!";
const binding = { policyId: "safe_delete", fingerprint: fingerprintCall("safe_delete", ["u1"]) };

describe.runIf(available)("RedisReplayGuard", () => {
  it("lets a signed token be used once across stores that share Redis, then forgets it", async () => {
    const keyPrefix = `hexarch:test:used:${randomUUID()}:`;
    const guards = [0, 1].map(() => new RedisReplayGuard({ url: REDIS_URL, keyPrefix }));
    // Two services (two connections), one key set: what two processes would share.
    const [a, b] = guards.map(
      (replay) => new SignedConfirmationStore({ keys: [{ kid: "k", secret }], replay }),
    ) as [SignedConfirmationStore, SignedConfirmationStore];
    try {
      const token = await a.issue({ ...binding, approvedBy: "lead", ttlMs: 5000 });
      const results = await Promise.all([a.consume(token, binding), b.consume(token, binding)]);
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      expect(results.find((r) => !r.ok)).toMatchObject({ refusal: "used" });
    } finally {
      for (const g of guards) await g.close();
    }
  });

  it("fails closed when Redis does not answer", async () => {
    const guard = new RedisReplayGuard({ url: "redis://127.0.0.1:1", commandTimeoutMs: 300 });
    const store = new SignedConfirmationStore({ keys: [{ kid: "k", secret }], replay: guard });
    const token = await store.issue({ ...binding, approvedBy: "lead" });
    await expect(store.consume(token, binding)).rejects.toBeInstanceOf(DecisionBackendError);
    await guard.close();
  });
});
