import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { DecisionLogger, SqliteApiKeyStore, SqliteAuditStore } from "../../src/audit/index.ts";
import { Guardian } from "../../src/index.ts";
import { createServer } from "../../src/server/index.ts";
// Internal: builds chained audit rows directly, to seed a database.
import { chainBatch } from "../../src/sql/rows.ts";

const TOKEN = "test-token-0123456789abcdef";
const AUTH = { authorization: `Bearer ${TOKEN}` };
const YAML = `
policies:
  - id: openai_budget
    rules: [{ resource: openai, monthly_budget: 1, action: block }]
  - id: other_budget
    rules: [{ resource: anthropic, monthly_budget: 1, action: block }]
  - id: open
    rules: [{ resource: "*", action: allow }]
`;

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function harness(yaml = YAML) {
  const dir = mkdtempSync(join(tmpdir(), "hexarch-provider-"));
  const path = join(dir, "audit.db");
  const keys = new SqliteApiKeyStore(path);
  const logger = new DecisionLogger(new SqliteAuditStore(path), { exitHooks: false });
  const guardian = new Guardian({ env: {}, policies: yaml, onWarn: () => {} });
  const app: FastifyInstance = await createServer({
    guardian,
    auditLogger: logger,
    apiToken: TOKEN,
    logger: false,
    apiKeys: keys,
    apiKeyAdmin: true,
  });
  closers.push(async () => {
    await app.close();
    await logger.close();
    await keys.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const report = (body: unknown, headers: Record<string, string> = AUTH) =>
    app.inject({ method: "POST", url: "/events/provider-calls", headers, payload: body as object });
  const authorize = (cost: number) =>
    app.inject({
      method: "POST",
      url: "/authorize",
      headers: AUTH,
      payload: { policyId: "openai_budget", context: { resource: "openai", cost } },
    });
  return { app, logger, path, report, authorize };
}

describe("POST /events/provider-calls", () => {
  it("records the call in the chained log and lists it, newest first", async () => {
    const h = await harness();
    const first = await h.report({
      resource: "openai",
      action: "chat.completions",
      ok: true,
      status_code: 200,
      latency_ms: 812.5,
      model: "gpt-4o",
      tokens_in: 120,
      tokens_out: 40,
      cost_usd: 0.01,
      metadata: { workflow: "w1" },
    });
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({
      recorded: true,
      settled: [{ policyId: "openai_budget", spentUsd: 0.01 }],
      unsettled: [],
    });
    await h.report({ resource: "anthropic", ok: false, error_type: "RateLimit" });
    const all = await h.app.inject({ method: "GET", url: "/events/provider-calls", headers: AUTH });
    const records = all.json() as Record<string, unknown>[];
    expect(records.map((r) => r.policyId)).toEqual(["provider:anthropic", "provider:openai"]);
    expect(records[0]).toMatchObject({ action: "provider_call", decision: "warned" });
    expect(records[1]).toMatchObject({
      decisionId: first.json().decisionId,
      decision: "allowed",
      functionName: "chat.completions",
      context: { resource: "openai", model: "gpt-4o", tokens_in: 120, cost_usd: 0.01 },
      metadata: { workflow: "w1" },
    });
    const one = await h.app.inject({
      method: "GET",
      url: "/events/provider-calls?resource=openai&limit=5",
      headers: AUTH,
    });
    expect(one.json()).toHaveLength(1);
    const verify = await h.app.inject({ method: "GET", url: "/audit-logs/verify", headers: AUTH });
    expect(verify.json()).toMatchObject({ ok: true, checked: 2 });
  });

  it("settles reported spend so the next /authorize is stopped past the budget", async () => {
    const h = await harness();
    expect((await h.authorize(0.1)).json().allowed).toBe(true);
    for (const cost of [0.5, 0.45]) {
      const r = await h.report({ resource: "openai", model: "gpt-4o", cost_usd: cost });
      expect(r.json().settled).toEqual([{ policyId: "openai_budget", spentUsd: cost, tokens: 0 }]);
    }
    // 0.1 + 0.5 + 0.45 = 1.05 > $1: spent.
    const next = await h.authorize(0);
    expect(next.json().allowed).toBe(false);
    expect(next.json().reason).toMatch(/budget/);
    // Spend reported against a spent budget still counts: spent money is spent.
    const late = await h.report({ resource: "openai", cost_usd: 0.2 });
    expect(late.json()).toMatchObject({
      recorded: true,
      settled: [{ policyId: "openai_budget", spentUsd: 0.2 }],
      unsettled: [],
    });
  });

  it("counts tokens against token budgets and moves no rate limit", async () => {
    const h = await harness(`
policies:
  - id: llm
    rules: [{ resource: openai, max_tokens_per_day: 1000, action: block }]
  - id: rate
    rules:
      - { resource: openai, requests_per_minute: 2, action: block }
      - { resource: openai, monthly_budget: 5, action: block }
  - id: eu_only
    rules: [{ resource: openai, when: { field: region, op: eq, value: eu }, monthly_budget: 1, action: block }]
`);
    // Ten reports: a settlement that consumed the 2-per-minute limit would stop after two.
    for (let i = 0; i < 10; i++) {
      const r = await h.report({
        resource: "openai",
        tokens_in: 60,
        tokens_out: 40,
        cost_usd: 0.01,
      });
      expect(r.json().settled).toEqual([
        { policyId: "llm", spentUsd: 0.01, tokens: 100 },
        { policyId: "rate", spentUsd: 0.01, tokens: 100 },
      ]);
      expect(r.json().unsettled).toEqual([
        { policyId: "eu_only", reason: "no budget of this policy applies to the call" },
      ]);
    }
    const ask = (policyId: string, context: Record<string, unknown>) =>
      h.app.inject({
        method: "POST",
        url: "/authorize",
        headers: AUTH,
        payload: { policyId, context: { resource: "openai", ...context } },
      });
    // 1,000 tokens reported: the token budget is spent...
    const llm = (await ask("llm", { tokens: 1 })).json();
    expect(llm.allowed).toBe(false);
    expect(llm.reason).toMatch(/token/);
    // ...while the rate limit still admits its two calls a minute, and then no more.
    expect((await ask("rate", { cost: 0 })).json().allowed).toBe(true);
    expect((await ask("rate", { cost: 0 })).json().allowed).toBe(true);
    expect((await ask("rate", { cost: 0 })).json().reason).toMatch(/requests per minute|limit/);
  });

  it("keeps provider calls out of the policy stats", async () => {
    const h = await harness();
    await h.report({ resource: "openai", cost_usd: 0.01 });
    await h.authorize(0.01);
    const stats = await h.app.inject({ method: "GET", url: "/audit/stats", headers: AUTH });
    const ids = (stats.json().policies as { policyId: string }[]).map((p) => p.policyId);
    expect(ids).not.toContain("provider:openai");
    expect(await h.logger.getPolicyStats("provider:openai")).toMatchObject({
      allowed: 0,
      blocked: 0,
    });
    const batch = chainBatch(
      [
        {
          decisionId: "d",
          timestamp: new Date().toISOString(),
          policyId: "provider:x",
          functionName: null,
          decision: "allowed",
          action: "provider_call",
          reason: "r",
          context: {},
          userId: null,
          durationMs: 0,
          metadata: null,
          mode: "enforce",
        },
      ],
      0,
      "0".repeat(64),
    );
    expect(batch.counts).toEqual([]);
  });

  it("validates the body, naming the field", async () => {
    const h = await harness();
    for (const [body, field] of [
      [{}, "resource"],
      [{ resource: "openai", cost_usd: -1 }, "cost_usd"],
      [{ resource: "openai", tokens_in: 1.5 }, "tokens_in"],
      [{ resource: "openai", ok: "yes" }, "ok"],
      [{ resource: "openai", error_message: "x".repeat(5000) }, "error_message"],
    ] as const) {
      const r = await h.report(body);
      expect(r.statusCode).toBe(400);
      expect(r.json().message).toContain(field);
    }
  });

  it("needs the write scope to report and the read scope to list", async () => {
    const h = await harness();
    const make = async (scopes: string[]) =>
      (
        await h.app.inject({
          method: "POST",
          url: "/api-keys",
          headers: AUTH,
          payload: { name: scopes.join("-"), scopes },
        })
      ).json().key as string;
    const reader = { authorization: `Bearer ${await make(["read"])}` };
    const writer = { authorization: `Bearer ${await make(["write"])}` };
    expect((await h.report({ resource: "openai" }, reader)).statusCode).toBe(403);
    expect((await h.report({ resource: "openai" }, writer)).statusCode).toBe(200);
    const list = (headers: Record<string, string>) =>
      h.app.inject({ method: "GET", url: "/events/provider-calls", headers });
    expect((await list(writer)).statusCode).toBe(403);
    expect((await list(reader)).statusCode).toBe(200);
  });
});

describe("the Python server's clients (n8n, Node-RED, `hexarch-ctl node-red verify`)", () => {
  it("answers a report with the Python fields id, resource, action and ok beside its own", async () => {
    const h = await harness();
    const full = await h.report({ resource: "openai", action: "chat", ok: false, cost_usd: 0.01 });
    expect(full.statusCode).toBe(200);
    const body = full.json();
    expect(body).toMatchObject({ resource: "openai", action: "chat", ok: false, recorded: true });
    expect(body.id).toBe(body.decisionId);
    // The Python server defaults ok to true; a report without an action says so with null.
    const bare = (await h.report({ resource: "anthropic" })).json();
    expect(bare).toMatchObject({ resource: "anthropic", action: null, ok: true });
    expect(bare.id).not.toBe(body.id);
    // The id is the audit record's.
    const listed = (
      await h.app.inject({ method: "GET", url: "/events/provider-calls", headers: AUTH })
    ).json() as { decisionId: string }[];
    expect(listed.map((r) => r.decisionId)).toEqual([bare.id, body.id]);
  });

  it("lists provider calls as a bare JSON list, the next page in a Link header", async () => {
    const h = await harness();
    for (let i = 0; i < 5; i++) await h.report({ resource: i < 3 ? "openai" : "anthropic" });
    const get = (url: string) => h.app.inject({ method: "GET", url, headers: AUTH });

    const all = await get("/events/provider-calls");
    expect(Array.isArray(all.json())).toBe(true);
    expect(all.json()).toHaveLength(5);
    expect(all.headers.link).toBeUndefined();

    const first = await get("/events/provider-calls?resource=openai&limit=2");
    expect(first.json()).toHaveLength(2);
    expect(first.headers.link).toBe(
      '</events/provider-calls?resource=openai&limit=2&offset=2>; rel="next"',
    );
    const next = String(first.headers.link).match(/^<([^>]+)>/)?.[1] as string;
    const second = await get(next);
    expect(second.json()).toHaveLength(1);
    expect(second.headers.link).toBeUndefined();
    const seen = [...first.json(), ...second.json()].map(
      (r: { decisionId: string }) => r.decisionId,
    );
    expect(new Set(seen).size).toBe(3);
  });

  it("answers GET /audit-logs/verify?chain_id=global&limit=50 with total, verified, unverified, first_failure_id", async () => {
    const h = await harness();
    for (let i = 0; i < 3; i++) await h.report({ resource: "openai" });
    const verify = () =>
      h.app.inject({
        method: "GET",
        url: "/audit-logs/verify?chain_id=global&limit=50",
        headers: AUTH,
      });
    const good = await verify();
    expect(good.statusCode).toBe(200);
    expect(good.json()).toMatchObject({
      ok: true,
      checked: 3,
      chain_id: "global",
      total: 3,
      verified: 3,
      unverified: 0,
      first_failure_id: null,
    });

    // Another chain id is not this server's: refused, naming the field.
    const other = await h.app.inject({
      method: "GET",
      url: "/audit-logs/verify?chain_id=tenant-a",
      headers: AUTH,
    });
    expect(other.statusCode).toBe(400);
    expect(other.json().message).toContain("chain_id");

    // An edited second record: verified stops before it, and it is the first failure.
    const listed = (
      await h.app.inject({ method: "GET", url: "/events/provider-calls", headers: AUTH })
    ).json() as { decisionId: string }[];
    const second = listed[1]?.decisionId as string;
    const db = new DatabaseSync(h.path);
    try {
      db.prepare("UPDATE hexarch_decisions SET reason = 'edited' WHERE decision_id = ?").run(
        second,
      );
    } finally {
      db.close();
    }
    expect((await verify()).json()).toMatchObject({
      ok: false,
      chain_id: "global",
      total: 2,
      verified: 1,
      unverified: 0,
      first_failure_id: second,
      firstBadDecisionId: second,
    });
  });
});
