/**
 * Attacks on `SignedConfirmationStore`: turning a denial into an approval with the still
 * valid pending token, and using a token past its expiry through the clock tolerance
 * meant for other signers.
 */
import { describe, expect, it } from "vitest";
import { fingerprintCall, GuardrailError, SignedConfirmationStore } from "../../src/index.ts";
import { RedisReplayGuard } from "../../src/redis/index.ts";
import { ManualClock } from "../../src/testing/index.ts";
import { REDIS_URL, redisReachable } from "../support/redis.ts";

const secret = "a-32-byte-secret-for-hmac-sha256!";
const binding = { policyId: "safe_delete", fingerprint: fingerprintCall("safe_delete", ["u1"]) };

describe("a denied signed confirmation stays denied", () => {
  it("refuses to approve a pending token after it was denied, by any approver", async () => {
    const store = new SignedConfirmationStore({ keys: [{ kid: "k1", secret }] });
    const pending = await store.create({ ...binding, requestedBy: "mallory" });
    const denied = await store.deny(pending, { deniedBy: "alice", reason: "no" });
    expect(denied.status).toBe("denied");
    // Mallory still holds the pending token and asks another approver.
    await expect(store.approve(pending, { approvedBy: "bob" })).rejects.toThrow(/already decided/);
    await expect(store.approve(denied.token, { approvedBy: "bob" })).rejects.toThrow(
      /denied, not pending/,
    );
    expect(await store.consume(denied.token, binding)).toMatchObject({ refusal: "denied" });
    expect(await store.consume(pending, binding)).toMatchObject({ refusal: "pending" });
  });

  it("issues one approved token per request: a second approval is refused", async () => {
    const store = new SignedConfirmationStore({ keys: [{ kid: "k1", secret }] });
    const pending = await store.create(binding);
    const first = await store.approve(pending, { approvedBy: "bob" });
    await expect(store.approve(pending, { approvedBy: "carol" })).rejects.toBeInstanceOf(
      GuardrailError,
    );
    await expect(store.deny(pending, { deniedBy: "carol" })).rejects.toThrow(/already decided/);
    // The code every ConfirmationStore throws for it, which the decision server maps to 409.
    await expect(store.deny(pending, { deniedBy: "carol" })).rejects.toMatchObject({
      code: "confirmation_not_pending",
    });
    await expect(store.deny(`${pending}x`, { deniedBy: "carol" })).rejects.toMatchObject({
      code: "confirmation_not_found",
    });
    expect(await store.consume(first.token, binding)).toMatchObject({ ok: true });
  });

  it("holds across processes that share a RedisReplayGuard", async (ctx) => {
    if (!(await redisReachable("the shared-guard denial test"))) return ctx.skip();
    const replay = new RedisReplayGuard({ url: REDIS_URL, keyPrefix: `deny-${Date.now()}:` });
    try {
      const a = new SignedConfirmationStore({ keys: [{ kid: "k1", secret }], replay });
      const b = new SignedConfirmationStore({ keys: [{ kid: "k1", secret }], replay });
      const pending = await a.create(binding);
      await a.deny(pending, { deniedBy: "alice" });
      await expect(b.approve(pending, { approvedBy: "bob" })).rejects.toThrow(/already decided/);
    } finally {
      await replay.close();
    }
  });
});

describe("the clock tolerance of a store's own tokens", () => {
  it("is 0: a token this store signed expires exactly at its ttl", async () => {
    const clock = new ManualClock("2026-11-25T12:00:00Z");
    const store = new SignedConfirmationStore({ keys: [{ kid: "k1", secret }], clock: clock.now });
    const token = await store.issue({ ...binding, approvedBy: "bob", ttlMs: 60_000 });
    clock.advance(60_000);
    expect(await store.consume(token, binding)).toMatchObject({ refusal: "expired" });
    expect((await store.get(token))?.status).toBe("expired");
  });

  it("stays for tokens another store signed (another process with the same key)", async () => {
    const clock = new ManualClock("2026-11-25T12:00:00Z");
    const signer = new SignedConfirmationStore({ keys: [{ kid: "k1", secret }], clock: clock.now });
    const verifier = new SignedConfirmationStore({
      keys: [{ kid: "k1", secret }],
      clock: clock.now,
    });
    const token = await signer.issue({ ...binding, approvedBy: "bob", ttlMs: 60_000 });
    clock.advance(60_000 + 10_000);
    expect(await verifier.consume(token, binding)).toMatchObject({ ok: true });
    const late = await signer.issue({ ...binding, approvedBy: "bob", ttlMs: 60_000 });
    clock.advance(60_000 + 30_000);
    expect(await verifier.consume(late, binding)).toMatchObject({ refusal: "expired" });
  });
});
