/** The console's store queries on `SqliteAuditStore` (the shared suite). */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteAuditStore } from "../../src/audit/index.ts";
import { runAuditQueriesContract } from "../contract/audit-queries.contract.ts";

runAuditQueriesContract("SqliteAuditStore", async () => {
  const dir = mkdtempSync(join(tmpdir(), "hexarch-audit-queries-"));
  const store = new SqliteAuditStore(join(dir, "decisions.db"));
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
