// Migration safety: a schema migration runs only after a verified backup, never on a Friday
// or a weekend, and not during the year-end change freeze.
// Install: `npm install hexarch-guardrails`
// Run: `node migration-safety.ts` (Node.js 22.18+); in this repository:
// `npx node examples/migration-safety.ts`
import { Guardian, PolicyViolation } from "hexarch-guardrails";
import { ManualClock } from "hexarch-guardrails/testing";

const POLICIES = `
policies:
  - id: schema_migration
    description: Guard rails for changing the production schema
    timezone: Europe/London
    rules:
      - id: backup_first
        requires: [backup_verified]
        action: block
      - id: change_windows
        forbidden_days: [friday, weekends]
        denied_windows:
          - { start: "2026-12-18T00:00", end: "2027-01-04T00:00" } # year-end freeze
        action: block
`;

interface Backup {
  verified: boolean;
}

export async function main(log: (line: string) => void = console.log): Promise<void> {
  const clock = new ManualClock();
  const guardian = new Guardian({ policies: POLICIES, env: {}, clock: clock.now });
  const applied: string[] = [];
  const migrate = guardian.check("schema_migration", {
    // The precondition comes from the backup check the caller ran just before.
    context: (_name: string, backup: Backup) => ({ backup_verified: backup.verified }),
  })(async (name: string, _backup: Backup) => {
    applied.push(name); // a stand-in for running the SQL
  });

  const attempts: [at: string, name: string, backup: Backup][] = [
    ["2026-11-24T10:00:00Z", "0042_add_invoice_index", { verified: false }],
    ["2026-11-24T10:05:00Z", "0042_add_invoice_index", { verified: true }],
    ["2026-11-27T10:00:00Z", "0043_drop_legacy_columns", { verified: true }],
    ["2026-12-22T10:00:00Z", "0043_drop_legacy_columns", { verified: true }],
    ["2027-01-05T10:00:00Z", "0043_drop_legacy_columns", { verified: true }],
  ];
  for (const [at, name, backup] of attempts) {
    clock.set(at);
    const day = new Date(at).toLocaleDateString("en-GB", { weekday: "long", timeZone: "UTC" });
    const what = `${day} ${at.slice(0, 10)}, ${name}, backup verified: ${backup.verified}`;
    try {
      await migrate(name, backup);
      log(`${what} -> applied`);
    } catch (err) {
      if (!(err instanceof PolicyViolation)) throw err;
      log(`${what} -> refused: ${err.reason}`);
    }
  }
  log(`Applied migrations: ${applied.join(", ")}`);
  await guardian.close();
}

if (import.meta.main) await main();
