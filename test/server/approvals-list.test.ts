/**
 * The approvals inbox (`GET /approvals`), acting on a request by its id, and `GET /whoami`:
 * what the console's approvals page and login rely on.
 */
import { describe, expect, it } from "vitest";
import { type ConfirmationStore, Guardian, MemoryConfirmationStore } from "../../src/index.ts";
import { createServer, type ServerOptions } from "../../src/server/index.ts";
import { ManualClock } from "../../src/testing/index.ts";
import { keyedServer } from "../support/api-server.ts";
import { closeAfterEach, tempDbs } from "../support/cleanup.ts";

const TOKEN = "test-token-0123456789abcdef";
const AUTH = { authorization: `Bearer ${TOKEN}` };
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const YAML = "policies: [{ id: open, rules: [{ resource: '*', action: allow }] }]";

const tempDb = tempDbs("hexarch-approvals-list");
const closers = closeAfterEach();

async function harness(options: Partial<ServerOptions> = {}) {
  const clock = new ManualClock("2026-12-01T12:00:00Z");
  const store = new MemoryConfirmationStore({ clock: clock.now });
  const { app, req } = await keyedServer({
    path: tempDb(),
    policies: YAML,
    token: TOKEN,
    closers,
    options: { confirmations: store, ...options },
  });
  const key = async (name: string, scopes: string[], subject?: Record<string, string>) => {
    const res = await req("POST", "/api-keys", AUTH, { name, scopes, ...(subject && { subject }) });
    expect(res.statusCode).toBe(201);
    return res.json() as { id: string; key: string };
  };
  /** Creates a request (a second later than the one before); answers its token. */
  const ask = (requestedBy: string, ttlMs = 60_000) => {
    clock.advance(1000);
    return store.create({ policyId: "open", fingerprint: `fp-${requestedBy}`, requestedBy, ttlMs });
  };
  return { app, req, key, ask, clock, store };
}

const idOf = (token: string) => token.split(".")[0] as string;

describe("GET /approvals", () => {
  it("lists pending requests newest first, with their ids and never their tokens", async () => {
    const h = await harness();
    const tokens = [h.ask("alice"), h.ask("bob"), h.ask("carol")];
    await h.req("POST", `/approvals/${tokens[1]}/approve`, { ...AUTH, "x-actor-id": "dana" });
    const res = await h.req("GET", "/approvals");
    expect(res.statusCode).toBe(200);
    const { requests } = res.json() as { requests: { id: string; requestedBy: string }[] };
    expect(requests.map((r) => r.requestedBy)).toEqual(["carol", "alice"]);
    expect(requests.map((r) => r.id)).toEqual([
      idOf(tokens[2] as string),
      idOf(tokens[0] as string),
    ]);
    for (const token of tokens) expect(res.body).not.toContain(token.split(".")[1]);

    const approved = (await h.req("GET", "/approvals?status=approved")).json();
    expect(approved.requests).toMatchObject([{ requestedBy: "bob", decidedBy: "dana" }]);
    const one = (await h.req("GET", "/approvals?status=all&limit=1")).json();
    expect(one.requests.map((r: { requestedBy: string }) => r.requestedBy)).toEqual(["carol"]);
    h.clock.advance(60_000);
    expect((await h.req("GET", "/approvals")).json().requests).toEqual([]);
    const expired = (await h.req("GET", "/approvals?status=expired")).json();
    expect(expired.requests).toHaveLength(3);
  });

  it("checks its query: a status it does not know, a limit out of 1..500", async () => {
    const h = await harness();
    for (const query of ["status=done", "limit=0", "limit=501", "limit=x", "other=1"]) {
      const res = await h.req("GET", `/approvals?${query}`);
      expect(res.statusCode, query).toBe(400);
    }
  });

  it("needs the approve scope: a read-only key gets 403, an approver 200", async () => {
    const h = await harness();
    const reader = await h.key("reader", ["read"]);
    const approver = await h.key("approver", ["approve"]);
    const refused = await h.req("GET", "/approvals", bearer(reader.key));
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ code: "insufficient_scope", requiredScope: "approve" });
    expect((await h.req("GET", "/approvals", bearer(approver.key))).statusCode).toBe(200);
    // One request, by its token, stays a read.
    const token = h.ask("alice");
    expect((await h.req("GET", `/approvals/${token}`, bearer(reader.key))).statusCode).toBe(200);
    // By its id (as the inbox names it), it needs approve.
    const byId = await h.req("GET", `/approvals/${idOf(token)}`, bearer(reader.key));
    expect(byId.statusCode).toBe(403);
    expect(byId.json()).toMatchObject({ code: "insufficient_scope", requiredScope: "approve" });
    expect(byId.body).not.toContain("alice");
    const asApprover = await h.req("GET", `/approvals/${idOf(token)}`, bearer(approver.key));
    expect(asApprover.statusCode).toBe(200);
  });

  it("refuses a key bound to a subject the inbox and the by-id routes; its tokens still work", async () => {
    const h = await harness();
    for (const subject of [{ tenantId: "acme" }, { userId: "u1" }]) {
      const bound = await h.key(`bound-${Object.keys(subject)[0]}`, ["approve", "read"], subject);
      const other = h.ask("someone-of-another-tenant");
      const list = await h.req("GET", "/approvals", bearer(bound.key));
      expect(list.statusCode).toBe(403);
      expect(list.json()).toMatchObject({ code: "bound_key_inbox" });
      expect(list.body).not.toContain("someone-of-another-tenant");
      const read = await h.req("GET", `/approvals/${idOf(other)}`, bearer(bound.key));
      expect(read.statusCode).toBe(403);
      expect(read.json().code).toBe("bound_key_inbox");
      for (const verb of ["approve", "deny"]) {
        const acted = await h.req("POST", `/approvals/${idOf(other)}/${verb}`, bearer(bound.key));
        expect(acted.statusCode).toBe(403);
        expect(acted.json().code).toBe("bound_key_inbox");
      }
      expect(h.store.get(other)?.status).toBe("pending");
      // Handed the token, it reads and approves as before.
      expect((await h.req("GET", `/approvals/${other}`, bearer(bound.key))).statusCode).toBe(200);
      const approved = await h.req("POST", `/approvals/${other}/approve`, bearer(bound.key));
      expect(approved.statusCode).toBe(200);
      expect(approved.json()).toMatchObject({ status: "approved" });
    }
    // An unbound approver keeps the inbox.
    const free = await h.key("free", ["approve"]);
    expect((await h.req("GET", "/approvals", bearer(free.key))).statusCode).toBe(200);
  });

  it("answers 404 without a confirmation store, 501 for a store that cannot list", async () => {
    const none = await keyedServer({ path: tempDb(), policies: YAML, token: TOKEN, closers });
    const disabled = await none.req("GET", "/approvals");
    expect(disabled.statusCode).toBe(404);
    expect(disabled.json().code).toBe("approvals_disabled");

    const inner = new MemoryConfirmationStore();
    const custom: ConfirmationStore = {
      create: (r) => inner.create(r),
      approve: (t, by) => inner.approve(t, by),
      deny: (t, by) => inner.deny(t, by),
      get: (t) => inner.get(t),
      consume: (t, b) => inner.consume(t, b),
    };
    const h = await harness({ confirmations: custom });
    const res = await h.req("GET", "/approvals");
    expect(res.statusCode).toBe(501);
    expect(res.json().code).toBe("approvals_list_unsupported");
    const token = await custom.create({ policyId: "open", fingerprint: "f" });
    const byId = await h.req("POST", `/approvals/${idOf(token)}/approve`);
    expect(byId.statusCode).toBe(501);
    expect(byId.json().code).toBe("approvals_by_id_unsupported");
    // By its token it still works.
    expect((await h.req("POST", `/approvals/${token}/approve`)).statusCode).toBe(200);
  });
});

describe("POST /approvals/:id/approve|deny", () => {
  it("approves and denies a request named by its id; GET /approvals/:id reads it", async () => {
    const h = await harness();
    const first = h.ask("alice");
    const second = h.ask("bob");
    const read = await h.req("GET", `/approvals/${idOf(first)}`);
    expect(read.json()).toMatchObject({ id: idOf(first), status: "pending" });
    const approved = await h.req("POST", `/approvals/${idOf(first)}/approve`, AUTH, {
      reason: "fine",
    });
    expect(approved.statusCode).toBe(200);
    expect(approved.json()).toMatchObject({ status: "approved", decisionReason: "fine" });
    // The token the requester holds now works.
    expect(h.store.consume(first, { policyId: "open", fingerprint: "fp-alice" })).toMatchObject({
      ok: true,
    });
    const denied = await h.req("POST", `/approvals/${idOf(second)}/deny`);
    expect(denied.json()).toMatchObject({ status: "denied", decidedBy: "api-token" });
    const again = await h.req("POST", `/approvals/${idOf(second)}/approve`);
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: "not_pending", status: "denied" });
    const unknown = await h.req("POST", "/approvals/00000000-0000-4000-8000-000000000000/deny");
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().code).toBe("unknown_confirmation");
  });

  it("still refuses self-approval by id: whoever asked cannot approve", async () => {
    const h = await harness();
    const approver = await h.key("approver", ["approve"]);
    const token = h.ask(`api-key:${approver.id}`);
    const self = await h.req("POST", `/approvals/${idOf(token)}/approve`, bearer(approver.key));
    expect(self.statusCode).toBe(403);
    expect(self.json().code).toBe("self_approval");
    expect(h.store.get(token)?.status).toBe("pending");
    // Withdrawing it is allowed.
    const withdrawn = await h.req("POST", `/approvals/${idOf(token)}/deny`, bearer(approver.key));
    expect(withdrawn.json()).toMatchObject({ status: "denied" });
    // And a decide-only key cannot approve by id either.
    const decider = await h.key("decider", ["decide"]);
    const other = h.ask("alice");
    const refused = await h.req("POST", `/approvals/${idOf(other)}/approve`, bearer(decider.key));
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ requiredScope: "approve" });
  });
});

describe("GET /whoami", () => {
  it("answers any authenticated caller: its kind, actor, scopes and the server's features", async () => {
    const h = await harness();
    const admin = await h.req("GET", "/whoami");
    expect(admin.statusCode).toBe(200);
    expect(admin.json()).toEqual({
      kind: "api-token",
      actorId: "api-token",
      scopes: ["read", "decide", "approve", "policy", "admin", "token"],
      features: {
        audit: true,
        approvals: true,
        apiPolicies: true,
        checkpoints: false,
        apiKeys: true,
        ui: true,
      },
    });
    const decider = await h.key("decider", ["decide"]);
    const asDecider = await h.req("GET", "/whoami", bearer(decider.key));
    expect(asDecider.statusCode).toBe(200);
    expect(asDecider.json()).toMatchObject({
      kind: "api-key",
      actorId: `api-key:${decider.id}`,
      scopes: ["decide"],
    });
    const legacy = await h.key("legacy", ["write"]);
    expect((await h.req("GET", "/whoami", bearer(legacy.key))).json().scopes).toEqual([
      "decide",
      "approve",
      "policy",
    ]);
    expect(asDecider.json()).not.toHaveProperty("subject");
    const bound = await h.key("bound", ["decide"], { userId: "u1", tenantId: "acme" });
    expect((await h.req("GET", "/whoami", bearer(bound.key))).json()).toMatchObject({
      kind: "api-key",
      subject: { userId: "u1", tenantId: "acme" },
    });
    const nothing = await h.key("nothing", []);
    expect((await h.req("GET", "/whoami", bearer(nothing.key))).json().scopes).toEqual([]);
    expect((await h.req("GET", "/whoami", {})).statusCode).toBe(401);
  });

  it("says what a bare server lacks, and who an anonymous caller is", async () => {
    const app = await createServer({
      guardian: new Guardian({ env: {}, policies: YAML, onWarn: () => {} }),
      allowAnon: true,
      logger: false,
      ui: false,
    });
    closers.push(() => app.close());
    const res = await app.inject({ method: "GET", url: "/whoami" });
    expect(res.json()).toEqual({
      kind: "anonymous",
      actorId: "anonymous",
      scopes: ["read", "decide", "approve", "policy", "admin"],
      features: {
        audit: false,
        approvals: false,
        apiPolicies: false,
        checkpoints: false,
        apiKeys: false,
        ui: false,
      },
    });
  });

  it("puts the new routes in the OpenAPI document", async () => {
    const app = await createServer({
      guardian: new Guardian({ env: {}, policies: YAML, onWarn: () => {} }),
      apiToken: TOKEN,
      logger: false,
      docs: true,
    });
    closers.push(() => app.close());
    const doc = (await app.inject({ method: "GET", url: "/openapi.json" })).json();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/approvals", "/approvals/{token}", "/events/stream", "/whoami"]),
    );
    expect(doc.paths["/approvals"].get.parameters.map((p: { name: string }) => p.name)).toEqual([
      "status",
      "limit",
    ]);
  });
});
