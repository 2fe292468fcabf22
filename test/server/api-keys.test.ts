import { DatabaseSync } from "node:sqlite";
import pg from "pg";
import { describe, expect, it } from "vitest";
import {
  type ApiKeyStore,
  hashApiKey,
  PostgresApiKeyStore,
  SqliteApiKeyStore,
} from "../../src/audit/index.ts";
import { Guardian } from "../../src/index.ts";
import { createServer, type Identity, type ServerOptions } from "../../src/server/index.ts";
// Internal: who the server records as approver, checked without a full approval round.
import { approverOf } from "../../src/server/routes/approvals.ts";
import { keyedServer, type Method } from "../support/api-server.ts";
import { closeAfterEach, tempDbs } from "../support/cleanup.ts";
import { PG_URL, pgReachable } from "../support/pg.ts";

const TOKEN = "test-token-0123456789abcdef";
const AUTH = { authorization: `Bearer ${TOKEN}` };
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

const YAML = `
policies:
  - id: open
    description: everything goes
    rules: [{ resource: "*", action: allow }]
`;

const tempDb = tempDbs("hexarch-api-keys");
const closers = closeAfterEach();

async function harness(
  options: Partial<ServerOptions> & { keys?: (path: string) => ApiKeyStore } = {},
) {
  const path = tempDb();
  const { keys: makeKeys, ...rest } = options;
  const { app, logger, keys, req } = await keyedServer({
    path,
    policies: YAML,
    token: TOKEN,
    closers,
    ...(makeKeys && { keys: makeKeys(path) }),
    options: rest,
  });
  const create = async (name: string, scopes: string[]) => {
    const res = await req("POST", "/api-keys", AUTH, { name, scopes });
    expect(res.statusCode).toBe(201);
    return res.json() as { id: string; key: string; name: string; scopes: string[] };
  };
  const denials = async () => {
    await logger.flush();
    return logger.getDecisionHistory({ policyId: "hexarch:api-key" });
  };
  return { app, path, logger, keys, req, create, denials };
}

describe("/api-keys", () => {
  it("creates a key shown once and stored only as a keyed hash", async () => {
    const h = await harness();
    const made = await h.create("ci-bot", ["read", "write"]);
    expect(made.key).toMatch(/^hxk_[A-Za-z0-9_-]{43}$/);
    expect(made.key.slice(4, 16)).toBe(made.id);
    expect(made).toMatchObject({ name: "ci-bot", scopes: ["read", "write"], revoked_at: null });

    const db = new DatabaseSync(h.path);
    try {
      const rows = db.prepare("SELECT * FROM hexarch_api_keys").all() as Record<string, unknown>[];
      expect(rows).toHaveLength(1);
      const text = JSON.stringify(rows);
      expect(text).not.toContain(made.key);
      expect(text).not.toContain(made.key.slice(16));
      const pepper = db
        .prepare("SELECT value FROM hexarch_api_key_secrets WHERE name = 'pepper'")
        .get() as { value: string };
      expect(rows[0]?.key_hash).toBe(hashApiKey(pepper.value, made.key));
    } finally {
      db.close();
    }

    const list = await h.req("GET", "/api-keys");
    expect(list.statusCode).toBe(200);
    expect(list.json()).toEqual([
      {
        id: made.id,
        name: "ci-bot",
        scopes: ["read", "write"],
        created_at: expect.any(String),
        revoked_at: null,
        last_used_at: null,
      },
    ]);
    expect(list.body).not.toContain(made.key.slice(16));
    expect(list.body).not.toContain("key_hash");
  });

  it("uses a configured pepper instead of a database secret", async () => {
    const pepper = "pepper-from-the-environment-0123";
    const h = await harness({ keys: (p) => new SqliteApiKeyStore(p, { pepper }) });
    const made = await h.create("svc", ["read"]);
    const db = new DatabaseSync(h.path);
    try {
      expect(db.prepare("SELECT * FROM hexarch_api_key_secrets").all()).toEqual([]);
      const row = db.prepare("SELECT key_hash FROM hexarch_api_keys").get() as { key_hash: string };
      expect(row.key_hash).toBe(hashApiKey(pepper, made.key));
    } finally {
      db.close();
    }
    expect((await h.req("GET", "/policies", bearer(made.key))).statusCode).toBe(200);
  });

  it("validates the body", async () => {
    const h = await harness();
    expect(
      (await h.req("POST", "/api-keys", AUTH, { name: "x", scopes: ["root"] })).statusCode,
    ).toBe(400);
    expect(
      (await h.req("POST", "/api-keys", AUTH, { name: "has space", scopes: [] })).statusCode,
    ).toBe(400);
    expect((await h.req("POST", "/api-keys", AUTH, { scopes: ["read"] })).statusCode).toBe(400);
  });

  it("revokes by DELETE or POST …/revoke; a revoked key is refused (403) and that refusal audited", async () => {
    const h = await harness();
    const a = await h.create("a", ["*"]);
    const b = await h.create("b", ["*"]);
    expect((await h.req("GET", "/rules", bearer(a.key))).statusCode).toBe(200);
    const del = await h.req("DELETE", `/api-keys/${a.id}`);
    expect(del.statusCode).toBe(200);
    expect(del.json()).toMatchObject({ id: a.id, revoked_at: expect.any(String) });
    const post = await h.req("POST", `/api-keys/${b.id}/revoke`);
    expect(post.statusCode).toBe(200);
    expect(post.json().revoked_at).toEqual(expect.any(String));
    // Revoking again keeps the first time.
    expect((await h.req("DELETE", `/api-keys/${b.id}`)).json().revoked_at).toBe(
      post.json().revoked_at,
    );
    expect((await h.req("DELETE", "/api-keys/nope")).statusCode).toBe(404);

    const refused = await h.req("GET", "/rules", bearer(a.key));
    expect(refused.statusCode).toBe(403);
    expect(refused.json().code).toBe("revoked_key");
    const rows = await h.denials();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      decision: "blocked",
      policyId: "hexarch:api-key",
      functionName: "GET /rules",
      metadata: { keyId: a.id, keyName: "a", code: "revoked_key" },
    });
  });

  it("answers 404 when key administration is off, and keys still work", async () => {
    const on = await harness();
    const made = await on.create("k", ["read"]);
    const h = await harness({
      keys: () => new SqliteApiKeyStore(on.path),
      apiKeyAdmin: false,
    });
    for (const [method, url] of [
      ["POST", "/api-keys"],
      ["GET", "/api-keys"],
      ["DELETE", `/api-keys/${made.id}`],
      ["POST", `/api-keys/${made.id}/revoke`],
    ] as const) {
      const res = await h.req(method, url, AUTH, method === "POST" ? {} : undefined);
      expect(res.statusCode).toBe(404);
    }
    expect((await h.req("GET", "/audit-logs", bearer(made.key))).statusCode).toBe(200);
  });

  it("refuses to enable key administration without a store or a static token", async () => {
    const guardian = new Guardian({ env: {}, policies: YAML, onWarn: () => {} });
    await expect(
      createServer({ guardian, apiToken: TOKEN, apiKeyAdmin: true, logger: false }),
    ).rejects.toThrow(/API key administration/);
    const keys = new SqliteApiKeyStore(tempDb());
    closers.push(() => keys.close());
    await expect(
      createServer({ guardian, allowAnon: true, apiKeys: keys, apiKeyAdmin: true, logger: false }),
    ).rejects.toThrow(/API key administration/);
  });

  it("lets no API key manage keys, not even with admin or *", async () => {
    const h = await harness();
    const admin = await h.create("root", ["admin", "*"]);
    for (const [method, url] of [
      ["GET", "/api-keys"],
      ["POST", "/api-keys"],
      ["DELETE", `/api-keys/${admin.id}`],
    ] as const) {
      const res = await h.req(
        method,
        url,
        bearer(admin.key),
        method === "POST" ? { name: "x", scopes: ["*"] } : undefined,
      );
      expect(res.statusCode).toBe(403);
      expect(res.json().code).toBe("insufficient_scope");
    }
    expect((await h.req("GET", "/api-keys")).json()).toHaveLength(1);
    expect(await h.denials()).toHaveLength(3);
  });
});

describe("the Python server's key bootstrap (POST /api-keys)", () => {
  // What `hexarch-ctl node-red bootstrap` (Python) sends, with its default scopes.
  const nodeRedBody = {
    name: "node-red-local",
    description: "Node-RED single-user milestone key",
    tenant_id: null,
    org_id: null,
    scopes: ["read", "write"],
  };

  it("accepts the Python body and answers token and token_prefix beside key and id", async () => {
    const h = await harness();
    const res = await h.req("POST", "/api-keys", { ...AUTH, "x-actor-id": "admin" }, nodeRedBody);
    expect(res.statusCode).toBe(201);
    const made = res.json();
    expect(made).toMatchObject({ name: "node-red-local", scopes: ["read", "write"] });
    expect(made.token).toBe(made.key);
    expect(made.token).toMatch(/^hxk_[A-Za-z0-9_-]{43}$/);
    expect(made.token_prefix).toBe(made.id);
    expect(made.token.slice(4, 16)).toBe(made.token_prefix);
    expect(made).not.toHaveProperty("subject");
    // The description is not kept (nor echoed as if it were).
    expect(made).not.toHaveProperty("description");
    expect((await h.req("GET", "/api-keys")).body).not.toContain("milestone");
    // The token works as the Python CLI uses it.
    const calls = await h.req("GET", "/events/provider-calls", bearer(made.token));
    expect(calls.statusCode).toBe(200);
  });

  it("gives a key made without scopes (left out or null) decide, nothing more", async () => {
    const h = await harness();
    for (const body of [
      { name: "no-scopes" },
      { ...nodeRedBody, name: "null-scopes", scopes: null },
    ]) {
      const res = await h.req("POST", "/api-keys", AUTH, body);
      expect(res.statusCode).toBe(201);
      const made = res.json() as { key: string; scopes: string[] };
      expect(made.scopes).toEqual(["decide"]);
      const as = bearer(made.key);
      expect(
        (await h.req("POST", "/authorize", as, { policyId: "open", context: {} })).statusCode,
      ).toBe(200);
      expect(
        (await h.req("POST", "/events/provider-calls", as, { resource: "openai" })).statusCode,
      ).toBe(200);
      // The log is not filtered by a bound key's tenant: reading it is asked for, not given.
      for (const [method, url, payload, need] of [
        ["GET", "/audit-logs/verify?chain_id=global&limit=50", undefined, "read"],
        ["GET", "/events/provider-calls", undefined, "read"],
        ["GET", "/audit-logs", undefined, "read"],
        ["POST", "/policies", { name: "p" }, "policy"],
        ["POST", "/approvals/nope.secret/approve", {}, "approve"],
        ["POST", "/policies/reload", {}, "admin"],
      ] as const) {
        const refused = await h.req(method, url, as, payload);
        expect(refused.statusCode, `${method} ${url}`).toBe(403);
        expect(refused.json()).toMatchObject({ requiredScope: need });
      }
    }
    // An explicit empty list still means no scope at all.
    expect((await h.create("nothing", [])).scopes).toEqual([]);
  });

  it("binds a key to its tenant_id, as subject.tenantId does", async () => {
    const h = await harness();
    const res = await h.req("POST", "/api-keys", AUTH, { ...nodeRedBody, tenant_id: "acme" });
    expect(res.statusCode).toBe(201);
    expect(res.json().subject).toEqual({ tenantId: "acme" });
    const same = await h.req("POST", "/api-keys", AUTH, {
      name: "both",
      tenant_id: "acme",
      subject: { userId: "u1", tenantId: "acme" },
    });
    expect(same.json().subject).toEqual({ userId: "u1", tenantId: "acme" });
    // The key decides for acme, whatever tenant its context claims.
    await h.req("POST", "/authorize", bearer(res.json().token), {
      policyId: "open",
      context: { tenantId: "globex" },
    });
    await h.logger.flush();
    const [row] = await h.logger.getDecisionHistory({ policyId: "open" });
    expect(row?.context).toMatchObject({ tenantId: "acme", tenant_id: "acme" });
    expect(row?.metadata).toMatchObject({ claimedTenantId: "globex" });
  });

  it("refuses an org_id, a tenant_id that contradicts the subject, and a long description, naming the field", async () => {
    const h = await harness();
    for (const [body, field] of [
      [{ ...nodeRedBody, org_id: "org-1" }, "body.org_id"],
      [{ name: "x", tenant_id: "a", subject: { tenantId: "b" } }, "body.tenant_id"],
      [{ name: "x", description: "d".repeat(2000) }, "description"],
      [{ name: "x", tenant_id: "has space" }, "tenant_id"],
    ] as const) {
      const res = await h.req("POST", "/api-keys", AUTH, body);
      expect(res.statusCode, JSON.stringify(body).slice(0, 60)).toBe(400);
      expect(res.json().message).toContain(field);
    }
    expect(
      (await h.req("POST", "/api-keys", AUTH, { ...nodeRedBody, org_id: "o" })).json().message,
    ).toMatch(/not an organisation/);
    expect((await h.req("GET", "/api-keys")).json()).toEqual([]);
  });
});

describe("API key scopes", () => {
  type Need = "read" | "decide" | "approve" | "policy" | "admin";
  const routes: readonly [Method, string, unknown, Need][] = [
    ["GET", "/audit-logs", undefined, "read"],
    ["GET", "/audit/stats", undefined, "read"],
    ["GET", "/rules", undefined, "read"],
    ["GET", "/policies", undefined, "read"],
    ["POST", "/authorize", { policyId: "open", context: {} }, "decide"],
    [
      "POST",
      "/rules",
      { name: "r", rule_type: "CONDITION", condition: { field: "a", op: "eq", value: 1 } },
      "policy",
    ],
    ["POST", "/policies", { name: "p" }, "policy"],
    ["POST", "/approvals/nope.secret/approve", {}, "approve"],
    ["POST", "/policies/reload", {}, "admin"],
  ];

  it("checks each route's scope; admin and * grant all; write grants decide, approve and policy; no scope grants nothing", async () => {
    const h = await harness();
    const keys = {
      read: await h.create("reader", ["read"]),
      decide: await h.create("decider", ["decide"]),
      approve: await h.create("approver", ["approve"]),
      policy: await h.create("policy", ["policy"]),
      write: await h.create("writer", ["write"]),
      admin: await h.create("admin", ["admin"]),
      star: await h.create("star", ["*"]),
      none: await h.create("none", []),
    };
    const legacyWrite: readonly Need[] = ["decide", "approve", "policy"];
    for (const [method, url, payload, need] of routes) {
      for (const [kind, key] of Object.entries(keys)) {
        const res = await h.req(method, url, bearer(key.key), payload);
        const allowed =
          kind === "admin" ||
          kind === "star" ||
          kind === need ||
          (kind === "write" && legacyWrite.includes(need));
        if (allowed) expect([200, 404], `${kind} ${method} ${url}`).toContain(res.statusCode);
        else {
          expect(res.statusCode, `${kind} ${method} ${url}`).toBe(403);
          expect(res.json()).toMatchObject({ code: "insufficient_scope", requiredScope: need });
        }
      }
    }
  });

  it("answers 401 without credentials and 403 for a garbage or unknown key, auditing neither", async () => {
    const h = await harness();
    const made = await h.create("k", ["read"]);
    expect((await h.req("GET", "/rules", {})).statusCode).toBe(401);
    expect((await h.req("GET", "/rules", bearer("garbage"))).statusCode).toBe(403);
    const unknown = `hxk_${"A".repeat(43)}`;
    expect((await h.req("GET", "/rules", bearer(unknown))).statusCode).toBe(403);
    // A real id with a wrong secret: knowing an id (it is not secret) must not write rows.
    const forged = `${made.key.slice(0, 16)}${"B".repeat(31)}`;
    expect(
      (await h.req("POST", "/authorize", bearer(forged), { policyId: "open" })).statusCode,
    ).toBe(403);
    expect(await h.denials()).toHaveLength(0);
    expect(await h.logger.getDecisionHistory({})).toHaveLength(0);
  });

  it("audits a valid key's insufficient scope", async () => {
    const h = await harness();
    const reader = await h.create("reader", ["read"]);
    const res = await h.req("POST", "/authorize", bearer(reader.key), { policyId: "open" });
    expect(res.statusCode).toBe(403);
    const rows = await h.denials();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      functionName: "POST /authorize",
      metadata: { actor: `api-key:${reader.id}`, keyName: "reader", code: "insufficient_scope" },
    });
  });

  it("records last use", async () => {
    const h = await harness();
    const made = await h.create("k", ["read"]);
    await h.req("GET", "/rules", bearer(made.key));
    expect((await h.req("GET", "/api-keys")).json()[0].last_used_at).toEqual(expect.any(String));
  });
});

describe("identity of an API key", () => {
  it("ignores identity headers: the key is the actor", async () => {
    const h = await harness();
    const writer = await h.create("svc", ["write", "read"]);
    // A USER-scoped policy for alice that denies: a key claiming to be alice is not her.
    const rule = await h.req("POST", "/rules", AUTH, {
      name: "never",
      rule_type: "CONDITION",
      condition: { field: "input.action", op: "eq", value: "nothing-matches" },
    });
    await h.req("POST", "/policies", AUTH, {
      name: "alice-only",
      scope: "USER",
      scope_value: "alice",
      rule_ids: [rule.json().id],
    });
    const headers = {
      ...bearer(writer.key),
      "x-actor-id": "alice",
      "x-user-id": "alice",
      "x-tenant-id": "t1",
      "x-org-id": "o1",
      "x-team-id": "team",
    };
    const res = await h.req("POST", "/authorize", headers, { action: "read" });
    expect(res.statusCode).toBe(200);
    // Not alice: her policy does not apply, so no policy applies.
    expect(res.json()).toMatchObject({ allowed: false, reason: "no_applicable_policies" });
    // The static token may claim her, and her policy then applies (and denies).
    const asToken = await h.req(
      "POST",
      "/authorize",
      { ...AUTH, "x-user-id": "alice" },
      {
        action: "read",
      },
    );
    expect(asToken.json().reason).toMatch(/^policy_denied:/);

    await h.logger.flush();
    const [, keyRow] = await h.logger.getDecisionHistory({});
    expect(keyRow?.metadata).toMatchObject({ actor: `api-key:${writer.id}` });
    expect(keyRow?.metadata).not.toHaveProperty("orgId");
    expect(keyRow?.userId).toBeNull();
    // X-Actor-Id from a key is not even validated: it is ignored.
    const odd = await h.req("GET", "/rules", { ...bearer(writer.key), "x-actor-id": "bad id" });
    expect(odd.statusCode).toBe(200);
  });

  it("acts as itself: X-Actor-Id is ignored, and it approves as no one else", async () => {
    const h = await harness();
    const writer = await h.create("svc", ["write"]);
    const res = await h.req(
      "POST",
      "/authorize",
      { ...bearer(writer.key), "x-actor-id": "alice" },
      {
        policyId: "open",
      },
    );
    expect(res.statusCode).toBe(200);
    const [row] = await h.logger.getDecisionHistory({ policyId: "open" });
    expect(row?.metadata).toMatchObject({ actor: `api-key:${writer.id}` });
    const identity: Identity = {
      kind: "api-key",
      actorId: `api-key:${writer.id}`,
      mayNameActor: false,
      actorNamed: false,
    };
    expect(() => approverOf(identity, "alice")).toThrow(/cannot approve as 'alice'/);
    expect(approverOf(identity, undefined)).toBe(`api-key:${writer.id}`);
  });
});

describe("PostgresApiKeyStore", async () => {
  const reachable = await pgReachable("the PostgreSQL API key store tests");
  it.skipIf(!reachable)("creates, verifies, revokes and keeps only hashes", async () => {
    const schema = `hexarch_keys_${process.pid}_${Date.now()}`;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    const store = new PostgresApiKeyStore(PG_URL, { schema });
    try {
      const { apiKey, key } = await store.create({ name: "pg", scopes: ["read"] });
      expect(await store.verify(key)).toMatchObject({ status: "valid", apiKey: { id: apiKey.id } });
      expect(await store.verify(`${key.slice(0, -1)}${key.endsWith("A") ? "B" : "A"}`)).toEqual({
        status: "invalid",
      });
      const rows = await admin.query(`SELECT * FROM "${schema}".hexarch_api_keys`);
      expect(JSON.stringify(rows.rows)).not.toContain(key);
      expect(await store.list()).toEqual([
        expect.objectContaining({ id: apiKey.id, last_used_at: expect.any(String) }),
      ]);
      expect((await store.revoke(apiKey.id))?.revoked_at).toEqual(expect.any(String));
      expect((await store.verify(key)).status).toBe("revoked");
      expect(await store.revoke("missing")).toBeUndefined();
    } finally {
      await store.close();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    }
  });
});
