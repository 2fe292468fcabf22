/**
 * The console's store queries, one suite for every SQL store: the listing's new filters
 * (function name, reason text, decision id, keyset paging newest first) and the window
 * counts (`timeseries`, `summary`) the database groups.
 */
import { describe, expect, it } from "vitest";
import type { AuditRecord, AuditStore } from "../../src/audit/index.ts";
// Internal: decision ids made for fixed instants.
import { uuidv7 } from "../../src/kernel/uuid.ts";

/** A fresh, empty store and how to let it go. */
export interface QueryFixture {
  readonly store: AuditStore;
  readonly cleanup: () => Promise<void>;
}

const BASE = Date.parse("2026-11-25T10:00:00Z");

/** 30 decisions a minute apart from 10:00 UTC, plus a confirmation event and a provider call. */
function seed(): AuditRecord[] {
  const at = (ms: number) => ({ decisionId: uuidv7(ms), timestamp: new Date(ms).toISOString() });
  const out: AuditRecord[] = Array.from({ length: 30 }, (_, i) => {
    const decision = i % 3 === 0 ? "blocked" : i % 3 === 1 ? "warned" : "allowed";
    return {
      ...at(BASE + i * 60_000),
      policyId: i < 20 ? "alpha" : "beta",
      functionName: i % 2 === 0 ? "send" : "read",
      decision,
      action: decision === "blocked" ? "block" : "allow",
      reason: decision === "blocked" ? (i % 2 === 0 ? "Rate_limit 100%" : "rate limit") : "ok",
      context: { i },
      userId: "u",
      durationMs: 1,
      metadata: null,
      mode: "enforce",
    };
  });
  const other = (ms: number, action: string, reason: string): AuditRecord => ({
    ...at(ms),
    policyId: "alpha",
    functionName: null,
    decision: "blocked",
    action,
    reason,
    context: {},
    userId: null,
    durationMs: 1,
    metadata: null,
    mode: "enforce",
  });
  out.push(
    other(BASE + 30_500, "confirmation_deny", "rate limit"),
    other(BASE + 90_500, "provider_call", "rate limit"),
    // Would match `rate_limit 100%` if `_` and `%` were wildcards.
    other(BASE + 150_500, "block", "rateXlimit 1000"),
  );
  return out.sort((a, b) => a.timestamp.localeCompare(b.timestamp));
}

export function runAuditQueriesContract(name: string, make: () => Promise<QueryFixture>): void {
  describe(`AuditStore console queries: ${name}`, () => {
    const withStore = (fn: (store: AuditStore, records: AuditRecord[]) => Promise<void>) => {
      return async () => {
        const f = await make();
        try {
          const records = seed();
          await f.store.append(records);
          await fn(f.store, records);
        } finally {
          await f.cleanup();
        }
      };
    };

    it(
      "filters by function name, reason text (case and wildcards literal) and decision id",
      withStore(async (store, records) => {
        const send = await store.query({ functionName: "send", limit: 1000 });
        expect(send).toHaveLength(15);
        const text = await store.query({ text: "RATE_LIMIT 100%", limit: 1000 });
        expect(text.map((r) => r.reason)).toEqual(Array(5).fill("Rate_limit 100%"));
        const loose = await store.query({ text: "rate", decision: "blocked", limit: 1000 });
        expect(loose).toHaveLength(13); // 10 decisions, the confirmation, the call, "rateXlimit"
        const id = records[7]?.decisionId as string;
        const one = await store.query({ decisionId: id });
        expect(one.map((r) => r.decisionId)).toEqual([id]);
        expect(await store.query({ text: "" })).toHaveLength(33);
      }),
    );

    it(
      "pages newest first by position with beforeSeq, without repeats or gaps",
      withStore(async (store) => {
        const all = (await store.query({ limit: 1000 })).map((r) => r.seq);
        const paged: number[] = [];
        let before: number | undefined;
        for (;;) {
          const page = await store.query({
            limit: 4,
            ...(before !== undefined && { beforeSeq: before }),
          });
          paged.push(...page.map((r) => r.seq));
          if (page.length < 4) break;
          before = page[page.length - 1]?.seq;
        }
        expect(paged).toEqual(all);
        expect(all).toEqual([...all].sort((a, b) => b - a));
        expect(all).toHaveLength(33);
      }),
    );

    it(
      "counts decisions per epoch-aligned bucket as a hand count does",
      withStore(async (store, records) => {
        const since = new Date(BASE + 90_000); // 10:01:30: not on a bucket
        const until = new Date(BASE + 25 * 60_000);
        const counts = await store.timeseries({ since, until, bucketMs: 300_000 });
        const expected = new Map<string, number>();
        for (const r of records) {
          const t = Date.parse(r.timestamp);
          if (t < since.getTime() || t >= until.getTime()) continue;
          if (r.action.startsWith("confirmation_") || r.action === "provider_call") continue;
          const key = `${Math.floor(t / 300_000) * 300_000}/${r.decision}`;
          expected.set(key, (expected.get(key) ?? 0) + 1);
        }
        expect(new Map(counts.map((c) => [`${c.t}/${c.decision}`, c.n]))).toEqual(expected);
        // 10:00–10:05 from 10:01:30: i = 2, 3, 4 and "rateXlimit" (the provider call is left out).
        expect(counts.filter((c) => c.t === BASE)).toEqual([
          { t: BASE, decision: "allowed", n: 1 },
          { t: BASE, decision: "blocked", n: 2 },
          { t: BASE, decision: "warned", n: 1 },
        ]);
        const beta = await store.timeseries({
          since,
          until,
          bucketMs: 86_400_000,
          policyId: "beta",
        });
        expect(beta.reduce((n, c) => n + c.n, 0)).toBe(5); // i = 20..24
        expect(beta.every((c) => c.t === Date.parse("2026-11-25T00:00:00Z"))).toBe(true);
      }),
    );

    it(
      "sums a window per policy and outcome, with top block reasons",
      withStore(async (store) => {
        const s = await store.summary(
          { since: new Date(BASE), until: new Date(BASE + 30 * 60_000) },
          2,
        );
        expect(s.outcomes).toEqual([
          { policyId: "alpha", decision: "allowed", n: 6 },
          { policyId: "alpha", decision: "blocked", n: 8 }, // 7 decisions + "rateXlimit"
          { policyId: "alpha", decision: "warned", n: 7 },
          { policyId: "beta", decision: "allowed", n: 4 },
          { policyId: "beta", decision: "blocked", n: 3 },
          { policyId: "beta", decision: "warned", n: 3 },
        ]);
        expect(s.topBlockReasons).toEqual([
          { reason: "Rate_limit 100%", count: 5 },
          { reason: "rate limit", count: 5 },
        ]);
        const beta = await store.summary(
          { since: new Date(BASE), until: new Date(BASE + 30 * 60_000), policyId: "beta" },
          5,
        );
        expect(beta.outcomes.map((o) => o.policyId)).toEqual(["beta", "beta", "beta"]);
        const empty = await store.summary(
          { since: new Date(BASE - 60_000), until: new Date(BASE) },
          5,
        );
        expect(empty).toEqual({ outcomes: [], topBlockReasons: [] });
      }),
    );
  });
}
