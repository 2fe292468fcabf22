import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { SqliteAuditStore } from "../../src/audit/index.ts";
import { runAuditStoreContract } from "../contract/audit-store.contract.ts";

for (const [name, worker] of [
  ["SqliteAuditStore", false],
  ["SqliteAuditStore { worker: true }", true],
] as const) {
  runAuditStoreContract(name, async () => {
    const dir = mkdtempSync(join(tmpdir(), "hexarch-audit-"));
    const path = join(dir, "decisions.db");
    const store = new SqliteAuditStore(path, { worker });
    return {
      store,
      cleanup: async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
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
}
