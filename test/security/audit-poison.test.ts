/**
 * One record the store refuses (a "poison" record) must not wedge the audit log nor fail
 * innocent callers: the attack is a 6000-byte `userId`, which PostgreSQL's
 * `(user_id, timestamp)` index refuses (`index row size … exceeds btree … maximum 2704`).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import {
  type AuditRecord,
  type AuditStore,
  DecisionLogger,
  PostgresAuditStore,
  SqliteAuditStore,
} from "../../src/audit/index.ts";
import { Guardian } from "../../src/index.ts";
import { wrapStore } from "../support/audit-db.ts";
import { PG_URL, pgReachable } from "../support/pg.ts";

const POLICIES = `
policies:
  - id: open
    rules: []
`;

const available = await pgReachable("the audit poison tests").catch((err: unknown) => {
  describe("PostgreSQL", () => {
    it("is reachable (CI needs it for the audit poison tests)", () => {
      throw err;
    });
  });
  return false;
});

async function pgStore() {
  const schema = `hexarch_test_${randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const store = new PostgresAuditStore(PG_URL, { schema });
  await store.migrate();
  return { store, schema };
}

describe.runIf(available)("a 6000-byte userId against the PostgreSQL audit log", () => {
  it("is stored cut and marked, and every later decision is written", async () => {
    const { store } = await pgStore();
    const errors: Error[] = [];
    const logger = new DecisionLogger(store, { exitHooks: false, onError: (e) => errors.push(e) });
    const g = new Guardian({ env: {}, policies: POLICIES, auditLogger: logger });
    const long = randomBytes(6000).toString("base64");
    await g.check("open", { userId: long })(async () => {})();
    await logger.flush();
    for (let i = 0; i < 20; i++) await g.check("open", { userId: `user-${i}` })(async () => {})();
    await logger.flush();
    const rows = await logger.getDecisionHistory({ limit: 100 });
    expect(rows).toHaveLength(21);
    const cut = rows.find((r) => r.userId?.startsWith(long.slice(0, 100)));
    expect(cut?.userId).toMatch(/…\[\+\d+ chars\]$/);
    expect(cut?.userId?.length).toBeLessThanOrEqual(256);
    expect(await logger.verify()).toEqual(expect.objectContaining({ ok: true, checked: 21 }));
    expect(errors).toEqual([]);
    expect(logger.stats).toMatchObject({ written: 21, dropped: 0, poisoned: 0 });
    await logger.close();
  });

  it("a non-string userId is coerced, never a synchronous throw", async () => {
    const { store } = await pgStore();
    const logger = new DecisionLogger(store, { exitHooks: false });
    const g = new Guardian({ env: {}, policies: POLICIES });
    const decision = await g.evaluate("open");
    const second = await g.evaluate("open"); // its own decision id
    expect(() =>
      logger.record({
        decision,
        context: {},
        userId: { id: 7, pad: "x".repeat(5000) } as unknown as string,
        mode: "enforce",
      }),
    ).not.toThrow();
    expect(() =>
      logger.record({
        decision: second,
        context: {},
        userId: 42 as unknown as string,
        mode: "enforce",
      }),
    ).not.toThrow();
    await logger.flush();
    const users = (await logger.getDecisionHistory()).map((r) => r.userId);
    expect(users).toContain("42");
    expect(users.some((u) => u?.startsWith('{"id":7,') && u.length <= 256)).toBe(true);
    expect(await logger.verify()).toEqual(expect.objectContaining({ ok: true }));
    await logger.close();
  });
});

/** A store that refuses any append holding a record whose user id is in `poison`. */
function poisonStore(inner: AuditStore, poison: Set<string>) {
  return wrapStore(inner, {
    append: async (records: readonly AuditRecord[]) => {
      if (records.some((r) => r.userId !== null && poison.has(r.userId)))
        throw new Error("index row size 8040 exceeds btree version 4 maximum 2704");
      await inner.append(records);
    },
  });
}

function backends() {
  const list: [string, () => Promise<AuditStore>][] = [
    ["SQLite", async () => new SqliteAuditStore(":memory:")],
  ];
  if (available) list.push(["PostgreSQL", async () => (await pgStore()).store]);
  return list;
}

describe.each(backends())("a poison record (%s)", (_name, makeStore) => {
  it("batched mode: the others are written, the poison one dropped and reported", async () => {
    const poison = new Set<string>();
    const errors: Error[] = [];
    const logger = new DecisionLogger(poisonStore(await makeStore(), poison), {
      exitHooks: false,
      onError: (e) => errors.push(e),
    });
    const g = new Guardian({ env: {}, policies: POLICIES, auditLogger: logger });
    const call = (userId: string) => g.check("open", { userId })(async () => {})();
    await call("before");
    await logger.flush();
    poison.add("u7");
    for (let i = 0; i < 20; i++) await call(`u${i}`);
    await logger.flush();
    for (let i = 0; i < 5; i++) await call(`after${i}`);
    await logger.flush();
    const rows = await logger.getDecisionHistory({ limit: 100 });
    expect(rows).toHaveLength(25);
    expect(rows.map((r) => r.userId)).not.toContain("u7");
    expect(logger.stats).toMatchObject({ written: 25, dropped: 1, poisoned: 1 });
    expect(logger.pending).toBe(0);
    const reported = errors.filter((e) => e.message.includes("dropped"));
    expect(reported).toHaveLength(1);
    expect(reported[0]?.message).toContain("2704");
    expect(await logger.verify()).toEqual(expect.objectContaining({ ok: true, checked: 25 }));
    await logger.close();
  });

  it("batched mode: a store that refuses everything keeps every record queued", async () => {
    const inner = await makeStore();
    const down = wrapStore(inner, {
      append: async () => {
        throw new Error("connection refused");
      },
    });
    const logger = new DecisionLogger(down, { exitHooks: false, onError: () => {} });
    const g = new Guardian({ env: {}, policies: POLICIES, auditLogger: logger });
    for (let i = 0; i < 30; i++) await g.check("open", { userId: `u${i}` })(async () => {})();
    await logger.flush();
    await logger.flush();
    expect(logger.pending).toBe(30);
    expect(logger.stats).toMatchObject({ written: 0, dropped: 0, poisoned: 0 });
    await inner.close();
  });

  it("durable mode: only the poison record's caller is refused", async () => {
    const poison = new Set<string>();
    const logger = new DecisionLogger(poisonStore(await makeStore(), poison), {
      exitHooks: false,
      durable: true,
      onError: () => {},
    });
    const g = new Guardian({ env: {}, policies: POLICIES, auditLogger: logger });
    await g.check("open", { userId: "first" })(async () => {})();
    poison.add("c5");
    let ran = 0;
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) =>
        g.check("open", { userId: `c${i}` })(async () => ran++)(),
      ),
    );
    const rejected = results.flatMap((r, i) => (r.status === "rejected" ? [i] : []));
    expect(rejected).toEqual([5]);
    expect(ran).toBe(11);
    expect(logger.stats).toMatchObject({ refused: 1, written: 12 });
    expect(await logger.verify()).toEqual(expect.objectContaining({ ok: true, checked: 12 }));
    await logger.close();
  });
});

/** What `pg` throws when nothing listens on the port: no record reached the store. */
function unreachable(): Error {
  return Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
}

describe("a store that cannot be reached (no record was sent, so none can be poison)", () => {
  it("batched mode: one append per flush, no search, every record kept", async () => {
    const inner = new SqliteAuditStore(":memory:");
    let appends = 0;
    const down = wrapStore(inner, {
      append: async () => {
        appends++;
        throw unreachable();
      },
    });
    const logger = new DecisionLogger(down, { exitHooks: false, onError: () => {} });
    const g = new Guardian({ env: {}, policies: POLICIES, auditLogger: logger });
    for (let i = 0; i < 30; i++) await g.check("open", { userId: `u${i}` })(async () => {})();
    await logger.flush();
    expect(appends).toBe(1);
    expect(logger.pending).toBe(30);
    expect(logger.stats).toMatchObject({ written: 0, dropped: 0, poisoned: 0 });
    await inner.close();
  });

  it("durable mode: a failed group is refused with its one append", async () => {
    const inner = new SqliteAuditStore(":memory:");
    let appends = 0;
    let othersWaited = false;
    const down = wrapStore(inner, {
      append: async () => {
        appends++;
        // The first append fails only once the other eleven records wait behind it.
        if (appends === 1) {
          await vi.waitFor(() => expect(logger.pending).toBe(12));
          othersWaited = true;
        }
        throw unreachable();
      },
    });
    const logger = new DecisionLogger(down, { exitHooks: false, durable: true, onError: () => {} });
    const g = new Guardian({ env: {}, policies: POLICIES, auditLogger: logger });
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) => g.check("open", { userId: `c${i}` })(async () => {})()),
    );
    expect(results.every((r) => r.status === "rejected")).toBe(true);
    expect(othersWaited).toBe(true);
    expect(appends).toBe(2); // the first record alone, then the eleven taken meanwhile
    expect(logger.stats).toMatchObject({ refused: 12, written: 0 });
    await inner.close();
  });

  it("a suspect whose retry finds the store unreachable stays queued, not dropped as poison", async () => {
    const inner = new SqliteAuditStore(":memory:");
    let withB = 0;
    const flaky = wrapStore(inner, {
      append: async (records: readonly AuditRecord[]) => {
        if (records.some((r) => r.userId === "b")) {
          withB++;
          if (withB <= 3) throw new Error("a blip"); // the batch, [a, b], then [b] alone
          if (withB === 4) throw unreachable(); // the retry of [b]: the store went down
        }
        await inner.append(records);
      },
    });
    const logger = new DecisionLogger(flaky, { exitHooks: false, onError: () => {} });
    const g = new Guardian({ env: {}, policies: POLICIES, auditLogger: logger });
    for (const u of ["a", "b", "c", "d"]) await g.check("open", { userId: u })(async () => {})();
    await logger.flush(); // b stays queued, and the write loop's next batch writes it
    expect(logger.stats).toMatchObject({ written: 4, dropped: 0, poisoned: 0 });
    expect(logger.pending).toBe(0);
    await logger.close();
  });
});
