// Safe file deletion: deleting needs an explicit confirmation, collected by your app before
// the call — via `guardian.withContext({ confirm: true }, ...)` or the `context` check option.
// Install: `npm install hexarch-guardrails`
// Run: `node safe-file-deletion.ts` (Node.js 22.18+); in this repository:
// `npx node examples/safe-file-deletion.ts`
import { ConfirmationRequired, Guardian } from "hexarch-guardrails";

const POLICIES = `
policies:
  - id: safe_delete
    description: Destructive operations must be confirmed
    rules:
      - operation: delete
        action: require_confirmation
`;

export async function main(log: (line: string) => void = console.log): Promise<void> {
  // An in-memory file system stands in for the disk.
  const files = new Map([
    ["reports/2025.csv", "..."],
    ["reports/2026.csv", "..."],
    ["tmp/cache.bin", "..."],
  ]);
  const guardian = new Guardian({ policies: POLICIES, env: {} });
  const removeFile = async (path: string): Promise<void> => {
    files.delete(path);
  };
  const listFiles = guardian.check("safe_delete", { operation: "list" })(async () => [
    ...files.keys(),
  ]);
  const deleteFile = guardian.check("safe_delete", { operation: "delete" })(removeFile);

  log(`Listing needs no confirmation: ${(await listFiles()).join(", ")}`);

  log("Deleting reports/2025.csv without confirmation...");
  try {
    await deleteFile("reports/2025.csv");
  } catch (err) {
    if (!(err instanceof ConfirmationRequired)) throw err;
    log(`  refused: ${err.reason}`);
  }
  log(`  reports/2025.csv still exists: ${files.has("reports/2025.csv")}`);

  // Say the user clicked "Delete" in a confirmation dialog: scope the confirmation to this call.
  log("Deleting reports/2025.csv after the user confirmed...");
  await guardian.withContext({ confirm: true }, () => deleteFile("reports/2025.csv"));
  log(`  deleted: ${!files.has("reports/2025.csv")}`);

  // A cleanup job started with --yes: the confirmation is part of the guard itself.
  const confirmedCleanup = guardian.check("safe_delete", {
    operation: "delete",
    context: { confirm: true },
  })(removeFile);
  log("Cleanup job (started with --yes) deleting tmp/cache.bin...");
  await confirmedCleanup("tmp/cache.bin");
  log(`  deleted: ${!files.has("tmp/cache.bin")}`);
  log(`Files left: ${[...files.keys()].join(", ")}`);
  await guardian.close();
}

if (import.meta.main) await main();
