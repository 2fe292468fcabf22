import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidOptionError, MemoryStateStore } from "../../src/index.ts";
import {
  periodCounter,
  runStateStoreContract,
  windowCounter,
} from "../contract/state-store.contract.ts";

runStateStoreContract("MemoryStateStore", async () => ({ store: new MemoryStateStore() }));

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);

describe("MemoryStateStore", () => {
  it("answers synchronously, so in-process decisions never wait for a microtask", () => {
    const result = new MemoryStateStore().consume([windowCounter("k", 1)], T0);
    expect(result).not.toBeInstanceOf(Promise);
    expect(result.admitted).toBe(true);
  });

  it("rejects a precision that is not an integer from 1 to 1000", () => {
    expect(() => new MemoryStateStore({ precision: 0 })).toThrow(InvalidOptionError);
    expect(() => new MemoryStateStore({ precision: 2.5 })).toThrow(/precision/);
  });

  it("never refuses more than one bucket early after a burst", () => {
    // precision 10 → 6 s buckets for a one-minute window
    const store = new MemoryStateStore({ precision: 10 });
    for (let i = 0; i < 5; i++) store.consume([windowCounter("k", 5)], T0 + 1000);
    expect(store.consume([windowCounter("k", 5)], T0 + 60_000).admitted).toBe(false);
    expect(store.consume([windowCounter("k", 5)], T0 + 66_000).admitted).toBe(true);
  });

  it("forgets idle keys: memory stays bounded by the keys active in their window", () => {
    const store = new MemoryStateStore({ sweepPerCall: 4 });
    for (let i = 0; i < 1000; i++) store.consume([windowCounter(`user-${i}`, 10, 1000)], T0);
    for (let i = 0; i < 1000; i++)
      store.consume([periodCounter(`budget-${i}`, 10, 1, T0 + 1000)], T0);
    expect(store.size).toBe(2000);
    // Much later, traffic on one key sweeps the expired ones away.
    for (let i = 0; i < 1000; i++)
      store.consume([windowCounter("active", 1_000_000, 1000)], T0 + 10_000 + i);
    expect(store.size).toBeLessThan(10);
  });

  it("clear() forgets every counter", () => {
    const store = new MemoryStateStore();
    store.consume([windowCounter("k", 1)], T0);
    store.clear();
    expect(store.size).toBe(0);
    expect(store.consume([windowCounter("k", 1)], T0).admitted).toBe(true);
  });
});

describe("MemoryStateStore properties", () => {
  it("a rate limit never admits more than its limit in any window", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 10, max: 5000 }),
        fc.integer({ min: 1, max: 50 }),
        fc.array(fc.integer({ min: 0, max: 700 }), { minLength: 1, maxLength: 300 }),
        (limit, windowMs, precision, gaps) => {
          const store = new MemoryStateStore({ precision });
          const admitted: number[] = [];
          let now = T0;
          for (const gap of gaps) {
            now += gap;
            if (store.consume([windowCounter("k", limit, windowMs)], now).admitted)
              admitted.push(now);
          }
          // Any interval (t - W, t] ending at an admission holds at most `limit` admissions.
          for (let i = 0; i < admitted.length; i++) {
            const end = admitted[i] as number;
            const inWindow = admitted.filter((t) => t > end - windowMs && t <= end).length;
            if (inWindow > limit) return false;
          }
          return true;
        },
      ),
      { numRuns: 300 },
    );
  });

  it("a rate limit admits the full limit of a fresh window", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 1, max: 100 }),
        (limit, precision) => {
          const store = new MemoryStateStore({ precision });
          let admitted = 0;
          for (let i = 0; i < limit + 5; i++)
            if (store.consume([windowCounter("k", limit)], T0).admitted) admitted++;
          return admitted === limit;
        },
      ),
    );
  });

  it("a peek at any time answers what consume would, and changes no later answer", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 10, max: 3000 }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(
          fc.record({
            gap: fc.integer({ min: 0, max: 800 }),
            peekAt: fc.option(fc.integer({ min: -500, max: 10_000 })),
          }),
          { minLength: 1, maxLength: 120 },
        ),
        (limit, windowMs, precision, steps) => {
          // Two stores see the same consumes; only one is peeked at, ahead and behind.
          const peeked = new MemoryStateStore({ precision });
          const plain = new MemoryStateStore({ precision });
          const counters = (now: number) => [
            windowCounter("w", limit, windowMs),
            periodCounter("b", 10 * limit, 3, now - (now % 5000) + 5000),
          ];
          const consumedAt: number[] = [];
          /** A store that saw the same consumes, and nothing else. */
          const replayed = () => {
            const store = new MemoryStateStore({ precision });
            for (const t of consumedAt) store.consume(counters(t), t);
            return store;
          };
          let now = T0;
          for (const { gap, peekAt } of steps) {
            now += gap;
            if (peekAt !== null) {
              const at = now + peekAt;
              const answer = peeked.peek(counters(at), at);
              if (JSON.stringify(answer) !== JSON.stringify(replayed().consume(counters(at), at)))
                return false;
            }
            consumedAt.push(now);
            const a = peeked.consume(counters(now), now);
            const b = plain.consume(counters(now), now);
            if (JSON.stringify(a) !== JSON.stringify(b)) return false;
          }
          return true;
        },
      ),
      { numRuns: 200 },
    );
  });

  it("a budget is never overspent and every refusal leaves it unchanged", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.array(fc.integer({ min: 0, max: 3000 }), { maxLength: 100 }),
        (limit, amounts) => {
          const store = new MemoryStateStore();
          let spent = 0;
          for (const amount of amounts) {
            const r = store.consume(
              [periodCounter("b", limit, amount), windowCounter("rate", 1_000_000)],
              T0,
            );
            if (r.admitted) spent += amount;
            if ((r.totals[0] as number) !== spent) return false;
            if (spent > limit) return false;
          }
          return true;
        },
      ),
    );
  });
});
