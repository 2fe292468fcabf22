import { randomUUID } from "node:crypto";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { DecisionLogger, PostgresAuditStore } from "../../src/audit/index.ts";
import { record, runAuditStoreContract } from "../contract/audit-store.contract.ts";
import { PG_URL, pgReachable } from "../support/pg.ts";

const URL = PG_URL;
const available = await pgReachable("the PostgresAuditStore tests").catch((err: unknown) => {
  // In CI an unreachable server is a failure, reported as a test so the run says why.
  describe("PostgreSQL", () => {
    it("is reachable (CI needs it for the audit store tests)", () => {
      throw err;
    });
  });
  return false;
});
if (!available && !process.env.CI) {
  describe("PostgresAuditStore", () => {
    it.skip(`needs PostgreSQL at ${URL}, which is not reachable`, () => {});
  });
}

if (available) {
  // Each test gets its own schema, so runs never see each other's tables.
  runAuditStoreContract("PostgresAuditStore", async () => {
    const schema = `hexarch_test_${randomUUID().replaceAll("-", "").slice(0, 16)}`;
    const pool = new pg.Pool({ connectionString: URL, max: 4 });
    const store = new PostgresAuditStore(pool, { schema });
    return {
      store,
      sql: async (statement) => {
        await pool.query(`SET search_path TO "${schema}"; ${statement}`);
      },
      cleanup: async () => {
        await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await pool.end();
      },
    };
  });

  describe("PostgresAuditStore", () => {
    it("takes a connection string and keeps one chain across concurrent writers", async () => {
      const schema = `hexarch_test_${randomUUID().replaceAll("-", "").slice(0, 16)}`;
      const stores = [0, 1, 2].map(() => new PostgresAuditStore(URL, { schema }));
      await (stores[0] as PostgresAuditStore).migrate();
      await Promise.all(
        stores.map((s) =>
          Promise.all(
            Array.from({ length: 5 }, () => s.append(Array.from({ length: 20 }, () => record()))),
          ),
        ),
      );
      const logger = new DecisionLogger(stores[0] as PostgresAuditStore, { exitHooks: false });
      expect(await logger.verify()).toEqual({ ok: true, checked: 300 });
      const admin = new pg.Client({ connectionString: URL });
      await admin.connect();
      await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
      await admin.end();
      for (const s of stores) await s.close();
    });

    it("leaves a pool it was given open on close, and refuses work after", async () => {
      const pool = new pg.Pool({ connectionString: URL, max: 1 });
      const schema = `hexarch_test_${randomUUID().replaceAll("-", "").slice(0, 16)}`;
      const store = new PostgresAuditStore(pool, { schema });
      await store.append([record()]);
      await store.close();
      await expect(store.query({})).rejects.toThrow(/PostgresAuditStore is closed/);
      expect((await pool.query("SELECT 1 AS one")).rows[0]).toEqual({ one: 1 });
      await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
      await pool.end();
    });

    it("refuses a schema name that is not a plain identifier", () => {
      expect(() => new PostgresAuditStore(URL, { schema: "bad; drop" })).toThrow(
        /plain identifier/,
      );
    });
  });
}
