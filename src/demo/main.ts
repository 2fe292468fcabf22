/**
 * The demo: a short story of guarded calls on embedded defaults — no server, no file.
 * Run with `npm run demo` (or `hexarch-ctl demo`).
 *
 * @module
 */

import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { DecisionLogger } from "../audit/decision-logger.ts";
import { Guardian } from "../guardian/guardian.ts";
import type { Decision } from "../kernel/decision.ts";
import { PolicyViolation } from "../kernel/errors.ts";
import { SqliteAuditStore } from "../sqlite/audit-store.ts";
import { ManualClock } from "../util/manual-clock.ts";
import { DEMO_POLICIES } from "./policies.ts";

const color = process.stdout.isTTY === true && !process.env.NO_COLOR;
const paint = (code: number, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
const ok = (s: string) => paint(32, s);
const warn = (s: string) => paint(33, s);
const bad = (s: string) => paint(31, s);
const title = (s: string) => console.log(`\n${paint(1, s)}`);
const say = (s: string) => console.log(`  ${s}`);

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /**
   * SQLite file the demo's decisions are logged to, for `hexarch-ctl audit list` to show;
   * `false` logs nothing. Default: `HEXARCH_AUDIT_DB`, else `./decisions.db`.
   */
  readonly auditDb?: string | false;
}

/** Runs the story. Exported for `hexarch-ctl demo` and the tests. */
export async function runDemo(options: DemoOptions = {}): Promise<void> {
  const clock = new ManualClock("2026-11-25T15:00:00Z"); // a Wednesday, 10:00 in New York
  const warnings: Decision[] = [];
  const auditDb = options.auditDb ?? process.env.HEXARCH_AUDIT_DB ?? "decisions.db";
  const auditLogger = auditDb
    ? new DecisionLogger(new SqliteAuditStore(auditDb), { exitHooks: false })
    : undefined;
  const guardian = new Guardian({
    policies: DEMO_POLICIES,
    clock: clock.now,
    env: {},
    onWarn: (d) => void warnings.push(d),
    ...(auditLogger && { auditLogger }),
  });
  console.log(paint(1, "hexarch-guardrails demo: guarded calls, decided in-process"));
  say(`policies: ${guardian.listPolicies().join(", ")}`);

  title("1. A cleanup script that deletes users (policy safe_delete)");
  const deleted: string[] = [];
  const cleanup = guardian.check("safe_delete", { operation: "delete", userId: "ops-cron" })(
    async function cleanupOldUsers() {
      deleted.push("10,000 inactive users");
    },
  );
  try {
    await cleanup();
  } catch (err) {
    if (!(err instanceof PolicyViolation)) throw err;
    say(`${bad("refused")}  ${err.reason}`);
    say(`the function body never ran: ${deleted.length} rows deleted`);
  }
  await guardian.withContext({ confirm: true }, () => cleanup());
  say(`${ok("allowed")}  with confirm: true in the context — deleted ${deleted[0]}`);

  title("2. A weekend batch of GPT-4 calls at $0.75 each (policy api_budget, $10/month)");
  const complete = guardian.check("api_budget", {
    resource: "openai",
    cost: 0.75,
    userId: "alice",
  })(async function summarize(prompt: string) {
    return `answer to ${prompt}`;
  });
  let spent = 0;
  let answered = 0;
  for (let i = 1; i <= 1000; i++) {
    try {
      await complete(`prompt #${i}`);
      spent += 0.75;
      answered++;
      const w = warnings.shift();
      if (w) say(`${warn("warning")}  prompt #${i}: ${w.reason}`);
    } catch (err) {
      if (!(err instanceof PolicyViolation)) throw err;
      say(`${bad("stopped")}  prompt #${i}: ${err.reason}`);
      break;
    }
  }
  say(`${answered} prompts answered, $${spent.toFixed(2)} spent of $10 — not $750`);

  title("3. A webhook sender (policy webhook_throttle: 5 a second per destination)");
  const send = guardian.check("webhook_throttle", {
    context: (destination: string) => ({ destination }),
    userId: "billing-service",
  })(async function sendWebhook(_destination: string) {
    return true;
  });
  const outcome = async (destination: string) => {
    let sent = 0;
    let throttled = 0;
    for (let i = 0; i < 8; i++)
      await send(destination).then(
        () => sent++,
        () => throttled++,
      );
    return `${sent} sent, ${throttled} throttled`;
  };
  say(`8 events to hooks.example.com in one second: ${await outcome("hooks.example.com")}`);
  say(`8 events to other.example.net in the same second: ${await outcome("other.example.net")}`);
  clock.advance(1000);
  say(`a second later, hooks.example.com: ${await outcome("hooks.example.com")}`);

  title("4. A deploy button (policy business_hours), under an injected clock");
  const deploy = guardian.check("business_hours", { operation: "deploy", userId: "bob" })(
    async function deployRelease() {
      return "deployed";
    },
  );
  for (const at of ["2026-11-25T15:00:00Z", "2026-11-25T23:30:00Z", "2026-11-28T15:00:00Z"]) {
    clock.set(at);
    const local = new Date(at).toLocaleString("en-US", {
      timeZone: "America/New_York",
      weekday: "short",
      hour: "2-digit",
      minute: "2-digit",
    });
    const result = await deploy().then(
      (r) => ok(r),
      (err: unknown) =>
        bad(`refused — ${err instanceof PolicyViolation ? err.reason : String(err)}`),
    );
    say(`${local} in New York: ${result}`);
  }

  await guardian.close();
  if (auditLogger) {
    title("The audit log");
    say(
      `${auditLogger.stats.written} decisions written to ${auditDb} (SQLite, hash-chained). See them with:`,
    );
    say("  npx hexarch-ctl audit list");
    say("  npx hexarch-ctl audit stats");
    say("  npx hexarch-ctl audit verify");
  }
  title("Next");
  say("Write your own hexarch.yaml (npx hexarch-ctl init writes a starter) and guard a function:");
  say(`  const guarded = new Guardian().check("safe_delete")(deleteUsers);`);
}

// Run when executed directly (npm run demo), not when imported (hexarch-ctl demo, tests).
if (process.argv[1] && fileURLToPath(import.meta.url) === realpathSync(process.argv[1])) {
  runDemo().catch((err: unknown) => {
    console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  });
}
