import { once } from "node:events";
import type { AddressInfo } from "node:net";
import express from "express";
import Fastify, { type FastifyReply, type FastifyRequest } from "fastify";
import { Hono, type Context as HonoContext, type MiddlewareHandler } from "hono";
import { afterEach, describe, expect, expectTypeOf, it } from "vitest";
import {
  type ConfirmationEvent,
  type Context,
  type DecisionEntry,
  Guardian,
  type GuardianOptions,
  GuardrailError,
  MemoryConfirmationStore,
  type StateStore,
  UnknownPolicyError,
} from "../../src/index.ts";
import { guard as expressGuard } from "../../src/integrations/express/index.ts";
import { guard as fastifyGuard } from "../../src/integrations/fastify/index.ts";
import { guard as honoGuard } from "../../src/integrations/hono/index.ts";
import {
  bodyDigest,
  type HttpGuardOptions,
  httpGuard,
  PROBLEM_TYPES,
  queryDigest,
  requestContext,
} from "../../src/integrations/http/index.ts";

const POLICIES = `
policies:
  - id: open
    rules:
      - resource: /never
        action: block
  - id: noisy
    rules:
      - action: warn
        message: "reads of /warned are being phased out"
  - id: closed
    rules:
      - when: { field: userId, operator: equals, value: mallory }
        action: block
        message: mallory may not administer
  - id: limited
    rules:
      - requests_per_minute: 2
        action: block
  - id: safe_delete
    rules:
      - operation: [delete, update]
        action: require_confirmation
`;

/** A state store that is down. */
const downStore: StateStore = {
  consume() {
    throw new Error("connection refused");
  },
  adjust() {},
};

interface Setup {
  readonly entries: DecisionEntry[];
  readonly events: ConfirmationEvent[];
  readonly errors: GuardrailError[];
  /** Requests that reached a handler, as `METHOD path`. */
  readonly handled: string[];
  /** With a confirmation store and an audit log. */
  readonly main: Guardian;
  /** No confirmation store. */
  readonly bare: Guardian;
  /** A state store that fails. */
  readonly failing: Guardian;
}

function setup(): Setup {
  const entries: DecisionEntry[] = [];
  const events: ConfirmationEvent[] = [];
  const auditLogger = {
    record: (e: DecisionEntry) => void entries.push(e),
    recordConfirmation: (e: ConfirmationEvent) => void events.push(e),
  };
  const quiet: GuardianOptions = { policies: POLICIES, env: {}, onWarn: () => {} };
  return {
    entries,
    events,
    errors: [],
    handled: [],
    main: new Guardian({ ...quiet, auditLogger, confirmations: new MemoryConfirmationStore() }),
    bare: new Guardian(quiet),
    failing: new Guardian({ ...quiet, state: downStore }),
  };
}

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown> | undefined;
}

interface RequestInit {
  readonly headers?: Record<string, string>;
  readonly json?: unknown;
}

interface Harness {
  request(method: string, path: string, init?: RequestInit): Promise<Answer>;
  close(): Promise<void>;
}

/** Every route of the suite, in a framework's words. */
interface Routes<Req> {
  readonly guard: (guardian: Guardian, options: HttpGuardOptions<Req>) => unknown;
  readonly userOf: (req: Req) => string | undefined;
}

function routeOptions<Req>(s: Setup, r: Routes<Req>) {
  const onError = (e: GuardrailError) => void s.errors.push(e);
  const user = (req: Req): Context => {
    const id = r.userOf(req);
    return id === undefined ? {} : { userId: id };
  };
  return {
    items: r.guard(s.main, { policyId: "open", onError }),
    warned: r.guard(s.main, { policyId: "noisy", onError }),
    admin: r.guard(s.main, { policyId: "closed", context: user, onError }),
    limited: r.guard(s.main, { policyId: "limited", onError }),
    projects: r.guard(s.main, { policyId: "safe_delete", context: user, onError }),
    bare: r.guard(s.bare, { policyId: "safe_delete", onError }),
    broken: r.guard(s.main, {
      policyId: "open",
      onError,
      context: () => {
        throw new Error("no session");
      },
    }),
    down: r.guard(s.failing, { policyId: "limited", onError }),
  };
}

const toAnswer = async (res: Response): Promise<Answer> => {
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined,
  };
};

const requestInit = (method: string, init: RequestInit = {}) => ({
  method,
  headers: {
    ...init.headers,
    ...(init.json !== undefined && { "content-type": "application/json" }),
  },
  ...(init.json !== undefined && { body: JSON.stringify(init.json) }),
});

async function expressHarness(s: Setup): Promise<Harness> {
  type M = express.RequestHandler;
  const g = routeOptions(s, {
    guard: expressGuard,
    userOf: (req: express.Request) => req.get("x-user"),
  }) as Record<string, M>;
  const app = express();
  app.use(express.json());
  const done =
    (status = 200): M =>
    (req, res) => {
      s.handled.push(`${req.method} ${req.path}`);
      res.status(status).json({ ok: true, id: req.params.id });
    };
  app.get("/items", g.items as M, done());
  app.get("/warned", g.warned as M, done());
  app.post("/admin", g.admin as M, done());
  app.get("/limited", g.limited as M, done());
  app.delete("/projects/:id", g.projects as M, done());
  app.patch("/projects/:id", g.projects as M, done());
  app.delete("/bare/:id", g.bare as M, done());
  app.get("/broken", g.broken as M, done());
  app.get("/down", g.down as M, done());
  const server = app.listen(0, "127.0.0.1");
  await once(server, "listening");
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    request: async (method, path, init) =>
      toAnswer(await fetch(`${base}${path}`, requestInit(method, init))),
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

async function fastifyHarness(s: Setup): Promise<Harness> {
  const g = routeOptions(s, {
    guard: fastifyGuard,
    userOf: (req: FastifyRequest) => {
      const u = req.headers["x-user"];
      return typeof u === "string" ? u : undefined;
    },
  });
  type Hook = ReturnType<typeof fastifyGuard>;
  const app = Fastify();
  const done =
    (status = 200) =>
    async (req: FastifyRequest, reply: FastifyReply) => {
      s.handled.push(`${req.method} ${req.url.split("?")[0]}`);
      return reply.code(status).send({ ok: true, id: (req.params as { id?: string }).id });
    };
  app.get("/items", { preHandler: g.items as Hook }, done());
  app.get("/warned", { preHandler: g.warned as Hook }, done());
  app.post("/admin", { preHandler: g.admin as Hook }, done());
  app.get("/limited", { preHandler: g.limited as Hook }, done());
  app.delete("/projects/:id", { preHandler: g.projects as Hook }, done());
  app.patch("/projects/:id", { preHandler: g.projects as Hook }, done());
  app.delete("/bare/:id", { preHandler: g.bare as Hook }, done());
  app.get("/broken", { preHandler: g.broken as Hook }, done());
  app.get("/down", { preHandler: g.down as Hook }, done());
  await app.ready();
  return {
    request: async (method, path, init = {}) => {
      const res = await app.inject({
        method: method as "GET",
        url: path,
        headers: {
          ...init.headers,
          ...(init.json !== undefined && { "content-type": "application/json" }),
        },
        ...(init.json !== undefined && { payload: JSON.stringify(init.json) }),
      });
      const headers = new Headers();
      for (const [k, v] of Object.entries(res.headers))
        if (v !== undefined) headers.set(k, String(v));
      return {
        status: res.statusCode,
        headers,
        body: res.body ? (JSON.parse(res.body) as Record<string, unknown>) : undefined,
      };
    },
    close: () => app.close(),
  };
}

async function honoHarness(s: Setup): Promise<Harness> {
  type M = MiddlewareHandler;
  const g = routeOptions(s, {
    guard: honoGuard,
    userOf: (c: HonoContext) => c.req.header("x-user"),
  }) as Record<string, M>;
  const app = new Hono();
  const done = (c: HonoContext) => {
    s.handled.push(`${c.req.method} ${c.req.path}`);
    return c.json({ ok: true, id: c.req.param("id") });
  };
  app.get("/items", g.items as M, done);
  app.get("/warned", g.warned as M, done);
  app.post("/admin", g.admin as M, done);
  app.get("/limited", g.limited as M, done);
  app.delete("/projects/:id", g.projects as M, async (c) => {
    // The guard read the body; the handler still can.
    const body: unknown = await c.req.json();
    expect(body).toBeTypeOf("object");
    return done(c);
  });
  app.patch("/projects/:id", g.projects as M, done);
  app.delete("/bare/:id", g.bare as M, done);
  app.get("/broken", g.broken as M, done);
  app.get("/down", g.down as M, done);
  return {
    request: async (method, path, init) =>
      toAnswer(await app.request(`http://localhost${path}`, requestInit(method, init))),
    close: async () => {},
  };
}

const FRAMEWORKS = [
  // Express and Fastify digest the parsed body, Hono the raw bytes.
  ["express (a listening server)", expressHarness, "parsed"],
  ["fastify (inject)", fastifyHarness, "parsed"],
  ["hono (app.request)", honoHarness, "raw"],
] as const;

describe.each(FRAMEWORKS)("guard() for %s", (_name, harnessOf, bodyAs) => {
  let s: Setup;
  let h: Harness;
  const start = async () => {
    s = setup();
    h = await harnessOf(s);
  };
  afterEach(async () => {
    await h.close();
    await Promise.all([s.main.close(), s.bare.close(), s.failing.close()]);
  });

  it("lets an allowed request through, and records the decision with the request's context", async () => {
    await start();
    const r = await h.request("GET", "/items?page=2");
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ok: true });
    expect(r.headers.get("x-guardrails-warning")).toBeNull();
    expect(s.handled).toEqual(["GET /items"]);
    expect(s.entries).toHaveLength(1);
    expect(s.entries[0]?.decision.decision).toBe("allowed");
    expect(s.entries[0]?.functionName).toBe("GET /items");
    expect(s.entries[0]?.context).toEqual({
      operation: "read",
      resource: "/items",
      method: "GET",
      path: "/items",
      queryDigest: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
  });

  it("lets a warned request through with X-Guardrails-Warning", async () => {
    await start();
    const r = await h.request("GET", "/warned");
    expect(r.status).toBe(200);
    expect(r.headers.get("x-guardrails-warning")).toContain(
      "reads of /warned are being phased out",
    );
    expect(s.entries[0]?.decision.decision).toBe("warned");
  });

  it("answers a block with 403 problem+json, and the handler never runs", async () => {
    await start();
    const r = await h.request("POST", "/admin", { headers: { "x-user": "mallory" }, json: {} });
    expect(r.status).toBe(403);
    expect(r.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(r.body).toEqual({
      type: PROBLEM_TYPES.policyViolation,
      title: "Refused by policy",
      status: 403,
      detail: expect.stringContaining("mallory may not administer"),
      policyId: "closed",
      reason: expect.stringContaining("mallory may not administer"),
      decisionId: s.entries[0]?.decision.decisionId,
    });
    expect(s.handled).toEqual([]);
    expect(s.entries[0]?.decision.decision).toBe("blocked");
    expect(s.entries[0]?.userId).toBe("mallory");
    const alice = await h.request("POST", "/admin", { headers: { "x-user": "alice" }, json: {} });
    expect(alice.status).toBe(200);
  });

  it("answers a rate limit with 429, Retry-After and RateLimit-* headers", async () => {
    await start();
    expect((await h.request("GET", "/limited")).status).toBe(200);
    expect((await h.request("GET", "/limited")).status).toBe(200);
    const r = await h.request("GET", "/limited");
    expect(r.status).toBe(429);
    expect(r.headers.get("retry-after")).toBe("60");
    expect(r.headers.get("ratelimit-limit")).toBe("2");
    expect(r.headers.get("ratelimit-remaining")).toBe("0");
    expect(r.headers.get("ratelimit-reset")).toBe("60");
    expect(r.headers.get("ratelimit-policy")).toBe("2;w=60");
    expect(r.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(r.body).toMatchObject({
      type: PROBLEM_TYPES.rateLimited,
      status: 429,
      policyId: "limited",
      detail: "Too many requests: retry after 60 seconds.",
      reason: expect.stringContaining("limit of 2 requests per minute reached"),
    });
    expect(s.handled).toHaveLength(2);
  });

  it("holds a request needing confirmation (202 + token); the approved retry runs once, bound to method, path and body", async () => {
    await start();
    const body = { cascade: true };
    const alice = { "x-user": "alice" };
    const first = await h.request("DELETE", "/projects/apollo", { headers: alice, json: body });
    expect(first.status).toBe(202);
    const token = first.body?.confirmationToken as string;
    expect(token).toMatch(/\S{20,}/);
    expect(first.headers.get("x-confirmation-token")).toBe(token);
    expect(first.body).toMatchObject({
      status: "pending_approval",
      policyId: "safe_delete",
      reason: expect.stringContaining("requires confirmation"),
      decisionId: s.entries[0]?.decision.decisionId,
      expiresAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(s.handled).toEqual([]);
    const withToken = (extra: Record<string, string> = {}) => ({
      headers: { ...alice, "x-confirmation-token": token, ...extra },
      json: body,
    });

    const pending = await h.request("DELETE", "/projects/apollo", withToken());
    expect(pending.status).toBe(403);
    expect(pending.body).toMatchObject({
      type: PROBLEM_TYPES.confirmationRefused,
      reason: expect.stringContaining("has not been approved yet"),
    });

    const store = s.main.confirmations;
    if (!store) throw new Error("no store");
    await store.approve(token, { approvedBy: "bob" });
    const refusals = [
      await h.request("DELETE", "/projects/apollo", { ...withToken(), json: { cascade: false } }),
      await h.request("DELETE", "/projects/gemini", withToken()),
      await h.request("PATCH", "/projects/apollo", withToken()),
      await h.request("DELETE", "/projects/apollo", withToken({ "x-user": "mallory" })),
      await h.request("DELETE", "/projects/apollo?force=true", withToken()),
    ];
    for (const r of refusals) {
      expect(r.status).toBe(403);
      expect(r.body).toMatchObject({
        type: PROBLEM_TYPES.confirmationRefused,
        reason: expect.stringContaining("issued for a call with other arguments"),
      });
    }
    expect(s.handled).toEqual([]);

    const retry = await h.request("DELETE", "/projects/apollo", withToken());
    expect(retry.status).toBe(200);
    expect(retry.body).toEqual({ ok: true, id: "apollo" });
    expect(s.handled).toEqual(["DELETE /projects/apollo"]);

    const replay = await h.request("DELETE", "/projects/apollo", withToken());
    expect(replay.status).toBe(403);
    expect(replay.body?.reason).toContain("already used");
    expect(s.handled).toHaveLength(1);

    // The audit log has the whole story, and no token.
    // The audit log has the whole story, and no token: refused tokens as refused decisions.
    expect(s.events.map((e) => e.kind)).toEqual(["create", "approve", "consume"]);
    expect(s.events[0]).toMatchObject({ actor: "alice", operation: "DELETE /projects/apollo" });
    const decisions = s.entries.map((e) => e.decision.decision);
    expect(decisions.filter((d) => d === "allowed")).toHaveLength(1);
    expect(
      s.entries.filter((e) => e.decision.reason.includes("confirmation token refused")),
    ).toHaveLength(7);
    expect(JSON.stringify(s.entries.map((e) => e.context))).not.toContain(token);
    expect(s.entries[0]?.context).toMatchObject({
      resource: "/projects/:id",
      path: "/projects/apollo",
      operation: "delete",
      userId: "alice",
    });
    expect(s.entries[0]?.context.bodyDigest).toBe(
      bodyDigest(bodyAs === "raw" ? JSON.stringify(body) : body),
    );
  });

  it("refuses a request needing confirmation when the Guardian has no store (fail closed)", async () => {
    await start();
    for (const headers of [{}, { "x-confirmation-token": "made.up" }]) {
      const r = await h.request("DELETE", "/bare/apollo", { headers, json: {} });
      expect(r.status).toBe(403);
      expect(r.body).toMatchObject({
        type: PROBLEM_TYPES.confirmationUnavailable,
        detail: expect.stringContaining("no confirmation store"),
      });
    }
    expect(s.handled).toEqual([]);
  });

  it("answers 503 when the decision backend fails, and reports it", async () => {
    await start();
    const r = await h.request("GET", "/down");
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({
      type: PROBLEM_TYPES.unavailable,
      status: 503,
      policyId: "limited",
      reason: "Policy 'limited' could not decide: the decision backend failed, failing closed",
    });
    // The backend's own words go to onError, not to the client.
    expect(JSON.stringify(r.body)).not.toContain("connection refused");
    expect(s.errors[0]?.message).toContain("connection refused");
    expect(s.handled).toEqual([]);
  });

  it("refuses (403) when the context function throws, without crashing or deciding", async () => {
    await start();
    const r = await h.request("GET", "/broken");
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({
      type: PROBLEM_TYPES.contextError,
      policyId: "open",
      reason: "the guard's context function failed; nothing was decided",
    });
    expect(JSON.stringify(r.body)).not.toContain("no session");
    expect(s.errors[0]?.message).toContain("no session");
    expect(s.entries).toEqual([]);
    expect(s.handled).toEqual([]);
    // The app keeps serving.
    expect((await h.request("GET", "/items")).status).toBe(200);
  });
});

describe("the framework-neutral core", () => {
  const guardian = () => new Guardian({ policies: POLICIES, env: {}, onWarn: () => {} });

  it("builds the default context from the method, the route and the body", () => {
    expect(
      requestContext({
        method: "delete",
        path: "/projects/7",
        route: "/projects/:id",
        headers: {},
        body: { b: 1, a: [1, 2] },
      }),
    ).toEqual({
      operation: "delete",
      resource: "/projects/:id",
      method: "DELETE",
      path: "/projects/7",
      bodyDigest: bodyDigest({ a: [1, 2], b: 1 }),
    });
    expect(requestContext({ method: "PURGE", path: "/x", headers: {} })).toEqual({
      operation: "purge",
      resource: "/x",
      method: "PURGE",
      path: "/x",
    });
  });

  it("digests bodies: key order does not matter, values and bytes do, no body is none", () => {
    expect(bodyDigest({ a: 1, b: 2 })).toBe(bodyDigest({ b: 2, a: 1 }));
    expect(bodyDigest({ a: 1 })).not.toBe(bodyDigest({ a: "1" }));
    expect(bodyDigest("abc")).toBe(bodyDigest(new TextEncoder().encode("abc")));
    expect(bodyDigest("abc")).toMatch(/^[0-9a-f]{64}$/);
    for (const none of [undefined, null, "", new Uint8Array(0)]) {
      expect(bodyDigest(none)).toBeUndefined();
    }
    // What cannot be encoded reliably never matches itself again.
    class Opaque {}
    expect(bodyDigest(new Opaque())).not.toBe(bodyDigest(new Opaque()));
  });

  it("checks the policy id when the guard is made, not per request", () => {
    expect(() => httpGuard(guardian(), { policyId: "nope" })).toThrow(UnknownPolicyError);
    expect(() => expressGuard(guardian(), { policyId: "nope" })).toThrow(UnknownPolicyError);
    expect(() => httpGuard(guardian(), { policyId: "" })).toThrow(GuardrailError);
    expect(() => httpGuard(guardian(), { policyId: "open", storeTimeoutMs: 0 })).toThrow(
      /storeTimeoutMs must be a positive number/,
    );
  });

  it("never lets the context function confirm a call or replace the query's digest", async () => {
    const g = new Guardian({
      policies: "policies: [{ id: confirm_all, rules: [{ action: require_confirmation }] }]",
      env: {},
      confirmations: new MemoryConfirmationStore(),
    });
    // A context function passing request data through, as `...req.query` would.
    const decide = httpGuard(g, {
      policyId: "confirm_all",
      context: () => ({ confirm: true, confirmationToken: "x.y", queryDigest: "mine" }),
    });
    const r = await decide(
      { method: "DELETE", path: "/items", query: "id=1&confirm=true", headers: {} },
      undefined,
    );
    expect(r).toMatchObject({ pass: false, status: 202 });
    // The same parameters in another order give the same digest; other values another one.
    expect(queryDigest("b=2&a=1")).toBe(queryDigest("a=1&b=2"));
    expect(queryDigest("a=1&b=3")).not.toBe(queryDigest("a=1&b=2"));
    expect(queryDigest("")).toBeUndefined();
  });

  it("passes would-be refusals in monitor mode, with a warning header", async () => {
    const g = new Guardian({ policies: POLICIES, env: {}, mode: "monitor", onWarn: () => {} });
    const decide = httpGuard(g, { policyId: "closed", context: () => ({ userId: "mallory" }) });
    const r = await decide({ method: "POST", path: "/admin", headers: {} }, undefined);
    expect(r.pass).toBe(true);
    expect(r.headers["x-guardrails-warning"]).toMatch(/^would refuse \(monitor mode\): /);
  });

  it("keeps warning headers to printable ASCII", async () => {
    const g = new Guardian({
      policies: `
policies:
  - id: w
    rules: [{ action: warn, message: "naïve\\r\\nSet-Cookie: x=1" }]
`,
      env: {},
      onWarn: () => {},
    });
    const r = await httpGuard(g, { policyId: "w" })({ method: "GET", path: "/", headers: {} }, 0);
    expect(r.headers["x-guardrails-warning"]).toMatch(/^[\x20-\x7e]+$/);
    expect(r.headers["x-guardrails-warning"]).toContain("na?ve??Set-Cookie");
  });

  it("answers 503 when a durable audit log cannot write, and 503 when the store cannot create a token", async () => {
    const errors: string[] = [];
    const durable = new Guardian({
      policies: POLICIES,
      env: {},
      auditLogger: { durable: true, record: () => Promise.reject(new Error("disk full")) },
    });
    const r = await httpGuard(durable, {
      policyId: "open",
      onError: (e) => void errors.push(e.message),
    })({ method: "GET", path: "/items", headers: {} }, 0);
    expect(r).toMatchObject({ pass: false, status: 503 });
    expect(errors[0]).toContain("disk full");

    const store = new MemoryConfirmationStore();
    store.create = () => {
      throw new Error("store down");
    };
    const g = new Guardian({ policies: POLICIES, env: {}, confirmations: store });
    const held = await httpGuard(g, {
      policyId: "safe_delete",
      onError: (e) => void errors.push(e.message),
    })({ method: "DELETE", path: "/p/1", headers: {} }, 0);
    expect(held).toMatchObject({ pass: false, status: 503 });
    expect(errors[1]).toContain("store down");
  });

  it("answers a context function that returns no object with a 403", async () => {
    const r = await httpGuard<number>(guardian(), {
      policyId: "open",
      context: () => 42 as unknown as Context,
      onError: () => {},
    })({ method: "GET", path: "/", headers: {} }, 0);
    expect(r).toMatchObject({
      pass: false,
      status: 403,
      body: { type: PROBLEM_TYPES.contextError },
    });
  });

  it("types the context function's argument as each framework's request", () => {
    const g = guardian();
    express().delete(
      "/p/:id",
      expressGuard(g, {
        policyId: "safe_delete",
        context: (req) => {
          expectTypeOf(req).toEqualTypeOf<express.Request>();
          return { userId: req.get("x-user"), project: req.params.id };
        },
      }),
      (_req, res) => void res.status(204).end(),
    );
    const app = Fastify();
    app.delete<{ Params: { id: string } }>(
      "/p/:id",
      {
        preHandler: fastifyGuard(g, {
          policyId: "safe_delete",
          context: (req) => {
            expectTypeOf(req.params.id).toEqualTypeOf<string>();
            return { project: req.params.id };
          },
        }),
      },
      async () => ({}),
    );
    type AppEnv = { Variables: { user: string } };
    const hono = new Hono<AppEnv>();
    hono.delete(
      "/p/:id",
      // Hono does not infer a middleware's Env from the route: name it, as with createMiddleware.
      honoGuard<AppEnv>(g, {
        policyId: "safe_delete",
        context: (c) => {
          expectTypeOf(c.get("user")).toEqualTypeOf<string>();
          return { userId: c.get("user") };
        },
      }),
      (c) => c.body(null, 204),
    );
    void app.close();
  });
});

describe("a guard covering a group of routes", () => {
  const recorded = () => {
    const entries: DecisionEntry[] = [];
    const guardian = new Guardian({
      policies: POLICIES,
      env: {},
      auditLogger: { record: (e) => void entries.push(e) },
    });
    return { entries, guardian };
  };

  it("runs one of many concurrent retries with the same approved token", async () => {
    const confirmations = new MemoryConfirmationStore();
    const guardian = new Guardian({ policies: POLICIES, env: {}, confirmations });
    let ran = 0;
    const app = new Hono();
    app.delete("/projects/:id", honoGuard(guardian, { policyId: "safe_delete" }), (c) => {
      ran++;
      return c.body(null, 204);
    });
    const first = await app.request("/projects/apollo", { method: "DELETE" });
    const token = first.headers.get("x-confirmation-token") as string;
    confirmations.approve(token, { approvedBy: "bob" });
    const statuses = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const r = await app.request("/projects/apollo", {
          method: "DELETE",
          headers: { "x-confirmation-token": token },
        });
        return r.status;
      }),
    );
    expect(statuses.sort()).toEqual([204, ...Array<number>(9).fill(403)]);
    expect(ran).toBe(1);
  });

  it("hono: app.use('*', guard) names the route that answers", async () => {
    const { entries, guardian } = recorded();
    const app = new Hono();
    app.use("*", honoGuard(guardian, { policyId: "open" }));
    app.get("/things/:id", (c) => c.text("ok"));
    app.use("/things/*", async (_c, next) => next()); // middleware after the route is skipped
    expect((await app.request("/things/7")).status).toBe(200);
    expect((await app.request("/nowhere")).status).toBe(404);
    expect(entries.map((e) => e.context.resource)).toEqual(["/things/:id", "/nowhere"]);
  });

  it("fastify: addHook('preHandler', guard) names each route", async () => {
    const { entries, guardian } = recorded();
    const app = Fastify();
    app.addHook("preHandler", fastifyGuard(guardian, { policyId: "open" }));
    app.get("/things/:id", async () => "ok");
    expect((await app.inject({ url: "/things/7?x=1" })).statusCode).toBe(200);
    expect(entries[0]?.context).toMatchObject({ resource: "/things/:id", path: "/things/7" });
    await app.close();
  });

  it("express: app.use(guard) runs before routing, so the resource is the path", async () => {
    const { entries, guardian } = recorded();
    const app = express();
    const router = express.Router();
    router.get("/things/:id", expressGuard(guardian, { policyId: "open" }), (_req, res) => {
      res.send("ok");
    });
    app.use(expressGuard(guardian, { policyId: "open" }));
    app.use("/api", router);
    const server = app.listen(0, "127.0.0.1");
    await once(server, "listening");
    const res = await fetch(
      `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/things/7`,
    );
    expect(res.status).toBe(200);
    server.closeAllConnections();
    server.close();
    // app.use: the path; in a mounted router's route: the mount path and the pattern.
    expect(entries.map((e) => e.context.resource)).toEqual(["/api/things/7", "/api/things/:id"]);
  });
});

describe.each(["express", "fastify", "hono"])("examples/integrations/%s.ts", (name) => {
  it("rate limits, refuses a viewer, holds a delete for approval and runs the approved retry once", async () => {
    const { main } = (await import(`../../examples/integrations/${name}.ts`)) as {
      main: (log: (line: string) => void) => Promise<void>;
    };
    const lines: string[] = [];
    await main((line) => void lines.push(line));
    expect(lines).toEqual([
      "GET /projects x4 → 200, 200, 200, 429 (Retry-After: 60 s, RateLimit-Policy: 3;w=60)",
      "POST /projects as a viewer → 403 Refused by policy: Policy 'editors_only' blocked the call: viewers cannot create projects (rule rules[0])",
      "DELETE /projects/apollo → 202 pending_approval",
      "approver: approved by lead@example.com",
      "same token for /projects/gemini → 403",
      "retry with X-Confirmation-Token → 204",
      "replayed → 403: Policy 'safe_delete' requires confirmation: matched operation delete (rule rules[0]); confirmation token refused: the confirmation token was already used",
      "projects left: gemini",
    ]);
  });
});
