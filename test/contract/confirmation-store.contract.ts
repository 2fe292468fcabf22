/**
 * The ConfirmationStore contract: one suite every store passes (memory, Redis, SQLite,
 * PostgreSQL). `make(clock)` returns a fresh, empty store reading time from `clock`.
 */
import { describe, expect, it } from "vitest";
import {
  type ConfirmationBinding,
  type ConfirmationStore,
  fingerprintCall,
  GuardrailError,
} from "../../src/index.ts";
import { ManualClock } from "../../src/testing/index.ts";

export interface ConfirmationFixture {
  readonly store: ConfirmationStore;
  readonly cleanup?: () => Promise<void>;
}

/** The binding of `safe_delete` called with `args`. */
export const binding = (args: unknown[] = ["user-1"]): ConfirmationBinding => ({
  policyId: "safe_delete",
  fingerprint: fingerprintCall("safe_delete", args),
});

/** What `fn` threw or rejected with; fails the test when it succeeded. */
async function failure(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected a failure, but the call succeeded");
}

export function runConfirmationStoreContract(
  name: string,
  make: (clock: () => number) => Promise<ConfirmationFixture>,
): void {
  describe(`ConfirmationStore contract: ${name}`, () => {
    const withStore =
      (fn: (store: ConfirmationStore, clock: ManualClock) => Promise<void>) => async () => {
        const clock = new ManualClock("2026-11-25T12:00:00Z");
        const f = await make(clock.now);
        try {
          await fn(f.store, clock);
        } finally {
          await f.cleanup?.();
        }
      };

    it(
      "tracks a request from pending to approved to consumed, once, keeping who and why",
      withStore(async (store) => {
        const token = await store.create({
          ...binding(),
          requestedBy: "alice",
          reason: "delete user-1",
          operation: "deleteUser",
          metadata: { ticket: 42, tags: ["gdpr"] },
          ttlMs: 60_000,
        });
        expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
        const pending = await store.get(token);
        expect(pending).toMatchObject({
          status: "pending",
          policyId: "safe_delete",
          fingerprint: binding().fingerprint,
          requestedBy: "alice",
          reason: "delete user-1",
          operation: "deleteUser",
          metadata: { ticket: 42, tags: ["gdpr"] },
          createdAtMs: Date.parse("2026-11-25T12:00:00Z"),
          expiresAtMs: Date.parse("2026-11-25T12:01:00Z"),
        });
        expect(JSON.stringify(pending)).not.toContain(token.split(".")[1]);
        expect(await store.consume(token, binding())).toMatchObject({
          ok: false,
          refusal: "pending",
        });
        expect(
          await store.approve(token, { approvedBy: "bob", reason: "ticket 42" }),
        ).toMatchObject({
          status: "approved",
          decidedBy: "bob",
          decisionReason: "ticket 42",
          decidedAtMs: Date.parse("2026-11-25T12:00:00Z"),
        });
        const used = await store.consume(token, binding());
        expect(used).toMatchObject({ ok: true, record: { status: "consumed", decidedBy: "bob" } });
        expect(await store.consume(token, binding())).toMatchObject({ ok: false, refusal: "used" });
        expect((await store.get(token))?.status).toBe("consumed");
      }),
    );

    it(
      "names each reason a token is refused: wrong policy, other arguments, expired, denied",
      withStore(async (store, clock) => {
        const token = await store.create({ ...binding(), ttlMs: 60_000 });
        await store.approve(token, { approvedBy: "bob" });
        expect(await store.consume(token, { ...binding(), policyId: "other" })).toMatchObject({
          ok: false,
          refusal: "wrong_policy",
          message: "the confirmation was issued for policy 'safe_delete'",
        });
        expect(await store.consume(token, binding(["user-2"]))).toMatchObject({
          refusal: "wrong_arguments",
        });
        clock.advance(60_000);
        expect(await store.consume(token, binding())).toMatchObject({ refusal: "expired" });
        expect((await store.get(token))?.status).toBe("expired");
        const denied = await store.create(binding());
        await store.deny(denied, { deniedBy: "carol", reason: "not today" });
        expect(await store.get(denied)).toMatchObject({
          status: "denied",
          decidedBy: "carol",
          decisionReason: "not today",
        });
        expect(await store.consume(denied, binding())).toMatchObject({
          refusal: "denied",
          message: expect.stringContaining("carol"),
        });
      }),
    );

    it(
      "refuses forged, tampered and malformed tokens as unknown",
      withStore(async (store) => {
        const token = await store.create(binding());
        await store.approve(token, { approvedBy: "bob" });
        const [id, secret] = token.split(".") as [string, string];
        const flipped = `${secret.slice(0, -2)}${secret.at(-2) === "A" ? "B" : "A"}${secret.at(-1)}`;
        for (const forged of [
          `${id}.${"A".repeat(43)}`,
          `${id}.${flipped}`,
          `${id}.${secret}x`,
          `${id}.${secret.slice(0, 42)}`,
          "not-a-token",
          `${id}`,
          "",
        ]) {
          expect(await store.consume(forged, binding()), forged).toMatchObject({
            ok: false,
            refusal: "unknown",
          });
          expect(await store.get(forged), forged).toBeUndefined();
        }
        expect(await store.consume(token, binding())).toMatchObject({ ok: true });
      }),
    );

    it(
      "approves or denies only pending, unexpired requests, saying why by code",
      withStore(async (store, clock) => {
        const token = await store.create({ ...binding(), ttlMs: 1000 });
        await store.approve(token, { approvedBy: "bob" });
        // The decision server answers by these codes alone (409, 404), whatever the store.
        const again = await failure(() => store.deny(token, { deniedBy: "carol" }));
        expect(again).toBeInstanceOf(GuardrailError);
        expect(again).toMatchObject({
          code: "confirmation_not_pending",
          message: expect.stringMatching(/approved, not pending/),
        });
        const [id, secret] = token.split(".") as [string, string];
        for (const unknown of [
          "nope.nope",
          `${id}.${secret.slice(0, 42)}${secret.endsWith("A") ? "B" : "A"}`,
          `${"0".repeat(id.length)}.${secret}`,
        ]) {
          const err = await failure(() => store.approve(unknown, { approvedBy: "bob" }));
          expect(err, unknown).toBeInstanceOf(GuardrailError);
          expect(err, unknown).toMatchObject({ code: "confirmation_not_found" });
        }
        const late = await store.create({ ...binding(), ttlMs: 1000 });
        clock.advance(1000);
        const expired = await failure(() => store.approve(late, { approvedBy: "bob" }));
        expect(expired).toMatchObject({
          code: "confirmation_not_pending",
          message: expect.stringMatching(/expired, not pending/),
        });
      }),
    );

    it(
      "lets exactly one of many concurrent consumers use a token",
      withStore(async (store) => {
        const token = await store.create(binding());
        await store.approve(token, { approvedBy: "bob" });
        const results = await Promise.all(
          Array.from({ length: 25 }, async () => store.consume(token, binding())),
        );
        expect(results.filter((r) => r.ok)).toHaveLength(1);
        expect(results.filter((r) => !r.ok && r.refusal === "used")).toHaveLength(24);
      }),
    );

    it(
      "lists requests newest first, by status, without their tokens",
      withStore(async (store, clock) => {
        expect(store.list, "a built-in store lists").toBeTypeOf("function");
        const list = (filter?: Parameters<NonNullable<ConfirmationStore["list"]>>[0]) =>
          Promise.resolve(store.list?.(filter));
        expect(await list()).toEqual([]);
        const tokens: string[] = [];
        for (const who of ["alice", "bob", "carol", "dave"]) {
          tokens.push(await store.create({ ...binding([who]), requestedBy: who, ttlMs: 10_000 }));
          clock.advance(1000);
        }
        const [alice, bob, carol, dave] = tokens as [string, string, string, string];
        await store.approve(bob, { approvedBy: "erin" });
        await store.deny(carol, { deniedBy: "erin", reason: "no" });
        await store.approve(dave, { approvedBy: "erin" });
        await store.consume(dave, binding(["dave"]));
        const idOf = (token: string) => token.split(".")[0];
        const all = await list();
        expect(all?.map((r) => r.requestedBy)).toEqual(["dave", "carol", "bob", "alice"]);
        expect(all?.map((r) => r.id)).toEqual([dave, carol, bob, alice].map(idOf));
        expect(all?.map((r) => r.status)).toEqual(["consumed", "denied", "approved", "pending"]);
        for (const token of tokens) expect(JSON.stringify(all)).not.toContain(token.split(".")[1]);
        expect((await list({ status: "pending" }))?.map((r) => r.requestedBy)).toEqual(["alice"]);
        expect((await list({ status: "denied" }))?.[0]).toMatchObject({
          requestedBy: "carol",
          decidedBy: "erin",
          decisionReason: "no",
        });
        expect((await list({ status: "all", limit: 2 }))?.map((r) => r.requestedBy)).toEqual([
          "dave",
          "carol",
        ]);
        // alice's request was made at 0 s with 10 s to live: at 10 s it is expired, and so
        // is bob's approved but unused one (made at 1 s) from 11 s on.
        clock.advance(6000);
        expect(await list({ status: "pending" })).toEqual([]);
        expect((await list({ status: "expired" }))?.map((r) => r.requestedBy)).toEqual(["alice"]);
        clock.advance(1000);
        expect((await list({ status: "expired" }))?.map((r) => r.requestedBy)).toEqual([
          "bob",
          "alice",
        ]);
        for (const bad of [{ limit: 0 }, { limit: 1.5 }, { limit: 1001 }, { status: "done" }]) {
          const err = await failure(() => list(bad as never));
          expect(err, JSON.stringify(bad)).toMatchObject({ code: "invalid_argument" });
        }
      }),
    );

    it(
      "reads, approves and denies a request by its id, as by its token",
      withStore(async (store, clock) => {
        const token = await store.create({ ...binding(), requestedBy: "alice", ttlMs: 5000 });
        const id = token.split(".")[0] as string;
        expect(await store.getById?.(id)).toMatchObject({ id, status: "pending" });
        expect(await store.getById?.("00000000-0000-4000-8000-000000000000")).toBeUndefined();
        const approved = await store.approveById?.(id, { approvedBy: "bob", reason: "ok" });
        expect(approved).toMatchObject({ id, status: "approved", decidedBy: "bob" });
        expect(await store.get(token)).toMatchObject({ status: "approved", decisionReason: "ok" });
        expect(await store.consume(token, binding())).toMatchObject({ ok: true });
        const again = await failure(async () => store.denyById?.(id, { deniedBy: "bob" }));
        expect(again).toMatchObject({ code: "confirmation_not_pending" });
        const unknown = await failure(async () =>
          store.approveById?.("00000000-0000-4000-8000-000000000000", { approvedBy: "bob" }),
        );
        expect(unknown).toMatchObject({ code: "confirmation_not_found" });
        const other = await store.create({ ...binding(["x"]), ttlMs: 5000 });
        const otherId = other.split(".")[0] as string;
        expect(await store.denyById?.(otherId, { deniedBy: "carol" })).toMatchObject({
          status: "denied",
          decidedBy: "carol",
        });
        const late = await store.create({ ...binding(["y"]), ttlMs: 1000 });
        clock.advance(1000);
        const expired = await failure(async () =>
          store.approveById?.(late.split(".")[0] as string, { approvedBy: "bob" }),
        );
        expect(expired).toMatchObject({ code: "confirmation_not_pending" });
      }),
    );

    it(
      "refuses requests without a binding and lifetimes that are not positive",
      withStore(async (store) => {
        for (const ttlMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
          await expect(
            async () => store.create({ ...binding(), ttlMs }),
            String(ttlMs),
          ).rejects.toThrow(/ttlMs must be a positive number/);
        }
        const unbound = await failure(() => store.create({ policyId: "", fingerprint: "x" }));
        expect(unbound).toBeInstanceOf(GuardrailError);
        expect(unbound).toMatchObject({
          code: "confirmation_request_invalid",
          message: expect.stringMatching(/needs policyId and fingerprint/),
        });
      }),
    );
  });
}
