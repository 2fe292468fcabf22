import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { DecisionLogger, SqliteAuditStore } from "../../src/audit/index.ts";
// Internal: the demo run in process.
import { runDemo } from "../../src/demo/main.ts";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("npm run demo", () => {
  it("tells the whole story: refusal, confirmation, budget warning and stop, throttling, business hours", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => void lines.push(String(line)));
    const dir = mkdtempSync(join(tmpdir(), "hexarch-demo-"));
    const auditDb = join(dir, "decisions.db");
    try {
      await runDemo({ auditDb });
      const logger = new DecisionLogger(new SqliteAuditStore(auditDb), { exitHooks: false });
      const stats = await logger.getPolicyStats("safe_delete");
      expect(stats).toMatchObject({ totalDecisions: 2, allowed: 1, blocked: 1 });
      expect(await logger.verify()).toMatchObject({ ok: true });
      await logger.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const out = lines.join("\n");
    expect(out).toMatch(/\d+ decisions written to .*decisions\.db/);
    expect(out).toContain("refused  Policy 'safe_delete' requires confirmation");
    expect(out).toContain("the function body never ran: 0 rows deleted");
    expect(out).toContain("allowed  with confirm: true");
    expect(out).toMatch(/warning {2}prompt #11: .*82% of the monthly budget used/);
    expect(out).toMatch(/stopped {2}prompt #14: .*monthly budget of \$10\.00 would be exceeded/);
    expect(out).toContain("13 prompts answered, $9.75 spent of $10");
    expect(out).toContain("8 events to hooks.example.com in one second: 5 sent, 3 throttled");
    expect(out).toContain("a second later, hooks.example.com: 5 sent, 3 throttled");
    expect(out).toMatch(/Wed 10:00 AM in New York: deployed/);
    expect(out).toMatch(/Sat 10:00 AM in New York: refused/);
    // No color escapes when stdout is not a terminal.
    expect(out).not.toContain("\x1b[");
  });
});
