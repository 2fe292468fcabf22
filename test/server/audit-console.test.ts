/**
 * The console's audit routes over a real SQLite store: filters and keyset paging of
 * `GET /audit-logs`, one record with its chain links, the CSV and JSON export, and the
 * timeseries and summary counted by the database.
 */
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AuditRecord,
  DecisionLogger,
  SqliteApiKeyStore,
  SqliteAuditStore,
} from "../../src/audit/index.ts";
import { Guardian } from "../../src/index.ts";
// Internal: decision ids made for fixed instants.
import { uuidv7 } from "../../src/kernel/uuid.ts";
import { createServer } from "../../src/server/index.ts";
import { tempDbs } from "../support/cleanup.ts";

const TOKEN = "console-test-token-0123456789abcdef";
const AUTH = { authorization: `Bearer ${TOKEN}` };
const tempDb = tempDbs("hexarch-audit-console");

const BASE = Date.parse("2026-11-25T10:00:00Z");
const POLICIES = "policies:\n  - id: read\n    rules: []\n";

/** 60 decisions, one every 3 minutes from 10:00 UTC, and a few records of other kinds. */
function seed(): AuditRecord[] {
  const out: AuditRecord[] = [];
  for (let i = 0; i < 60; i++) {
    const at = BASE + i * 180_000;
    const decision = i % 5 === 0 ? "blocked" : i % 5 === 1 ? "warned" : "allowed";
    out.push({
      decisionId: uuidv7(at),
      timestamp: new Date(at).toISOString(),
      policyId: i % 3 === 0 ? "pay" : "read",
      functionName: i % 2 === 0 ? "lookup" : "transfer",
      decision,
      action: decision === "blocked" ? "block" : decision === "warned" ? "warn" : "allow",
      reason:
        decision !== "blocked"
          ? `Policy allowed call ${i}`
          : i % 10 === 0
            ? "Over 100% of Budget_cap"
            : "denied by rule",
      context: { i },
      userId: `u${i % 4}`,
      durationMs: 0.5,
      metadata: null,
      mode: "enforce",
    });
  }
  const extra = (at: number, over: Partial<AuditRecord>): AuditRecord => ({
    decisionId: uuidv7(at),
    timestamp: new Date(at).toISOString(),
    policyId: "read",
    functionName: null,
    decision: "blocked",
    action: "block",
    reason: "x",
    context: {},
    userId: null,
    durationMs: 1,
    metadata: null,
    mode: "enforce",
    ...over,
  });
  out.push(
    // Not decisions: in the log, left out of the counts.
    extra(BASE + 61_000, {
      action: "confirmation_deny",
      reason: "denied by rule",
      policyId: "pay",
    }),
    extra(BASE + 62_000, { action: "provider_call", decision: "allowed", reason: "llm call" }),
    // Text that looks like LIKE wildcards, but is not the text searched for.
    extra(BASE + 63_000, { reason: "over 100x of budgetXcap" }),
    // A spreadsheet formula and CSV's special characters.
    extra(BASE + 64_000, {
      reason: '=HYPERLINK("http://evil","x")',
      functionName: "@sum",
      context: { note: 'a "quoted", comma\nand a line' },
      metadata: { m: 1 },
    }),
  );
  return out;
}

let app: FastifyInstance;
let logger: DecisionLogger;
let keys: SqliteApiKeyStore;
let seeded: AuditRecord[];

beforeAll(async () => {
  const path = tempDb();
  const store = new SqliteAuditStore(path);
  seeded = seed();
  // In the order of their timestamps, as a logger writes them.
  await store.append([...seeded].sort((a, b) => a.timestamp.localeCompare(b.timestamp)));
  logger = new DecisionLogger(store, { exitHooks: false });
  keys = new SqliteApiKeyStore(path);
  app = await createServer({
    guardian: new Guardian({ env: {}, policies: POLICIES, onWarn: () => {} }),
    auditLogger: logger,
    apiKeys: keys,
    apiToken: TOKEN,
    logger: false,
  });
});

afterAll(async () => {
  await app.close();
  await logger.close();
  await keys.close();
});

interface Rec {
  seq: number;
  decisionId: string;
  timestamp: string;
  policyId: string;
  functionName: string | null;
  decision: string;
  action: string;
  reason: string;
}

const get = async (url: string) => app.inject({ method: "GET", url, headers: AUTH });
const page = async (url: string) => {
  const res = await get(url);
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as { records: Rec[]; nextBeforeSeq: number | null; nextOffset: number | null };
};

/** Every record the listing gives for a filter, following `nextBeforeSeq`. */
async function everyPage(query: string, limit: number): Promise<{ pages: number; seqs: number[] }> {
  const seqs: number[] = [];
  let before: number | null = null;
  let pages = 0;
  do {
    const p = await page(
      `/audit-logs?${query}&limit=${limit}${before === null ? "" : `&before_seq=${before}`}`,
    );
    pages++;
    seqs.push(...p.records.map((r) => r.seq));
    before = p.nextBeforeSeq;
  } while (before !== null && pages < 100);
  return { pages, seqs };
}

describe("GET /audit-logs (console filters)", () => {
  it("filters by function name, and by reason text ignoring case with % and _ literal", async () => {
    const transfer = await page("/audit-logs?function_name=transfer&limit=1000");
    expect(transfer.records).toHaveLength(30);
    expect(transfer.records.every((r) => r.functionName === "transfer")).toBe(true);

    const budget = await page(`/audit-logs?q=${encodeURIComponent("100% OF budget_CAP")}`);
    // i = 0, 10, 20, 30, 40, 50; never "over 100x of budgetXcap".
    expect(budget.records.map((r) => r.reason)).toEqual(
      Array.from({ length: 6 }, () => "Over 100% of Budget_cap"),
    );
    const combined = await page("/audit-logs?q=denied&decision=blocked&policy_id=read");
    const expected = seeded.filter(
      (r) => r.reason.includes("denied") && r.decision === "blocked" && r.policyId === "read",
    );
    expect(combined.records.map((r) => r.decisionId).sort()).toEqual(
      expected.map((r) => r.decisionId).sort(),
    );
    expect(combined.records.length).toBeGreaterThan(0);
  });

  it("pages newest first with before_seq through every record, without repeats or gaps", async () => {
    const all = (await page("/audit-logs?limit=1000")).records.map((r) => r.seq);
    expect(all).toHaveLength(seeded.length);
    expect(all).toEqual([...all].sort((a, b) => b - a));

    const { pages, seqs } = await everyPage("decision=allowed", 7);
    const allowed = (await page("/audit-logs?decision=allowed&limit=1000")).records.map(
      (r) => r.seq,
    );
    expect(seqs).toEqual(allowed);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(pages).toBe(Math.ceil(allowed.length / 7) + (allowed.length % 7 === 0 ? 1 : 0));

    // A page that is exactly the rest still names the next; the one after is empty and ends.
    const exact = await everyPage("policy_id=pay&function_name=lookup", 10);
    expect(exact.seqs).toHaveLength(10);
    expect(exact.pages).toBe(2);
  });

  it("refuses a before_seq that is not a positive integer", async () => {
    expect((await get("/audit-logs?before_seq=0")).statusCode).toBe(400);
    expect((await get("/audit-logs?before_seq=abc")).statusCode).toBe(400);
  });

  it("refuses an until before since, as the time series does (the export too)", async () => {
    for (const url of [
      "/audit-logs?since=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z",
      "/audit-logs?since=1h&until=2h",
      "/audit-logs/export?since=2026-12-02&until=2026-12-01",
    ]) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(400);
      expect(res.json()).toMatchObject({ code: "invalid_query", field: "query.until" });
    }
    // An empty window (since = until) is no error.
    const same = await get("/audit-logs?since=2026-12-01T00:00:00Z&until=2026-12-01T00:00:00Z");
    expect(same.statusCode).toBe(200);
  });
});

describe("GET /audit-logs/:decisionId", () => {
  it("answers the record with its hash links and its neighbours in the log", async () => {
    const list = (await page("/audit-logs?limit=3&policy_id=read")).records;
    const all = (await page("/audit-logs?limit=1000")).records;
    const mid = all[5] as Rec;
    const res = await get(`/audit-logs/${mid.decisionId}`);
    expect(res.statusCode).toBe(200);
    const body = res.json() as {
      record: Rec & { hash: string };
      chain: Record<string, unknown>;
    };
    expect(body.record).toMatchObject({ decisionId: mid.decisionId, seq: mid.seq });
    expect(body.chain).toEqual({
      seq: mid.seq,
      prevHash: expect.stringMatching(/^[0-9a-f]{64}$/),
      hash: body.record.hash,
      previousDecisionId: all[6]?.decisionId,
      nextDecisionId: all[4]?.decisionId,
    });
    // The previous record's hash is what this one is chained after.
    const prev = (await get(`/audit-logs/${all[6]?.decisionId}`)).json() as {
      chain: { hash: string };
    };
    expect(body.chain.prevHash).toBe(prev.chain.hash);
    expect(list.length).toBe(3);

    const newest = (await get(`/audit-logs/${all[0]?.decisionId}`)).json() as {
      chain: Record<string, unknown>;
    };
    expect(newest.chain.nextDecisionId).toBeNull();
    const oldest = (await get(`/audit-logs/${all[all.length - 1]?.decisionId}`)).json() as {
      chain: Record<string, unknown>;
    };
    expect(oldest.chain.previousDecisionId).toBeNull();
  });

  it("404s an unknown decision id, and leaves verify and export to their own routes", async () => {
    const res = await get("/audit-logs/0190aaaa-0000-7000-8000-000000000000");
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: "unknown_decision" });
    const verify = await get("/audit-logs/verify");
    expect(verify.statusCode).toBe(200);
    expect(verify.json()).toMatchObject({ ok: true });
    const exp = await get("/audit-logs/export?format=json");
    expect(exp.statusCode).toBe(200);
    expect(Array.isArray(exp.json())).toBe(true);
    // Replay is a POST; a GET of its path is a decision id that does not exist.
    expect((await get("/audit-logs/replay")).json()).toMatchObject({ code: "unknown_decision" });
  });
});

/** RFC 4180 rows of a CSV text (quoted fields may hold commas, quotes and line breaks). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i++;
    } else field += c;
  }
  return rows;
}

describe("GET /audit-logs/export", () => {
  it("streams every matching record as CSV, escaped and safe for spreadsheets", async () => {
    const res = await get("/audit-logs/export?format=csv");
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/csv/);
    expect(res.headers["content-disposition"]).toMatch(
      /^attachment; filename="hexarch-audit-\d{8}T\d{6}Z\.csv"$/,
    );
    const rows = parseCsv(res.body);
    expect(rows[0]).toEqual([
      "seq",
      "decision_id",
      "timestamp",
      "policy_id",
      "function_name",
      "decision",
      "action",
      "reason",
      "user_id",
      "duration_ms",
      "mode",
      "context",
      "metadata",
      "hash",
    ]);
    const data = rows.slice(1);
    expect(data).toHaveLength(seeded.length);
    const seqs = data.map((r) => Number(r[0]));
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
    const evil = data.find((r) => r[7]?.includes("HYPERLINK")) as string[];
    expect(evil[7]).toBe('\'=HYPERLINK("http://evil","x")');
    expect(evil[4]).toBe("'@sum");
    expect(JSON.parse(evil[11] as string)).toEqual({ note: 'a "quoted", comma\nand a line' });
    expect(JSON.parse(evil[12] as string)).toEqual({ m: 1 });
    // An empty metadata is an empty cell; numbers stay numbers.
    const plain = data.find((r) => r[7] === "Policy allowed call 2") as string[];
    expect(plain[12]).toBe("");
    expect(plain[9]).toBe("0.5");
  });

  it("takes the listing's filters and answers a JSON array in the listing's shape", async () => {
    const res = await get("/audit-logs/export?format=json&policy_id=pay&q=budget");
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    expect(res.headers["content-disposition"]).toMatch(/filename="hexarch-audit-.*\.json"/);
    const body = res.json() as Rec[];
    const listed = (await page("/audit-logs?policy_id=pay&q=budget")).records;
    expect(body).toEqual(listed);
    expect(body.length).toBe(2); // i = 0 and 30
    // From a page on: what the listing's next pages hold.
    const first = await page("/audit-logs?limit=10");
    const rest = (
      await get(`/audit-logs/export?format=json&before_seq=${first.nextBeforeSeq}`)
    ).json() as Rec[];
    expect(rest.map((r) => r.seq)).toEqual(
      (await page("/audit-logs?limit=1000")).records.slice(10).map((r) => r.seq),
    );
    const none = await get("/audit-logs/export?format=json&user_id=nobody");
    expect(none.json()).toEqual([]);
    const noneCsv = await get("/audit-logs/export?user_id=nobody");
    expect(parseCsv(noneCsv.body)).toHaveLength(1);
  });

  it("exports more records than one page, in order, with none repeated", async () => {
    const path = tempDb();
    const store = new SqliteAuditStore(path);
    const at = BASE;
    const many: AuditRecord[] = Array.from({ length: 12_000 }, (_, i) => ({
      ...(seeded[0] as AuditRecord),
      decisionId: uuidv7(at + i),
      timestamp: new Date(at + i).toISOString(),
    }));
    await store.append(many);
    const big = new DecisionLogger(store, { exitHooks: false });
    const server = await createServer({
      guardian: new Guardian({ env: {}, policies: POLICIES, onWarn: () => {} }),
      auditLogger: big,
      apiToken: TOKEN,
      logger: false,
    });
    try {
      const res = await server.inject({ method: "GET", url: "/audit-logs/export", headers: AUTH });
      const seqs = parseCsv(res.body)
        .slice(1)
        .map((r) => Number(r[0]));
      expect(seqs).toHaveLength(12_000);
      expect(seqs[0]).toBe(12_000);
      expect(seqs.every((s, i) => s === 12_000 - i)).toBe(true);
    } finally {
      await server.close();
      await big.close();
    }
  });
});

/** Decisions of the seed (not confirmation events nor provider calls) in a window. */
const decisionsIn = (since: number, until: number, policyId?: string) =>
  seeded.filter((r) => {
    const t = Date.parse(r.timestamp);
    return (
      t >= since &&
      t < until &&
      !r.action.startsWith("confirmation_") &&
      r.action !== "provider_call" &&
      (policyId === undefined || r.policyId === policyId)
    );
  });

describe("GET /audit/timeseries", () => {
  it("counts decisions per bucket as they are by hand, zero-filled", async () => {
    const since = "2026-11-25T09:00:00Z";
    const until = "2026-11-25T14:00:00Z";
    const res = await get(`/audit/timeseries?since=${since}&until=${until}&bucket=1h`);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as {
      bucketMs: number;
      points: { t: string; allowed: number; warned: number; blocked: number }[];
    };
    expect(body.bucketMs).toBe(3_600_000);
    // 10:00 holds i = 0..19: 4 blocked, 4 warned, 12 allowed, plus the "100x" and formula blocks.
    expect(body.points).toEqual([
      { t: "2026-11-25T09:00:00.000Z", allowed: 0, warned: 0, blocked: 0 },
      { t: "2026-11-25T10:00:00.000Z", allowed: 12, warned: 4, blocked: 6 },
      { t: "2026-11-25T11:00:00.000Z", allowed: 12, warned: 4, blocked: 4 },
      { t: "2026-11-25T12:00:00.000Z", allowed: 12, warned: 4, blocked: 4 },
      { t: "2026-11-25T13:00:00.000Z", allowed: 0, warned: 0, blocked: 0 },
    ]);
  });

  it("matches a hand count for 5m buckets of one policy in an unaligned window", async () => {
    const since = Date.parse("2026-11-25T10:07:30Z");
    const until = Date.parse("2026-11-25T11:41:00Z");
    const res = await get(
      `/audit/timeseries?since=${new Date(since).toISOString()}&until=${new Date(until).toISOString()}&bucket=5m&policy_id=read`,
    );
    const body = res.json() as {
      points: { t: string; allowed: number; warned: number; blocked: number }[];
    };
    const expected = new Map<string, { allowed: number; warned: number; blocked: number }>();
    for (let t = Math.floor(since / 300_000) * 300_000; t < until; t += 300_000)
      expected.set(new Date(t).toISOString(), { allowed: 0, warned: 0, blocked: 0 });
    for (const r of decisionsIn(since, until, "read")) {
      const t = new Date(Math.floor(Date.parse(r.timestamp) / 300_000) * 300_000).toISOString();
      const e = expected.get(t);
      if (e) e[r.decision]++;
    }
    expect(body.points).toEqual([...expected].map(([t, c]) => ({ t, ...c })));
    expect(body.points.reduce((n, p) => n + p.allowed + p.warned + p.blocked, 0)).toBe(
      decisionsIn(since, until, "read").length,
    );
  });

  it("picks a bucket for at most 200 points, and refuses more than 2000 buckets", async () => {
    const day = (await get("/audit/timeseries")).json() as { bucketMs: number; points: unknown[] };
    expect(day.bucketMs).toBe(900_000); // 24h: 1m and 5m give more than 200
    expect(day.points.length).toBeLessThanOrEqual(200);
    expect(day.points.length).toBeGreaterThanOrEqual(96);
    const year = (await get("/audit/timeseries?since=400d")).json() as {
      bucketMs: number;
      points: unknown[];
    };
    expect(year.points.length).toBeLessThanOrEqual(200);
    expect(year.bucketMs % 86_400_000).toBe(0);
    const tooMany = await get("/audit/timeseries?since=2d&bucket=1m");
    expect(tooMany.statusCode).toBe(400);
    expect(tooMany.json()).toMatchObject({ code: "invalid_query", field: "query.bucket" });
    const backwards = await get(
      "/audit/timeseries?since=2026-11-25T12:00:00Z&until=2026-11-25T11:00:00Z",
    );
    expect(backwards.json()).toMatchObject({ code: "invalid_query", field: "query.until" });
    expect((await get("/audit/timeseries?bucket=2m")).statusCode).toBe(400);
  });
});

describe("GET /audit/summary", () => {
  it("counts a window as the listing does, per policy, with top block reasons", async () => {
    const since = "2026-11-25T10:30:00Z";
    const until = "2026-11-25T12:30:00Z";
    const res = await get(`/audit/summary?since=${since}&until=${until}`);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as {
      total: number;
      allowed: number;
      warned: number;
      blocked: number;
      blockRate: number;
      topBlockReasons: { reason: string; count: number }[];
      policies: { policyId: string; total: number; blocked: number }[];
    };
    const listed = async (filter: string) =>
      (await page(`/audit-logs?since=${since}&until=${until}&limit=1000${filter}`)).records.filter(
        (r) => !r.action.startsWith("confirmation_") && r.action !== "provider_call",
      );
    expect(body.total).toBe((await listed("")).length);
    expect(body.blocked).toBe((await listed("&decision=blocked")).length);
    expect(body.warned).toBe((await listed("&decision=warned")).length);
    expect(body.allowed).toBe((await listed("&decision=allowed")).length);
    expect(body.total).toBe(40);
    expect(body.blockRate).toBe(20);
    // A tie: by reason, in code-point order.
    expect(body.topBlockReasons).toEqual([
      { reason: "Over 100% of Budget_cap", count: 4 },
      { reason: "denied by rule", count: 4 },
    ]);
    expect(body.policies.map((p) => p.policyId)).toEqual(["pay", "read"]);
    for (const p of body.policies)
      expect(p.total).toBe((await listed(`&policy_id=${p.policyId}`)).length);
  });

  it("defaults to the last 24 hours", async () => {
    const res = await get("/audit/summary");
    expect(res.statusCode).toBe(200);
    const body = res.json() as { since: string; until: string; total: number };
    expect(Date.parse(body.until) - Date.parse(body.since)).toBe(86_400_000);
    expect(body.total).toBe(0);
  });
});
