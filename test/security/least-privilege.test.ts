/**
 * Least privilege on the decision server, written as the attacks: a key that decides tries
 * to change the policies that judge it; a key bound to one user claims another; a client
 * forges X-Forwarded-For to pick its rate-limit bucket; failed logins try to silence
 * /health; and raw requests lie about their Content-Length.
 */
import { connect } from "node:net";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { PostgresApiKeyStore, SqliteApiKeyStore } from "../../src/audit/index.ts";
import { Guardian } from "../../src/index.ts";
import { createServer, type ServerOptions } from "../../src/server/index.ts";
import { keyedServer, type Method } from "../support/api-server.ts";
import { closeAfterEach, tempDbs } from "../support/cleanup.ts";
import { BIN, ctl } from "../support/cli-fixtures.ts";
import { PG_URL, pgReachable } from "../support/pg.ts";

const TOKEN = "least-privilege-token-0123456789";
const AUTH = { authorization: `Bearer ${TOKEN}` };
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

const YAML = `
policies:
  - id: open
    rules: [{ resource: "*", action: allow }]
  - id: alice_only
    rules:
      - allowed_users: [alice]
        action: block
  - id: per_user
    rules:
      - requests_per_minute: 2
        per: userId
        action: block
  - id: per_tenant
    rules:
      - requests_per_minute: 2
        per: tenantId
        action: block
  - id: alice_or_admins
    rules:
      - allowed_users: [alice, "@admin", "@self"]
        action: block
  - id: per_tenant_nested
    rules:
      - requests_per_minute: 2
        per: tenant.id
        action: block
`;

const tempDb = tempDbs("hexarch-least-privilege");
const closers = closeAfterEach();

async function harness(options: Partial<ServerOptions> = {}) {
  const path = tempDb();
  const { app, logger, keys, req } = await keyedServer({
    path,
    policies: YAML,
    token: TOKEN,
    closers,
    options,
  });
  const create = async (name: string, scopes: string[], subject?: object) => {
    const res = await req("POST", "/api-keys", AUTH, {
      name,
      scopes,
      ...(subject && { subject }),
    });
    expect(res.statusCode, res.body).toBe(201);
    return res.json() as { id: string; key: string; subject?: object };
  };
  const history = async (policyId: string) => {
    await logger.flush();
    return logger.getDecisionHistory({ policyId });
  };
  /**
   * An API rule with `condition` in a FAIL_CLOSED policy of `scope` (the Python shape);
   * answers the policy's id.
   */
  const rulePolicy = async (
    names: { readonly rule: string; readonly policy: string },
    condition: object,
    scope: { readonly scope: string; readonly scope_value: string | null },
  ) => {
    const rule = await req("POST", "/rules", AUTH, {
      name: names.rule,
      rule_type: "CONSTRAINT",
      priority: 1,
      enabled: true,
      condition,
    });
    expect(rule.statusCode, rule.body).toBe(200);
    const policy = await req("POST", "/policies", AUTH, {
      name: names.policy,
      ...scope,
      failure_mode: "FAIL_CLOSED",
      rule_ids: [rule.json().id],
    });
    expect(policy.statusCode, policy.body).toBe(200);
    return policy.json().id as string;
  };
  return { app, path, keys, req, create, history, rulePolicy };
}

describe("scopes: a decide-only key cannot change what judges it", () => {
  it("refuses every rule and policy change (403 policy) while /authorize and provider calls work", async () => {
    const h = await harness();
    const rule = (
      await h.req("POST", "/rules", AUTH, {
        name: "deny-all",
        rule_type: "CONDITION",
        condition: { field: "input.action", op: "eq", value: "never" },
      })
    ).json() as { id: string };
    const policy = (
      await h.req("POST", "/policies", AUTH, { name: "guard", rule_ids: [rule.id] })
    ).json() as { id: string };
    const decider = await h.create("app", ["decide"]);
    const ruleBody = {
      name: "allow-all",
      rule_type: "CONDITION",
      condition: { field: "input.action", op: "ne", value: "x" },
    };
    const attacks: [Method, string, unknown][] = [
      ["POST", "/rules", ruleBody],
      ["PUT", `/rules/${rule.id}`, ruleBody],
      ["PATCH", `/rules/${rule.id}`, { name: "renamed" }],
      ["DELETE", `/rules/${rule.id}`, undefined],
      ["POST", "/policies", { name: "mine" }],
      ["PUT", `/policies/${policy.id}`, { name: "guard", enabled: false }],
      ["PATCH", `/policies/${policy.id}`, { enabled: false }],
      ["DELETE", `/policies/${policy.id}`, undefined],
    ];
    for (const [method, url, body] of attacks) {
      const res = await h.req(method, url, bearer(decider.key), body);
      expect(res.statusCode, `${method} ${url}`).toBe(403);
      expect(res.json()).toMatchObject({ code: "insufficient_scope", requiredScope: "policy" });
    }
    // Neither approvals, reloads, keys nor the audit log are its business.
    const others: [Method, string, unknown, string | undefined][] = [
      ["POST", "/approvals/nope.secret/approve", {}, "approve"],
      ["POST", "/policies/reload", {}, "admin"],
      ["GET", "/audit-logs", undefined, "read"],
      ["POST", "/audit-checkpoints", undefined, "policy"],
      ["POST", "/api-keys", { name: "x", scopes: ["*"] }, undefined],
    ];
    for (const [method, url, body, need] of others) {
      const res = await h.req(method, url, bearer(decider.key), body);
      expect(res.statusCode, `${method} ${url}`).toBe(403);
      if (need) expect(res.json()).toMatchObject({ requiredScope: need });
    }
    // The rule and the policy are untouched.
    expect((await h.req("GET", `/rules/${rule.id}`)).json()).toMatchObject({ name: "deny-all" });
    expect((await h.req("GET", `/policies/${policy.id}`)).json()).toMatchObject({
      name: "guard",
      enabled: true,
    });
    // What it is for works.
    const decided = await h.req("POST", "/authorize", bearer(decider.key), { policyId: "open" });
    expect(decided.statusCode).toBe(200);
    expect(decided.json()).toMatchObject({ allowed: true });
    const reported = await h.req("POST", "/events/provider-calls", bearer(decider.key), {
      resource: "openai",
      ok: true,
    });
    expect(reported.statusCode).toBe(200);
  });

  it("gives a policy key changes but no decisions, and an approve key approvals only", async () => {
    const h = await harness();
    const policyKey = await h.create("config", ["policy"]);
    const approver = await h.create("approver", ["approve"]);
    const made = await h.req("POST", "/policies", bearer(policyKey.key), { name: "p" });
    expect(made.statusCode).toBe(200);
    const asPolicy = await h.req("POST", "/authorize", bearer(policyKey.key), { policyId: "open" });
    expect(asPolicy.json()).toMatchObject({ code: "insufficient_scope", requiredScope: "decide" });
    const asApprover = await h.req("POST", "/authorize", bearer(approver.key), {
      policyId: "open",
    });
    expect(asApprover.statusCode).toBe(403);
    // Past the scope check: the token is unknown (404), not refused (403).
    const approve = await h.req("POST", "/approvals/nope.secret/approve", bearer(approver.key), {});
    expect(approve.statusCode).not.toBe(403);
    const asApproverPolicy = await h.req("POST", "/policies", bearer(approver.key), { name: "q" });
    expect(asApproverPolicy.statusCode).toBe(403);
  });
});

describe("a key bound to a subject decides for it", () => {
  it("cannot pass allowed_users by claiming alice (userId or user_id); the audit keeps the claim", async () => {
    const h = await harness();
    const bob = await h.create("bob-app", ["decide"], { userId: "bob" });
    expect(bob.subject).toEqual({ userId: "bob" });
    const unbound = await h.create("any-app", ["decide"]);

    for (const context of [{ userId: "alice" }, { user_id: "alice" }, {}]) {
      const res = await h.req("POST", "/authorize", bearer(bob.key), {
        policyId: "alice_only",
        context,
      });
      expect(res.statusCode).toBe(200);
      expect(res.json(), JSON.stringify(context)).toMatchObject({ allowed: false });
    }
    // Context fields are claims unless bound: an unbound key (or the token) may say alice.
    const claim = await h.req("POST", "/authorize", bearer(unbound.key), {
      policyId: "alice_only",
      context: { userId: "alice" },
    });
    expect(claim.json()).toMatchObject({ allowed: true });

    const rows = await h.history("alice_only");
    const [first, second, third] = rows.slice().reverse();
    expect(first).toMatchObject({
      userId: "bob",
      context: { userId: "bob", user_id: "bob" },
      metadata: { actor: `api-key:${bob.id}`, apiKey: bob.id, claimedUserId: "alice" },
    });
    expect(second?.metadata).toMatchObject({ apiKey: bob.id, claimedUserId: "alice" });
    // Claiming nothing is no claim.
    expect(third?.userId).toBe("bob");
    expect(third?.metadata).not.toHaveProperty("claimedUserId");
  });

  it("cannot rotate per-user or per-tenant limits by claiming fresh ids", async () => {
    const h = await harness();
    const key = await h.create("tenant-app", ["decide"], { userId: "bob", tenantId: "acme" });
    const perUser: boolean[] = [];
    const perTenant: boolean[] = [];
    for (let i = 0; i < 4; i++) {
      perUser.push(
        (
          await h.req("POST", "/authorize", bearer(key.key), {
            policyId: "per_user",
            context: { userId: `u${i}` },
          })
        ).json().allowed,
      );
      perTenant.push(
        (
          await h.req("POST", "/authorize", bearer(key.key), {
            policyId: "per_tenant",
            context: { tenantId: `t${i}`, tenant_id: `t${i}` },
          })
        ).json().allowed,
      );
    }
    expect(perUser).toEqual([true, true, false, false]);
    expect(perTenant).toEqual([true, true, false, false]);
    const [latest] = await h.history("per_tenant");
    expect(latest?.metadata).toMatchObject({ apiKey: key.id, claimedTenantId: "t3" });
    // The token's claims still rotate (they are the admin's to make).
    const asToken: boolean[] = [];
    for (let i = 0; i < 3; i++)
      asToken.push(
        (
          await h.req("POST", "/authorize", AUTH, {
            policyId: "per_user",
            context: { userId: `v${i}` },
          })
        ).json().allowed,
      );
    expect(asToken).toEqual([true, true, true]);
  });

  it("cannot pass @role or @self entries by claiming roles or ownership, nor rotate tenant.id", async () => {
    const h = await harness();
    const bob = await h.create("bob-app", ["decide"], { userId: "bob", tenantId: "acme" });
    for (const context of [
      { roles: ["admin"] },
      { role: "admin" },
      { ownerId: "bob" },
      { owner_id: "bob" },
      { user: { id: "alice" } },
    ]) {
      const res = await h.req("POST", "/authorize", bearer(bob.key), {
        policyId: "alice_or_admins",
        context,
      });
      expect(res.json(), JSON.stringify(context)).toMatchObject({ allowed: false });
    }
    const [latest] = await h.history("alice_or_admins");
    expect(latest?.metadata).toMatchObject({ apiKey: bob.id, claimedUserId: "alice" });
    const rows = await h.history("alice_or_admins");
    expect(rows.at(-1)?.metadata).toMatchObject({ claimedIdentity: { roles: ["admin"] } });
    const nested: boolean[] = [];
    for (let i = 0; i < 4; i++)
      nested.push(
        (
          await h.req("POST", "/authorize", bearer(bob.key), {
            policyId: "per_tenant_nested",
            context: { tenant: { id: `t${i}` } },
          })
        ).json().allowed,
      );
    expect(nested).toEqual([true, true, false, false]);
  });

  it("is bound in the Python shape (no policyId): an API rule on input.context.userId", async () => {
    const h = await harness();
    await h.rulePolicy(
      { rule: "only-alice", policy: "alice-gate" },
      { field: "input.context.userId", op: "eq", value: "alice" },
      { scope: "GLOBAL", scope_value: null },
    );
    const bob = await h.create("bob-app", ["decide"], { userId: "bob" });
    const res = await h.req("POST", "/authorize", bearer(bob.key), {
      action: "read",
      context: { userId: "alice" },
    });
    expect(res.json()).toMatchObject({ allowed: false });
  });

  it("binds provider-call reports too, and keeps the subject across restarts", async () => {
    const h = await harness();
    const key = await h.create("bob-app", ["decide"], { userId: "bob" });
    const res = await h.req("POST", "/events/provider-calls", bearer(key.key), {
      resource: "openai",
      ok: true,
      metadata: { userId: "alice", feature: "chat" },
    });
    expect(res.statusCode).toBe(200);
    const [row] = await h.history("provider:openai");
    expect(row?.metadata).toMatchObject({
      userId: "bob",
      feature: "chat",
      apiKey: key.id,
      claimedUserId: "alice",
    });
    // A fresh store on the same file reads the binding back.
    const again = new SqliteApiKeyStore(h.path);
    try {
      const check = await again.verify(key.key);
      expect(check).toMatchObject({ status: "valid", apiKey: { subject: { userId: "bob" } } });
    } finally {
      await again.close();
    }
    const list = (await h.req("GET", "/api-keys")).json() as { id: string; subject?: object }[];
    expect(list.find((k) => k.id === key.id)?.subject).toEqual({ userId: "bob" });
  });

  it("decides the Python shape (no policyId) as its subject, not as nobody", async () => {
    const h = await harness();
    const policyId = await h.rulePolicy(
      { rule: "allow-all", policy: "bob-only" },
      { field: "input.action", op: "eq", value: "invoke_provider" },
      { scope: "USER", scope_value: "bob" },
    );
    const acme = await h.create("bob-app", ["decide"], { userId: "bob" });
    const unbound = await h.create("free-app", ["decide"]);
    const body = { action: "invoke_provider", context: {} };
    const bound = await h.req("POST", "/authorize", bearer(acme.key), body);
    expect(bound.json()).toMatchObject({ allowed: true, policies: [policyId] });
    // An unbound key acts for no user, and its X-User-Id header is not believed.
    const free = await h.req(
      "POST",
      "/authorize",
      { ...bearer(unbound.key), "x-user-id": "bob" },
      body,
    );
    expect(free.json()).toMatchObject({ allowed: false, reason: "no_applicable_policies" });
  });

  it("validates the subject at creation", async () => {
    const h = await harness();
    for (const subject of [
      { userId: "bob", role: "admin" },
      { userId: "has space" },
      { tenantId: "" },
      { userId: 7 },
    ]) {
      const res = await h.req("POST", "/api-keys", AUTH, { name: "k", scopes: [], subject });
      expect(res.statusCode, JSON.stringify(subject)).toBe(400);
      expect(res.json().field).toMatch(/^body\.subject/);
    }
  });
});

describe("PostgreSQL: bound subjects (audit migration 8)", async () => {
  const reachable = await pgReachable("the PostgreSQL bound-subject test");
  it.skipIf(!reachable)("stores, lists and verifies a key's subject", async () => {
    const schema = `hexarch_subject_${process.pid}_${Date.now()}`;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    const store = new PostgresApiKeyStore(PG_URL, { schema });
    try {
      const bound = await store.create({
        name: "pg",
        scopes: ["decide"],
        subject: { userId: "bob", tenantId: "acme" },
      });
      const free = await store.create({ name: "free", scopes: ["read"] });
      expect(await store.verify(bound.key)).toMatchObject({
        status: "valid",
        apiKey: { subject: { userId: "bob", tenantId: "acme" } },
      });
      const listed = await store.list();
      expect(listed.find((k) => k.id === free.apiKey.id)).not.toHaveProperty("subject");
      const migrations = await admin.query(
        `SELECT version FROM "${schema}".hexarch_migrations ORDER BY version`,
      );
      expect(migrations.rows.map((r) => Number(r.version))).toContain(8);
    } finally {
      await store.close();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    }
  });
});

/** A server with a public route that says which address it sees. */
async function proxied(trustProxy: ServerOptions["trustProxy"], maxPerIp = 100) {
  const app = await createServer({
    guardian: new Guardian({ env: {}, policies: YAML, onWarn: () => {} }),
    apiToken: TOKEN,
    logger: false,
    rateLimit: { maxPerIp },
    ...(trustProxy !== undefined && { trustProxy }),
  });
  app.get("/my-address", { config: { public: true } }, async (request) => ({ ip: request.ip }));
  closers.push(() => app.close());
  const seen = async (socket: string, xff?: string) =>
    (
      await app.inject({
        method: "GET",
        url: "/my-address",
        remoteAddress: socket,
        headers: xff === undefined ? {} : { "x-forwarded-for": xff },
      })
    ).json().ip as string;
  const guess = async (socket: string, xff: string) =>
    (
      await app.inject({
        method: "GET",
        url: "/rules",
        remoteAddress: socket,
        headers: { authorization: "Bearer wrong", "x-forwarded-for": xff },
      })
    ).statusCode;
  return { app, seen, guess };
}

describe("--trust-proxy: the client is the right-most untrusted address", () => {
  it("ignores X-Forwarded-For by default", async () => {
    const s = await proxied(undefined);
    expect(await s.seen("203.0.113.9", "1.1.1.1")).toBe("203.0.113.9");
  });

  it("takes the hop count's address, whatever a client prepends", async () => {
    const one = await proxied(1);
    expect(await one.seen("10.0.0.1", "198.51.100.7")).toBe("198.51.100.7");
    expect(await one.seen("10.0.0.1", "1.1.1.1, 9.9.9.9, 198.51.100.7")).toBe("198.51.100.7");
    const two = await proxied(2);
    expect(await two.seen("10.0.0.1", "1.1.1.1, 198.51.100.7, 10.0.0.2")).toBe("198.51.100.7");
  });

  it("believes only the listed proxies (addresses, CIDRs, named ranges)", async () => {
    const s = await proxied("10.0.0.0/8, 127.0.0.1");
    // The spoofed left part is never reached: 198.51.100.7 is the first untrusted hop.
    expect(await s.seen("10.0.0.1", "1.1.1.1, 198.51.100.7, 10.2.3.4")).toBe("198.51.100.7");
    expect(await s.seen("::ffff:10.0.0.1", "198.51.100.7")).toBe("198.51.100.7");
    // A caller that is no listed proxy is the client, whatever it forwards.
    expect(await s.seen("203.0.113.9", "1.1.1.1")).toBe("203.0.113.9");
    const named = await proxied(["loopback"]);
    expect(await named.seen("127.0.0.1", "1.1.1.1, 198.51.100.7")).toBe("198.51.100.7");
  });

  it("counts a forging client's guesses in its real address's bucket", async () => {
    const s = await proxied("10.0.0.0/8", 2);
    const statuses: number[] = [];
    for (const spoof of ["1.1.1.1", "2.2.2.2", "3.3.3.3"])
      statuses.push(await s.guess("10.0.0.1", `${spoof}, 198.51.100.7`));
    expect(statuses).toEqual([403, 403, 429]);
    // Another client behind the same proxy has its own bucket.
    expect(await s.guess("10.0.0.1", "198.51.100.8")).toBe(403);
  });

  it("refuses true, bad hop counts and addresses that are none", async () => {
    const make = (trustProxy: unknown) =>
      createServer({
        guardian: new Guardian({ env: {}, policies: YAML, onWarn: () => {} }),
        apiToken: TOKEN,
        logger: false,
        trustProxy: trustProxy as NonNullable<ServerOptions["trustProxy"]>,
      });
    await expect(make(true)).rejects.toThrow(/would believe every X-Forwarded-For entry/);
    await expect(make(0)).rejects.toThrow(/hop count must be a whole number from 1/);
    await expect(make("10.0.0.0/8,not-an-ip")).rejects.toThrow(/'not-an-ip' is not an IP/);
    await expect(make("10.0.0.0/33")).rejects.toThrow(/'10.0.0.0\/33'/);
  });

  it("refuses a bare or true --trust-proxy on the command line (exit 2)", async () => {
    expect(BIN).toMatch(/bin\.ts$/);
    const env = { HEXARCH_API_TOKEN: TOKEN };
    const asTrue = await ctl(["serve", "api", "--port", "0", "--trust-proxy", "true"], { env });
    expect(asTrue.code).toBe(2);
    expect(asTrue.stderr).toMatch(/--trust-proxy true would believe every X-Forwarded-For/);
    const bare = await ctl(["serve", "api", "--port", "0", "--trust-proxy"], { env });
    expect(bare.code).not.toBe(0);
    expect(bare.stderr).toMatch(/--trust-proxy/);
    const bad = await ctl(
      ["serve", "api", "--port", "0", "--db", tempDb(), "--trust-proxy", "10.0.0.0/8,nope"],
      { env },
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/'nope' is not an IP address/);
  });
});

describe("failed logins do not silence the public routes", () => {
  it("answers /health and / after one address exhausted its guesses, for it and for others", async () => {
    const h = await harness({ rateLimit: { maxPerIp: 5 } });
    const guesses: number[] = [];
    for (let i = 0; i < 8; i++)
      guesses.push(
        (
          await h.app.inject({
            method: "GET",
            url: "/rules",
            remoteAddress: "198.51.100.7",
            headers: { authorization: `Bearer guess-${i}` },
          })
        ).statusCode,
      );
    expect(guesses.slice(0, 5)).toEqual([403, 403, 403, 403, 403]);
    expect(guesses.slice(5)).toEqual([429, 429, 429]);
    for (const address of ["198.51.100.7", "198.51.100.8"]) {
      for (const url of ["/health", "/"]) {
        const res = await h.app.inject({ method: "GET", url, remoteAddress: address });
        expect(res.statusCode, `${address} ${url}`).toBe(200);
      }
    }
    // The guesser is still limited on private routes.
    const again = await h.app.inject({
      method: "GET",
      url: "/rules",
      remoteAddress: "198.51.100.7",
      headers: { authorization: "Bearer guess-9" },
    });
    expect(again.statusCode).toBe(429);
  });
});

/**
 * Sends raw bytes, half-closes (the client has nothing more to send: a body shorter than
 * announced stays short), and reads until the server closes.
 */
function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let out = "";
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      socket.destroy();
      resolve(out);
    };
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => {
      out += d;
    });
    socket.on("close", finish);
    socket.on("error", finish);
    socket.end(bytes);
  });
}

/** The JSON bodies of every HTTP response in a raw exchange. */
function responses(raw: string): { status: number; body: Record<string, unknown> }[] {
  const out: { status: number; body: Record<string, unknown> }[] = [];
  const re = /HTTP\/1\.1 (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n/g;
  for (let m = re.exec(raw); m !== null; m = re.exec(raw)) {
    const length = Number(/content-length: *(\d+)/i.exec(m[2] ?? "")?.[1] ?? 0);
    const start = m.index + m[0].length;
    out.push({ status: Number(m[1]), body: JSON.parse(raw.slice(start, start + length)) });
    re.lastIndex = start + length;
  }
  return out;
}

describe("a wrong Content-Length gets the server's JSON error shape", () => {
  it("answers larger, smaller, non-numeric, negative and duplicate lengths with { code, requestId }", async () => {
    const app = await createServer({
      guardian: new Guardian({ env: {}, policies: YAML, onWarn: () => {} }),
      apiToken: TOKEN,
      logger: false,
    });
    closers.push(() => app.close());
    await app.listen({ port: 0, host: "127.0.0.1" });
    const port = (app.server.address() as { port: number }).port;
    const body = '{"message":"hello"}';
    const head = (length: string) =>
      `POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n`;
    const cases: [string, string, string][] = [
      ["larger", `${head(String(body.length + 10))}\r\n${body}`, "bad_content_length"],
      ["smaller", `${head(String(body.length - 6))}\r\n${body}`, "bad_request"],
      ["non-numeric", `${head("abc")}\r\n${body}`, "bad_content_length"],
      ["negative", `${head("-1")}\r\n${body}`, "bad_content_length"],
      ["duplicate", `${head("19")}Content-Length: 20\r\n\r\n${body}`, "bad_content_length"],
      [
        "with chunked",
        `${head("19")}Transfer-Encoding: chunked\r\n\r\n${body}`,
        "bad_transfer_encoding",
      ],
    ];
    for (const [name, bytes, code] of cases) {
      const raw = await rawExchange(port, bytes);
      const all = responses(raw);
      expect(all.length, `${name}: ${raw}`).toBeGreaterThan(0);
      for (const r of all) {
        // The server's shape: statusCode, error, code, message, requestId — never Fastify's.
        expect(Object.keys(r.body).sort(), name).toEqual(
          ["code", "error", "message", "requestId", "statusCode"].sort(),
        );
        expect(r.body.message).not.toBe("Client Error");
      }
      const last = all[all.length - 1];
      expect(last?.status, name).toBe(400);
      expect(last?.body.code, name).toBe(code);
      expect(raw).toMatch(/x-request-id: [0-9a-f-]{36}/i);
    }
    // A correct request on a fresh connection still works.
    const ok = responses(await rawExchange(port, `${head(String(body.length))}\r\n${body}`));
    expect(ok[0]).toMatchObject({ status: 200, body: { ok: true, message: "hello" } });
  });
});
