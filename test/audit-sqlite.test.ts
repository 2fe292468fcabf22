import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { SqliteAuditStore } from "../src/audit/sqlite/sqlite-audit-store.ts";
import { runAuditStoreContract } from "./contract/audit-store.contract.ts";

runAuditStoreContract("SqliteAuditStore", async () => {
  const path = join(mkdtempSync(join(tmpdir(), "hexarch-audit-")), "decisions.db");
  const store = new SqliteAuditStore(path);
  return {
    store,
    sql: async (statement) => {
      const db = new DatabaseSync(path);
      try {
        db.exec(statement);
      } finally {
        db.close();
      }
    },
  };
});
