/**
 * `POST /authorize` with `dry_run: true`: the usual answer plus `dryRun: true`, and no
 * effect: no audit row, no counter moved, no confirmation request created or token used,
 * no decision counted in the metrics.
 */
import { describe, expect, it } from "vitest";
import { DecisionLogger, SqliteAuditStore } from "../../src/audit/index.ts";
import {
  Guardian,
  MemoryConfirmationStore,
  RemoteDecisionClient,
  type RemoteFetch,
} from "../../src/index.ts";
import { borrowedConfirmations, createServer } from "../../src/server/index.ts";
import { sqliteSql } from "../support/audit-db.ts";
import { closeAfterEach, tempDbs } from "../support/cleanup.ts";

const TOKEN = "test-token-0123456789abcdef";
const AUTH = { authorization: `Bearer ${TOKEN}` };

const POLICIES = `
policies:
  - id: limited
    rules: [{ resource: "*", requests_per_minute: 2, per: userId, action: block }]
  - id: spend
    rules: [{ resource: openai, daily_budget: 5 }]
  - id: safe_delete
    rules: [{ operation: delete, action: require_confirmation }]
`;

const newDb = tempDbs("hexarch-dry-run");
const closers = closeAfterEach();

async function server() {
  const path = newDb();
  const audit = new SqliteAuditStore(path);
  await audit.migrate();
  const logger = new DecisionLogger(audit, { exitHooks: false });
  const confirmations = new MemoryConfirmationStore();
  const guardian = new Guardian({
    env: {},
    policies: POLICIES,
    onWarn: () => {},
    confirmations: borrowedConfirmations(confirmations),
  });
  const app = await createServer({
    guardian,
    auditLogger: logger,
    confirmations,
    apiToken: TOKEN,
    logger: false,
    docs: true,
  });
  closers.push(async () => {
    await app.close();
    await logger.close();
  });
  const sql = sqliteSql(path);
  /** Audit rows in the database, once every record taken is written. */
  const rows = async () => {
    await logger.flush();
    const [row] = await sql("SELECT count(*) AS n FROM hexarch_decisions");
    return Number(row?.n);
  };
  const authorize = (body: object, headers: Record<string, string> = {}) =>
    app.inject({
      method: "POST",
      url: "/authorize",
      headers: { ...AUTH, ...headers },
      payload: body,
    });
  const decisionsCounted = async () => {
    const text = (await app.inject({ method: "GET", url: "/metrics", headers: AUTH })).body;
    return text
      .split("\n")
      .filter((l) => l.startsWith("hexarch_decisions_total{"))
      .reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
  };
  return { app, guardian, confirmations, rows, authorize, decisionsCounted };
}

describe("POST /authorize with dry_run", () => {
  it("answers the decision with dryRun: true, writing no audit row and moving no counter", async () => {
    const s = await server();
    const ctx = { userId: "alice", resource: "email" };
    await s.authorize({ policyId: "limited", context: ctx });
    const before = await s.rows();
    expect(before).toBe(1);
    for (let i = 0; i < 5; i++) {
      const res = await s.authorize({ policyId: "limited", context: ctx, dry_run: true });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({
        allowed: true,
        decision: "ALLOW",
        action: "allow",
        policies: ["limited"],
        matchedRules: ["limited/rules[0]"],
        dryRun: true,
      });
    }
    expect(await s.rows()).toBe(before);
    // The quota is whole: one more real call passes, the next is refused.
    const real = await s.authorize({ policyId: "limited", context: ctx });
    expect(real.json()).toMatchObject({ allowed: true });
    expect(real.json()).not.toHaveProperty("dryRun");
    expect((await s.authorize({ policyId: "limited", context: ctx })).json().allowed).toBe(false);
    // And a dry run at the limit reports the refusal and its reason.
    const dry = (await s.authorize({ policyId: "limited", context: ctx, dry_run: true })).json();
    expect(dry).toMatchObject({ allowed: false, action: "block", dryRun: true });
    expect(dry.reason).toContain("limit of 2 requests per minute");
    expect(await s.rows()).toBe(3);
    // Dry runs are not counted as decisions.
    expect(await s.decisionsCounted()).toBe(3);
  });

  it("reports a cost over the budget as blocked and spends nothing", async () => {
    const s = await server();
    const ask = (cost: number, dry: boolean) =>
      s.authorize({ policyId: "spend", context: { resource: "openai", cost }, dry_run: dry });
    expect((await ask(4, false)).json().allowed).toBe(true);
    expect((await ask(1.5, true)).json()).toMatchObject({ action: "block", dryRun: true });
    expect((await ask(1, true)).json()).toMatchObject({ action: "allow", dryRun: true });
    expect((await ask(1, false)).json().allowed).toBe(true);
    expect((await ask(0.01, false)).json().allowed).toBe(false);
  });

  it("creates no confirmation request, and checks a token without using it", async () => {
    const s = await server();
    const context = { operation: "delete", id: 7 };
    const dry = await s.authorize({ policyId: "safe_delete", context, dry_run: true });
    expect(dry.json()).toMatchObject({
      allowed: false,
      action: "require_confirmation",
      dryRun: true,
      notes: [expect.stringContaining("no confirmation request was created")],
    });
    expect(dry.json()).not.toHaveProperty("confirmationToken");
    expect(dry.headers["x-confirmation-token"]).toBeUndefined();
    expect(s.confirmations.list({ status: "all" })).toEqual([]);

    // A real call asks for approval; another principal approves.
    const asked = (await s.authorize({ policyId: "safe_delete", context })).json();
    const token = asked.confirmationToken as string;
    s.confirmations.approve(token, { approvedBy: "bob" });
    const rowsBefore = await s.rows();
    for (const headers of [{}, { "x-confirmation-token": token }]) {
      const body = headers["x-confirmation-token" as keyof typeof headers]
        ? { policyId: "safe_delete", context, dry_run: true }
        : {
            policyId: "safe_delete",
            context: { ...context, confirmationToken: token },
            dry_run: true,
          };
      const checked = (await s.authorize(body, headers)).json();
      expect(checked).toMatchObject({ allowed: true, dryRun: true });
      expect(checked.reason).toContain("the confirmation token would be used");
      expect(checked.notes).toEqual([expect.stringContaining("checked, never used")]);
    }
    expect(s.confirmations.get(token)?.status).toBe("approved");
    expect(await s.rows()).toBe(rowsBefore);
    // The real call still uses it, once.
    const used = await s.authorize({
      policyId: "safe_delete",
      context: { ...context, confirmationToken: token },
    });
    expect(used.json().allowed).toBe(true);
    expect(s.confirmations.get(token)?.status).toBe("consumed");
  });

  it("answers the API-policy shape as a dry run too, unrecorded", async () => {
    const s = await server();
    const res = await s.authorize({ action: "read", context: {}, dry_run: true });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      allowed: false,
      reason: "no_applicable_policies",
      dryRun: true,
    });
    expect(await s.rows()).toBe(0);
    expect(await s.decisionsCounted()).toBe(0);
    expect((await s.authorize({ action: "read", context: {} })).json()).not.toHaveProperty(
      "dryRun",
    );
    expect(await s.rows()).toBe(1);
  });

  it("rejects a dry_run that is not a boolean, and documents it in the OpenAPI document", async () => {
    const s = await server();
    const bad = await s.authorize({ policyId: "limited", context: {}, dry_run: "yes" });
    expect(bad.statusCode).toBe(400);
    const doc = (
      await s.app.inject({ method: "GET", url: "/openapi.json", headers: AUTH })
    ).json() as {
      paths: Record<string, { post?: { requestBody?: { content: Record<string, unknown> } } }>;
    };
    expect(JSON.stringify(doc.paths["/authorize"])).toContain("dry_run");
  });

  it("serves RemoteDecisionClient dry runs, and the client refuses a server that ignores them", async () => {
    const s = await server();
    const viaInject: RemoteFetch = async (url, init) => {
      const res = await s.app.inject({
        method: "POST",
        url: new URL(url).pathname,
        headers: init.headers as Record<string, string>,
        payload: init.body as string,
      });
      return new Response(res.body, { status: res.statusCode });
    };
    const client = new RemoteDecisionClient({
      url: "http://decisions",
      token: TOKEN,
      fetch: viaInject,
    });
    const sdk = new Guardian({ env: {}, decisionClient: client });
    for (let i = 0; i < 4; i++) {
      const d = await sdk.decide("limited", { userId: "u", resource: "r" }, { dryRun: true });
      expect(d.allowed).toBe(true);
    }
    expect(await s.rows()).toBe(0);
    expect((await sdk.decide("limited", { userId: "u", resource: "r" })).allowed).toBe(true);
    expect(await s.rows()).toBe(1);

    // A server that decides for real (it answers without dryRun) is not trusted.
    const oldServer: RemoteFetch = async () =>
      new Response(JSON.stringify({ allowed: true, action: "allow", reason: "ok" }), {
        status: 200,
      });
    const old = new Guardian({
      env: {},
      decisionClient: new RemoteDecisionClient({ url: "http://old", fetch: oldServer }),
    });
    const refused = await old.decide("limited", {}, { dryRun: true });
    expect(refused).toMatchObject({ allowed: false, action: "block" });
    expect((refused.error as { code?: string } | undefined)?.code).toBe("dry_run_unsupported");
  });
});
