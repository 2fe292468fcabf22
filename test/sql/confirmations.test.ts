/**
 * The SQL confirmation stores (SQLite and PostgreSQL): the ConfirmationStore contract,
 * the audit database they share, what is stored, and single use across connections,
 * threads and pools.
 */
import { createHash, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { Worker } from "node:worker_threads";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import {
  DecisionLogger,
  PostgresAuditStore,
  PostgresConfirmationStore,
  SqliteAuditStore,
  SqliteConfirmationStore,
} from "../../src/audit/index.ts";
import type { ConfirmationStore, ConsumeConfirmationResult } from "../../src/index.ts";
import { ManualClock } from "../../src/testing/index.ts";
import { record } from "../contract/audit-store.contract.ts";
import { binding, runConfirmationStoreContract } from "../contract/confirmation-store.contract.ts";
import { ctl } from "../support/cli-fixtures.ts";
import { PG_URL, pgReachable } from "../support/pg.ts";

const dirs: string[] = [];
const tempDb = (): string => {
  const dir = mkdtempSync(join(tmpdir(), "hexarch-confirm-"));
  dirs.push(dir);
  return join(dir, "decisions.db");
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Creates a request and approves it; answers its token. */
async function approved(store: ConfirmationStore): Promise<string> {
  const token = await store.create({ ...binding(), requestedBy: "alice" });
  await store.approve(token, { approvedBy: "bob" });
  return token;
}

/** Every value of every row, as one string (to look for a secret in). */
const everything = (rows: readonly Record<string, unknown>[]): string =>
  rows.map((r) => Object.values(r).map(String).join("\u0000")).join("\n");

/** Checks that no stored value holds the token's secret, in any spelling, and that its digest is there. */
function expectOnlyDigest(rows: readonly Record<string, unknown>[], token: string): void {
  const secret = token.split(".")[1] as string;
  const bytes = Buffer.from(secret, "base64url");
  const stored = everything(rows);
  for (const spelling of [
    secret,
    bytes.toString("hex"),
    bytes.toString("base64"),
    bytes.toString("latin1"),
  ])
    expect(stored).not.toContain(spelling);
  expect(rows.map((r) => r.secret_hash)).toContain(
    createHash("sha256").update(bytes).digest("hex"),
  );
}

const tally = (results: readonly ConsumeConfirmationResult[]) => ({
  ok: results.filter((r) => r.ok).length,
  used: results.filter((r) => !r.ok && r.refusal === "used").length,
});

// ---------------------------------------------------------------------------------------
// SQLite

runConfirmationStoreContract("SqliteConfirmationStore", async (clock) => {
  const path = tempDb();
  const store = new SqliteConfirmationStore(path, { clock });
  return { store, cleanup: () => store.close() };
});

describe("SqliteConfirmationStore", () => {
  it("shares the audit database: both stores work on one file, db status lists migration 4", async () => {
    const path = tempDb();
    const confirmations = new SqliteConfirmationStore(path);
    const token = await approved(confirmations); // migrates the file
    const audit = new SqliteAuditStore(path);
    const logger = new DecisionLogger(audit, { exitHooks: false });
    try {
      await audit.append([record({ policyId: "safe_delete" })]);
      expect(await confirmations.consume(token, binding())).toMatchObject({ ok: true });
      expect(await audit.query({})).toHaveLength(1);
      expect(await logger.verify()).toMatchObject({ ok: true, checked: 1 });
      expect((await audit.migrationStatus()).map((m) => [m.version, m.appliedAt !== null])).toEqual(
        [
          [1, true],
          [2, true],
          [3, true],
          [4, true],
          [5, true],
          [6, true],
          [7, true],
          [8, true],
          [9, true],
        ],
      );
    } finally {
      await logger.close();
      await confirmations.close();
    }
    const status = await ctl(["db", "status", "--db", path]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^\s+4 {2}create confirmations \(token digests only\) +\d{4}-/m);
  });

  it("works on a file the audit store migrated first, and the CLI rolls migrations 9 to 4 back", async () => {
    const path = tempDb();
    const audit = new SqliteAuditStore(path);
    await audit.migrate();
    await audit.close();
    const store = new SqliteConfirmationStore(path);
    expect(await store.consume(await approved(store), binding())).toMatchObject({ ok: true });
    await store.close();
    for (let version = 9; version > 4; version--) {
      const rolled = await ctl(["db", "rollback", "--db", path]);
      expect(rolled.stdout).toMatch(new RegExp(`^ {2}${version} {2}.*: rolled back\n$`));
    }
    const back = await ctl(["db", "rollback", "--db", path]);
    expect(back.stdout).toMatch(/^ {2}4 {2}create confirmations .*: rolled back\n$/);
    const db = new DatabaseSync(path);
    try {
      expect(
        db.prepare("SELECT name FROM sqlite_master WHERE name LIKE 'hexarch_confirmations%'").all(),
      ).toEqual([]);
    } finally {
      db.close();
    }
  });

  it("stores the SHA-256 digest of a token's secret, never the secret", async () => {
    const path = tempDb();
    const store = new SqliteConfirmationStore(path);
    const token = await approved(store);
    await store.close();
    const db = new DatabaseSync(path);
    try {
      const rows = db.prepare("SELECT * FROM hexarch_confirmations").all() as Record<
        string,
        unknown
      >[];
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ id: token.split(".")[0], status: "approved" });
      expectOnlyDigest(rows, token);
    } finally {
      db.close();
    }
  });

  it("lets exactly one of two stores (two connections) on one file consume a token", async () => {
    const path = tempDb();
    const [a, b] = [new SqliteConfirmationStore(path), new SqliteConfirmationStore(path)];
    try {
      const token = await approved(a);
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).consume(token, binding())),
      );
      expect(tally(results)).toEqual({ ok: 1, used: 9 });
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("lets exactly one of four threads, each with its own connection, consume a token", async () => {
    const path = tempDb();
    const store = new SqliteConfirmationStore(path);
    const token = await approved(store);
    const moduleUrl = new URL("../../src/audit/index.ts", import.meta.url).href;
    // Every thread opens its store and warms it up, then all consume at one signal.
    const go = new Int32Array(new SharedArrayBuffer(4));
    const code = `
      const { parentPort, workerData } = require("node:worker_threads");
      (async () => {
        const { SqliteConfirmationStore } = await import(workerData.moduleUrl);
        const store = new SqliteConfirmationStore(workerData.path);
        await store.get(workerData.token);
        parentPort.postMessage("ready");
        Atomics.wait(workerData.go, 0, 0);
        const result = await store.consume(workerData.token, workerData.binding);
        await store.close();
        parentPort.postMessage(result);
      })().catch((err) => parentPort.postMessage({ error: String(err) }));
    `;
    const workers = Array.from(
      { length: 4 },
      () =>
        new Worker(code, {
          eval: true,
          workerData: { moduleUrl, path, token, binding: binding(), go },
        }),
    );
    try {
      const ready = workers.map(
        (w) =>
          new Promise<void>((done, fail) => {
            w.once("message", () => done());
            w.once("error", fail);
          }),
      );
      await Promise.all(ready);
      const results = workers.map(
        (w) =>
          new Promise<ConsumeConfirmationResult>((done, fail) => {
            w.once("message", (m: ConsumeConfirmationResult | { error: string }) =>
              "error" in m ? fail(new Error(m.error)) : done(m),
            );
            w.once("error", fail);
          }),
      );
      Atomics.store(go, 0, 1);
      Atomics.notify(go, 0);
      expect(tally(await Promise.all(results))).toEqual({ ok: 1, used: 3 });
      expect((await store.get(token))?.status).toBe("consumed");
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
      await store.close();
    }
  });

  it("prunes requests that expired more than a day ago, now and then on create", async () => {
    const clock = new ManualClock("2026-11-25T12:00:00Z");
    const path = tempDb();
    const store = new SqliteConfirmationStore(path, { clock: clock.now, ttlMs: 60_000 });
    try {
      const old = await store.create(binding());
      clock.advance(60_000 + 86_400_000);
      expect((await store.get(old))?.status).toBe("expired"); // kept for a day past expiry
      const recent = await store.create(binding());
      clock.advance(1);
      expect(await store.prune()).toBe(1);
      expect(await store.get(old)).toBeUndefined();
      expect(await store.consume(old, binding())).toMatchObject({ refusal: "unknown" });
      expect((await store.get(recent))?.status).toBe("pending");
      // Every 256th create prunes too.
      clock.advance(2 * 86_400_000);
      for (let i = 0; i < 253; i++) await store.create(binding());
      const db = new DatabaseSync(path);
      try {
        const count = () =>
          Number(
            (db.prepare("SELECT count(*) AS n FROM hexarch_confirmations").get() as { n: number })
              .n,
          );
        expect(count()).toBe(254);
        await store.create(binding()); // the 256th
        expect(count()).toBe(254); // the recent one pruned, the new one added
      } finally {
        db.close();
      }
    } finally {
      await store.close();
    }
  });

  it("refuses an in-memory database, a bad lifetime, and use after close", async () => {
    expect(() => new SqliteConfirmationStore(":memory:")).toThrow(/MemoryConfirmationStore/);
    expect(() => new SqliteConfirmationStore(tempDb(), { ttlMs: 0 })).toThrow(
      /ttlMs must be a positive number of milliseconds/,
    );
    const store = new SqliteConfirmationStore(tempDb());
    await store.create(binding());
    await store.close();
    await expect(store.create(binding())).rejects.toThrow(/closed/);
  });
});

// ---------------------------------------------------------------------------------------
// PostgreSQL

const available = await pgReachable("the PostgresConfirmationStore tests").catch((err: unknown) => {
  // In CI an unreachable server is a failure, reported as a test so the run says why.
  describe("PostgreSQL", () => {
    it("is reachable (CI needs it for the confirmation store tests)", () => {
      throw err;
    });
  });
  return false;
});
if (!available && !process.env.CI) {
  describe("PostgresConfirmationStore", () => {
    it.skip(`needs PostgreSQL at ${PG_URL}, which is not reachable`, () => {});
  });
}

const freshSchema = () => `hexarch_test_${randomUUID().replaceAll("-", "").slice(0, 16)}`;

/** Drops a test schema. */
async function dropSchema(schema: string): Promise<void> {
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  try {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await admin.end();
  }
}

if (available) {
  // Each test gets its own schema, dropped afterwards.
  runConfirmationStoreContract("PostgresConfirmationStore", async (clock) => {
    const schema = freshSchema();
    const pool = new pg.Pool({ connectionString: PG_URL, max: 4 });
    const store = new PostgresConfirmationStore(pool, { schema, clock });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await pool.end();
      },
    };
  });

  describe("PostgresConfirmationStore", () => {
    it("shares the audit schema: both stores work in it, db status lists migration 4", async () => {
      const schema = freshSchema();
      const confirmations = new PostgresConfirmationStore(PG_URL, { schema });
      const audit = new PostgresAuditStore(PG_URL, { schema });
      try {
        const token = await approved(confirmations); // migrates the schema
        await audit.append([record({ policyId: "safe_delete" })]);
        expect(await confirmations.consume(token, binding())).toMatchObject({ ok: true });
        expect(await audit.query({})).toHaveLength(1);
        expect((await audit.migrationStatus()).every((m) => m.appliedAt !== null)).toBe(true);
        const status = await ctl(["db", "status", "--pg-url", PG_URL, "--pg-schema", schema]);
        expect(status.code).toBe(0);
        expect(status.stdout).toMatch(
          /^\s+4 {2}create confirmations \(token digests only\) +\d{4}-/m,
        );
      } finally {
        await confirmations.close();
        await audit.close();
        await dropSchema(schema);
      }
    });

    it("stores the SHA-256 digest of a token's secret, never the secret", async () => {
      const schema = freshSchema();
      const host = new URL(PG_URL);
      // Settings instead of a URL work the same.
      const store = new PostgresConfirmationStore(
        {
          host: host.hostname,
          port: Number(host.port || 5432),
          database: host.pathname.slice(1),
          user: decodeURIComponent(host.username),
          ...(host.password && { password: decodeURIComponent(host.password) }),
        },
        { schema },
      );
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      try {
        const token = await approved(store);
        const { rows } = await client.query(`SELECT * FROM "${schema}".hexarch_confirmations`);
        expect(rows).toHaveLength(1);
        expect(rows[0]).toMatchObject({ id: token.split(".")[0], status: "approved" });
        expectOnlyDigest(rows, token);
      } finally {
        await client.end();
        await store.close();
        await dropSchema(schema);
      }
    });

    it("lets exactly one of two stores on two pools consume a token", async () => {
      const schema = freshSchema();
      const pools = [0, 1].map(() => new pg.Pool({ connectionString: PG_URL, max: 5 }));
      const [a, b] = pools.map((p) => new PostgresConfirmationStore(p, { schema })) as [
        PostgresConfirmationStore,
        PostgresConfirmationStore,
      ];
      try {
        for (let round = 0; round < 5; round++) {
          const token = await approved(a);
          await b.get(token); // both stores connected and migrated before the race
          const results = await Promise.all(
            Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).consume(token, binding())),
          );
          expect(tally(results)).toEqual({ ok: 1, used: 9 });
        }
      } finally {
        await a.close();
        await b.close();
        // A pool passed in stays open: close() left it to its owner.
        expect((await (pools[0] as pg.Pool).query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
        await Promise.all(pools.map((p) => p.end()));
        await dropSchema(schema);
      }
    });

    it("refuses a schema name that is not a plain identifier", () => {
      expect(() => new PostgresConfirmationStore(PG_URL, { schema: "bad; drop" })).toThrow(
        /plain identifier/,
      );
    });
  });
}
