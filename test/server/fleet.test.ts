/**
 * A fleet: three `hexarch-ctl serve api` processes sharing one Redis (counters) and one
 * PostgreSQL schema (the audit log), asked concurrently and round-robin, as behind a load
 * balancer. Limits must hold exactly across the fleet, the one hash chain must verify from
 * every instance, and no instance may lose a record when stopped.
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { createClient } from "redis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { DecisionLogger, PostgresAuditStore } from "../../src/audit/index.ts";
// Internal: the Redis key prefix the server's HTTP rate limit writes under, to inspect Redis.
import { httpRateLimitPrefix } from "../../src/server/rate-limit-store.ts";
import { PG_URL, pgReachable } from "../support/pg.ts";
import { REDIS_URL, redisReachable } from "../support/redis.ts";
import { serveApi } from "../support/serve-process.ts";

const RUN = randomBytes(5).toString("hex");
const SCHEMA = `fleet_${RUN}`;
const TOKEN = `fleet-token-${RUN}-0123456789abcdef`;
const LIMIT_POLICY = `fleet_limit_${RUN}`;
const BUDGET_POLICY = `fleet_budget_${RUN}`;
/** Requests a minute the fleet may allow, in all. */
const LIMIT = 40;
/** USD a day; each call costs COST, so exactly 33 calls fit. */
const BUDGET = 1;
const COST = 0.03;
const FITS = 33;

const POLICIES = `policies:
  - id: ${LIMIT_POLICY}
    rules:
      - resource: "*"
        requests_per_minute: ${LIMIT}
        action: block
  - id: ${BUDGET_POLICY}
    rules:
      - resource: openai
        daily_budget: ${BUDGET}
        action: block
`;

const children: ChildProcess[] = [];
let dir: string;
let ready = false;

/** Starts one instance and waits for the line that says where it listens. */
const start = () =>
  serveApi(
    [
      "--policy-file",
      join(dir, "hexarch.yaml"),
      "--pg-url",
      PG_URL,
      "--pg-schema",
      SCHEMA,
      "--redis-url",
      REDIS_URL,
      "--init-db",
    ],
    { cwd: dir, env: { HEXARCH_API_TOKEN: TOKEN }, children },
  );

async function call(
  url: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      ...(body !== undefined && { "content-type": "application/json" }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const decide = async (url: string, policyId: string, context: Record<string, unknown>) => {
  const res = await call(url, "POST", "/authorize", { policyId, context });
  expect(res.status).toBe(200);
  return res.body.allowed as boolean;
};

const sql = async (text: string) => {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    return await c.query(text);
  } finally {
    await c.end();
  }
};

describe("a fleet of three instances on one Redis and one PostgreSQL", () => {
  beforeAll(async () => {
    ready = (await pgReachable("the fleet test")) && (await redisReachable("the fleet test"));
    dir = mkdtempSync(join(tmpdir(), "hexarch-fleet-"));
    writeFileSync(join(dir, "hexarch.yaml"), POLICIES);
  });

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    if (!ready) return;
    await sql(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
    const client = createClient({ url: REDIS_URL });
    await client.connect();
    try {
      // The counters (their keys name the run's policies) and the HTTP limiter's buckets.
      for (const pattern of [`hexarch:state:*${RUN}*`, `${httpRateLimitPrefix(TOKEN)}*`])
        for await (const keys of client.scanIterator({ MATCH: pattern, COUNT: 1000 }))
          if (keys.length > 0) await client.del(keys);
    } finally {
      await client.close();
    }
  });

  it("holds limits exactly, verifies one chain from every instance, and loses no record on SIGTERM", async (ctx) => {
    if (!ready) return ctx.skip();
    // All three migrate the same schema at once: the migrator's lock serialises them.
    const fleet = await Promise.all([start(), start(), start()]);
    const urls = fleet.map((i) => i.url);
    const at = (n: number) => urls[n % urls.length] as string;

    // 120 calls against a limit of 40 a minute and 60 against a $1 budget at $0.03, all at
    // once, round-robin.
    const limited = Array.from({ length: 120 }, (_, n) =>
      decide(at(n), LIMIT_POLICY, { userId: `u${n % 7}` }),
    );
    const spent = Array.from({ length: 60 }, (_, n) =>
      decide(at(n + 1), BUDGET_POLICY, { resource: "openai", cost: COST }),
    );
    const [a, b] = await Promise.all([Promise.all(limited), Promise.all(spent)]);
    expect(a.filter(Boolean)).toHaveLength(LIMIT);
    expect(b.filter(Boolean)).toHaveLength(FITS);
    let total = 180;

    // Each instance (another process, on its own flush timer) writes its records in batches:
    // wait until the chain holds them all.
    await vi.waitFor(
      async () => {
        const verified = await call(urls[0] as string, "GET", "/audit-logs/verify");
        expect(verified.body.checked).toBe(total);
      },
      { timeout: 5000, interval: 100 },
    );
    for (const url of urls) {
      const v = await call(url, "GET", "/audit-logs/verify");
      expect(v.status).toBe(200);
      expect(v.body).toMatchObject({ ok: true, checked: total });
    }
    const stats = await call(at(2), "GET", `/audit/stats/${LIMIT_POLICY}`);
    expect(stats.body).toMatchObject({ totalDecisions: 120, allowed: LIMIT, blocked: 80 });
    const budget = await call(at(1), "GET", `/audit/stats/${BUDGET_POLICY}`);
    expect(budget.body).toMatchObject({ totalDecisions: 60, allowed: FITS, blocked: 60 - FITS });

    // Decisions still queued in each instance's logger when SIGTERM comes must be written.
    const late = await Promise.all(
      Array.from({ length: 30 }, (_, n) => decide(at(n), LIMIT_POLICY, { userId: "late" })),
    );
    expect(late.filter(Boolean)).toHaveLength(0);
    total += 30;
    for (const i of fleet) i.proc.kill("SIGTERM");
    for (const i of fleet) {
      expect(await i.exited).toBe(0);
      expect(i.out.stdout).toContain('"clean":true');
    }
    const reader = new DecisionLogger(new PostgresAuditStore(PG_URL, { schema: SCHEMA }), {
      exitHooks: false,
    });
    try {
      expect(await reader.verify()).toMatchObject({ ok: true, checked: total });
    } finally {
      await reader.close();
    }
  }, 30_000);
});
