import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from "fastify";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type AuditStore, DecisionLogger, SqliteAuditStore } from "../../src/audit/index.ts";
import {
  type ConfirmationStore,
  DecisionBackendError,
  Guardian,
  MemoryConfirmationStore,
} from "../../src/index.ts";
import {
  createServer,
  redactUrl,
  ServerConfigError,
  type ServerOptions,
  tokenMatches,
} from "../../src/server/index.ts";
// Internal: the query parsers of the audit routes, tested at their edges.
import { durationMs, parseInstant } from "../../src/server/routes/audit.ts";

const TOKEN = "test-token-0123456789abcdef";
const AUTH = { authorization: `Bearer ${TOKEN}` };

const POLICIES = `
policies:
  - id: limited
    rules: [{ resource: "*", requests_per_minute: 2, per: userId, action: block }]
  - id: safe_delete
    rules: [{ operation: delete, action: require_confirmation }]
  - id: open
    rules: [{ resource: "*", action: allow }]
`;

/** A store whose every method fails while `down.value` is true. */
function flakyStore(inner: AuditStore, down: { value: boolean }): AuditStore {
  const gate =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> =>
      down.value ? Promise.reject(new Error("database is locked (simulated)")) : fn(...args);
  return {
    migrate: gate(() => inner.migrate()),
    rollback: gate(() => inner.rollback()),
    migrationStatus: gate(() => inner.migrationStatus()),
    append: gate((r) => inner.append(r)),
    query: gate((f) => inner.query(f)),
    counts: gate((p, n) => inner.counts(p, n)),
    policyIds: gate(() => inner.policyIds()),
    timeseries: gate((q) => inner.timeseries(q)),
    summary: gate((w, n) => inner.summary(w, n)),
    prune: gate((b, o, x) => inner.prune(b, o, x)),
    chain: gate((a, l) => inner.chain(a, l)),
    ends: gate(() => inner.ends()),
    close: () => inner.close(),
  };
}

interface Harness {
  readonly app: FastifyInstance;
  readonly logger: DecisionLogger;
  readonly guardian: Guardian;
  readonly confirmations: MemoryConfirmationStore;
  readonly lines: string[];
  readonly down: { value: boolean };
  inject(options: InjectOptions): Promise<LightMyRequestResponse>;
}

const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) {
    await h.app.close();
    await h.logger.close().catch(() => {});
  }
});

/** Server options to override; `undefined` leaves an option out. */
type Overrides = { [K in keyof ServerOptions]?: ServerOptions[K] | undefined } & {
  guardianMode?: "enforce" | "monitor";
  now?: () => number;
};

async function harness(overrides: Overrides = {}): Promise<Harness> {
  const { guardianMode, now, ...options } = overrides;
  const down = { value: false };
  const logger = new DecisionLogger(flakyStore(new SqliteAuditStore(":memory:"), down), {
    exitHooks: false,
    onError: () => {},
  });
  const guardian = new Guardian({
    env: {},
    policies: POLICIES,
    onWarn: () => {},
    ...(guardianMode && { mode: guardianMode }),
  });
  const confirmations = new MemoryConfirmationStore(now ? { clock: now } : {});
  const lines: string[] = [];
  const merged: Record<string, unknown> = {
    guardian,
    auditLogger: logger,
    confirmations,
    apiToken: TOKEN,
    logger: { level: "info", stream: { write: (l: string) => lines.push(l) } },
    ...options,
  };
  for (const [k, v] of Object.entries(merged)) if (v === undefined) delete merged[k];
  const app = await createServer(merged as unknown as ServerOptions);
  const h: Harness = {
    app,
    logger,
    guardian,
    confirmations,
    lines,
    down,
    inject: (o) => app.inject(o),
  };
  open.push(h);
  return h;
}

const authorize = (h: Harness, body: unknown, headers: Record<string, string> = AUTH) =>
  h.inject({ method: "POST", url: "/authorize", headers, payload: body as object });

describe("authentication", () => {
  it("leaves GET /, GET /health and POST /echo public", async () => {
    const h = await harness();
    const root = await h.inject({ method: "GET", url: "/" });
    expect(root.statusCode).toBe(200);
    expect(root.json()).toEqual({ name: "hexarch-guardrails", version: expect.any(String) });
    expect((await h.inject({ method: "GET", url: "/health" })).statusCode).toBe(200);
    const echo = await h.inject({
      method: "POST",
      url: "/echo",
      payload: { message: "hello", metadata: { a: [1, 2] } },
    });
    expect(echo.statusCode).toBe(200);
    expect(echo.json()).toEqual({ ok: true, message: "hello", metadata: { a: [1, 2] } });
  });

  it("answers 401 with WWW-Authenticate when the token is missing", async () => {
    const h = await harness();
    for (const url of ["/audit-logs", "/audit-logs/verify", "/audit/blocked", "/approvals/x.y"]) {
      const res = await h.inject({ method: "GET", url });
      expect(res.statusCode, url).toBe(401);
      expect(res.headers["www-authenticate"]).toBe('Bearer realm="hexarch-guardrails"');
      expect(res.json()).toMatchObject({ statusCode: 401, code: "unauthenticated" });
    }
    const basic = await authorize(h, { policyId: "open" }, { authorization: "Basic dTpw" });
    expect(basic.statusCode).toBe(401);
    expect(basic.json().message).toContain("Bearer");
  });

  it("answers 403 to any wrong token, whatever its length, with the same body", async () => {
    const h = await harness();
    const wrong = [
      "x",
      TOKEN.slice(0, -1),
      `${TOKEN}x`,
      `${TOKEN.slice(0, -1)}X`,
      "y".repeat(4000),
      TOKEN.toUpperCase(),
    ];
    const bodies = new Set<string>();
    for (const token of wrong) {
      const res = await authorize(h, { policyId: "open" }, { authorization: `Bearer ${token}` });
      expect(res.statusCode, token.slice(0, 20)).toBe(403);
      const { requestId: _, ...body } = res.json();
      bodies.add(JSON.stringify(body));
    }
    expect(bodies.size).toBe(1);
    expect((await authorize(h, { policyId: "open" })).statusCode).toBe(200);
    // The scheme is case-insensitive, as RFC 7235 says.
    expect(
      (await authorize(h, { policyId: "open" }, { authorization: `bearer ${TOKEN}` })).statusCode,
    ).toBe(200);
  });

  it("compares tokens through digests: equal lengths never required, no throw", async () => {
    const { createHash } = await import("node:crypto");
    const expected = createHash("sha256").update(TOKEN).digest();
    expect(tokenMatches(TOKEN, expected)).toBe(true);
    expect(tokenMatches("", expected)).toBe(false);
    expect(tokenMatches("z".repeat(100_000), expected)).toBe(false);
    expect(tokenMatches(TOKEN.slice(1), expected)).toBe(false);
  });

  it("refuses to start without a token unless anonymous access is allowed", async () => {
    const guardian = new Guardian({ env: {}, policies: POLICIES });
    await expect(createServer({ guardian, logger: false })).rejects.toThrow(ServerConfigError);
    await expect(createServer({ guardian, logger: false })).rejects.toThrow(/--allow-anon/);
    await expect(createServer({ guardian, apiToken: " ", logger: false })).rejects.toThrow(
      /must not be empty/,
    );
    await expect(
      createServer({ guardian, apiToken: TOKEN, bodyLimitBytes: 0, logger: false }),
    ).rejects.toThrow(/bodyLimitBytes/);
  });

  it("in anonymous mode admits callers without a token, warns loudly, refuses a wrong token", async () => {
    const h = await harness({ apiToken: undefined, allowAnon: true });
    const warning = h.lines.map((l) => JSON.parse(l)).find((l) => l.level === 40);
    expect(warning?.msg).toMatch(/ANONYMOUS ACCESS/);
    const res = await authorize(h, { policyId: "open", context: { userId: "u1" } }, {});
    expect(res.statusCode).toBe(200);
    expect(
      (await authorize(h, { policyId: "open" }, { authorization: "Bearer guess" })).statusCode,
    ).toBe(403);
    const [record] = await h.logger.getDecisionHistory();
    expect(record?.metadata).toMatchObject({ actor: "anonymous" });
  });

  it("never writes to the audit log for an unauthenticated request", async () => {
    const h = await harness();
    await authorize(h, { policyId: "limited", context: { userId: "mallory" } }, {});
    await authorize(
      h,
      { policyId: "limited", context: { userId: "mallory" } },
      { authorization: "Bearer wrong" },
    );
    await h.inject({
      method: "POST",
      url: `/approvals/${h.confirmations.create({ policyId: "safe_delete", fingerprint: "f" })}/approve`,
    });
    await h.logger.flush();
    expect(h.logger.stats.recorded).toBe(0);
    expect(await h.logger.getDecisionHistory()).toEqual([]);
    // …and a refused caller consumed no quota: the user's two calls are still there.
    expect(
      (await authorize(h, { policyId: "limited", context: { userId: "mallory" } })).json(),
    ).toMatchObject({ allowed: true });
  });
});

describe("request ids and logs", () => {
  it("echoes a sane X-Request-Id, else makes a UUID, and puts it in every log line", async () => {
    const h = await harness();
    const given = await h.inject({
      method: "GET",
      url: "/health",
      headers: { "x-request-id": "trace-42.abc" },
    });
    expect(given.headers["x-request-id"]).toBe("trace-42.abc");
    const made = await h.inject({ method: "GET", url: "/" });
    expect(made.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    for (const bad of ["has space", "x".repeat(129), "semi;colon"]) {
      const res = await h.inject({ method: "GET", url: "/", headers: { "x-request-id": bad } });
      expect(res.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    }
    await authorize(h, { policyId: "nope" });
    const requestLines = h.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.req || l.res || l.code);
    expect(requestLines.length).toBeGreaterThan(6);
    for (const line of requestLines) expect(line.requestId).toEqual(expect.any(String));
    expect(h.lines.some((l) => l.includes('"requestId":"trace-42.abc"'))).toBe(true);
    // The error answer carries the id too.
    const err = await authorize(h, { policyId: "nope" }, { ...AUTH, "x-request-id": "r-1" });
    expect(err.json().requestId).toBe("r-1");
  });

  it("logs an answered request in one line at info: method, URL, client, status, time", async () => {
    const h = await harness();
    await h.inject({ method: "GET", url: "/health", headers: { "x-request-id": "one-line" } });
    const lines = h.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.requestId === "one-line");
    expect(lines).toEqual([
      expect.objectContaining({
        level: 30,
        msg: "request completed",
        req: { method: "GET", url: "/health", remoteAddress: "127.0.0.1" },
        res: { statusCode: 200 },
        responseTime: expect.any(Number),
      }),
    ]);
  });

  it("never logs the bearer token or a confirmation token's secret", async () => {
    const h = await harness();
    const token = h.confirmations.create({ policyId: "safe_delete", fingerprint: "f" });
    await h.inject({ method: "GET", url: `/approvals/${token}`, headers: AUTH });
    await h.inject({ method: "POST", url: `/approvals/${token}/approve`, headers: AUTH });
    const secret = token.split(".")[1] as string;
    const log = h.lines.join("");
    expect(log).not.toContain(secret);
    expect(log).not.toContain(TOKEN);
    expect(log).toContain(`/approvals/${token.split(".")[0]}.***/approve`);
    expect(redactUrl("/approvals/abc.def?x=1")).toBe("/approvals/abc.***?x=1");
    expect(redactUrl("/approvals/nodot")).toBe("/approvals/.***");
    // However the path is spelt (it may still reach the route, or a 404 that is logged too).
    const shaped = `${token.split(".")[0]}.${"A".repeat(43)}`;
    for (const path of ["/%61pprovals/", "//approvals/", "/APPROVALS/", "/approvals;x/", "/x?t="])
      expect(redactUrl(`${path}${shaped}`), path).not.toContain("A".repeat(16));
  });
});

describe("errors", () => {
  it("answers unknown routes 404 in JSON", async () => {
    const h = await harness();
    const res = await h.inject({ method: "GET", url: "/nowhere?x=1" });
    expect(res.statusCode).toBe(404);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    expect(res.json()).toMatchObject({
      statusCode: 404,
      error: "Not Found",
      code: "route_not_found",
      message: "no route GET /nowhere",
    });
  });

  it("answers the router's own errors in the same JSON shape, with the request id", async () => {
    const h = await harness();
    const badUrl = await h.inject({
      method: "GET",
      url: "/audit/users/%E0%A4%A/trail",
      headers: AUTH,
    });
    expect(badUrl.statusCode).toBe(400);
    expect(badUrl.json()).toMatchObject({ code: "bad_url", requestId: expect.any(String) });
    expect(badUrl.headers["x-request-id"]).toBe(badUrl.json().requestId);
    const long = await h.inject({
      method: "GET",
      url: `/approvals/${"a".repeat(5000)}`,
      headers: AUTH,
    });
    expect(long.statusCode).toBe(414);
    expect(long.json().code).toBe("uri_too_long");
    const length = await h.inject({
      method: "POST",
      url: "/echo",
      headers: { "content-type": "application/json", "content-length": "5" },
      payload: '{"message":"hello"}',
    });
    expect(length.statusCode).toBe(400);
    expect(length.json().code).toBe("bad_content_length");
  });

  it("answers malformed JSON, a wrong media type and too deep a body with 4xx", async () => {
    const h = await harness();
    const bad = await h.inject({
      method: "POST",
      url: "/authorize",
      headers: { ...AUTH, "content-type": "application/json" },
      payload: '{"policyId": "open",',
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: "malformed_json" });
    const poisoned = await h.inject({
      method: "POST",
      url: "/echo",
      headers: { "content-type": "application/json" },
      payload: '{"message":"x","metadata":{"__proto__":{"admin":true}}}',
    });
    expect(poisoned.statusCode).toBe(400);
    const text = await h.inject({
      method: "POST",
      url: "/echo",
      headers: { "content-type": "text/plain" },
      payload: "hello",
    });
    expect(text.statusCode).toBe(415);
    let deep: unknown = {};
    for (let i = 0; i < 40; i++) deep = { d: deep };
    const nested = await authorize(h, { policyId: "open", context: deep });
    expect(nested.statusCode).toBe(400);
    expect(nested.json().message).toMatch(/nests deeper than 32/);
  });

  it("answers schema violations 400 naming the field", async () => {
    const h = await harness();
    const cases: [InjectOptions, string, string][] = [
      [
        { method: "POST", url: "/authorize", headers: AUTH, payload: { action: 7 } },
        "body.action",
        "body.action must be string",
      ],
      [
        { method: "POST", url: "/authorize", headers: AUTH, payload: { policyId: 7 } },
        "body.policyId",
        "body.policyId must be string",
      ],
      [
        { method: "POST", url: "/authorize", headers: AUTH, payload: { policy_id: "open" } },
        "body.policy_id",
        "body.policy_id is not a known field",
      ],
      [
        {
          method: "POST",
          url: "/authorize",
          headers: AUTH,
          payload: { policyId: "open", extra: 1 },
        },
        "body.extra",
        "body.extra is not a known field",
      ],
      [
        {
          method: "POST",
          url: "/authorize",
          headers: AUTH,
          payload: { policyId: "open", context: [1] },
        },
        "body.context",
        "body.context must be object",
      ],
      [
        { method: "POST", url: "/echo", payload: { message: "x".repeat(10_001) } },
        "body.message",
        "body.message must be at most 10000 characters long",
      ],
      [
        { method: "GET", url: "/audit-logs?limit=0", headers: AUTH },
        "query.limit",
        "query.limit must be at least 1",
      ],
      [
        { method: "GET", url: "/audit-logs?limit=ten", headers: AUTH },
        "query.limit",
        "query.limit must be integer",
      ],
      [
        { method: "GET", url: "/audit-logs?decision=maybe", headers: AUTH },
        "query.decision",
        'query.decision must be one of "allowed", "warned", "blocked"',
      ],
      [
        { method: "GET", url: "/audit-logs?since=yesterday", headers: AUTH },
        "query.since",
        "query.since must be an ISO date or time",
      ],
      [
        { method: "GET", url: "/audit/blocked?timeframe=soon", headers: AUTH },
        "query.timeframe",
        "query.timeframe has characters or a form that is not allowed",
      ],
      [
        { method: "GET", url: "/audit/blocked?timeframe=99999999999999999999w", headers: AUTH },
        "query.timeframe",
        "query.timeframe must be a duration",
      ],
      [
        { method: "GET", url: "/audit-logs?since=99999999999999999999w", headers: AUTH },
        "query.since",
        "query.since must be a duration",
      ],
      [
        { method: "GET", url: "/approvals/not%20a%20token", headers: AUTH },
        "path.token",
        "path.token has characters",
      ],
      [
        {
          method: "GET",
          url: "/health",
          headers: { "x-actor-id": "bob" },
        },
        "",
        "",
      ],
      [
        { method: "GET", url: "/audit-logs", headers: { ...AUTH, "x-actor-id": "bad actor" } },
        "header.x-actor-id",
        "header.x-actor-id must be",
      ],
    ];
    for (const [request, field, message] of cases) {
      const res = await h.inject(request);
      if (field === "") {
        expect(res.statusCode).toBe(200); // public routes ignore X-Actor-Id
        continue;
      }
      expect(res.statusCode, `${request.url}`).toBe(400);
      expect(res.json().field, `${request.url}`).toBe(field);
      expect(res.json().message, `${request.url}`).toContain(message);
    }
  });

  it("answers bodies over 1 MiB with 413", async () => {
    const h = await harness();
    const big = JSON.stringify({ message: "x", metadata: { pad: "y".repeat(1024 * 1024) } });
    const res = await h.inject({
      method: "POST",
      url: "/echo",
      headers: { "content-type": "application/json" },
      payload: big,
    });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ code: "body_too_large" });
    const fits = JSON.stringify({ message: "x", metadata: { pad: "y".repeat(1000 * 1000) } });
    expect(
      (
        await h.inject({
          method: "POST",
          url: "/echo",
          headers: { "content-type": "application/json" },
          payload: fits,
        })
      ).statusCode,
    ).toBe(200);
  });

  it("rate-limits per token and per IP with a real 429 and Retry-After", async () => {
    const h = await harness({ rateLimit: { max: 3, maxPerIp: 2, windowMs: 60_000 } });
    for (let i = 0; i < 3; i++)
      expect((await authorize(h, { policyId: "open" })).statusCode).toBe(200);
    const limited = await authorize(h, { policyId: "open" });
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
    expect(limited.json()).toMatchObject({ code: "rate_limited", statusCode: 429 });
    // Callers without a valid token share their IP's (smaller) bucket: guessing is slow.
    const guesses = [];
    for (let i = 0; i < 3; i++)
      guesses.push(
        (await authorize(h, { policyId: "open" }, { authorization: `Bearer guess${i}` }))
          .statusCode,
      );
    expect(guesses).toEqual([403, 403, 429]);
    // Public routes count in a bucket of their own: failed logins do not silence /health.
    const health = await h.inject({ method: "GET", url: "/health" });
    expect(health.statusCode).toBe(200);
    // Unknown routes count too.
    expect((await h.inject({ method: "GET", url: "/nowhere" })).statusCode).toBe(429);
  });

  it("answers 503 with a clear body when the audit store is down, never 500", async () => {
    const h = await harness();
    await authorize(h, { policyId: "open" });
    h.down.value = true;
    const health = await h.inject({ method: "GET", url: "/health" });
    expect(health.statusCode).toBe(503);
    expect(health.json()).toMatchObject({
      status: "unavailable",
      database: "error",
      state: "ok",
      backends: { database: "custom", state: "memory" },
    });
    for (const url of [
      "/audit-logs",
      "/audit-logs/verify",
      "/audit/stats",
      "/audit/stats/open",
      "/audit/blocked",
      "/audit/users/u/trail",
    ]) {
      const res = await h.inject({ method: "GET", url, headers: AUTH });
      expect(res.statusCode, url).toBe(503);
      expect(res.headers["retry-after"]).toBe("5");
      expect(res.json(), url).toMatchObject({
        code: "audit_log_unavailable",
        message: "the audit log is unavailable; the server log has the details",
      });
    }
    // Decisions go on (the log queues them) and are written once the store is back.
    expect((await authorize(h, { policyId: "open" })).statusCode).toBe(200);
    h.down.value = false;
    expect((await h.inject({ method: "GET", url: "/health" })).statusCode).toBe(200);
    const page = await h.inject({ method: "GET", url: "/audit-logs", headers: AUTH });
    expect(page.json().records).toHaveLength(2);
    // The cause is in the log, not in the answer.
    expect(h.lines.join("")).toContain("database is locked (simulated)");
  });

  it("answers 503 when the state store's check fails, and times a hung check out", async () => {
    const failing = await harness({
      state: { kind: "redis", check: () => Promise.reject(new Error("ECONNREFUSED")) },
    });
    const res = await failing.inject({ method: "GET", url: "/health" });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ state: "error", backends: { state: "redis" } });
    const hung = await harness({
      state: { kind: "redis", check: () => new Promise(() => {}) },
      healthTimeoutMs: 50,
    });
    expect((await hung.inject({ method: "GET", url: "/health" })).json().state).toBe("error");
  });

  it("answers 503 when a durable audit log cannot record a decision", async () => {
    const down = { value: true };
    const durable = new DecisionLogger(flakyStore(new SqliteAuditStore(":memory:"), down), {
      exitHooks: false,
      durable: true,
      onError: () => {},
    });
    const h = await harness({ auditLogger: durable });
    const res = await authorize(h, { policyId: "open" });
    expect(res.statusCode).toBe(503);
    expect(res.json().code).toBe("audit_log_unavailable");
    await durable.close();
  });

  it("parses instants and durations without overflowing a date", () => {
    const now = Date.UTC(2026, 0, 2);
    expect(parseInstant("24h", "q", now)).toBe("2026-01-01T00:00:00.000Z");
    expect(parseInstant("2026-01-01", "q", now)).toBe("2026-01-01T00:00:00.000Z");
    expect(() => parseInstant("+999999-01-01", "q", now)).toThrow(/ISO date/);
    expect(durationMs("7d", "q")).toBe(7 * 86_400_000);
    expect(() => durationMs("100000000w", "q")).toThrow(/at most 1000 years/);
  });
});

describe("POST /authorize", () => {
  it("answers 200 for allow and deny alike with the decision evaluate gives, consuming quota", async () => {
    const h = await harness();
    const ctx = { userId: "alice", resource: "email", confirmationToken: "secret.part" };
    const answers = [];
    for (let i = 0; i < 3; i++) {
      const res = await authorize(h, { policyId: "limited", context: ctx });
      expect(res.statusCode).toBe(200);
      answers.push(res.json());
    }
    expect(answers.map((a) => [a.allowed, a.decision, a.action])).toEqual([
      [true, "ALLOW", "allow"],
      [true, "ALLOW", "allow"],
      [false, "DENY", "block"],
    ]);
    expect(answers[2]).toMatchObject({
      policies: ["limited"],
      reason: expect.stringContaining("limit of 2 requests per minute"),
      matchedRules: ["limited/rules[0]"],
    });
    // Another user has their own counter.
    expect(
      (await authorize(h, { policyId: "limited", context: { userId: "bob" } })).json(),
    ).toMatchObject({ allowed: true });
    const records = await h.logger.getDecisionHistory({ policyId: "limited", order: "asc" });
    expect(records.map((r) => r.decisionId).slice(0, 3)).toEqual(answers.map((a) => a.decisionId));
    expect(records[2]).toMatchObject({
      decision: "blocked",
      userId: "alice",
      mode: "enforce",
      context: { userId: "alice", resource: "email" },
      metadata: { via: "POST /authorize", actor: "api-token", requestId: expect.any(String) },
    });
    expect(JSON.stringify(records)).not.toContain("secret.part");
  });

  it("answers require_confirmation as a DENY with its action", async () => {
    const h = await harness();
    const res = await authorize(h, { policyId: "safe_delete", context: { operation: "delete" } });
    expect(res.json()).toMatchObject({
      allowed: false,
      decision: "DENY",
      action: "require_confirmation",
    });
  });

  it("answers an unknown policy 404 naming the known ones", async () => {
    const h = await harness();
    const res = await authorize(h, { policyId: "typo" });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({
      code: "unknown_policy",
      message: "unknown policy 'typo' (known policies: limited, safe_delete, open)",
      knownPolicies: ["limited", "safe_delete", "open"],
    });
    expect(h.logger.stats.recorded).toBe(0);
  });

  it("records the actor named by X-Actor-Id, and monitor-mode would-be blocks", async () => {
    const h = await harness({ guardianMode: "monitor" });
    for (let i = 0; i < 3; i++)
      await authorize(
        h,
        { policyId: "limited", context: { user_id: "carol" } },
        {
          ...AUTH,
          "x-actor-id": "svc-billing",
        },
      );
    const [last] = await h.logger.getDecisionHistory();
    expect(last).toMatchObject({
      decision: "blocked",
      mode: "monitor",
      userId: "carol",
      metadata: { actor: "svc-billing" },
    });
  });

  it("works without an audit log: nothing recorded, audit routes 404", async () => {
    const h = await harness({ auditLogger: undefined });
    expect((await authorize(h, { policyId: "open" })).statusCode).toBe(200);
    const health = await h.inject({ method: "GET", url: "/health" });
    expect(health.json()).toMatchObject({ database: "disabled", backends: { database: "none" } });
    const logs = await h.inject({ method: "GET", url: "/audit-logs", headers: AUTH });
    expect(logs.statusCode).toBe(404);
    expect(logs.json().code).toBe("audit_disabled");
  });
});

describe("audit routes", () => {
  async function withDecisions(): Promise<Harness> {
    const h = await harness();
    for (const userId of ["alice", "alice", "alice", "bob"])
      await authorize(h, { policyId: "limited", context: { userId } });
    await authorize(h, { policyId: "open", context: { userId: "bob" } });
    return h;
  }

  it("lists records newest first with filters and paging", async () => {
    const h = await withDecisions();
    const all = (await h.inject({ method: "GET", url: "/audit-logs", headers: AUTH })).json();
    expect(all.records).toHaveLength(5);
    expect(all.records[0]).toMatchObject({ policyId: "open", seq: 5 });
    expect(Object.keys(all.records[0])).toEqual([
      "seq",
      "decisionId",
      "timestamp",
      "policyId",
      "functionName",
      "decision",
      "action",
      "reason",
      "userId",
      "durationMs",
      "mode",
      "context",
      "metadata",
      "hash",
    ]);
    expect(all).toMatchObject({ limit: 50, offset: 0, nextOffset: null });
    const get = async (query: string) =>
      (await h.inject({ method: "GET", url: `/audit-logs?${query}`, headers: AUTH })).json();
    expect((await get("policy_id=limited")).records).toHaveLength(4);
    expect((await get("user_id=bob")).records).toHaveLength(2);
    expect((await get("decision=blocked")).records).toEqual([
      expect.objectContaining({ userId: "alice", decision: "blocked" }),
    ]);
    expect((await get("since=1h")).records).toHaveLength(5);
    expect((await get("until=2000-01-01")).records).toHaveLength(0);
    expect((await get(`since=${new Date(Date.now() + 60_000).toISOString()}`)).records).toEqual([]);
    const page = await get("limit=2&offset=2");
    expect(page.records.map((r: { seq: number }) => r.seq)).toEqual([3, 2]);
    expect(page.nextOffset).toBe(4);
  });

  it("verifies the chain, and answers stats, blocked calls and a user's trail", async () => {
    const h = await withDecisions();
    const get = async (url: string) => {
      const res = await h.inject({ method: "GET", url, headers: AUTH });
      expect(res.statusCode, url).toBe(200);
      return res.json();
    };
    expect(await get("/audit-logs/verify")).toEqual({
      ok: true,
      checked: 5,
      chain_id: "global",
      total: 5,
      verified: 5,
      unverified: 0,
      first_failure_id: null,
    });
    expect(await get("/audit/stats/limited")).toMatchObject({
      policyId: "limited",
      totalDecisions: 4,
      allowed: 3,
      blocked: 1,
      blockRate: 25,
      topBlockReasons: [{ count: 1, reason: expect.stringContaining("limit of 2") }],
    });
    expect(await get("/audit/stats/none")).toMatchObject({ policyId: "none", totalDecisions: 0 });
    const all = await get("/audit/stats?top=1");
    expect(all.policies.map((p: { policyId: string }) => p.policyId)).toEqual(["limited", "open"]);
    const blocked = await get("/audit/blocked?timeframe=7d");
    expect(blocked.timeframe).toBe("7d");
    expect(blocked.records).toHaveLength(1);
    expect((await get("/audit/blocked")).timeframe).toBe("24h");
    const trail = await get("/audit/users/bob/trail?limit=1");
    expect(trail).toMatchObject({ userId: "bob", records: [{ policyId: "open" }] });
  });
});

describe("approvals", () => {
  it("shows a request's status, never its secret", async () => {
    const h = await harness();
    const token = h.confirmations.create({
      policyId: "safe_delete",
      fingerprint: "fp",
      requestedBy: "alice",
      operation: "delete_user",
    });
    const res = await h.inject({ method: "GET", url: `/approvals/${token}`, headers: AUTH });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      id: token.split(".")[0],
      status: "pending",
      policyId: "safe_delete",
      requestedBy: "alice",
      operation: "delete_user",
    });
    expect(res.body).not.toContain(token.split(".")[1]);
    const unknown = await h.inject({
      method: "GET",
      url: `/approvals/${token.split(".")[0]}.${"A".repeat(43)}`,
      headers: AUTH,
    });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().code).toBe("unknown_confirmation");
  });

  it("approves as the caller (X-Actor-Id, else body.by, else api-token), records it, 409 after", async () => {
    const h = await harness();
    const make = () => h.confirmations.create({ policyId: "safe_delete", fingerprint: "fp" });
    const t1 = make();
    const approved = await h.inject({
      method: "POST",
      url: `/approvals/${t1}/approve`,
      headers: { ...AUTH, "x-actor-id": "bob" },
      payload: { reason: "ticket 42" },
    });
    expect(approved.statusCode).toBe(200);
    expect(approved.json()).toMatchObject({
      status: "approved",
      decidedBy: "bob",
      decisionReason: "ticket 42",
    });
    const again = await h.inject({ method: "POST", url: `/approvals/${t1}/deny`, headers: AUTH });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: "not_pending", status: "approved" });

    const t2 = make();
    const byBody = await h.inject({
      method: "POST",
      url: `/approvals/${t2}/deny`,
      headers: AUTH,
      payload: { by: "carol", reason: "not today" },
    });
    expect(byBody.json()).toMatchObject({ status: "denied", decidedBy: "carol" });

    const t3 = make();
    const conflict = await h.inject({
      method: "POST",
      url: `/approvals/${t3}/approve`,
      headers: { ...AUTH, "x-actor-id": "bob" },
      payload: { by: "mallory" },
    });
    expect(conflict.statusCode).toBe(400);
    expect(conflict.json().field).toBe("body.by");
    const plain = await h.inject({
      method: "POST",
      url: `/approvals/${t3}/approve`,
      headers: AUTH,
    });
    expect(plain.json()).toMatchObject({ status: "approved", decidedBy: "api-token" });

    const missing = await h.inject({
      method: "POST",
      url: `/approvals/${t3.split(".")[0]}x.${"A".repeat(43)}/approve`,
      headers: AUTH,
    });
    expect(missing.statusCode).toBe(404);

    const events = await h.logger.getDecisionHistory({ order: "asc" });
    expect(events.map((e) => [e.action, e.userId])).toEqual([
      ["confirmation_approve", "bob"],
      ["confirmation_deny", "carol"],
      ["confirmation_approve", "api-token"],
    ]);
    expect(JSON.stringify(events)).not.toContain(t1.split(".")[1]);
  });

  it("answers 409 for an expired request, and a token approved here works once for the call", async () => {
    let now = Date.UTC(2026, 0, 1);
    const h = await harness({ now: () => now });
    const stale = h.confirmations.create({
      policyId: "safe_delete",
      fingerprint: "fp",
      ttlMs: 1000,
    });
    now += 2000;
    const res = await h.inject({
      method: "POST",
      url: `/approvals/${stale}/approve`,
      headers: AUTH,
    });
    expect(res.statusCode).toBe(409);
    expect(res.json().status).toBe("expired");

    // End to end: a Guardian sharing the store runs the call once with the approved token.
    const guardian = new Guardian({
      env: {},
      policies: POLICIES,
      confirmations: h.confirmations,
      clock: () => now,
    });
    const remove = guardian.check("safe_delete", { operation: "delete" })(
      async (id: string) => `deleted ${id}`,
    );
    const refused = (await remove("u1").catch((e: unknown) => e)) as {
      binding?: { policyId: string; fingerprint: string };
    };
    const token = h.confirmations.create({
      ...(refused.binding as { policyId: string; fingerprint: string }),
    });
    await h.inject({ method: "POST", url: `/approvals/${token}/approve`, headers: AUTH });
    await expect(
      guardian.withContext({ confirmationToken: token }, () => remove("u1")),
    ).resolves.toBe("deleted u1");
    const status = await h.inject({ method: "GET", url: `/approvals/${token}`, headers: AUTH });
    expect(status.json().status).toBe("consumed");
  });

  it("answers a store's failure by its code alone, without reading the request again", async () => {
    const inner = new MemoryConfirmationStore();
    let reads = 0;
    let approve: (token: string) => void = () => {};
    const store: ConfirmationStore = {
      create: (r) => inner.create(r),
      get: (token) => {
        reads++;
        return inner.get(token);
      },
      consume: (token, b) => inner.consume(token, b),
      approve: (token, by) => {
        approve(token); // what happens between the server's read and its approval
        return inner.approve(token, by);
      },
      deny: (token, by) => inner.deny(token, by),
    };
    const h = await harness({ confirmations: store });
    const post = (token: string) =>
      h.inject({ method: "POST", url: `/approvals/${token}/approve`, headers: AUTH });

    // Another approver was quicker: the store's `confirmation_not_pending` is a 409.
    approve = (token) => inner.deny(token, { deniedBy: "quicker" });
    const raced = inner.create({ policyId: "safe_delete", fingerprint: "fp" });
    reads = 0;
    const lost = await post(raced);
    expect(lost.statusCode).toBe(409);
    expect(lost.json()).toMatchObject({
      code: "not_pending",
      message: expect.stringMatching(/denied/),
    });
    expect(reads).toBe(1);

    // The store failed: a 503 naming it, whatever its message says.
    approve = () => {
      throw new DecisionBackendError("the confirmation is approved, not pending (not really)");
    };
    const down = inner.create({ policyId: "safe_delete", fingerprint: "fp" });
    reads = 0;
    const failed = await post(down);
    expect(failed.statusCode).toBe(503);
    expect(failed.json().code).toBe("confirmation_store_unavailable");
    expect(failed.headers["retry-after"]).toBe("5");
    expect(reads).toBe(1);
    expect((await inner.get(down))?.status).toBe("pending");
  });

  it("answers 404 approvals_disabled without a confirmation store", async () => {
    const h = await harness({ confirmations: undefined });
    const res = await h.inject({ method: "GET", url: "/approvals/a.b", headers: AUTH });
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe("approvals_disabled");
  });
});

describe("headers, CORS, metrics and the OpenAPI document", () => {
  it("sends security headers and no-store on every answer", async () => {
    const h = await harness();
    for (const url of ["/", "/nowhere", "/audit-logs"]) {
      const res = await h.inject({ method: "GET", url });
      expect(res.headers["x-content-type-options"], url).toBe("nosniff");
      expect(res.headers["cache-control"], url).toBe("no-store");
      expect(res.headers["strict-transport-security"], url).toBeDefined();
      expect(res.headers["x-request-id"], url).toBeDefined();
    }
  });

  it("allows CORS only for the configured origins", async () => {
    const none = await harness();
    const preflight = {
      method: "OPTIONS" as const,
      url: "/authorize",
      headers: { origin: "https://app.example", "access-control-request-method": "POST" },
    };
    expect((await none.inject(preflight)).headers["access-control-allow-origin"]).toBeUndefined();
    const some = await harness({ corsOrigins: ["https://app.example"] });
    const ok = await some.inject(preflight);
    expect(ok.statusCode).toBe(204);
    expect(ok.headers["access-control-allow-origin"]).toBe("https://app.example");
    expect(ok.headers["access-control-allow-headers"]).toContain("Authorization");
    const other = await some.inject({
      ...preflight,
      headers: { ...preflight.headers, origin: "https://evil.example" },
    });
    expect(other.headers["access-control-allow-origin"]).toBeUndefined();
    const get = await some.inject({
      method: "GET",
      url: "/",
      headers: { origin: "https://app.example" },
    });
    expect(get.headers["access-control-allow-origin"]).toBe("https://app.example");
    expect(get.headers["access-control-expose-headers"]).toContain("X-Request-Id");
  });

  it("answers an OPTIONS request that is no CORS preflight with the JSON error shape", async () => {
    const h = await harness({ corsOrigins: ["https://app.example"] });
    for (const headers of [{}, { origin: "https://app.example" }]) {
      const res = await h.inject({ method: "OPTIONS", url: "/authorize", headers });
      expect(res.statusCode).toBe(400);
      expect(res.headers["content-type"]).toMatch(/^application\/json/);
      expect(res.json()).toMatchObject({
        statusCode: 400,
        code: "bad_request",
        requestId: res.headers["x-request-id"],
      });
    }
  });

  it("serves Prometheus metrics behind the token, or publicly when asked", async () => {
    const h = await harness();
    await authorize(h, { policyId: "open" });
    expect((await h.inject({ method: "GET", url: "/metrics" })).statusCode).toBe(401);
    const res = await h.inject({ method: "GET", url: "/metrics", headers: AUTH });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain/);
    expect(res.body).toContain('hexarch_decisions_total{policy="open",decision="allowed"} 1');
    expect(res.body).toMatch(
      /hexarch_http_requests_total\{method="POST",route="\/authorize",status="200"\} 1/,
    );
    const pub = await harness({ metrics: { public: true } });
    expect((await pub.inject({ method: "GET", url: "/metrics" })).statusCode).toBe(200);
    const off = await harness({ metrics: false });
    expect((await off.inject({ method: "GET", url: "/metrics", headers: AUTH })).statusCode).toBe(
      404,
    );
  });

  it("serves an OpenAPI document built from the route schemas with docs on", async () => {
    const h = await harness({ docs: true });
    const res = await h.inject({ method: "GET", url: "/openapi.json" });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/",
        "/health",
        "/echo",
        "/authorize",
        "/audit-logs",
        "/audit-logs/verify",
        "/audit/stats/{policyId}",
        "/audit/blocked",
        "/audit/users/{userId}/trail",
        "/approvals/{token}",
        "/approvals/{token}/approve",
        "/approvals/{token}/deny",
        "/rules",
        "/rules/{id}",
        "/policies",
        "/policies/{id}",
        "/policies/reload",
      ]),
    );
    const body = doc.paths["/authorize"].post.requestBody.content["application/json"].schema;
    // Both shapes: the native `policyId`, or the Python `action`, `resource`, `context`.
    expect(body.required).toBeUndefined();
    expect(Object.keys(body.properties)).toEqual([
      "policyId",
      "action",
      "resource",
      "context",
      "dry_run",
    ]);
    expect(doc.paths["/health"].get.security).toEqual([]);
    const off = await harness();
    expect((await off.inject({ method: "GET", url: "/openapi.json" })).statusCode).toBe(404);
  });

  it("serves the Swagger UI at /docs, as public as the document, only with docs on", async () => {
    const h = await harness({ docs: true });
    // The page, following redirects, then every asset it names.
    let url = "/docs";
    let page = await h.inject({ method: "GET", url });
    for (let hops = 0; page.statusCode >= 300 && page.statusCode < 400 && hops < 3; hops++) {
      url = new URL(String(page.headers.location), `http://server${url}`).pathname;
      page = await h.inject({ method: "GET", url });
    }
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toMatch(/^text\/html/);
    expect(page.headers["content-security-policy"]).not.toContain("upgrade-insecure-requests");
    const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string);
    expect(assets.length).toBeGreaterThanOrEqual(5);
    for (const asset of [...assets, "./static/swagger-initializer.js"]) {
      const path = new URL(asset, `http://server${url.endsWith("/") ? url : `${url}/`}`).pathname;
      const res = await h.inject({ method: "GET", url: path });
      expect(res.statusCode, path).toBe(200);
      expect(res.body.length, path).toBeGreaterThan(0);
    }
    // The UI reads the same OpenAPI 3.1 document, without credentials.
    const json = await h.inject({ method: "GET", url: "/docs/json" });
    expect(json.statusCode).toBe(200);
    expect(json.json()).toEqual((await h.inject({ method: "GET", url: "/openapi.json" })).json());
    expect(json.json().openapi).toBe("3.1.0");
    // The docs' routes are not in the document, and the API behind them still needs the token.
    expect(Object.keys(json.json().paths).some((p) => p.startsWith("/docs"))).toBe(false);
    expect((await h.inject({ method: "GET", url: "/audit-logs" })).statusCode).toBe(401);

    const off = await harness();
    for (const path of ["/docs", "/docs/", "/docs/json", "/docs/static/swagger-ui.css"]) {
      const res = await off.inject({ method: "GET", url: path });
      expect(res.statusCode, path).toBe(404);
      expect(res.json()).toMatchObject({ code: "route_not_found" });
    }
  });

  it("says which package the docs need when @fastify/swagger-ui is not installed", async () => {
    vi.doMock("@fastify/swagger-ui", () => {
      throw new Error("Cannot find package '@fastify/swagger-ui'");
    });
    try {
      await expect(harness({ docs: true })).rejects.toThrow(
        /docs .*need the '@fastify\/swagger-ui' package: npm install @fastify\/swagger-ui/,
      );
    } finally {
      vi.doUnmock("@fastify/swagger-ui");
    }
  });
});
