/**
 * Nothing acknowledged is lost; nothing hangs. Written as the attacks: a decision server
 * killed with SIGKILL under load (every answer it gave must be in the audit log), and a
 * PostgreSQL that accepts connections and never answers (or answers the handshake, then
 * stalls) — closing the log, the Guardian and the server must still finish, in a bound,
 * and say how many records were lost.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createNetServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  type AuditRecord,
  type AuditStore,
  DecisionLogger,
  PostgresAuditStore,
  SqliteAuditStore,
} from "../../src/audit/index.ts";
import { Guardian } from "../../src/index.ts";
import { wrapStore } from "../support/audit-db.ts";
import { PG_URL, pgReachable } from "../support/pg.ts";
import { killAfterEach, serveApi } from "../support/serve-process.ts";

const TOKEN = "durability-test-token-0123456789abcdef";
const POLICIES = `
policies:
  - id: safe_delete
    rules: [{ operation: delete, action: require_confirmation }]
`;
/**
 * A store that delegates to `inner`, with `append` countable and held until `ready()` says
 * every record it should be grouped with was taken (so those wait behind the commit).
 */
function holdingStore(inner: AuditStore, ready: () => boolean) {
  const appends: number[] = [];
  let failNext = false;
  const store = wrapStore(inner, {
    append: async (records: readonly AuditRecord[]) => {
      appends.push(records.length);
      await vi.waitFor(() => expect(ready()).toBe(true));
      if (failNext) {
        failNext = false;
        throw new Error("disk full");
      }
      await inner.append(records);
    },
  });
  return { store, appends, failOnce: () => (failNext = true) };
}

/**
 * A fake PostgreSQL: `silent` accepts connections and never sends a byte; `stall` answers
 * the startup packet (authentication ok, ready for query) and then never answers a query.
 */
async function fakePostgres(mode: "silent" | "stall") {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createNetServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    if (mode === "stall") {
      let greeted = false;
      socket.on("data", () => {
        if (greeted) return; // a query: never answered
        greeted = true;
        // 'R' AuthenticationOk, then 'Z' ReadyForQuery (idle).
        socket.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0, 0x5a, 0, 0, 0, 5, 0x49]));
      });
    }
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const port = (server.address() as { port: number }).port;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/test`,
    connections: () => connections,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((done) => server.close(done));
    },
  };
}

describe("durable mode: group commit", () => {
  it("writes concurrent records in a few shared transactions, each call after its commit", async () => {
    const slow = holdingStore(new SqliteAuditStore(":memory:"), () => logger.stats.recorded === 64);
    const logger = new DecisionLogger(slow.store, { exitHooks: false, durable: true });
    const g = new Guardian({ env: {}, policies: POLICIES, auditLogger: logger });
    const committedAtRun: number[] = [];
    const calls = Array.from({ length: 64 }, () =>
      g.check("safe_delete", { operation: "read" })(async () => {
        committedAtRun.push(logger.stats.written);
      })(),
    );
    await Promise.all(calls);
    // One append for the first record, then the 63 taken meanwhile together.
    expect(slow.appends).toEqual([1, 63]);
    expect(Math.min(...committedAtRun)).toBeGreaterThanOrEqual(1); // no call ran before a commit
    expect(logger.stats).toMatchObject({ recorded: 64, written: 64, refused: 0 });
    expect(await logger.verify()).toEqual(expect.objectContaining({ ok: true, checked: 64 }));
    await logger.close();
  });

  it("refuses every call of a batch whose commit failed, and counts them", async () => {
    let taken = 1;
    const slow = holdingStore(
      new SqliteAuditStore(":memory:"),
      () => logger.stats.recorded >= taken,
    );
    const errors: Error[] = [];
    const logger = new DecisionLogger(slow.store, {
      exitHooks: false,
      durable: true,
      onError: (e) => errors.push(e),
    });
    const g = new Guardian({ env: {}, policies: POLICIES, auditLogger: logger });
    let ran = 0;
    const call = () => g.check("safe_delete", { operation: "read" })(async () => ran++)();
    await call(); // one committed
    slow.failOnce();
    taken = 11;
    const results = await Promise.allSettled(Array.from({ length: 10 }, call));
    const refused = results.filter((r) => r.status === "rejected");
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused)
      expect(String((r as PromiseRejectedResult).reason)).toContain(
        "could not be written to the audit log, so the call did not run",
      );
    expect(ran).toBe(1 + 10 - refused.length);
    expect(logger.stats.refused).toBe(refused.length);
    expect(errors[0]?.message).toContain("disk full");
    // Refused records were never acknowledged: closing has nothing to report.
    expect(await logger.close()).toEqual({ unwritten: 0, timedOut: false });
  });
});

describe("a PostgreSQL that never answers", () => {
  let silent: Awaited<ReturnType<typeof fakePostgres>>;
  let stall: Awaited<ReturnType<typeof fakePostgres>>;
  beforeAll(async () => {
    silent = await fakePostgres("silent");
    stall = await fakePostgres("stall");
  });
  afterAll(async () => {
    await silent.close();
    await stall.close();
  });

  it("fails a durable record after the connect timeout instead of hanging it", async () => {
    const logger = new DecisionLogger(
      new PostgresAuditStore({ connectionString: silent.url, connectTimeoutMs: 300 }),
      { exitHooks: false, durable: true, onError: () => {} },
    );
    const g = new Guardian({ env: {}, policies: POLICIES, auditLogger: logger });
    const started = performance.now();
    const err = await g
      .check("safe_delete", { operation: "read" })(async () => "ran")()
      .catch((e: unknown) => e);
    const took = performance.now() - started;
    expect(String(err)).toContain("could not be written to the audit log");
    expect(took).toBeLessThan(5000);
    console.log(
      `[durability] durable record on a silent PostgreSQL refused after ${took.toFixed(0)} ms`,
    );
    expect(await logger.close()).toEqual({ unwritten: 0, timedOut: false });
  });

  it("fails a statement after the statement timeout when the server stalls after the handshake", async () => {
    const store = new PostgresAuditStore({
      connectionString: stall.url,
      connectTimeoutMs: 300,
      statementTimeoutMs: 300,
    });
    const started = performance.now();
    await expect(store.query({})).rejects.toThrow(/timeout/i);
    expect(performance.now() - started).toBeLessThan(5000);
    await store.close();
  });

  it("SIGTERM with the exit hooks: ends by the signal within the bound, saying what was lost", async () => {
    const fixture = fileURLToPath(new URL("../fixtures/audit-exit-pg.ts", import.meta.url));
    const child = spawn(process.execPath, [fixture, silent.url, "3"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    await new Promise<void>((resolve, reject) => {
      child.once("exit", (code) =>
        reject(new Error(`the fixture exited early (${code}): ${stderr}`)),
      );
      child.stdout.on("data", (chunk: Buffer) => {
        if (String(chunk).includes("ready")) resolve();
      });
    });
    const ended = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once("exit", (_code, signal) => resolve(signal)),
    );
    const started = performance.now();
    child.kill("SIGTERM");
    expect(await ended).toBe("SIGTERM");
    const took = performance.now() - started;
    console.log(
      `[durability] exit hooks on SIGTERM with a silent PostgreSQL: ${took.toFixed(0)} ms`,
    );
    expect(took).toBeLessThan(4000);
    expect(stderr).toContain("3 audit records could not be written before the process exits");
  });

  for (const mode of ["silent", "stall"] as const) {
    it(`closes the logger and the Guardian within the bound and reports what was lost (${mode}, default pg timeouts)`, async () => {
      const fake = mode === "silent" ? silent : stall;
      const errors: string[] = [];
      const logger = new DecisionLogger(new PostgresAuditStore(fake.url), {
        exitHooks: false,
        closeTimeoutMs: 1000,
        onError: (e) => errors.push(e.message),
      });
      const g = new Guardian({ env: {}, policies: POLICIES, auditLogger: logger });
      for (let i = 0; i < 3; i++)
        await g.check("safe_delete", { operation: "read" })(async () => {})();
      const started = performance.now();
      const result = await logger.close();
      const took = performance.now() - started;
      console.log(
        `[durability] DecisionLogger.close() on a ${mode} PostgreSQL: ${took.toFixed(0)} ms`,
        result,
      );
      expect(result).toEqual({ unwritten: 3, timedOut: true });
      expect(took).toBeLessThan(4000);
      expect(errors.join("\n")).toContain("3 audit records could not be written");
      // Guardian.close() (which closes its audit sink) ends too.
      const g2started = performance.now();
      const logger2 = new DecisionLogger(new PostgresAuditStore(fake.url), {
        exitHooks: false,
        closeTimeoutMs: 1000,
        onError: (e) => errors.push(e.message),
      });
      const g2 = new Guardian({ env: {}, policies: POLICIES, auditLogger: logger2 });
      await g2.check("safe_delete", { operation: "read" })(async () => {})();
      expect(await g2.close()).toEqual({ unwrittenAuditRecords: 1, auditTimedOut: true });
      const g2took = performance.now() - g2started;
      console.log(`[durability] Guardian.close() on a ${mode} PostgreSQL: ${g2took.toFixed(0)} ms`);
      expect(g2took).toBeLessThan(4000);
      expect(errors.join("\n")).toContain("1 audit record could not be written");
    });
  }
});

/** The real binary, as in test/server-run.test.ts. */
describe("hexarch-ctl serve api under attack", () => {
  let dir: string;
  const children = killAfterEach();
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "hexarch-durability-"));
    writeFileSync(join(dir, "hexarch.yaml"), POLICIES);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** At `warn` the server logs no address: the helper polls /health on a port it picked. */
  const serve = (args: string[], env: Record<string, string> = {}) =>
    serveApi(["--rate-limit", "0", "--log-level", "warn", ...args], {
      cwd: dir,
      env: { HEXARCH_API_TOKEN: TOKEN, ...env },
      children,
      waitFor: "health",
    });

  const authorize = (url: string) =>
    fetch(`${url}/authorize`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ policyId: "safe_delete", context: { operation: "read" } }),
    });

  /**
   * 64 callers in a loop until the server dies; the decision ids of the answers received, and
   * a promise that settles once `target` answers came back (or every caller gave up).
   */
  function load(url: string, target: number, concurrency = 64) {
    const acked: string[] = [];
    let stop = false;
    let reachedTarget: () => void = () => {};
    const reached = new Promise<void>((done) => {
      reachedTarget = done;
    });
    const workers = Array.from({ length: concurrency }, async () => {
      while (!stop) {
        try {
          const res = await authorize(url);
          if (res.status !== 200) continue;
          acked.push(((await res.json()) as { decisionId: string }).decisionId);
          if (acked.length >= target) reachedTarget();
        } catch {
          return; // the server is gone
        }
      }
    });
    return {
      acked,
      reached: Promise.race([reached, Promise.all(workers)]),
      stop: async () => {
        stop = true;
        await Promise.all(workers);
      },
    };
  }

  /** Loads a server until `n` answers came back, SIGKILLs it mid-load; the acked ids. */
  async function killUnderLoad(
    url: string,
    proc: ChildProcess,
    exited: Promise<unknown>,
    n: number,
  ) {
    const started = performance.now();
    const l = load(url, n);
    await l.reached;
    proc.kill("SIGKILL");
    await exited;
    await l.stop();
    const seconds = (performance.now() - started) / 1000;
    return { acked: [...l.acked], seconds };
  }

  async function missing(store: AuditStore, acked: readonly string[]) {
    const reader = new DecisionLogger(store, { exitHooks: false });
    const stored = new Set<string>();
    for await (const r of reader.exportDecisions()) stored.add(r.decisionId);
    await reader.close();
    return { lost: acked.filter((id) => !stored.has(id)).length, stored: stored.size };
  }

  it("--durable on SQLite: every answer given before SIGKILL is in the audit log", async () => {
    const db = join(dir, "durable.db");
    const { proc, url, exited } = await serve(["--durable", "--db", db, "--init-db"]);
    const { acked, seconds } = await killUnderLoad(url, proc, exited, 2000);
    const { lost, stored } = await missing(new SqliteAuditStore(db), acked);
    console.log(
      `[durability] SQLite --durable, SIGKILL after ${acked.length} answers in ${seconds.toFixed(2)} s: ${stored} stored, ${lost} acknowledged-but-lost`,
    );
    expect(acked.length).toBeGreaterThanOrEqual(2000);
    expect(lost).toBe(0);
  });

  it("HEXARCH_AUDIT_DURABLE=true on PostgreSQL: every answer given before SIGKILL is in the audit log", async () => {
    if (!(await pgReachable("the durable SIGKILL test"))) return;
    const schema = `durability_${process.pid}`;
    const { proc, url, exited } = await serve(
      ["--pg-url", PG_URL, "--pg-schema", schema, "--init-db"],
      { HEXARCH_AUDIT_DURABLE: "true" },
    );
    try {
      const { acked, seconds } = await killUnderLoad(url, proc, exited, 2000);
      const { lost, stored } = await missing(new PostgresAuditStore(PG_URL, { schema }), acked);
      console.log(
        `[durability] PostgreSQL durable, SIGKILL after ${acked.length} answers in ${seconds.toFixed(2)} s: ${stored} stored, ${lost} acknowledged-but-lost`,
      );
      expect(acked.length).toBeGreaterThanOrEqual(2000);
      expect(lost).toBe(0);
    } finally {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
    }
  });

  it("the default batched mode can lose what it answered (what --durable is for)", async () => {
    const db = join(dir, "batched.db");
    const { proc, url, exited } = await serve(["--db", db, "--init-db"]);
    const { acked, seconds } = await killUnderLoad(url, proc, exited, 2000);
    const { lost, stored } = await missing(new SqliteAuditStore(db), acked);
    // Not asserted above 0: it depends on where the flush timer stood. Reported.
    console.log(
      `[durability] SQLite batched (default), SIGKILL after ${acked.length} answers in ${seconds.toFixed(2)} s: ${stored} stored, ${lost} acknowledged-but-lost`,
    );
    expect(lost).toBeLessThanOrEqual(acked.length);
  });

  it("SIGTERM with a PostgreSQL that never answers: exits within the bound and says how many records were lost", async () => {
    const fake = await fakePostgres("silent");
    try {
      const { proc, url, out, exited } = await serve(["--pg-url", fake.url]);
      for (let i = 0; i < 3; i++) expect((await authorize(url)).status).toBe(200);
      // The flush timer fires: its write opens a connection to the silent server and waits on it.
      const before = fake.connections();
      await vi.waitFor(() => expect(fake.connections()).toBeGreaterThan(before)); // the flush timer fired: its write waits on the silent server
      const started = performance.now();
      proc.kill("SIGTERM");
      const code = await exited;
      const took = performance.now() - started;
      console.log(
        `[durability] serve api SIGTERM with a silent PostgreSQL: exit ${code} after ${took.toFixed(0)} ms`,
      );
      // Documented bound: shutdownTimeoutMs (10 s) + closeTimeoutMs (10 s) + 2 s.
      expect(took).toBeLessThan(22_000);
      expect(code).toBe(1);
      expect(out.stdout).toMatch(/3 audit records could not be written/);
    } finally {
      await fake.close();
    }
  }, 30_000);
});
