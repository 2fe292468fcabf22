/**
 * The StateStore contract: one suite every store runs (memory now, Redis later).
 * Call `runStateStoreContract(name, makeStore)` from a test file.
 */
import { describe, expect, it } from "vitest";
import type { Counter, StateStore } from "../../src/index.ts";

/** Creates a fresh, empty store with its own key space; `cleanup` runs after each test. */
export type StoreFactory = () => Promise<{
  store: StateStore;
  cleanup?: () => Promise<void> | void;
}>;

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);

export const windowCounter = (
  key: string,
  limit: number,
  windowMs = 60_000,
  hard = true,
): Counter => ({
  kind: "window",
  key,
  limit,
  amount: 1,
  windowMs,
  expiresAtMs: 0,
  hard,
});

export const periodCounter = (
  key: string,
  limit: number,
  amount: number,
  expiresAtMs = T0 + 86_400_000,
  hard = true,
): Counter => ({ kind: "period", key, limit, amount, windowMs: 0, expiresAtMs, hard });

export function runStateStoreContract(name: string, factory: StoreFactory): void {
  describe(`StateStore contract: ${name}`, () => {
    const withStore = (fn: (store: StateStore) => Promise<void>) => async () => {
      const { store, cleanup } = await factory();
      try {
        await fn(store);
      } finally {
        await cleanup?.();
      }
    };

    it(
      "admits a window counter up to its limit, then refuses",
      withStore(async (store) => {
        const results = [];
        for (let i = 0; i < 5; i++)
          results.push(await store.consume([windowCounter("w", 3)], T0 + i));
        expect(results.map((r) => r.admitted)).toEqual([true, true, true, false, false]);
        expect(results.map((r) => r.totals[0])).toEqual([1, 2, 3, 3, 3]);
        expect(results[3]?.refusedIndex).toBe(0);
      }),
    );

    it(
      "admits again once the window has passed",
      withStore(async (store) => {
        for (let i = 0; i < 3; i++) await store.consume([windowCounter("w", 3, 1000)], T0);
        expect((await store.consume([windowCounter("w", 3, 1000)], T0 + 500)).admitted).toBe(false);
        // The window (plus at most one bucket of rounding) later, the old requests are gone.
        const later = await store.consume([windowCounter("w", 3, 1000)], T0 + 1100);
        expect(later.admitted).toBe(true);
        expect(later.totals[0]).toBe(1);
      }),
    );

    it(
      "lets a soft counter go past its limit and reports the total",
      withStore(async (store) => {
        for (let i = 0; i < 3; i++) await store.consume([windowCounter("w", 2, 60_000, false)], T0);
        const r = await store.consume([windowCounter("w", 2, 60_000, false)], T0);
        expect(r.admitted).toBe(true);
        expect(r.totals[0]).toBe(4);
      }),
    );

    it(
      "counts a period up to exactly its limit and refuses once exhausted, even a zero amount",
      withStore(async (store) => {
        expect((await store.consume([periodCounter("b", 100, 60)], T0)).admitted).toBe(true);
        const over = await store.consume([periodCounter("b", 100, 41)], T0);
        expect(over).toMatchObject({ admitted: false, refusedIndex: 0 });
        expect(over.totals[0]).toBe(60);
        expect((await store.consume([periodCounter("b", 100, 40)], T0)).totals[0]).toBe(100);
        expect((await store.consume([periodCounter("b", 100, 0)], T0)).admitted).toBe(false);
      }),
    );

    it(
      "starts a period counter from zero after it expires",
      withStore(async (store) => {
        await store.consume([periodCounter("b", 100, 100, T0 + 1000)], T0);
        const next = await store.consume([periodCounter("b", 100, 10, T0 + 5000)], T0 + 2000);
        expect(next.admitted).toBe(true);
        expect(next.totals[0]).toBe(10);
      }),
    );

    it(
      "consumes all counters or none",
      withStore(async (store) => {
        await store.consume([periodCounter("budget", 100, 90)], T0);
        const refused = await store.consume(
          [windowCounter("rate", 10), periodCounter("budget", 100, 20)],
          T0,
        );
        expect(refused).toMatchObject({ admitted: false, refusedIndex: 1 });
        expect(refused.totals).toEqual([0, 90]);
        // Neither moved: the rate counter is still empty and the budget still at 90.
        const after = await store.consume(
          [windowCounter("rate", 10), periodCounter("budget", 100, 10)],
          T0,
        );
        expect(after).toMatchObject({ admitted: true, totals: [1, 100] });
      }),
    );

    it(
      "reports the first refusing counter when several refuse",
      withStore(async (store) => {
        await store.consume([windowCounter("a", 1), windowCounter("b", 1)], T0);
        const r = await store.consume([windowCounter("a", 1), windowCounter("b", 1)], T0);
        expect(r.refusedIndex).toBe(0);
      }),
    );

    it(
      "applies adjustments to period counters and never goes below zero",
      withStore(async (store) => {
        await store.consume([periodCounter("b", 1000, 100)], T0);
        await store.adjust([{ key: "b", delta: 50, expiresAtMs: T0 + 86_400_000 }]);
        expect((await store.consume([periodCounter("b", 1000, 0)], T0)).totals[0]).toBe(150);
        await store.adjust([{ key: "b", delta: -500, expiresAtMs: T0 + 86_400_000 }]);
        expect((await store.consume([periodCounter("b", 1000, 0)], T0)).totals[0]).toBe(0);
      }),
    );

    /** The store's peek (the built-in stores all have one). */
    const peekOf = (store: StateStore) => {
      const peek = store.peek;
      if (peek === undefined) throw new Error(`${name} has no peek`);
      return (counters: readonly Counter[], nowMs: number) => peek.call(store, counters, nowMs);
    };

    it(
      "peek answers exactly what the next consume answers, across window buckets and periods",
      withStore(async (store) => {
        const peek = peekOf(store);
        const counters = [windowCounter("w", 3, 1000), periodCounter("b", 100, 30, T0 + 2000)];
        // Bursts, a refusal, buckets moving forward, the window passing, the period ending.
        const times = [0, 0, 150, 400, 900, 1050, 1100, 1450, 2100, 2100, 2500, 4000];
        for (const t of times) {
          const peeked = await peek(counters, T0 + t);
          const consumed = await store.consume(counters, T0 + t);
          expect(peeked, `at +${t} ms`).toEqual(consumed);
        }
      }),
    );

    it(
      "a peek never changes what a later consume answers (not even one at a later time)",
      withStore(async (store) => {
        const peek = peekOf(store);
        for (let i = 0; i < 3; i++) await store.consume([windowCounter("w", 3, 1000)], T0);
        await store.consume([periodCounter("b", 100, 60, T0 + 1000)], T0);
        // Peeks far ahead would, if they wrote, move the ring past the burst and end the period.
        expect(await peek([windowCounter("w", 3, 1000)], T0 + 5000)).toEqual({
          admitted: true,
          totals: [1],
          refusedIndex: -1,
        });
        expect((await peek([periodCounter("b", 100, 60, T0 + 9000)], T0 + 2000)).totals).toEqual([
          60,
        ]);
        for (let i = 0; i < 5; i++) await peek([windowCounter("w", 3, 1000)], T0 + 100);
        // A clock that goes back (another host) still sees everything the consumes counted.
        expect(await store.consume([windowCounter("w", 3, 1000)], T0 + 500)).toEqual({
          admitted: false,
          totals: [3],
          refusedIndex: 0,
        });
        expect(await store.consume([periodCounter("b", 100, 40, T0 + 1000)], T0 + 500)).toEqual({
          admitted: true,
          totals: [100],
          refusedIndex: -1,
        });
      }),
    );

    it(
      "peek at the limit reports the refusal, and a soft counter past it",
      withStore(async (store) => {
        const peek = peekOf(store);
        await store.consume([windowCounter("w", 2)], T0);
        await store.consume([windowCounter("w", 2)], T0);
        expect(await peek([windowCounter("w", 2)], T0 + 1)).toEqual({
          admitted: false,
          totals: [2],
          refusedIndex: 0,
        });
        await store.consume([periodCounter("b", 100, 90)], T0);
        // All or none: the refusal names the budget, the window's total is as it stands.
        expect(await peek([windowCounter("x", 5), periodCounter("b", 100, 20)], T0)).toEqual({
          admitted: false,
          totals: [0, 90],
          refusedIndex: 1,
        });
        expect(
          await peek(
            [
              windowCounter("w", 2, 60_000, false),
              periodCounter("b", 100, 20, T0 + 86_400_000, false),
            ],
            T0,
          ),
        ).toEqual({ admitted: true, totals: [3, 110], refusedIndex: -1 });
        // Still as the consumes left them.
        expect((await store.consume([periodCounter("b", 100, 10)], T0)).totals).toEqual([100]);
      }),
    );

    it(
      "keeps counters with different keys apart",
      withStore(async (store) => {
        await store.consume([windowCounter("user-1", 1)], T0);
        expect((await store.consume([windowCounter("user-2", 1)], T0)).admitted).toBe(true);
        expect((await store.consume([windowCounter("user-1", 1)], T0)).admitted).toBe(false);
      }),
    );
  });
}
