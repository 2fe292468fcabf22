import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { DecisionLogger, SqliteAuditStore } from "../../src/audit/index.ts";
import {
  DecisionBackendError,
  Guardian,
  PolicyViolation,
  RemoteDecisionClient,
} from "../../src/index.ts";
import { RedisConfirmationStore } from "../../src/redis/index.ts";
import { type RunningServer, startServer } from "../../src/server/index.ts";
import { REDIS_URL, redisReachable } from "../support/redis.ts";
import { killAfterEach, serveApi, spawnServe } from "../support/serve-process.ts";

const TOKEN = "run-test-token-abcdef0123456789";

const POLICIES = `
policies:
  - id: limited
    rules: [{ resource: "*", requests_per_minute: 2, per: userId, action: block }]
  - id: safe_delete
    rules: [{ operation: delete, action: require_confirmation }]
  - id: budget
    rules: [{ resource: openai, daily_budget: 1, action: warn_at_50% }]
`;

describe("startServer and RemoteDecisionClient", () => {
  let server: RunningServer;
  let logger: DecisionLogger;

  beforeAll(async () => {
    logger = new DecisionLogger(new SqliteAuditStore(":memory:"), { exitHooks: false });
    server = await startServer({
      guardian: new Guardian({ env: {}, policies: POLICIES }),
      auditLogger: logger,
      apiToken: TOKEN,
      port: 0,
      handleSignals: false,
      logger: false,
    });
  });
  afterAll(async () => {
    const report = await server.close();
    expect(report).toEqual({ errors: [], unwrittenRecords: 0 });
  });

  const remoteGuardian = (options: ConstructorParameters<typeof RemoteDecisionClient>[0]) =>
    new Guardian({
      env: {},
      decisionClient: new RemoteDecisionClient(options),
      onWarn: () => {},
    });

  it("listens on a free port and reports its URL", () => {
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
  });

  it("lets a Guardian decide through the server's /authorize", async () => {
    const guardian = remoteGuardian({ url: server.url, token: TOKEN });
    const send = guardian.check("limited", { userId: "remote-1" })(async () => "sent");
    await expect(send()).resolves.toBe("sent");
    await expect(send()).resolves.toBe("sent");
    const err = await send().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PolicyViolation);
    expect((err as PolicyViolation).reason).toContain("limit of 2 requests per minute");
    // Warnings and confirmations keep their meaning across the wire.
    const warned = await guardian.evaluate("budget", { resource: "openai", cost: 0.6 });
    expect(warned).toMatchObject({ allowed: true, action: "warn" });
    const confirm = await guardian.evaluate("safe_delete", { operation: "delete" });
    expect(confirm.action).toBe("require_confirmation");
    // The server recorded every decision it made.
    const records = await logger.getDecisionHistory({ userId: "remote-1" });
    expect(records.map((r) => r.decision)).toEqual(["blocked", "allowed", "allowed"]);
    await guardian.close();
  });

  it("blocks calls for an unknown policy or a refused token, even when failing open", async () => {
    const client = new RemoteDecisionClient({ url: server.url, token: TOKEN, failOpen: true });
    const unknown = await client.decide("typo", {});
    expect(unknown).toMatchObject({ allowed: false, action: "block" });
    expect(unknown.reason).toContain("does not know this policy: unknown policy 'typo'");
    const wrong = new RemoteDecisionClient({ url: server.url, token: "nope", failOpen: true });
    const refused = await wrong.decide("limited", {});
    expect(refused).toMatchObject({ allowed: false, action: "block" });
    expect(refused.reason).toContain("HTTP 403");
    const guardian = remoteGuardian({ url: server.url, token: TOKEN });
    await expect(guardian.check("typo")(async () => 1)()).rejects.toThrow(/unknown policy 'typo'/);
  });

  it("never sends a confirmation token to the server", async () => {
    const bodies: string[] = [];
    const client = new RemoteDecisionClient({
      url: server.url,
      token: TOKEN,
      fetch: async (url, init) => {
        bodies.push(String(init.body));
        return fetch(url, init);
      },
    });
    await client.decide("limited", { userId: "t", confirmationToken: "id.secret" });
    expect(bodies[0]).not.toContain("secret");
  });
});

describe("graceful shutdown", () => {
  /** A promise and the function that resolves it: a request's arrival, or its release. */
  const signal = () => {
    let fire: () => void = () => {};
    const fired = new Promise<void>((done) => {
      fire = done;
    });
    return { fire, fired };
  };
  const post = (url: string) =>
    fetch(`${url}/authorize`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ policyId: "slow", context: { userId: "late" } }),
    });

  it("finishes requests in flight, refuses new connections, then flushes the audit log", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hexarch-shutdown-"));
    try {
      const file = join(dir, "decisions.db");
      const arrived = signal();
      const release = signal();
      const slow = {
        decide: async () => {
          arrived.fire();
          await release.fired;
          return { allowed: true, reason: "slow but sure", action: "allow" };
        },
      };
      const s = await startServer({
        guardian: new Guardian({ env: {}, decisionClient: slow }),
        auditLogger: new DecisionLogger(new SqliteAuditStore(file), { exitHooks: false }),
        apiToken: TOKEN,
        port: 0,
        handleSignals: false,
        logger: false,
      });
      const pending = post(s.url);
      await arrived.fired;
      const report = s.close();
      // The server stops listening while the request is still being decided; then it may finish.
      await vi.waitFor(() => expect(s.app.server.listening).toBe(false));
      release.fire();
      const res = await pending;
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ allowed: true, reason: "slow but sure" });
      expect(await report).toEqual({ errors: [], unwrittenRecords: 0 });
      expect(await s.closed).toEqual({ errors: [], unwrittenRecords: 0 });
      await expect(fetch(`${s.url}/health`)).rejects.toThrow();
      const reader = new DecisionLogger(new SqliteAuditStore(file), { exitHooks: false });
      expect((await reader.getDecisionHistory()).map((r) => r.reason)).toEqual(["slow but sure"]);
      await reader.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("closes connections still busy after the shutdown timeout", async () => {
    const arrived = signal();
    const s = await startServer({
      guardian: new Guardian({
        env: {},
        timeoutMs: 60_000,
        decisionClient: {
          decide: () => {
            arrived.fire();
            return new Promise(() => {});
          },
        },
      }),
      apiToken: TOKEN,
      port: 0,
      handleSignals: false,
      shutdownTimeoutMs: 100,
      logger: false,
    });
    const pending = post(s.url).then(
      (r) => r.status,
      () => "closed",
    );
    await arrived.fired;
    const started = Date.now();
    await s.close();
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await pending).toBe("closed");
  });
});

describe("RemoteDecisionClient failures", () => {
  let stub: Server;
  let url: string;
  let answer: (res: import("node:http").ServerResponse) => void = () => {};
  beforeAll(async () => {
    stub = createHttpServer((_req, res) => answer(res));
    await new Promise<void>((done) => stub.listen(0, "127.0.0.1", done));
    url = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    stub.closeAllConnections();
    await new Promise((done) => stub.close(done));
  });

  const call = (options: { failOpen?: boolean; timeoutMs?: number } = {}) =>
    new Guardian({
      env: {},
      decisionClient: new RemoteDecisionClient({ url, token: TOKEN, timeoutMs: 200, ...options }),
    }).evaluate("limited", { userId: "u" });

  it("fails closed on a timeout, and open only when asked", async () => {
    answer = () => {}; // never answers
    const closed = await call();
    expect(closed).toMatchObject({ allowed: false, action: "block" });
    expect(closed.reason).toContain("failing closed");
    expect(closed.reason).toContain("did not answer within 200 ms");
    expect(closed.error).toBeInstanceOf(DecisionBackendError);
    const opened = await call({ failOpen: true });
    expect(opened).toMatchObject({ allowed: true, failedOpen: true });
    expect(opened.reason).toContain("failing open");
  });

  it("fails closed on a 5xx, a 429 and an answer that is not a decision", async () => {
    for (const [status, body] of [
      [500, '{"message":"boom"}'],
      [503, ""],
      [429, "{}"],
      [200, '{"allowed":"yes"}'],
      [200, "<html>"],
      [200, '{"allowed":true,"action":"block","reason":"x"}'],
    ] as const) {
      answer = (res) => res.writeHead(status, { "content-type": "application/json" }).end(body);
      const closed = await call();
      expect(closed.allowed, `${status} ${body}`).toBe(false);
      expect(closed.reason).toContain("failing closed");
      expect((await call({ failOpen: true })).allowed, `${status} ${body}`).toBe(true);
    }
  });

  it("fails closed when nothing listens", async () => {
    const client = new RemoteDecisionClient({ url: "http://127.0.0.1:1", timeoutMs: 500 });
    await expect(client.decide("p", {})).rejects.toThrow(/unreachable/);
    const decision = await new Guardian({ env: {}, decisionClient: client }).evaluate("p", {});
    expect(decision).toMatchObject({ allowed: false, action: "block" });
  });

  it("checks its options", () => {
    expect(() => new RemoteDecisionClient({ url: "ftp://x" })).toThrow(/http\(s\) URL/);
    expect(() => new RemoteDecisionClient({ url: "not a url" })).toThrow(/http\(s\) URL/);
    expect(() => new RemoteDecisionClient({ url: "http://x", timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(new RemoteDecisionClient({ url: "http://h:1/prefix/" }).url).toBe("http://h:1/prefix");
  });
});

describe("hexarch-ctl serve api (the real binary)", () => {
  let dir: string;
  const children = killAfterEach();
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "hexarch-serve-"));
    writeFileSync(join(dir, "hexarch.yaml"), POLICIES);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Starts the binary and waits for the line that says where it listens. */
  const serve = (args: string[], env: Record<string, string>, cwd = dir) =>
    serveApi(args, { cwd, env, children });

  it("serves, records every decision, and exits 0 on SIGTERM with the log flushed", async () => {
    const { proc, url, out, exited } = await serve(["--init-db"], { HEXARCH_API_TOKEN: TOKEN });
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({
      status: "ok",
      database: "ok",
      backends: { database: "sqlite", state: "memory" },
    });
    const decisions: string[] = [];
    for (const userId of ["a", "a", "a", "b", "c"]) {
      const res = await fetch(`${url}/authorize`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ policyId: "limited", context: { userId } }),
      });
      expect(res.status).toBe(200);
      decisions.push(((await res.json()) as { decisionId: string }).decisionId);
    }
    const inflight = fetch(`${url}/authorize`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ policyId: "limited", context: { userId: "d" } }),
    });
    const last = await inflight;
    decisions.push(((await last.json()) as { decisionId: string }).decisionId);
    proc.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(out.stdout).toContain('"msg":"stopped"');
    expect(out.stdout).toContain('"clean":true');
    expect(out.stdout).not.toContain(TOKEN);

    const auditLogger = new DecisionLogger(new SqliteAuditStore(join(dir, "decisions.db")), {
      exitHooks: false,
    });
    const records = await auditLogger.getDecisionHistory({ order: "asc" });
    expect(records.map((r) => r.decisionId)).toEqual(decisions);
    expect(records.map((r) => r.decision)).toEqual([
      "allowed",
      "allowed",
      "blocked",
      "allowed",
      "allowed",
      "allowed",
    ]);
    expect(await auditLogger.verify()).toEqual({ ok: true, checked: 6 });
    await auditLogger.close();
  });

  it("keeps API-defined policies in the audit database and reloads the YAML file", async () => {
    const { proc, url, exited } = await serve(["--db", "api.db"], { HEXARCH_API_TOKEN: TOKEN });
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${TOKEN}`,
          ...(body !== undefined && { "content-type": "application/json" }),
        },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const rule = await api("POST", "/rules", {
      name: "low risk",
      rule_type: "CONDITION",
      condition: { field: "input.context.risk_score", operator: "less_than", value: 5 },
    });
    expect(rule.status).toBe(200);
    const policy = await api("POST", "/policies", {
      name: "risk gate",
      scope: "GLOBAL",
      failure_mode: "FAIL_CLOSED",
      rule_ids: [rule.body.id],
    });
    expect(policy.status).toBe(200);
    const risky = await api("POST", "/authorize", {
      action: "transfer",
      context: { risk_score: 7 },
    });
    expect(risky.body).toMatchObject({ allowed: false, decision: "DENY" });
    const calm = await api("POST", "/authorize", {
      action: "transfer",
      context: { risk_score: 3 },
    });
    expect(calm.body).toMatchObject({ allowed: true, decision: "ALLOW" });
    writeFileSync(
      join(dir, "hexarch.yaml"),
      `${POLICIES}  - id: added_later\n    rules: [{ operation: drop, action: block }]\n`,
    );
    const reloaded = await api("POST", "/policies/reload", {});
    expect(reloaded).toMatchObject({ status: 200, body: { reloaded: true } });
    expect(reloaded.body.policies).toContain("added_later");
    writeFileSync(
      join(dir, "hexarch.yaml"),
      "policies: [{ id: broken, rules: [{ action: explode }] }]\n",
    );
    const refused = await api("POST", "/policies/reload", {});
    expect(refused.status).toBe(422);
    // The policies in force stay as they were.
    const still = await api("POST", "/authorize", {
      policyId: "added_later",
      context: { operation: "drop" },
    });
    expect(still.body).toMatchObject({ allowed: false });
    writeFileSync(join(dir, "hexarch.yaml"), POLICIES);
    proc.kill("SIGTERM");
    expect(await exited).toBe(0);
  });

  it("shares counters and confirmations through Redis with --redis-url", async (ctx) => {
    if (!(await redisReachable("the decision server's Redis test"))) return ctx.skip();
    const { proc, url, exited } = await serve(
      ["--redis-url", REDIS_URL, "--allow-anon", "--db", "redis-run.db"],
      {},
    );
    const health = (await (await fetch(`${url}/health`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ state: "ok", backends: { state: "redis" } });
    const userId = `redis-${randomUUID()}`;
    const allowed: boolean[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${url}/authorize`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ policyId: "limited", context: { userId } }),
      });
      allowed.push(((await res.json()) as { allowed: boolean }).allowed);
    }
    expect(allowed).toEqual([true, true, false]);
    const store = new RedisConfirmationStore({ url: REDIS_URL });
    const token = await store.create({ policyId: "safe_delete", fingerprint: userId });
    const approved = await fetch(`${url}/approvals/${token}/approve`, {
      method: "POST",
      headers: { "x-actor-id": "ops" },
    });
    expect(await approved.json()).toMatchObject({ status: "approved", decidedBy: "ops" });
    expect((await store.get(token))?.status).toBe("approved");
    await store.close();
    proc.kill("SIGINT");
    expect(await exited).toBe(0);
  });

  it("starts without a policy file, serving API-defined policies, and finds one on reload", async () => {
    const empty = mkdtempSync(join(tmpdir(), "hexarch-serve-empty-"));
    try {
      const { proc, url, out, exited } = await serve([], { HEXARCH_API_TOKEN: TOKEN }, empty);
      expect(out.stderr).toContain("no policy file found");
      expect(out.stderr).toContain("serving API-defined policies only");
      const post = async (path: string, body: unknown) => {
        const res = await fetch(`${url}${path}`, {
          method: "POST",
          headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
          body: JSON.stringify(body),
        });
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      };
      expect((await fetch(`${url}/health`)).status).toBe(200);
      const unknown = await post("/authorize", { policyId: "limited", context: {} });
      expect(unknown.status).toBe(404);
      // The Python shape with no API-defined policy: denied, as the Python server does.
      const python = await post("/authorize", { action: "read" });
      expect(python.body).toMatchObject({ allowed: false, reason: "no_applicable_policies" });
      writeFileSync(join(empty, "hexarch.yaml"), POLICIES);
      const reloaded = await post("/policies/reload", {});
      expect(reloaded).toMatchObject({ status: 200, body: { reloaded: true } });
      const known = await post("/authorize", { policyId: "limited", context: { userId: "u" } });
      expect(known.body).toMatchObject({ allowed: true });
      proc.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it("refuses to start without a token, with exit code 2 and a hint", async () => {
    const { out, exited } = spawnServe([], { cwd: dir, children });
    expect(await exited).toBe(2);
    expect(out.stderr).toContain("refusing to start without an API token");
    expect(out.stderr).toContain("--allow-anon");
  });
});
