import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main as asyncBatch } from "../../examples/async-batch.ts";
import { main as budgetProtection } from "../../examples/budget-protection.ts";
import { main as businessHours } from "../../examples/business-hours.ts";
import { main as httpCallback } from "../../examples/confirmation-patterns/http-callback.ts";
import { main as interactive } from "../../examples/confirmation-patterns/interactive.ts";
import { main as tokenPattern } from "../../examples/confirmation-patterns/token.ts";
import { main as aiSdkIntegration } from "../../examples/integrations/ai-sdk.ts";
import { main as anthropicIntegration } from "../../examples/integrations/anthropic.ts";
import { main as openaiIntegration } from "../../examples/integrations/openai.ts";
import { main as migrationSafety } from "../../examples/migration-safety.ts";
import { main as rateLimiting } from "../../examples/rate-limiting.ts";
import { main as safeFileDeletion } from "../../examples/safe-file-deletion.ts";
import { main as webhookThrottling } from "../../examples/webhook-throttling.ts";
import { type FakeLlmServer, startFakeLlmServer } from "../support/fake-llm-server.ts";

/** Runs an example's main() and returns what it logged, one entry per line. */
async function run(main: (log: (line: string) => void) => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  await main((line) => void lines.push(line));
  return lines;
}

const dollars = (line: string | undefined, label: string): number => {
  const m = line?.match(new RegExp(`${label}\\s*\\$(\\d+\\.\\d\\d)`));
  if (!m?.[1]) throw new Error(`no '${label} $x.xx' in ${JSON.stringify(line)}`);
  return Number(m[1]);
};

// The LLM examples talk to the provider their SDK is configured for; here, a local fake.
let fake: FakeLlmServer;
beforeAll(async () => {
  fake = await startFakeLlmServer();
});
afterAll(() => fake.close());

describe("examples", () => {
  it("budget-protection: warns from 80%, blocks before overspending, settles real costs", async () => {
    const lines = await run(budgetProtection);
    const warnings = lines.filter((l) => l.includes("warning:"));
    expect(warnings.length).toBeGreaterThan(0);
    for (const w of warnings) expect(w).toMatch(/(8\d|9\d|100)% of the monthly budget used/);
    const blocks = lines.filter((l) => / blocked: /.test(l));
    expect(blocks).toHaveLength(1);
    expect(blocks[0]).toContain("monthly budget of $10.00 would be exceeded");
    // Every call before the block ran, and the first warning came before the block.
    const firstWarning = lines.findIndex((l) => l.includes("warning:"));
    expect(firstWarning).toBeLessThan(lines.indexOf(blocks[0] as string));
    // Real costs, summed by the example, stay under the budget.
    const total = dollars(
      lines.find((l) => l.startsWith("Total spent")),
      "month:",
    );
    expect(total).toBeLessThanOrEqual(10);
    expect(total).toBeGreaterThan(9); // the budget was used, not refused early
    const settled = lines.filter((l) => /^call \d+: \d+ tokens/.test(l));
    const lastSpent = dollars(settled.at(-1), "spent");
    expect(lastSpent).toBe(total);
    // Settlement: the block's "used" is the real spend, not the $1.00 reserved per call.
    expect(dollars(blocks[0], "would be exceeded \\(")).toBe(total);
    expect(lines.at(-1)).toMatch(/^December 1st, new month: allowed again/);
  });

  it("rate-limiting: blocks exactly alice's requests past 5 a minute, not bob's", async () => {
    const lines = await run(rateLimiting);
    const outcome = (who: string) =>
      lines
        .filter((l) => l.startsWith(`${who} request`))
        .map((l) => (l.includes(": allowed") ? "allowed" : "blocked"));
    expect(outcome("alice")).toEqual([
      ...Array(5).fill("allowed"),
      "blocked",
      "blocked",
      "allowed", // a minute later
    ]);
    expect(outcome("bob")).toEqual(["allowed", "allowed"]);
    expect(lines.find((l) => l.startsWith("alice request 6"))).toContain(
      'limit of 5 requests per minute reached for userId "alice"',
    );
  });

  it("safe-file-deletion: refused without confirmation, allowed once confirmed", async () => {
    const lines = await run(safeFileDeletion);
    expect(lines[0]).toContain("Listing needs no confirmation");
    const refused = lines.findIndex((l) => l.includes("refused:"));
    expect(lines[refused]).toContain("Policy 'safe_delete' requires confirmation");
    expect(lines[refused + 1]).toContain("still exists: true");
    expect(lines.filter((l) => l.includes("deleted: true"))).toHaveLength(2); // withContext, context option
    expect(lines.filter((l) => l.includes("refused:"))).toHaveLength(1);
    expect(lines.at(-1)).toBe("Files left: reports/2026.csv");
  });

  it("async-batch: stops at the first violation, reports progress, resumes the next day", async () => {
    const lines = await run(asyncBatch);
    const stops = lines.filter((l) => l.startsWith("Stopped at"));
    expect(stops).toHaveLength(1);
    expect(stops[0]).toMatch(/^Stopped at invoice-05 .*daily budget of \$0\.50 would be exceeded/);
    expect(lines).toContain("Processed 4 of 8 documents.");
    // Nothing after the refused document ran that day, even the 3-page one that would fit.
    const stop = lines.indexOf(stops[0] as string);
    expect(lines[stop - 1]).toBe("invoice-04: 6 pages done");
    expect(lines[stop + 2]).toBe(
      "Left for tomorrow: invoice-05, invoice-06, invoice-07, invoice-08",
    );
    expect(lines.at(-1)).toBe("Processed 4 of 4 documents.");
    expect(lines.filter((l) => l.endsWith("pages done"))).toHaveLength(8);
  });

  it("business-hours: allows weekday office hours in Berlin, DST included, and blocks the rest", async () => {
    const lines = await run(businessHours);
    const byInstant = Object.fromEntries(
      lines.map((l) => [l.slice(0, 20), l.includes("reminder sent") ? "sent" : "blocked"]),
    );
    expect(byInstant).toEqual({
      "2026-03-30T06:30:00Z": "blocked", // 08:30 CEST
      "2026-03-30T07:30:00Z": "sent", // 09:30 CEST
      "2026-11-25T09:30:00Z": "sent", // 10:30 CET
      "2026-11-25T16:00:00Z": "blocked", // 17:00 CET, end exclusive
      "2026-11-28T10:00:00Z": "blocked", // Saturday
    });
    expect(lines.find((l) => l.startsWith("2026-11-28"))).toContain(
      "saturday is not an allowed day",
    );
    expect(lines.find((l) => l.startsWith("2026-11-25T16"))).toContain(
      "outside allowed hours 09:00-17:00 (Europe/Berlin)",
    );
  });

  it("webhook-throttling: at most 2 deliveries per destination per tick, all eventually delivered", async () => {
    const lines = await run(webhookThrottling);
    const deliveries = lines
      .map((l) => l.match(/^(t=\d+s) (\w+) -> (\S+): delivered$/))
      .filter((m) => m !== null)
      .map(([, t = "", id = "", dest = ""]) => ({ t, id, dest }));
    expect(deliveries.map((d) => d.id).sort()).toEqual(["l1", "l2", "o1", "o2", "o3", "o4", "o5"]);
    const perTick = new Map<string, number>();
    for (const d of deliveries) {
      const key = `${d.t} ${d.dest}`;
      perTick.set(key, (perTick.get(key) ?? 0) + 1);
    }
    expect(Math.max(...perTick.values())).toBe(2);
    // The crm receiver was not held up by the shop's burst.
    expect(deliveries.filter((d) => d.dest.includes("crm")).every((d) => d.t === "t=0s")).toBe(
      true,
    );
    expect(lines.filter((l) => l.includes("throttled"))).toHaveLength(4); // 3, then 1
    expect(lines.find((l) => l.includes("why:"))).toContain("limit of 2 requests per second");
  });

  it("migration-safety: needs a verified backup, refuses Fridays and the freeze", async () => {
    const lines = await run(migrationSafety);
    const results = lines.slice(0, -1).map((l) => l.slice(l.indexOf("-> ") + 3));
    expect(results.map((r) => r.split(":")[0])).toEqual([
      "refused",
      "applied",
      "refused",
      "refused",
      "applied",
    ]);
    expect(results[0]).toContain("requires backup_verified to be true");
    expect(results[0]).toContain("(rule backup_first)");
    expect(results[2]).toContain("friday is a forbidden day (Europe/London) (rule change_windows)");
    expect(results[3]).toContain("inside denied window");
    expect(results[3]).toContain("(rule change_windows)");
    expect(lines.at(-1)).toBe(
      "Applied migrations: 0042_add_invoice_index, 0043_drop_legacy_columns",
    );
  });

  it("confirmation-patterns/interactive: yes at a terminal runs it; without a terminal it refuses at once", async () => {
    const input = Object.assign(new PassThrough(), { isTTY: true });
    const output = new PassThrough();
    output.on("data", (c: Buffer) => {
      if (c.toString().endsWith("(yes/no) ")) setImmediate(() => input.write("yes\n"));
    });
    const approved: string[] = [];
    await interactive((l) => void approved.push(l), { input, output });
    expect(approved).toEqual(["approved at the terminal: deleted u-1001", "users left: u-1002"]);
    const headless: string[] = [];
    await interactive((l) => void headless.push(l), {
      input: Object.assign(new PassThrough(), { isTTY: false }),
      output: new PassThrough(),
    });
    expect(headless[0]).toMatch(/^refused: .*needs a terminal \(stdin is not a TTY\)/);
    expect(headless[1]).toBe("users left: u-1001, u-1002");
  });

  it("confirmation-patterns/token: pending, approved, run once, bound to its arguments", async () => {
    const lines = await run(tokenPattern);
    expect(lines).toEqual([
      "pending approval: Policy 'safe_delete' requires confirmation: matched operation delete (rule rules[0])",
      "accounts: acct-7, acct-8",
      "approver sees: closeAccount requested by billing-service, pending",
      "refused for acct-8: confirmation token refused: the confirmation was issued for a call with other arguments",
      "executed: closed acct-7",
      "replayed for acct-7: confirmation token refused: the confirmation token was already used",
      "accounts: acct-8",
    ]);
  });

  it("confirmation-patterns/http-callback: 202, signed webhook, signed callback, retry runs once", async () => {
    const lines = await run(httpCallback);
    expect(lines).toContain("DELETE /projects/apollo → 202 (pending approval)");
    expect(lines).toContain("callback: approved by lead@example.com");
    expect(lines).toContain("retry with X-Confirmation-Token → 204");
    expect(lines).toContain("same token for /projects/gemini → 403");
    expect(lines).toContain("forged callback → 401");
    expect(lines.at(-1)).toBe("projects left: gemini");
  });

  it("integrations/openai: settles each call at its usage, refuses a model before sending, stops at the budget", async () => {
    const lines = await run((log) => openaiIntegration(log, fake.openaiBaseURL));
    const settled = lines.filter((l) => l.trim().startsWith("settled:"));
    expect(settled.length).toBeGreaterThanOrEqual(4);
    // Every settlement is below what was reserved for it.
    for (const l of settled) {
      const [spent, reserved] = [...l.matchAll(/\$(\d+\.\d+)/g)].map((m) => Number(m[1]));
      expect(spent).toBeLessThan(reserved as number);
    }
    expect(lines).toContain("  streamed: the quick brown fox jumps over the lazy dog");
    expect(lines.find((l) => l.includes("refused before sending"))).toContain(
      "astra models need a separate budget",
    );
    const blocked = lines.filter((l) => l.includes(" blocked: "));
    expect(blocked).toHaveLength(1);
    expect(blocked[0]).toContain("daily budget of $0.05 would be exceeded");
    expect(lines.findIndex((l) => l.includes("warning:"))).toBeLessThan(
      lines.indexOf(blocked[0] as string),
    );
  });

  it("integrations/anthropic: per-user token budget settled to usage, per-request cap", async () => {
    const lines = await run((log) => anthropicIntegration(log, fake.anthropicBaseURL));
    expect(lines).toEqual([
      "ada asks (max_tokens 2000):",
      "  settled: 22 tokens (reserved 2025)",
      "  answer: the quick brown fox jumps over the lazy",
      "ada asks (max_tokens 5000):",
      expect.stringMatching(
        /^ {2}refused: .*tokens per request 50\d\d tokens exceeds the limit of 3000 tokens/,
      ),
      "ada asks (max_tokens 2000):",
      "  settled: 1913 tokens (reserved 2024)",
      "  answer: the quick brown fox jumps over the lazy ...",
      "ada asks (max_tokens 2000):",
      expect.stringMatching(
        /^ {2}refused: .*max tokens per day of 3500 tokens would be exceeded for userId "ada" \(1935 tokens used, this call 2021 tokens\)/,
      ),
      "grace asks (max_tokens 2000):",
      "  settled: 21 tokens (reserved 2021)",
      "  answer: the quick brown fox jumps over the lazy ...",
    ]);
  });

  it("integrations/ai-sdk: one middleware settles generateText and streamText, refuses a model", async () => {
    const lines = await run((log) => aiSdkIntegration(log, fake.gatewayBaseURL));
    expect(lines).toContain("  text: the quick brown");
    expect(lines).toContain("  text: the quick brown fox jumps");
    expect(lines.filter((l) => l.includes(": settled, $0.0000"))).toHaveLength(2);
    expect(lines.at(-1)).toMatch(/^ {2}refused: .*Fable is reserved for the research team/);
  });
});
