/**
 * Confirmation over HTTP, written as the attacks: `confirm: true` from a caller that may
 * not confirm its own calls, an approved token sent to `/authorize`, a token reused, denied,
 * expired or carried to another policy or context, a requester approving its own request,
 * and the token leaking into the audit log or the server's log. Each runs against the
 * memory store and the real SQLite and Redis stores, as `serve api` wires them.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ApiKeyScope,
  DecisionLogger,
  SqliteApiKeyStore,
  SqliteAuditStore,
  SqliteConfirmationStore,
} from "../../src/audit/index.ts";
import { type ConfirmationStore, Guardian, MemoryConfirmationStore } from "../../src/index.ts";
import { RedisConfirmationStore } from "../../src/redis/index.ts";
import { borrowedConfirmations, createServer, type Identity } from "../../src/server/index.ts";
// Internal: the rule that stops a caller approving its own request.
import { maySelfConfirm } from "../../src/server/self-confirm.ts";
import { closeAfterEach, tempDbs } from "../support/cleanup.ts";
import { REDIS_URL, redisReachable } from "../support/redis.ts";
import { killAfterEach, serveApi } from "../support/serve-process.ts";

const TOKEN = "http-confirm-token-0123456789abcdef";
const AUTH = { authorization: `Bearer ${TOKEN}` };
const as = (actor: string) => ({ ...AUTH, "x-actor-id": actor });
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

const YAML = `
policies:
  - id: safe_delete
    rules: [{ operation: delete, action: require_confirmation }]
  - id: other_delete
    rules: [{ operation: delete, action: require_confirmation }]
  - id: open
    rules: [{ resource: "*", action: allow }]
`;

const DELETE_7 = { operation: "delete", resource: "users", id: 7 };

const tempDb = tempDbs("hexarch-http-confirm");
const closers = closeAfterEach();

type Backend = "memory" | "sqlite" | "redis";
const redisUp = await redisReachable("the HTTP confirmation tests on Redis");
const BACKENDS: Backend[] = redisUp ? ["memory", "sqlite", "redis"] : ["memory", "sqlite"];

interface Harness {
  readonly app: FastifyInstance;
  readonly logger: DecisionLogger;
  readonly lines: string[];
  /** Advances the stores' clock. */
  advance(ms: number): void;
  inject(o: InjectOptions): Promise<LightMyRequestResponse>;
  authorize(
    headers: Record<string, string>,
    context: Record<string, unknown>,
    policyId?: string,
  ): Promise<LightMyRequestResponse>;
  decide(verb: "approve" | "deny", token: string, headers: object): Promise<LightMyRequestResponse>;
  key(
    scopes: ApiKeyScope[],
    subject?: { userId?: string; tenantId?: string },
  ): Promise<{ id: string; key: string }>;
}

/** A server wired as `serve api` wires it: one store, shared by the Guardian and the routes. */
async function harness(backend: Backend): Promise<Harness> {
  const path = tempDb();
  let now = Date.now();
  const clock = () => now;
  const store: ConfirmationStore =
    backend === "memory"
      ? new MemoryConfirmationStore({ clock })
      : backend === "sqlite"
        ? new SqliteConfirmationStore(path, { clock })
        : new RedisConfirmationStore({
            url: REDIS_URL,
            keyPrefix: `hexarch:test:http-confirm:${randomUUID()}:`,
            clock,
          });
  const logger = new DecisionLogger(new SqliteAuditStore(path), {
    exitHooks: false,
    onError: () => {},
  });
  const keys = new SqliteApiKeyStore(path);
  const guardian = new Guardian({
    env: {},
    policies: YAML,
    onWarn: () => {},
    confirmations: borrowedConfirmations(store),
  });
  const lines: string[] = [];
  const app = await createServer({
    guardian,
    auditLogger: logger,
    confirmations: store,
    apiToken: TOKEN,
    apiKeys: keys,
    logger: { level: "trace", stream: { write: (l: string) => lines.push(l) } },
  });
  closers.push(async () => {
    await app.close();
    await guardian.close();
    await logger.close();
    await keys.close();
    await store.close?.();
  });
  const inject = (o: InjectOptions) => app.inject(o);
  return {
    app,
    logger,
    lines,
    advance: (ms) => {
      now += ms;
    },
    inject,
    authorize: (headers, context, policyId = "safe_delete") =>
      inject({ method: "POST", url: "/authorize", headers, payload: { policyId, context } }),
    decide: (verb, token, headers) =>
      inject({ method: "POST", url: `/approvals/${token}/${verb}`, headers: { ...headers } }),
    key: async (scopes, subject) => {
      const made = await keys.create({
        name: `k-${scopes.join("-") || "none"}`,
        scopes,
        ...(subject && { subject }),
      });
      return { id: made.apiKey.id, key: made.key };
    },
  };
}

/** Asks for the deletion and answers with the token the DENY carries. */
async function ask(
  h: Harness,
  headers: Record<string, string>,
  context: Record<string, unknown> = DELETE_7,
) {
  const res = await h.authorize(headers, context);
  expect(res.statusCode).toBe(200);
  const body = res.json();
  expect(body).toMatchObject({
    allowed: false,
    decision: "DENY",
    action: "require_confirmation",
    confirmationToken: expect.stringMatching(/^[0-9a-f-]{36}\.[A-Za-z0-9_-]{43}$/),
  });
  expect(res.headers["x-confirmation-token"]).toBe(body.confirmationToken);
  return body.confirmationToken as string;
}

describe("maySelfConfirm", () => {
  const key = (scopes: ApiKeyScope[]): Identity => ({
    kind: "api-key",
    actorId: "api-key:k",
    mayNameActor: false,
    actorNamed: false,
    apiKey: { id: "k", name: "k", scopes },
  });
  it("is the static token, or a key with self-confirm, admin or *", () => {
    expect(
      maySelfConfirm({ kind: "api-token", actorId: "a", mayNameActor: true, actorNamed: true }),
    ).toBe(true);
    expect(maySelfConfirm(key(["self-confirm"]))).toBe(true);
    expect(maySelfConfirm(key(["admin"]))).toBe(true);
    expect(maySelfConfirm(key(["*"]))).toBe(true);
    for (const scopes of [[], ["decide"], ["write"], ["approve"], ["read", "policy"]] as const)
      expect(maySelfConfirm(key([...scopes])), scopes.join()).toBe(false);
    expect(
      maySelfConfirm({ kind: "anonymous", actorId: "x", mayNameActor: true, actorNamed: false }),
    ).toBe(false);
    expect(maySelfConfirm(null)).toBe(false);
  });
});

describe.each(BACKENDS)("confirmation over HTTP (%s store)", (backend) => {
  it("ignores confirm: true from a key that may not confirm its own calls, and says so", async () => {
    const h = await harness(backend);
    for (const scopes of [["decide"], ["write"], ["decide", "approve"]] as ApiKeyScope[][]) {
      const { key } = await h.key(scopes);
      const res = await h.authorize(bearer(key), { ...DELETE_7, confirm: true });
      expect(res.statusCode).toBe(200);
      expect(res.json(), scopes.join()).toMatchObject({
        allowed: false,
        decision: "DENY",
        action: "require_confirmation",
        ignored: ["context.confirm"],
        notes: [expect.stringContaining("self-confirm")],
        confirmationToken: expect.any(String),
      });
    }
    // What was decided is what was recorded: without the ignored confirm.
    const records = (await h.logger.getDecisionHistory({ policyId: "safe_delete" })).filter(
      (r) => !r.action.startsWith("confirmation_"),
    );
    expect(records.length).toBe(3);
    for (const r of records) {
      expect(r.context).not.toHaveProperty("confirm");
      expect(r.metadata).toMatchObject({ ignored: ["context.confirm"] });
    }
    // Whoever may confirm its own calls still can.
    for (const headers of [
      AUTH,
      bearer((await h.key(["decide", "self-confirm"])).key),
      bearer((await h.key(["admin"])).key),
      bearer((await h.key(["*"])).key),
    ]) {
      const res = await h.authorize(headers, { ...DELETE_7, confirm: true });
      expect(res.json()).toMatchObject({ allowed: true, decision: "ALLOW" });
      expect(res.json()).not.toHaveProperty("ignored");
      expect(res.json()).not.toHaveProperty("confirmationToken");
    }
  });

  it("runs the whole flow: DENY with a token, another principal approves, allowed exactly once", async () => {
    const h = await harness(backend);
    const requester = await h.key(["decide"]);
    const approver = await h.key(["approve", "read"]);
    const token = await ask(h, bearer(requester.key));
    const pending = await h.inject({
      method: "GET",
      url: `/approvals/${token}`,
      headers: bearer(approver.key),
    });
    expect(pending.json()).toMatchObject({
      status: "pending",
      policyId: "safe_delete",
      requestedBy: `api-key:${requester.id}`,
    });
    // The requester cannot answer (no approve scope); the approver can.
    expect((await h.decide("approve", token, bearer(requester.key))).statusCode).toBe(403);
    const approved = await h.decide("approve", token, bearer(approver.key));
    expect(approved.statusCode).toBe(200);
    expect(approved.json()).toMatchObject({
      status: "approved",
      decidedBy: `api-key:${approver.id}`,
    });
    // Context keys in another order are the same context.
    const ok = await h.authorize(bearer(requester.key), {
      id: 7,
      resource: "users",
      operation: "delete",
      confirmationToken: token,
    });
    expect(ok.json()).toMatchObject({ allowed: true, decision: "ALLOW", action: "allow" });
    const again = await h.authorize(bearer(requester.key), {
      ...DELETE_7,
      confirmationToken: token,
    });
    expect(again.json()).toMatchObject({ allowed: false, action: "require_confirmation" });
    expect(again.json().reason).toContain("already used");
    expect(again.json()).not.toHaveProperty("confirmationToken");

    // The header works as the context does, and so does the Python spelling.
    const viaHeader = await ask(h, bearer(requester.key));
    await h.decide("approve", viaHeader, bearer(approver.key));
    const withHeader = await h.authorize(
      { ...bearer(requester.key), "x-confirmation-token": viaHeader },
      DELETE_7,
    );
    expect(withHeader.json()).toMatchObject({ allowed: true });
    const python = await ask(h, bearer(requester.key));
    await h.decide("approve", python, bearer(approver.key));
    const snake = await h.authorize(bearer(requester.key), {
      ...DELETE_7,
      confirmation_token: python,
    });
    expect(snake.json()).toMatchObject({ allowed: true });
    // A header and a context that disagree is a mistake, not a choice.
    const both = await h.authorize(
      { ...bearer(requester.key), "x-confirmation-token": viaHeader },
      { ...DELETE_7, confirmationToken: python },
    );
    expect(both.statusCode).toBe(400);
    const status = await h.inject({
      method: "GET",
      url: `/approvals/${token}`,
      headers: bearer(approver.key),
    });
    expect(status.json().status).toBe("consumed");
  });

  it("refuses a pending, denied, unknown token, one for another policy or another context", async () => {
    const h = await harness(backend);
    const alice = as("alice");
    const bob = as("bob");
    const use = async (
      token: string,
      context: Record<string, unknown> = DELETE_7,
      policyId = "safe_delete",
    ) => {
      const res = await h.authorize(alice, { ...context, confirmationToken: token }, policyId);
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body, body.reason).toMatchObject({ allowed: false, action: "require_confirmation" });
      expect(body).not.toHaveProperty("confirmationToken");
      return body.reason as string;
    };
    const pending = await ask(h, alice);
    expect(await use(pending)).toContain("not been approved yet");
    const denied = await ask(h, alice);
    expect((await h.decide("deny", denied, bob)).json().status).toBe("denied");
    expect(await use(denied)).toContain("denied by bob");
    expect(await use(`${randomUUID()}.${"A".repeat(43)}`)).toContain("unknown");
    expect(await use("not-a-token")).toContain("unknown");

    const token = await ask(h, alice);
    expect((await h.decide("approve", token, bob)).statusCode).toBe(200);
    expect(await use(token, DELETE_7, "other_delete")).toContain("issued for policy 'safe_delete'");
    expect(await use(token, { ...DELETE_7, id: 8 })).toContain("other arguments");
    expect(await use(token, { ...DELETE_7, extra: "x" })).toContain("other arguments");
    // A self-confirm principal's confirm: true is part of the call, not of the context bound.
    // The refusals above used nothing up: the approved call still runs, once.
    const ok = await h.authorize(alice, { ...DELETE_7, confirmationToken: token });
    expect(ok.json()).toMatchObject({ allowed: true });
    expect(await use(token)).toContain("already used");
  });

  it("binds the token to the bound subject: one approved for bob's key is refused to alice's", async () => {
    const h = await harness(backend);
    const bob = await h.key(["decide"], { userId: "bob" });
    const alice = await h.key(["decide"], { userId: "alice" });
    const token = await ask(h, bearer(bob.key), { ...DELETE_7, userId: "mallory" });
    expect((await h.decide("approve", token, as("approver"))).statusCode).toBe(200);
    // Alice's key sends bob's call word for word (even naming bob): it decides as alice.
    for (const context of [DELETE_7, { ...DELETE_7, userId: "bob" }]) {
      const stolen = await h.authorize(bearer(alice.key), { ...context, confirmationToken: token });
      expect(stolen.json()).toMatchObject({ allowed: false, action: "require_confirmation" });
      expect(stolen.json().reason).toContain("other arguments");
    }
    const ok = await h.authorize(bearer(bob.key), { ...DELETE_7, confirmationToken: token });
    expect(ok.json()).toMatchObject({ allowed: true });
  });

  it("refuses an expired token", async () => {
    const h = await harness(backend);
    const token = await ask(h, as("alice"));
    expect((await h.decide("approve", token, as("bob"))).statusCode).toBe(200);
    h.advance(15 * 60_000 + 1);
    const res = await h.authorize(as("alice"), { ...DELETE_7, confirmationToken: token });
    expect(res.json()).toMatchObject({ allowed: false, action: "require_confirmation" });
    expect(res.json().reason).toContain("expired");
  });

  it("never lets a principal approve its own request", async () => {
    const h = await harness(backend);
    // One key that both decides and approves.
    const both = await h.key(["decide", "approve"]);
    const own = await ask(h, bearer(both.key));
    const self = await h.decide("approve", own, bearer(both.key));
    expect(self.statusCode).toBe(403);
    expect(self.json()).toMatchObject({ code: "self_approval" });
    expect(self.json().message).toContain(`api-key:${both.id}`);
    // The static token: X-Actor-Id names the principal.
    const alices = await ask(h, as("alice"));
    const again = await h.decide("approve", alices, as("alice"));
    expect(again.statusCode).toBe(403);
    expect(again.json().code).toBe("self_approval");
    const named = await h.inject({
      method: "POST",
      url: `/approvals/${alices}/approve`,
      headers: AUTH,
      payload: { by: "alice" },
    });
    expect(named.statusCode).toBe(403);
    // The token without X-Actor-Id is the principal `api-token`.
    const anonymousToken = await ask(h, AUTH);
    expect((await h.decide("approve", anonymousToken, AUTH)).statusCode).toBe(403);
    for (const t of [own, alices, anonymousToken]) {
      const s = await h.inject({ method: "GET", url: `/approvals/${t}`, headers: AUTH });
      expect(s.json().status).toBe("pending");
    }
    // Another principal may; the requester may withdraw (deny) its own request.
    expect((await h.decide("approve", alices, as("bob"))).json()).toMatchObject({
      status: "approved",
      requestedBy: "alice",
      decidedBy: "bob",
    });
    expect((await h.decide("deny", own, bearer(both.key))).json().status).toBe("denied");
    // The audit log says who asked and who approved.
    const events = await h.logger.getDecisionHistory({ policyId: "safe_delete", order: "asc" });
    const actions = events.map((e) => e.action).filter((a) => a.startsWith("confirmation_"));
    expect(actions).toEqual(
      expect.arrayContaining(["confirmation_create", "confirmation_approve"]),
    );
  });

  it("keeps the token out of the audit log and the server log", async () => {
    const h = await harness(backend);
    const token = await ask(h, as("alice"));
    await h.inject({ method: "GET", url: `/approvals/${token}`, headers: AUTH });
    await h.decide("approve", token, as("bob"));
    await h.authorize(as("alice"), { ...DELETE_7, confirmationToken: token });
    await h.authorize({ ...as("alice"), "x-confirmation-token": token }, DELETE_7);
    await h.authorize(as("alice"), { ...DELETE_7, confirmation_token: token }, "other_delete");
    // The Python shape (no policyId) takes no token, but records its context: not the token.
    await h.inject({
      method: "POST",
      url: "/authorize",
      headers: as("alice"),
      payload: { action: "delete", context: { ...DELETE_7, confirmationToken: token } },
    });
    const secret = token.split(".")[1] as string;
    await h.logger.flush();
    const records = await h.logger.getDecisionHistory({ limit: 1000 });
    expect(records.length).toBeGreaterThanOrEqual(6);
    expect(JSON.stringify(records)).not.toContain(secret);
    const api = await h.inject({ method: "GET", url: "/audit-logs?limit=1000", headers: AUTH });
    expect(api.body).not.toContain(secret);
    expect(h.lines.length).toBeGreaterThan(5);
    expect(h.lines.join("\n")).not.toContain(secret);
  });
});

describe("a server that cannot confirm", () => {
  const serverWith = async (
    guardianStore: ConfirmationStore | undefined,
    store: ConfirmationStore,
  ) => {
    const guardian = new Guardian({
      env: {},
      policies: YAML,
      onWarn: () => {},
      ...(guardianStore && { confirmations: guardianStore }),
    });
    const app = await createServer({
      guardian,
      confirmations: store,
      apiToken: TOKEN,
      logger: false,
    });
    closers.push(() => app.close());
    return (headers: Record<string, string>, context: Record<string, unknown>) =>
      app.inject({
        method: "POST",
        url: "/authorize",
        headers,
        payload: { policyId: "safe_delete", context },
      });
  };

  it("issues and checks no token when its Guardian has no store, and says so", async () => {
    const store = new MemoryConfirmationStore();
    const authorize = await serverWith(undefined, store);
    const res = await authorize(as("alice"), DELETE_7);
    expect(res.json()).toMatchObject({ allowed: false, action: "require_confirmation" });
    expect(res.json()).not.toHaveProperty("confirmationToken");
    expect(res.json().notes[0]).toContain("no confirmation store");
    // A token approved behind the server's back still does not pass.
    const token = store.create({ policyId: "safe_delete", fingerprint: "f" });
    store.approve(token, { approvedBy: "bob" });
    const withToken = await authorize(as("alice"), { ...DELETE_7, confirmationToken: token });
    expect(withToken.json()).toMatchObject({ allowed: false });
    expect(withToken.json().notes[0]).toContain("not checked");
  });

  it("answers 503 and no token when the store cannot create the request", async () => {
    const inner = new MemoryConfirmationStore();
    const broken: ConfirmationStore = {
      ...borrowedConfirmations(inner),
      create: () => {
        throw new Error("disk full (simulated)");
      },
    };
    const authorize = await serverWith(borrowedConfirmations(broken), broken);
    const res = await authorize(as("alice"), DELETE_7);
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ code: "confirmation_store_unavailable" });
    expect(res.headers["x-confirmation-token"]).toBeUndefined();
  });
});

describe("hexarch-ctl serve api (the real binary)", () => {
  let dir: string;
  const children = killAfterEach();
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "hexarch-serve-confirm-"));
    writeFileSync(join(dir, "hexarch.yaml"), YAML);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function serve(args: string[]) {
    const { proc, out, exited, url } = await serveApi(args, {
      cwd: dir,
      env: { HEXARCH_API_TOKEN: TOKEN, HEXARCH_API_KEY_ADMIN_ENABLED: "true" },
      children,
    });
    const call = async (method: string, path: string, headers: object, body?: unknown) => {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: {
          ...headers,
          ...(body !== undefined && { "content-type": "application/json" }),
        } as Record<string, string>,
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
      return {
        status: res.status,
        header: res.headers.get("x-confirmation-token"),
        body: (await res.json()) as Record<string, unknown>,
      };
    };
    return { proc, out, exited, call };
  }

  const flow = async (args: string[]) => {
    const { proc, out, exited, call } = await serve(args);
    const made = await call("POST", "/api-keys", AUTH, { name: "wf", scopes: ["decide"] });
    expect(made.status).toBe(201);
    const key = bearer(made.body.key as string);
    const authorize = (headers: object, context: object) =>
      call("POST", "/authorize", headers, { policyId: "safe_delete", context });
    // A decide-only key's confirm: true is ignored; the answer carries a token instead.
    const first = await authorize(key, { ...DELETE_7, confirm: true });
    expect(first.body).toMatchObject({
      allowed: false,
      action: "require_confirmation",
      ignored: ["context.confirm"],
    });
    const token = first.body.confirmationToken as string;
    expect(first.header).toBe(token);
    expect((await authorize(key, { ...DELETE_7, confirmationToken: token })).body.reason).toContain(
      "not been approved yet",
    );
    const approved = await call("POST", `/approvals/${token}/approve`, as("bob"));
    expect(approved.body).toMatchObject({ status: "approved", decidedBy: "bob" });
    expect(
      (await authorize({ ...key, "x-confirmation-token": token }, DELETE_7)).body,
    ).toMatchObject({ allowed: true, decision: "ALLOW" });
    const reused = await authorize({ ...key, "x-confirmation-token": token }, DELETE_7);
    expect(reused.body).toMatchObject({ allowed: false });
    expect(reused.body.reason).toContain("already used");
    // A reload keeps the store wired into the new Guardian.
    expect((await call("POST", "/policies/reload", AUTH, {})).status).toBe(200);
    const next = (await authorize(as("alice"), DELETE_7)).body.confirmationToken as string;
    expect((await call("POST", `/approvals/${next}/approve`, as("alice"))).status).toBe(403);
    await call("POST", `/approvals/${next}/approve`, as("bob"));
    expect(
      (await authorize(as("alice"), { ...DELETE_7, confirmationToken: next })).body,
    ).toMatchObject({ allowed: true });
    proc.kill("SIGTERM");
    expect(await exited).toBe(0);
    for (const t of [token, next]) {
      const secret = t.split(".")[1] as string;
      expect(out.stdout).not.toContain(secret);
      expect(out.stderr).not.toContain(secret);
    }
  };

  it("wires the SQL confirmation store beside the audit log into /authorize", async () => {
    await flow(["--db", join(dir, "sql.db")]);
  });

  it.skipIf(!redisUp)("wires the Redis confirmation store with --redis-url", async () => {
    await flow(["--db", join(dir, "redis.db"), "--redis-url", REDIS_URL]);
  });
});
