import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import { describe, expect, it, vi } from "vitest";
import {
  type AuditRecord,
  DecisionLogger,
  NullAuditStore,
  parseDuration,
  SqliteAuditStore,
} from "../../src/audit/index.ts";
import { Guardian, PolicyViolation } from "../../src/index.ts";
import { wrapStore } from "../support/audit-db.ts";

const POLICIES = `
policies:
  - id: api_budget
    rules: [{ resource: openai, monthly_budget: 10, action: warn_at_80% }]
  - id: safe_delete
    rules: [{ operation: delete, action: require_confirmation }]
  - id: rate
    rules: [{ requests_per_minute: 1 }]
`;

const memoryLogger = (options: ConstructorParameters<typeof DecisionLogger>[1] = {}) =>
  new DecisionLogger(new SqliteAuditStore(":memory:"), { exitHooks: false, ...options });

describe("DecisionLogger with a Guardian", () => {
  it("records every kind of decision with the fields of the Python audit log", async () => {
    const auditLogger = memoryLogger();
    const g = new Guardian({ env: {}, policies: POLICIES, auditLogger, onWarn: () => {} });
    const ask = g.check("api_budget", { resource: "openai", cost: 9, metadata: { team: "ml" } })(
      async function ask(_q: { userId: string }) {},
    );
    await ask({ userId: "alice" }); // warned ($9 of $10)
    await ask({ userId: "alice" }).catch(() => {}); // blocked
    await g
      .check("safe_delete", { operation: "delete" })(async function purge() {})()
      .catch(() => {});
    await g.withContext({ confirmationToken: "secret.token" }, () =>
      g.check("rate")(async () => {})(),
    );
    const monitor = new Guardian({
      env: {},
      policies: POLICIES,
      auditLogger,
      mode: "monitor",
      onWarn: () => {},
    });
    await monitor.check("safe_delete", { operation: "delete" })(async () => {})();
    const history = await auditLogger.getDecisionHistory();
    expect(history).toHaveLength(5);
    const [mon, rate, purge, blocked, warned] = history;
    expect(warned).toMatchObject({
      policyId: "api_budget",
      functionName: "ask",
      decision: "warned",
      userId: "alice",
      metadata: { team: "ml" },
    });
    expect(warned?.context).toMatchObject({ resource: "openai", cost: 9 });
    expect(warned?.timestamp).toMatch(/Z$/);
    expect(warned?.decisionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(blocked).toMatchObject({ decision: "blocked", action: "block" });
    expect(purge).toMatchObject({
      decision: "blocked",
      action: "require_confirmation",
      functionName: "purge",
    });
    expect(rate?.context).not.toHaveProperty("confirmationToken");
    expect(mon).toMatchObject({ mode: "monitor", decision: "blocked" });
    expect(await auditLogger.verify()).toEqual({ ok: true, checked: 5 });
    await auditLogger.close();
  });

  it("records backend failures", async () => {
    const auditLogger = memoryLogger();
    const g = new Guardian({
      env: {},
      auditLogger,
      decisionClient: { checkPolicy: () => Promise.reject(new Error("OPA down")) },
    });
    await g
      .check("p")(async () => {})()
      .catch(() => {});
    const [r] = await auditLogger.getDecisionHistory();
    expect(r?.reason).toContain("decision backend failed, failing closed (OPA down)");
    await auditLogger.close();
  });

  it("writes off the call path in batches, and flushes on close", async () => {
    const appended: number[] = [];
    const inner = new SqliteAuditStore(":memory:");
    const store = wrapStore(inner, {
      append: (records: readonly AuditRecord[]) => {
        appended.push(records.length);
        return inner.append(records);
      },
    });
    const logger = new DecisionLogger(store, {
      exitHooks: false,
      batchSize: 10,
      flushIntervalMs: 60_000,
    });
    const g = new Guardian({ env: {}, policies: POLICIES, auditLogger: logger });
    const call = g.check("safe_delete", { operation: "read" })(async () => {});
    for (let i = 0; i < 25; i++) await call();
    // Full batches are written in the background, without waiting for the (60 s) timer.
    await vi.waitFor(() => expect(logger.stats.written).toBe(20));
    expect(appended).toEqual([10, 10]);
    await g.close(); // flushes the last 5
    expect(appended).toEqual([10, 10, 5]);
    expect(logger.stats).toMatchObject({ recorded: 25, written: 25, dropped: 0 });
  });

  it("keeps calls working while the store is down, reports once, retries, and bounds memory", async () => {
    let down = true;
    const inner = new SqliteAuditStore(":memory:");
    const store = wrapStore(inner, {
      append: (records: readonly AuditRecord[]) =>
        down ? Promise.reject(new Error("disk full")) : inner.append(records),
    });
    const onError = vi.fn();
    const logger = new DecisionLogger(store, {
      exitHooks: false,
      batchSize: 5,
      maxQueue: 20,
      onError,
    });
    const g = new Guardian({ env: {}, policies: POLICIES, auditLogger: logger });
    const call = g.check("safe_delete", { operation: "read" })(async () => "ok");
    for (let i = 0; i < 30; i++) await expect(call()).resolves.toBe("ok");
    await logger.flush();
    expect(onError).toHaveBeenCalledTimes(1);
    expect(String(onError.mock.calls[0]?.[0])).toContain("disk full");
    expect(logger.stats.dropped).toBe(10);
    expect(logger.stats.failures).toBeGreaterThan(1);
    down = false;
    await logger.flush();
    expect(logger.stats.written).toBe(20);
    expect(await logger.verify()).toEqual({ ok: true, checked: 20 });
    await logger.close();
  });

  it("durable: writes before the call runs, and refuses the call when it cannot", async () => {
    const order: string[] = [];
    const inner = new SqliteAuditStore(":memory:");
    let fail = false;
    const store = wrapStore(inner, {
      append: async (records: readonly AuditRecord[]) => {
        if (fail) throw new Error("db gone");
        order.push("written");
        await inner.append(records);
      },
    });
    const logger = new DecisionLogger(store, {
      exitHooks: false,
      durable: true,
      onError: () => {},
    });
    const g = new Guardian({ env: {}, policies: POLICIES, auditLogger: logger });
    const body = vi.fn(async () => order.push("ran"));
    const call = g.check("safe_delete", { operation: "read" })(body);
    await call();
    expect(order).toEqual(["written", "ran"]);
    fail = true;
    const err = await call().catch((e: unknown) => e);
    expect(String(err)).toContain("could not be written to the audit log, so the call did not run");
    expect(body).toHaveBeenCalledTimes(1);
    await logger.close();
  });

  it("lists blocked operations within a timeframe", async () => {
    const logger = memoryLogger();
    const g = new Guardian({ env: {}, policies: POLICIES, auditLogger: logger });
    await g
      .check("safe_delete", { operation: "delete" })(async () => {})()
      .catch((e: unknown) => expect(e).toBeInstanceOf(PolicyViolation));
    expect(await logger.getBlockedOperations({ timeframe: "24h" })).toHaveLength(1);
    expect(await logger.getBlockedOperations({ timeframe: "7d", limit: 0 })).toHaveLength(0);
    await logger.close();
  });
});

describe("parseDuration", () => {
  it("reads the Python timeframes and any duration, and refuses the rest", () => {
    expect(parseDuration("24h")).toBe(86_400_000);
    expect(parseDuration("7d")).toBe(7 * 86_400_000);
    expect(parseDuration("90m")).toBe(5_400_000);
    expect(() => parseDuration("a week")).toThrow(/not a duration/);
  });
});

describe("NullAuditStore", () => {
  it("keeps nothing and answers empty", async () => {
    const logger = new DecisionLogger(new NullAuditStore(), { exitHooks: false });
    const g = new Guardian({ env: {}, policies: POLICIES, auditLogger: logger });
    await g.check("safe_delete", { operation: "read" })(async () => {})();
    expect(await logger.getDecisionHistory()).toEqual([]);
    expect(await logger.verify()).toEqual({ ok: true, checked: 0 });
    await logger.close();
  });
});

describe("DecisionLogger exit hooks", () => {
  it("writes the records still queued when the process gets SIGTERM, then ends by the signal", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hexarch-exit-"));
    const db = join(dir, "decisions.db");
    const fixture = fileURLToPath(new URL("../fixtures/audit-exit.ts", import.meta.url));
    const child = spawn(process.execPath, [fixture, db, "25"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((resolve, reject) => {
      child.once("exit", (code) => reject(new Error(`the fixture exited early (${code})`)));
      child.stdout.on("data", (chunk: Buffer) => {
        if (String(chunk).includes("ready")) resolve();
      });
    });
    const ended = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once("exit", (_code, signal) => resolve(signal)),
    );
    child.kill("SIGTERM");
    expect(await ended).toBe("SIGTERM");
    const read = new DatabaseSync(db, { readOnly: true });
    try {
      expect(read.prepare("SELECT count(*) AS n FROM hexarch_decisions").get()).toEqual({ n: 25 });
    } finally {
      read.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
