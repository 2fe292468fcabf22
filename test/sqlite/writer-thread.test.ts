/**
 * `SqliteAuditStore` with `{ worker: true }` beyond the shared contract: order, read-your-
 * writes, durable mode, failures in and of the writer thread, and a process that exits.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type AuditRecord, DecisionLogger, SqliteAuditStore } from "../../src/audit/index.ts";
import type { Context, Decision, DecisionEntry } from "../../src/index.ts";
// Internal: the SQLite writer thread's batch encoding.
import { encodeBatch } from "../../src/sqlite/append.ts";
// Internal: the SQLite writer thread driven directly.
import { WriterThread } from "../../src/sqlite/writer-thread.ts";
import { record } from "../contract/audit-store.contract.ts";

/** A fixture record as the Guardian hands it to a logger. */
const entry = (r: AuditRecord): DecisionEntry => ({
  decision: r as unknown as Decision,
  functionName: r.functionName ?? undefined,
  userId: r.userId ?? undefined,
  context: r.context as Context,
  metadata: r.metadata ?? undefined,
  mode: r.mode,
});

const dirs: string[] = [];
function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), "hexarch-audit-worker-"));
  dirs.push(dir);
  return join(dir, "decisions.db");
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("SqliteAuditStore { worker: true }", () => {
  it("refuses :memory: (a writer thread cannot share it)", () => {
    expect(() => new SqliteAuditStore(":memory:", { worker: true })).toThrow(/database file/);
  });

  it("commits concurrent appends in call order, chained as the plain store chains them", async () => {
    const batches = Array.from({ length: 30 }, (_, i) =>
      Array.from({ length: (i % 4) + 1 }, () => record({ reason: `b${i}` })),
    );
    const hashes: string[][] = [];
    for (const worker of [true, false]) {
      const store = new SqliteAuditStore(tempDb(), { worker });
      // Not awaited one by one: the first waits for migrations, the rest queue behind it.
      await Promise.all(batches.map((b) => store.append(b)));
      const stored = await store.query({ order: "asc", limit: 1000 });
      expect(stored.map((r) => r.decisionId)).toEqual(batches.flat().map((r) => r.decisionId));
      const logger = new DecisionLogger(store, { exitHooks: false });
      expect(await logger.verify()).toEqual({ ok: true, checked: batches.flat().length });
      hashes.push(stored.map((r) => r.hash));
      await logger.close();
    }
    expect(hashes[0]).toEqual(hashes[1]);
  });

  it("reads what a flush wrote, and what a durable record wrote before its call ran", async () => {
    const path = tempDb();
    const logger = new DecisionLogger(new SqliteAuditStore(path, { worker: true }), {
      exitHooks: false,
      flushIntervalMs: 60_000,
    });
    // Not durable: record() only queues and returns nothing; flush() below reports the write.
    for (let i = 0; i < 1200; i++) void logger.record(entry(record({ context: { i } })));
    await logger.flush();
    expect(await logger.store.query({ limit: 5000 })).toHaveLength(1200);
    await logger.close();

    const durable = new DecisionLogger(new SqliteAuditStore(path, { worker: true }), {
      exitHooks: false,
      durable: true,
    });
    const a = record({ policyId: "durable" });
    await durable.record(entry(a)); // settles after the thread committed it
    // Read straight from the store: no flush in between.
    expect((await durable.store.query({ policyId: "durable" }))[0]?.decisionId).toBe(a.decisionId);
    expect((await durable.verify()).ok).toBe(true);
    await durable.close();
  });

  it("rejects an append the thread could not commit, reported once, and recovers", async () => {
    const path = tempDb();
    const store = new SqliteAuditStore(path, { worker: true });
    const onError = vi.fn();
    const logger = new DecisionLogger(store, { exitHooks: false, onError, batchSize: 2 });
    await store.append([record()]);
    const db = new DatabaseSync(path);
    db.exec("ALTER TABLE hexarch_decisions RENAME TO moved");
    await expect(store.append([record()])).rejects.toThrow(/no such table/);
    // Not durable: record() only queues; the failed write goes to onError, asserted below.
    for (let i = 0; i < 4; i++) void logger.record(entry(record()));
    await logger.flush();
    await logger.flush();
    expect(onError).toHaveBeenCalledTimes(1);
    expect(logger.stats.failures).toBeGreaterThanOrEqual(2);
    db.exec("ALTER TABLE moved RENAME TO hexarch_decisions");
    db.close();
    await logger.flush();
    expect(logger.stats.written).toBe(logger.stats.recorded);
    expect((await logger.verify()).ok).toBe(true);
    await logger.close();
  });

  it("fails the appends in flight with a clear error when the thread dies, then starts a new one", async () => {
    const crash = new URL(
      `data:text/javascript,${encodeURIComponent(
        'import { parentPort } from "node:worker_threads"; parentPort.on("message", () => process.exit(3));',
      )}`,
    );
    const writer = new WriterThread(tempDb(), crash);
    const batch = encodeBatch([record()]);
    await expect(Promise.all([writer.append(batch), writer.append(batch)])).rejects.toThrow(
      /writer thread exited \(code 3\)/,
    );
    await expect(writer.append(batch)).rejects.toThrow(/exited/);
    await writer.close();
    await expect(writer.append(batch)).rejects.toThrow(/closed/);
  });

  it("fails appends clearly when the thread cannot open the file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hexarch-audit-worker-"));
    dirs.push(dir);
    const path = join(dir, "sub", "decisions.db");
    mkdirSync(join(dir, "sub"));
    const store = new SqliteAuditStore(path, { worker: true });
    await store.migrate();
    rmSync(join(dir, "sub"), { recursive: true, force: true }); // the main connection stays open
    await expect(store.append([record()])).rejects.toThrow(/SQLite audit writer thread failed/);
    await store.close();
  });

  // Run with flags a worker must not inherit (--input-type) or refuses (--expose-gc).
  it("lets the process exit, after close() and without it", () => {
    const url = new URL("../../src/sqlite/audit-store.ts", import.meta.url).href;
    for (const close of [true, false]) {
      const script = `
        import { SqliteAuditStore } from ${JSON.stringify(url)};
        const store = new SqliteAuditStore(${JSON.stringify(tempDb())}, { worker: true });
        await store.append([${JSON.stringify(record())}]);
        const n = (await store.query({})).length;
        ${close ? "await store.close();" : ""}
        console.log("stored", n);
      `;
      const r = spawnSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", script], {
        encoding: "utf8",
        timeout: 20_000,
      });
      expect(r.stderr).not.toMatch(/Error/);
      expect(r.status).toBe(0);
      expect(r.stdout.trim()).toBe("stored 1");
    }
  });
});
