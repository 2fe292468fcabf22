import type { FastifyInstance } from "fastify";
import pg from "pg";
import { describe, expect, it } from "vitest";
import {
  type ApiPolicyStore,
  DecisionLogger,
  PostgresApiPolicyStore,
  SqliteApiPolicyStore,
  SqliteAuditStore,
} from "../../src/audit/index.ts";
import { Guardian } from "../../src/index.ts";
import { createServer, type ServerOptions } from "../../src/server/index.ts";
import { closeAfterEach, tempDbs } from "../support/cleanup.ts";
import { PG_URL, pgReachable } from "../support/pg.ts";

const TOKEN = "test-token-0123456789abcdef";
const AUTH = { authorization: `Bearer ${TOKEN}` };

const YAML = `
policies:
  - id: open
    description: everything goes
    rules: [{ resource: "*", action: allow }]
`;

const tempDb = tempDbs("hexarch-api-policies");
const closers = closeAfterEach();

interface Harness {
  readonly app: FastifyInstance;
  readonly logger: DecisionLogger;
  req(
    method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
    url: string,
    payload?: unknown,
    headers?: object,
  ): Promise<{
    statusCode: number;
    // biome-ignore lint/suspicious/noExplicitAny: answers are read field by field in the tests
    json(): any;
    body: string;
  }>;
}

async function harness(options: Partial<ServerOptions> & { store?: ApiPolicyStore | false } = {}) {
  const path = tempDb();
  const { store: given, ...rest } = options;
  const store = given === false ? undefined : (given ?? new SqliteApiPolicyStore(path));
  const logger = new DecisionLogger(new SqliteAuditStore(path), { exitHooks: false });
  const guardian = new Guardian({ env: {}, policies: YAML, onWarn: () => {} });
  const app = await createServer({
    guardian,
    auditLogger: logger,
    apiToken: TOKEN,
    logger: false,
    ...(store && { apiPolicies: store }),
    ...rest,
  });
  closers.push(async () => {
    await app.close();
    await logger.close();
    await store?.close();
  });
  const h: Harness = {
    app,
    logger,
    req: (method, url, payload, headers = {}) =>
      app.inject({
        method,
        url,
        headers: { ...AUTH, ...headers },
        ...(payload !== undefined && { payload: payload as object }),
      }),
  };
  return h;
}

const riskRule = (threshold = 5) => ({
  name: "postman-risk-threshold",
  rule_type: "CONSTRAINT",
  description: "Deny provider invocation when risk score exceeds threshold",
  priority: 10,
  enabled: true,
  condition: { field: "input.context.risk_score", op: "lte", value: threshold },
});

const authorizeBody = (risk: number) => ({
  action: "invoke_provider",
  resource: { name: "llm-provider" },
  context: { client: "postman", risk_score: risk },
});

async function globalPolicy(h: Harness, extra: object = {}) {
  const rule = (await h.req("POST", "/rules", riskRule())).json();
  const res = await h.req("POST", "/policies", {
    name: "postman-pre-execution-gate",
    scope: "GLOBAL",
    scope_value: null,
    failure_mode: "FAIL_CLOSED",
    rule_ids: [rule.id],
    ...extra,
  });
  expect(res.statusCode).toBe(200);
  return { rule, policy: res.json() };
}

describe("the Python Postman flow", () => {
  it("creates a rule and a GLOBAL policy, then denies at risk 7 and allows at risk 3", async () => {
    const h = await harness();
    const created = await h.req("POST", "/rules", riskRule(), { "x-actor-id": "admin" });
    expect(created.statusCode).toBe(200);
    const rule = created.json();
    expect(rule).toMatchObject({
      id: expect.any(String),
      name: "postman-risk-threshold",
      rule_type: "CONSTRAINT",
      priority: 10,
      enabled: true,
      condition: { field: "input.context.risk_score", op: "lte", value: 5 },
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    const policy = (
      await h.req("POST", "/policies", {
        name: "postman-pre-execution-gate",
        description: "Block provider call when risk score is over threshold",
        enabled: true,
        scope: "GLOBAL",
        scope_value: null,
        failure_mode: "FAIL_CLOSED",
        rule_ids: [rule.id],
      })
    ).json();
    expect(policy).toMatchObject({ source: "api", readOnly: false, rule_ids: [rule.id] });

    const denied = await h.req("POST", "/authorize", authorizeBody(7));
    expect(denied.statusCode).toBe(200);
    expect(denied.json()).toMatchObject({
      allowed: false,
      decision: "DENY",
      action: "block",
      reason: `policy_denied:${policy.id}`,
      policies: [policy.id],
      decisionId: expect.any(String),
      matchedRules: [rule.id],
    });
    const allowed = (await h.req("POST", "/authorize", authorizeBody(3))).json();
    expect(allowed).toMatchObject({
      allowed: true,
      decision: "ALLOW",
      action: "allow",
      policies: [policy.id],
    });

    // Both recorded, with the action, resource and context.
    await h.logger.flush();
    const records = (await h.req("GET", "/audit-logs")).json().records;
    expect(records).toHaveLength(2);
    expect(records[1]).toMatchObject({
      decisionId: denied.json().decisionId,
      policyId: policy.id,
      decision: "blocked",
      functionName: "invoke_provider",
      context: authorizeBody(7),
      metadata: { via: "POST /authorize", policies: [policy.id] },
    });
  });

  it("sees the request and the caller in the envelope", async () => {
    const h = await harness();
    const rule = (
      await h.req("POST", "/rules", {
        name: "shape",
        rule_type: "CONDITION",
        condition: {
          all: [
            { field: "request.method", operator: "equals", value: "POST" },
            { field: "request.path", operator: "equals", value: "/authorize" },
            { field: "request.query.dry", operator: "equals", value: "1" },
            { field: "identity.actor_id", operator: "equals", value: "alice" },
            { field: "input.action", operator: "equals", value: "request" },
            { field: "input.resource", operator: "not_exists" },
          ],
        },
      })
    ).json();
    await h.req("POST", "/policies", { name: "p", rule_ids: [rule.id] });
    const res = await h.req("POST", "/authorize?dry=1", {}, { "x-actor-id": "alice" });
    expect(res.json()).toMatchObject({ allowed: true });
    const other = await h.req("POST", "/authorize?dry=1", {}, { "x-actor-id": "bob" });
    expect(other.json()).toMatchObject({ allowed: false });
  });
});

describe("POST /authorize without policyId", () => {
  it("denies with no_applicable_policies when no policy applies, or there is no store", async () => {
    for (const store of [undefined, false] as const) {
      const h = await harness(store === false ? { store: false } : {});
      const res = await h.req("POST", "/authorize", authorizeBody(1));
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({
        allowed: false,
        decision: "DENY",
        reason: "no_applicable_policies",
        policies: [],
      });
    }
  });

  it("leaves out disabled policies and disabled rules", async () => {
    const h = await harness();
    const { rule, policy } = await globalPolicy(h);
    await h.req("PATCH", `/rules/${rule.id}`, { enabled: false });
    expect((await h.req("POST", "/authorize", authorizeBody(9))).json().allowed).toBe(true);
    await h.req("PATCH", `/policies/${policy.id}`, { enabled: false });
    expect((await h.req("POST", "/authorize", authorizeBody(1))).json().reason).toBe(
      "no_applicable_policies",
    );
  });

  it("matches ORGANIZATION, TEAM and USER scopes against the caller's headers", async () => {
    const h = await harness();
    const allowAll = (
      await h.req("POST", "/rules", {
        name: "any",
        rule_type: "CONDITION",
        condition: { field: "input.action", operator: "exists" },
      })
    ).json();
    const make = async (scope: string, scope_value: string) =>
      (
        await h.req("POST", "/policies", {
          name: scope,
          scope,
          scope_value,
          rule_ids: [allowAll.id],
        })
      ).json().id as string;
    const org = await make("ORGANIZATION", "acme");
    const team = await make("TEAM", "red");
    const user = await make("USER", "u1");
    const ask = async (headers: Record<string, string>) =>
      (await h.req("POST", "/authorize", { action: "x" }, headers)).json();
    expect((await ask({})).reason).toBe("no_applicable_policies");
    expect((await ask({ "x-org-id": "acme" })).policies).toEqual([org]);
    expect((await ask({ "x-organization-id": "acme" })).policies).toEqual([org]);
    expect((await ask({ "x-org-id": "other" })).policies).toEqual([]);
    expect((await ask({ "x-team-id": "red" })).policies).toEqual([team]);
    expect((await ask({ "x-user-id": "u1", "x-org-id": "acme" })).policies).toEqual([org, user]);
    expect((await ask({ "x-team-id": "bad value" })).error).toBe("Bad Request");
  });

  it("denies when any applicable policy denies (deny-overrides)", async () => {
    const h = await harness();
    await globalPolicy(h);
    const open = (
      await h.req("POST", "/rules", {
        name: "open",
        rule_type: "PERMISSION",
        condition: { field: "input.action", operator: "exists" },
      })
    ).json();
    const teamPolicy = (
      await h.req("POST", "/policies", {
        name: "team",
        scope: "TEAM",
        scope_value: "red",
        rule_ids: [open.id],
      })
    ).json();
    const res = (
      await h.req("POST", "/authorize", authorizeBody(8), { "x-team-id": "red" })
    ).json();
    expect(res.allowed).toBe(false);
    expect(res.policies).toHaveLength(2);
    expect(res.policies).toContain(teamPolicy.id);
  });

  it("FAIL_OPEN lets an evaluation error through (recorded); a false rule still denies", async () => {
    for (const mode of ["FAIL_OPEN", "FAIL_CLOSED"] as const) {
      const h = await harness();
      const { rule, policy } = await globalPolicy(h, { failure_mode: mode });
      const gone = (
        await h.req("POST", "/rules", {
          name: "gone",
          rule_type: "CONDITION",
          condition: { field: "input.action", operator: "exists" },
        })
      ).json();
      await h.req("PATCH", `/policies/${policy.id}`, { rule_ids: [rule.id, gone.id] });
      expect((await h.req("DELETE", `/rules/${gone.id}`)).statusCode).toBe(204);
      const low = (await h.req("POST", "/authorize", authorizeBody(1))).json();
      const high = (await h.req("POST", "/authorize", authorizeBody(9))).json();
      expect(high).toMatchObject({ allowed: false, reason: `policy_denied:${policy.id}` });
      if (mode === "FAIL_OPEN") {
        expect(low).toMatchObject({ allowed: true, decision: "ALLOW" });
        expect(low.reason).toMatch(/FAIL_OPEN/);
        await h.logger.flush();
        const rec = (await h.req("GET", "/audit-logs?decision=allowed")).json().records[0];
        expect(rec.metadata).toMatchObject({
          failedOpen: [policy.id],
          evaluationErrors: [expect.stringContaining(gone.id)],
        });
      } else {
        expect(low).toMatchObject({ allowed: false, matchedRules: [gone.id] });
        expect(low.reason).toMatch(/evaluation failed/);
      }
    }
  });

  it("keeps the native shape for policyId, and refuses mixing the shapes", async () => {
    const h = await harness();
    expect((await h.req("POST", "/authorize", { policyId: "open" })).json()).toMatchObject({
      allowed: true,
      policies: ["open"],
    });
    const mixed = await h.req("POST", "/authorize", { policyId: "open", action: "x" });
    expect(mixed.statusCode).toBe(400);
    expect(mixed.json()).toMatchObject({ code: "invalid_body", field: "body.action" });
  });

  it("never locks the admin routes", async () => {
    const h = await harness();
    await globalPolicy(h);
    expect((await h.req("POST", "/authorize", authorizeBody(9))).json().allowed).toBe(false);
    expect((await h.req("GET", "/rules")).statusCode).toBe(200);
    expect((await h.req("GET", "/audit-logs")).statusCode).toBe(200);
  });
});

describe("rules", () => {
  it("lists, reads, replaces, patches and deletes", async () => {
    const h = await harness();
    const a = (await h.req("POST", "/rules", { ...riskRule(), priority: 50 })).json();
    const b = (
      await h.req("POST", "/rules", {
        name: "b",
        rule_type: "CONDITION",
        condition: { field: "x", operator: "exists" },
      })
    ).json();
    expect(b).toMatchObject({ priority: 100, enabled: true, description: null });
    expect((await h.req("GET", "/rules")).json().map((r: { id: string }) => r.id)).toEqual([
      a.id,
      b.id,
    ]);
    expect((await h.req("GET", `/rules/${a.id}`)).json()).toEqual(a);
    const put = await h.req("PUT", `/rules/${a.id}`, {
      name: "a2",
      rule_type: "CONDITION",
      condition: { field: "y", operator: "exists" },
    });
    expect(put.json()).toMatchObject({ id: a.id, name: "a2", priority: 100, description: null });
    expect(put.json().created_at).toBe(a.created_at);
    const patched = (await h.req("PATCH", `/rules/${a.id}`, { priority: 1 })).json();
    expect(patched).toMatchObject({ name: "a2", priority: 1 });
    expect((await h.req("DELETE", `/rules/${a.id}`)).statusCode).toBe(204);
    for (const m of ["GET", "PUT", "PATCH", "DELETE"] as const) {
      const res = await h.req(
        m,
        `/rules/${a.id}`,
        m === "PUT" || m === "PATCH" ? riskRule() : undefined,
      );
      expect(res.statusCode).toBe(404);
      expect(res.json().code).toBe("unknown_rule");
    }
  });

  it("refuses a condition the compiler rejects with 422 and its message", async () => {
    const h = await harness();
    const bad = await h.req("POST", "/rules", {
      ...riskRule(),
      condition: { field: "x", operator: "bigger", value: 1 },
    });
    expect(bad.statusCode).toBe(422);
    expect(bad.json()).toMatchObject({ code: "invalid_condition", field: "body.condition" });
    expect(bad.json().message).toMatch(/unknown operator 'bigger'/);
    const rule = (await h.req("POST", "/rules", riskRule())).json();
    const patch = await h.req("PATCH", `/rules/${rule.id}`, {
      condition: { field: "x", operator: "in", value: 3 },
    });
    expect(patch.statusCode).toBe(422);
    expect(patch.json().message).toMatch(/expects a list/);
  });

  it("validates the body's shape with 400 naming the field", async () => {
    const h = await harness();
    const missing = await h.req("POST", "/rules", { name: "x", rule_type: "CONDITION" });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().field).toBe("body.condition");
    const extra = await h.req("POST", "/rules", { ...riskRule(), nope: 1 });
    expect(extra.json().field).toBe("body.nope");
  });

  it("answers 404 api_policies_disabled without a store", async () => {
    const h = await harness({ store: false });
    const res = await h.req("GET", "/rules");
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe("api_policies_disabled");
    expect((await h.req("GET", "/policies")).json()).toHaveLength(1); // the YAML one
  });

  it("needs the token", async () => {
    const h = await harness();
    const res = await h.app.inject({ method: "GET", url: "/rules" });
    expect(res.statusCode).toBe(401);
  });
});

describe("policies", () => {
  it("lists the YAML policies read-only beside the API-defined ones", async () => {
    const h = await harness();
    const { policy } = await globalPolicy(h);
    const list = (await h.req("GET", "/policies")).json();
    expect(list).toEqual([
      {
        id: "open",
        name: "open",
        description: "everything goes",
        enabled: true,
        failure_mode: "FAIL_CLOSED",
        rules: 1,
        source: "yaml",
        readOnly: true,
        yaml: '- id: open\n  description: everything goes\n  rules: [{ resource: "*", action: allow }]',
      },
      { ...policy, source: "api", readOnly: false },
    ]);
    expect((await h.req("GET", "/policies/open")).json()).toMatchObject({ readOnly: true });
    for (const m of ["PUT", "PATCH", "DELETE"] as const) {
      const res = await h.req(m, "/policies/open", m === "DELETE" ? undefined : { name: "x" });
      expect(res.statusCode).toBe(409);
      expect(res.json().code).toBe("read_only_policy");
    }
  });

  it("reads, replaces, patches and deletes", async () => {
    const h = await harness();
    const { rule, policy } = await globalPolicy(h);
    expect(policy).toMatchObject({
      scope: "GLOBAL",
      scope_value: null,
      enabled: true,
      failure_mode: "FAIL_CLOSED",
      description: null,
    });
    expect((await h.req("GET", `/policies/${policy.id}`)).json()).toEqual(policy);
    const put = (await h.req("PUT", `/policies/${policy.id}`, { name: "again" })).json();
    expect(put).toMatchObject({ id: policy.id, name: "again", rule_ids: [] });
    const patched = (
      await h.req("PATCH", `/policies/${policy.id}`, {
        scope: "TEAM",
        scope_value: "red",
        rule_ids: [rule.id, rule.id],
      })
    ).json();
    expect(patched).toMatchObject({ name: "again", scope: "TEAM", rule_ids: [rule.id] });
    expect((await h.req("DELETE", `/policies/${policy.id}`)).statusCode).toBe(204);
    expect((await h.req("GET", `/policies/${policy.id}`)).json().code).toBe("unknown_policy");
    expect((await h.req("DELETE", `/policies/${policy.id}`)).statusCode).toBe(404);
  });

  it("refuses an unknown scope or failure mode (422), missing rules (400), a scope without its value (422)", async () => {
    const h = await harness();
    const scope = await h.req("POST", "/policies", { name: "p", scope: "PLANET" });
    expect(scope.statusCode).toBe(422);
    expect(scope.json()).toMatchObject({ code: "invalid_scope", field: "body.scope" });
    const mode = await h.req("POST", "/policies", { name: "p", failure_mode: "FAIL_MAYBE" });
    expect(mode.statusCode).toBe(422);
    expect(mode.json()).toMatchObject({ code: "invalid_failure_mode", field: "body.failure_mode" });
    const value = await h.req("POST", "/policies", { name: "p", scope: "USER" });
    expect(value.statusCode).toBe(422);
    expect(value.json().field).toBe("body.scope_value");
    const rules = await h.req("POST", "/policies", { name: "p", rule_ids: ["nope-1", "nope-2"] });
    expect(rules.statusCode).toBe(400);
    expect(rules.json()).toMatchObject({
      code: "unknown_rules",
      field: "body.rule_ids",
      ruleIds: ["nope-1", "nope-2"],
    });
    expect(rules.json().message).toMatch(/nope-1, nope-2/);
    const { policy } = await globalPolicy(h);
    const patch = await h.req("PATCH", `/policies/${policy.id}`, { scope: "PLANET" });
    expect(patch.statusCode).toBe(422);
    const patchRules = await h.req("PATCH", `/policies/${policy.id}`, { rule_ids: ["nope"] });
    expect(patchRules.json().ruleIds).toEqual(["nope"]);
  });
});

describe("POST /policies/reload", () => {
  it("answers 409 when the server has no policy file to re-read", async () => {
    const h = await harness();
    const res = await h.req("POST", "/policies/reload");
    expect(res.statusCode).toBe(409);
    expect(res.json().code).toBe("no_policy_file");
  });

  it("swaps in the re-read policies, and keeps the old ones when the file is invalid", async () => {
    let text = "policies:\n  - id: fresh\n    rules: [{ resource: '*', action: block }]\n";
    const h = await harness({
      reloadPolicies: () => new Guardian({ env: {}, policies: text, onWarn: () => {} }),
    });
    const ok = await h.req("POST", "/policies/reload");
    expect(ok.json()).toEqual({ reloaded: true, policies: ["fresh"] });
    expect((await h.req("POST", "/authorize", { policyId: "fresh" })).json().allowed).toBe(false);
    expect((await h.req("POST", "/authorize", { policyId: "open" })).statusCode).toBe(404);
    expect((await h.req("GET", "/policies")).json().map((p: { id: string }) => p.id)).toEqual([
      "fresh",
    ]);
    text = "policies: [ {";
    const bad = await h.req("POST", "/policies/reload");
    expect(bad.statusCode).toBe(422);
    expect(bad.json().code).toBe("invalid_policy_file");
    expect((await h.req("POST", "/authorize", { policyId: "fresh" })).statusCode).toBe(200);
  });
});

/** The store contract, for both dialects. */
function storeContract(name: string, open: () => Promise<ApiPolicyStore | undefined>) {
  describe(`${name} API policy store`, () => {
    it("creates, reads, lists, updates and deletes rules and policies", async () => {
      const store = await open();
      if (!store) return;
      closers.push(() => store.close());
      const r1 = await store.createRule({
        name: "r1",
        description: null,
        rule_type: "CONDITION",
        priority: 5,
        enabled: true,
        condition: { field: "a.b", operator: "equals", value: [1, { c: "d" }] },
      });
      const r2 = await store.createRule({ ...r1, name: "r2", priority: 1, enabled: false });
      expect(await store.getRule(r1.id)).toEqual(r1);
      expect((await store.listRules()).map((r) => r.id)).toEqual([r2.id, r1.id]);
      expect((await store.getRules([r1.id, "nope", r1.id])).map((r) => r.id)).toEqual([r1.id]);
      const u = await store.updateRule(r1.id, { ...r1, description: "now", enabled: false });
      expect(u).toMatchObject({ id: r1.id, description: "now", enabled: false });
      expect(await store.updateRule("nope", r1)).toBeUndefined();
      const p = await store.createPolicy({
        name: "p",
        description: "d",
        scope: "TEAM",
        scope_value: "red",
        failure_mode: "FAIL_OPEN",
        enabled: true,
        rule_ids: [r1.id, r2.id],
      });
      expect(await store.getPolicy(p.id)).toEqual(p);
      expect(await store.listPolicies()).toEqual([p]);
      const q = await store.updatePolicy(p.id, { ...p, scope: "GLOBAL", scope_value: null });
      expect(q).toMatchObject({ scope: "GLOBAL", scope_value: null, rule_ids: [r1.id, r2.id] });
      expect(await store.deleteRule(r2.id)).toBe(true);
      expect(await store.deleteRule(r2.id)).toBe(false);
      expect(await store.deletePolicy(p.id)).toBe(true);
      expect(await store.getPolicy(p.id)).toBeUndefined();
      expect(await store.deletePolicy(p.id)).toBe(false);
    });
  });
}

storeContract("SQLite", async () => new SqliteApiPolicyStore(tempDb()));
storeContract("PostgreSQL", async () => {
  if (!(await pgReachable("the PostgreSQL API policy store"))) return undefined;
  const schema = `api_policies_${process.pid}_${Date.now()}`;
  const pool = new pg.Pool({ connectionString: PG_URL });
  closers.push(async () => {
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  });
  return new PostgresApiPolicyStore(pool, { schema });
});

describe("the decision server on PostgreSQL", () => {
  it("runs the Postman flow with the PostgreSQL store", async () => {
    if (!(await pgReachable("the decision server on PostgreSQL"))) return;
    const schema = `api_server_${process.pid}_${Date.now()}`;
    const pool = new pg.Pool({ connectionString: PG_URL });
    closers.push(async () => {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    });
    const h = await harness({ store: new PostgresApiPolicyStore(pool, { schema }) });
    const { policy } = await globalPolicy(h);
    expect((await h.req("POST", "/authorize", authorizeBody(7))).json()).toMatchObject({
      allowed: false,
      reason: `policy_denied:${policy.id}`,
    });
    expect((await h.req("POST", "/authorize", authorizeBody(3))).json().allowed).toBe(true);
  });
});
