/** The console's store queries on `PostgresAuditStore` (the shared suite), each test in its own schema. */
import { randomUUID } from "node:crypto";
import pg from "pg";
import { describe, it } from "vitest";
import { PostgresAuditStore } from "../../src/audit/index.ts";
import { runAuditQueriesContract } from "../contract/audit-queries.contract.ts";
import { PG_URL, pgReachable } from "../support/pg.ts";

const available = await pgReachable("the PostgresAuditStore query tests").catch((err: unknown) => {
  describe("PostgreSQL", () => {
    it("is reachable (CI needs it for the audit store tests)", () => {
      throw err;
    });
  });
  return false;
});
if (!available && !process.env.CI) {
  describe("PostgresAuditStore console queries", () => {
    it.skip(`needs PostgreSQL at ${PG_URL}, which is not reachable`, () => {});
  });
}

if (available) {
  runAuditQueriesContract("PostgresAuditStore", async () => {
    const schema = `hexarch_test_${randomUUID().replaceAll("-", "").slice(0, 16)}`;
    const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
    const store = new PostgresAuditStore(pool, { schema });
    return {
      store,
      cleanup: async () => {
        await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await pool.end();
      },
    };
  });
}
