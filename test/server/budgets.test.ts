/**
 * `GET /audit/budgets` (spend this period from the server's audit log, with rate and
 * run-out) and the YAML text `GET /policies` shows for policies of the file.
 */
import { describe, expect, it, vi } from "vitest";
import { DecisionLogger, SqliteApiKeyStore, SqliteAuditStore } from "../../src/audit/index.ts";
import { Guardian } from "../../src/index.ts";
import { createServer } from "../../src/server/index.ts";
import { closeAfterEach, tempDbs } from "../support/cleanup.ts";

const TOKEN = "budgets-test-token-0123456789abcdef";
const AUTH = { authorization: `Bearer ${TOKEN}` };
const tempDb = tempDbs("hexarch-budgets-route");
const closers = closeAfterEach();

// Monthly budgets, so the test's calls and the forecast fall in one period.
const POLICIES = `# the console's budgets
policies:
  - id: chat
    rules:
      - name: per_user
        monthly_budget: 10 # dollars
        per: userId
        action: block
  - id: openai
    rules:
      - resource: openai
        max_tokens_per_month: 1000
        action: block
`;

async function server(options: { audit?: boolean; cacheMs?: number } = {}) {
  const path = tempDb();
  const logger =
    options.audit === false
      ? undefined
      : new DecisionLogger(new SqliteAuditStore(path), { exitHooks: false, durable: true });
  const keys = new SqliteApiKeyStore(path);
  const app = await createServer({
    guardian: new Guardian({ env: {}, policies: POLICIES, onWarn: () => {} }),
    ...(logger && { auditLogger: logger }),
    apiKeys: keys,
    apiToken: TOKEN,
    logger: false,
    ...(options.cacheMs !== undefined && { budgetsCacheMs: options.cacheMs }),
  });
  closers.push(async () => {
    await app.close();
    await logger?.close();
    await keys.close();
  });
  const post = (url: string, payload: object) =>
    app.inject({ method: "POST", url, headers: AUTH, payload });
  const get = (url: string, headers: Record<string, string> = AUTH) =>
    app.inject({ method: "GET", url, headers });
  return { app, keys, post, get, logger };
}

describe("GET /audit/budgets", () => {
  it("lists each budget's spend this period, counted from the audit log", async () => {
    const { post, get } = await server();
    for (const [userId, cost] of [
      ["u1", 2],
      ["u1", 3],
      ["u2", 9],
      ["u2", 4], // refused: 9 + 4 > 10
    ] as const) {
      const res = await post("/authorize", { policyId: "chat", context: { userId, cost } });
      expect(res.statusCode).toBe(200);
    }
    const reported = await post("/events/provider-calls", {
      resource: "openai",
      tokens_in: 300,
      tokens_out: 100,
      cost_usd: 0.25,
    });
    // The server counts it at once against every policy with a budget that applies.
    expect(reported.json().settled.map((x: { policyId: string }) => x.policyId)).toEqual([
      "chat",
      "openai",
    ]);
    const res = await get("/audit/budgets");
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.truncated).toEqual([]);
    const chat = body.budgets.filter((b: { policyId: string }) => b.policyId === "chat");
    // The provider call (no user: the empty `per` value) counts against `chat` too, as the
    // server counted it when reported.
    expect(chat.map((b: { per: string; spent: number }) => [b.per, b.spent])).toEqual([
      ["u2", 9],
      ["u1", 5],
      ["", 0.25],
    ]);
    expect(chat[0]).toMatchObject({
      ruleName: "per_user",
      unit: "usd",
      period: "month",
      limit: 10,
      exhausted: false,
    });
    expect(chat[0].ratePerHour).toBeGreaterThan(0);
    expect(Date.parse(chat[0].periodStart)).toBeLessThanOrEqual(Date.parse(body.now));
    const tokens = body.budgets.find((b: { policyId: string }) => b.policyId === "openai");
    expect(tokens).toMatchObject({ unit: "tokens", per: null, spent: 400, limit: 1000 });
    const only = (await get("/audit/budgets?policy_id=openai&limit=1")).json();
    expect(only.budgets).toHaveLength(1);
    const capped = (await get("/audit/budgets?policy_id=chat&limit=1")).json();
    expect(capped.budgets.map((b: { per: string }) => b.per)).toEqual(["u2"]);
    expect(capped.truncated).toEqual([
      { policyId: "chat", ruleId: "chat/per_user", key: "monthly_budget", omitted: 2 },
    ]);
  });

  it("reuses an answer for a while, says when it was computed, and computes once for concurrent requests", async () => {
    const { post, get, logger } = await server();
    const spend = (userId: string) =>
      post("/authorize", { policyId: "chat", context: { userId, cost: 1 } });
    await spend("u1");
    const query = vi.spyOn(logger?.store as SqliteAuditStore, "query");
    const answers = await Promise.all([1, 2, 3].map(() => get("/audit/budgets")));
    const bodies = answers.map((r) => r.json());
    const computations = query.mock.calls.length;
    expect(computations).toBeGreaterThan(0);
    for (const b of bodies) {
      expect(b.computedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(b.computedAt).toBe(bodies[0].computedAt);
    }
    // Within the cache time, a new call is not counted yet, and nothing is replayed.
    await spend("u1");
    const again = (await get("/audit/budgets?policy_id=chat")).json();
    expect(query.mock.calls.length).toBe(computations);
    expect(again.computedAt).toBe(bodies[0].computedAt);
    expect(again.budgets[0]).toMatchObject({ per: "u1", spent: 1 });
    // Another limit is another answer.
    expect((await get("/audit/budgets?limit=7")).json().computedAt).not.toBe(undefined);
    expect(query.mock.calls.length).toBeGreaterThan(computations);
  });

  it("computes afresh after the cache time (budgetsCacheMs: 0 on every request)", async () => {
    const { post, get } = await server({ cacheMs: 0 });
    const spend = () =>
      post("/authorize", { policyId: "chat", context: { userId: "u1", cost: 2 } });
    await spend();
    const first = (await get("/audit/budgets?policy_id=chat")).json();
    expect(first.budgets[0]).toMatchObject({ per: "u1", spent: 2 });
    await spend();
    const second = (await get("/audit/budgets?policy_id=chat")).json();
    expect(second.budgets[0]).toMatchObject({ per: "u1", spent: 4 });
    expect(Date.parse(second.computedAt)).toBeGreaterThanOrEqual(Date.parse(first.computedAt));
  });

  it("is readable with the read scope, and answers 404 audit_disabled without a log", async () => {
    const { keys, get } = await server();
    const reader = await keys.create({ name: "reader", scopes: ["read"] });
    const res = await get("/audit/budgets", { authorization: `Bearer ${reader.key}` });
    expect(res.statusCode).toBe(200);
    // Nothing spent yet: the shared budget is listed at zero, per-user ones not at all.
    expect(res.json().budgets).toEqual([
      expect.objectContaining({ policyId: "openai", per: null, spent: 0, projectedRunOut: null }),
    ]);
    expect((await get("/audit/budgets", {})).statusCode).toBe(401);
    const bare = await server({ audit: false });
    const off = await bare.get("/audit/budgets");
    expect(off.statusCode).toBe(404);
    expect(off.json()).toMatchObject({ code: "audit_disabled" });
  });
});

describe("GET /policies", () => {
  it("shows each YAML policy's text as written in the file", async () => {
    const { get } = await server();
    const list = (await get("/policies")).json();
    expect(list.find((p: { id: string }) => p.id === "chat")).toMatchObject({
      source: "yaml",
      yaml: [
        "- id: chat",
        "  rules:",
        "    - name: per_user",
        "      monthly_budget: 10 # dollars",
        "      per: userId",
        "      action: block",
      ].join("\n"),
    });
    expect((await get("/policies/openai")).json().yaml).toBe(
      [
        "- id: openai",
        "  rules:",
        "    - resource: openai",
        "      max_tokens_per_month: 1000",
        "      action: block",
      ].join("\n"),
    );
  });
});
