/**
 * The AuditStore contract: one suite for every store (SQLite now, PostgreSQL next).
 * `makeStore` returns a fresh, empty store and a way to run raw SQL on it (to tamper).
 */
import { describe, expect, it } from "vitest";
import { type AuditRecord, type AuditStore, DecisionLogger } from "../../src/audit/index.ts";
// Internal: decision ids, made for fixed instants.
import { uuidv7 } from "../../src/kernel/uuid.ts";
// Internal: the SQLite schema, to build a database as an older version left it.
import { SQLITE_MIGRATIONS } from "../../src/sqlite/migrations.ts";

export interface AuditFixture {
  readonly store: AuditStore;
  /** Runs raw SQL against the store's database. */
  readonly sql: (statement: string) => Promise<void>;
  readonly cleanup?: () => Promise<void>;
}

/** The latest migration (both dialects have the same list). */
const LATEST = SQLITE_MIGRATIONS.length;

let clock = Date.UTC(2026, 10, 25, 12);
export function record(over: Partial<AuditRecord> = {}): AuditRecord {
  clock += 1000;
  return {
    decisionId: uuidv7(clock),
    timestamp: new Date(clock).toISOString(),
    policyId: "safe_delete",
    functionName: "purge",
    decision: "allowed",
    action: "allow",
    reason: "Policy 'safe_delete' allowed the call",
    context: { operation: "read", n: 1 },
    userId: "alice",
    durationMs: 0.01,
    metadata: { env: "prod" },
    mode: "enforce",
    ...over,
  };
}

export function runAuditStoreContract(name: string, makeStore: () => Promise<AuditFixture>): void {
  describe(`AuditStore contract: ${name}`, () => {
    const withLogger =
      (fn: (logger: DecisionLogger, f: AuditFixture) => Promise<void>) => async () => {
        const f = await makeStore();
        const logger = new DecisionLogger(f.store, { exitHooks: false, batchSize: 50 });
        try {
          await fn(logger, f);
        } finally {
          await logger.close();
          await f.cleanup?.();
        }
      };

    it(
      "migrates on first use, reports applied migrations, and rolls the latest back",
      withLogger(async (logger, f) => {
        await f.store.append([
          record({ policyId: "m" }),
          // A confirmation event: in the log, never in the counts (nor when they are rebuilt).
          record({ policyId: "m", action: "confirmation_create", decision: "blocked" }),
        ]);
        expect((await logger.getPolicyStats("m")).totalDecisions).toBe(1);
        const again = await f.store.migrate();
        expect(again.map((m) => m.status)).toEqual(
          Array.from({ length: LATEST }, () => "already applied"),
        );
        const back = await f.store.rollback();
        expect(back[0]).toMatchObject({
          version: LATEST,
          direction: "down",
          status: "rolled back",
        });
        for (let i = 2; i < LATEST; i++) await f.store.rollback();
        const up = await f.store.migrate();
        expect(up.map((m) => [m.version, m.status])).toEqual(
          Array.from({ length: LATEST }, (_, i) => [
            i + 1,
            i === 0 ? "already applied" : "applied",
          ]),
        );
        // Re-applied, the stats table is rebuilt from the stored records.
        expect((await logger.getPolicyStats("m")).totalDecisions).toBe(1);
        for (let i = 0; i < LATEST; i++) await f.store.rollback();
        expect((await f.store.migrate()).map((m) => m.status)).toEqual(
          Array.from({ length: LATEST }, () => "applied"),
        );
        expect(await f.store.query({})).toHaveLength(0);
      }),
    );

    it(
      "stores every field and filters history by policy, user, decision and time",
      withLogger(async (logger, f) => {
        const a = record({
          policyId: "p1",
          userId: "alice",
          decision: "blocked",
          action: "block",
          reason: "too many",
        });
        const b = record({
          policyId: "p2",
          userId: "bob",
          decision: "warned",
          action: "warn",
          functionName: null,
          metadata: null,
        });
        const c = record({ policyId: "p1", userId: "bob" });
        await f.store.append([a, b, c]);
        const all = await logger.getDecisionHistory();
        expect(all.map((r) => r.decisionId)).toEqual([c.decisionId, b.decisionId, a.decisionId]);
        expect(all[2]).toMatchObject({
          ...a,
          seq: expect.any(Number),
          hash: expect.stringMatching(/^[0-9a-f]{64}$/),
        });
        expect(all[1]).toMatchObject({ functionName: null, metadata: null });
        expect(
          (await logger.getDecisionHistory({ policyId: "p1" })).map((r) => r.decisionId),
        ).toEqual([c.decisionId, a.decisionId]);
        expect(
          (await logger.getDecisionHistory({ userId: "bob", decision: "warned" })).map(
            (r) => r.decisionId,
          ),
        ).toEqual([b.decisionId]);
        expect(
          await logger.getDecisionHistory({ since: b.timestamp, until: c.timestamp }),
        ).toHaveLength(1);
        expect((await logger.getDecisionHistory({ limit: 1, offset: 1 }))[0]?.decisionId).toBe(
          b.decisionId,
        );
        expect((await logger.getUserAuditTrail("bob")).map((r) => r.decisionId)).toEqual([
          c.decisionId,
          b.decisionId,
        ]);
      }),
    );

    it(
      "counts a policy's decisions, block rate and top block reasons",
      withLogger(async (logger, f) => {
        await f.store.append([
          record({ policyId: "p" }),
          record({ policyId: "p", decision: "warned", action: "warn" }),
          record({ policyId: "p", decision: "blocked", action: "block", reason: "rate" }),
          record({ policyId: "p", decision: "blocked", action: "block", reason: "rate" }),
          record({ policyId: "p", decision: "blocked", action: "block", reason: "budget" }),
          record({ policyId: "other", decision: "blocked", action: "block" }),
        ]);
        expect(await logger.getPolicyStats("p")).toEqual({
          totalDecisions: 5,
          allowed: 1,
          warned: 1,
          blocked: 3,
          blockRate: 60,
          topBlockReasons: [
            { reason: "rate", count: 2 },
            { reason: "budget", count: 1 },
          ],
        });
        expect((await logger.getPolicyStats("none")).blockRate).toBe(0);
      }),
    );

    it(
      "stores a retried batch once",
      withLogger(async (logger, f) => {
        const batch = [record(), record()];
        await f.store.append(batch);
        await f.store.append([...batch, record()]);
        expect(await logger.getDecisionHistory()).toHaveLength(3);
        expect(await logger.verify()).toEqual({ ok: true, checked: 3 });
        expect((await logger.getPolicyStats("safe_delete")).totalDecisions).toBe(3);
      }),
    );

    it(
      "verifies an intact chain, across batches",
      withLogger(async (logger, f) => {
        for (let i = 0; i < 3; i++)
          await f.store.append(Array.from({ length: 40 }, () => record()));
        expect(await logger.verify()).toEqual({ ok: true, checked: 120 });
      }),
    );

    it(
      "detects an edited, a deleted, a reordered and a truncated record",
      withLogger(async (logger, f) => {
        const rows = Array.from({ length: 6 }, (_, i) => record({ reason: `r${i}` }));
        await f.store.append(rows);
        await f.sql(
          `UPDATE hexarch_decisions SET reason = 'nothing to see' WHERE decision_id = '${rows[2]?.decisionId}'`,
        );
        expect(await logger.verify()).toMatchObject({
          ok: false,
          firstBadDecisionId: rows[2]?.decisionId,
        });
        await f.sql(
          `UPDATE hexarch_decisions SET reason = 'r2' WHERE decision_id = '${rows[2]?.decisionId}'`,
        );
        expect((await logger.verify()).ok).toBe(true);
        await f.sql(`DELETE FROM hexarch_decisions WHERE decision_id = '${rows[3]?.decisionId}'`);
        expect(await logger.verify()).toMatchObject({
          ok: false,
          firstBadDecisionId: rows[4]?.decisionId,
        });
        await f.sql("DELETE FROM hexarch_decisions");
        expect((await logger.verify()).ok).toBe(false);
      }),
    );

    it(
      "detects two records swapped",
      withLogger(async (logger, f) => {
        const rows = [record(), record(), record()];
        await f.store.append(rows);
        await f.sql("UPDATE hexarch_decisions SET seq = seq + 1000 WHERE seq IN (1, 2)");
        await f.sql("UPDATE hexarch_decisions SET seq = 2 WHERE seq = 1001");
        await f.sql("UPDATE hexarch_decisions SET seq = 1 WHERE seq = 1002");
        expect((await logger.verify()).ok).toBe(false);
      }),
    );

    it(
      "keeps the chain verifiable after retention cleanup, by age and by severity",
      withLogger(async (logger, f) => {
        const old = Date.now() - 40 * 86_400_000;
        const at = (days: number) => new Date(old + days * 1000).toISOString();
        await f.store.append([
          record({ timestamp: at(1) }),
          record({ timestamp: at(2), decision: "blocked", action: "block" }),
          record({ timestamp: at(3) }),
          record({ timestamp: new Date().toISOString() }),
        ]);
        expect(await logger.cleanupBySeverity({ allowed: 30 }, { dryRun: true })).toBe(2);
        expect(await logger.cleanupOldRecords({ days: 30, dryRun: true })).toBe(3);
        expect(await f.store.query({})).toHaveLength(4); // a dry run deletes nothing
        expect(await logger.cleanupBySeverity({ allowed: 30 })).toBe(2);
        // Records 2 and 4 remain, and the chained prune record (5) that removed 1 and 3.
        expect(await logger.verify()).toMatchObject({ ok: true, checked: 3, prunes: 1, pruned: 2 });
        expect(await logger.getPolicyStats("safe_delete")).toMatchObject({
          totalDecisions: 2,
          allowed: 1,
          blocked: 1,
        });
        expect(await logger.cleanupOldRecords({ days: 30 })).toBe(1);
        expect(await logger.verify()).toMatchObject({ ok: true, checked: 3, prunes: 2, pruned: 3 });
        await f.store.append([record({ timestamp: new Date().toISOString() })]);
        expect(await logger.verify()).toMatchObject({ ok: true, checked: 4, prunes: 2, pruned: 3 });
        // verify shows each prune: who removed which positions, and why.
        expect((await logger.verify()).pruneRecords).toMatchObject([
          {
            seq: 5,
            removed: 2,
            runs: 2,
            ranges: [
              { from: 1, to: 1 },
              { from: 3, to: 3 },
            ],
          },
          { seq: 6, removed: 1, runs: 1, ranges: [{ from: 2, to: 2 }] },
        ]);
        // Each prune says what it removed, when, by whom and why.
        const prunes = (await f.store.chain(0, 100)).filter(
          (e) => "kind" in e && e.kind === "prune",
        );
        expect(prunes).toMatchObject([
          {
            seq: 5,
            fromSeq: 1,
            toSeq: 3,
            removed: 2,
            runs: 2,
            reason: expect.stringContaining("allowed"),
          },
          { seq: 6, fromSeq: 2, toSeq: 2, removed: 1, runs: 1 },
        ]);
      }),
    );

    it(
      "pages through the log oldest first for exports, with filters",
      withLogger(async (logger, f) => {
        const rows = Array.from({ length: 25 }, (_, i) =>
          record({ policyId: i % 3 === 0 ? "budget" : "rate" }),
        );
        await f.store.append(rows);
        const page = await f.store.query({ order: "asc", afterSeq: 5, limit: 3 });
        expect(page.map((r) => r.decisionId)).toEqual(rows.slice(5, 8).map((r) => r.decisionId));
        const all: string[] = [];
        for await (const r of logger.exportDecisions({}, { pageSize: 4 })) all.push(r.decisionId);
        expect(all).toEqual(rows.map((r) => r.decisionId));
        const budget: string[] = [];
        for await (const r of logger.exportDecisions(
          { policyId: "budget", limit: 5 },
          { pageSize: 2 },
        ))
          budget.push(r.decisionId);
        expect(budget).toEqual(
          rows
            .filter((r) => r.policyId === "budget")
            .slice(0, 5)
            .map((r) => r.decisionId),
        );
        expect(await logger.getPolicyIds()).toEqual(["budget", "rate"]);
      }),
    );

    it(
      "reports each migration as applied or pending without applying any",
      withLogger(async (_logger, f) => {
        const before = await f.store.migrationStatus();
        expect(before.map((m) => [m.version, m.appliedAt])).toEqual(
          Array.from({ length: LATEST }, (_, i) => [i + 1, null]),
        );
        await f.store.migrate();
        const after = await f.store.migrationStatus();
        expect(
          after.every((m) => m.appliedAt !== null && !Number.isNaN(Date.parse(m.appliedAt))),
        ).toBe(true);
        await f.store.rollback();
        expect((await f.store.migrationStatus()).map((m) => m.appliedAt === null)).toEqual(
          Array.from({ length: LATEST }, (_, i) => i === LATEST - 1),
        );
      }),
    );
  });
}
