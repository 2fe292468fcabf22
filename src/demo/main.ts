/**
 * The demo: the Python README's three policies deciding a scripted day of calls, with no
 * server and no configuration. Run with `npm run demo`.
 *
 * @module
 */

import { LocalDecisionClient } from "../decision/local-decision-client.ts";
import type { Decision } from "../engine/decision.ts";
import { parsePolicies } from "../policy/load.ts";
import { ManualClock } from "../testing/manual-clock.ts";
import { README_POLICIES } from "./policies.ts";

const color = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: number, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
const MARK: Record<Decision["action"], string> = {
  allow: paint(32, "ALLOWED "),
  warn: paint(33, "WARNED  "),
  block: paint(31, "BLOCKED "),
  require_confirmation: paint(35, "CONFIRM?"),
};

function show(what: string, d: Decision): void {
  console.log(`  ${MARK[d.action]} ${what.padEnd(34)} ${d.reason}`);
}

async function main(): Promise<void> {
  const clock = new ManualClock("2026-11-25T09:00:00Z");
  const client = new LocalDecisionClient({
    policies: parsePolicies(README_POLICIES, { source: "hexarch.yaml (Python README)" }),
    clock: clock.now,
  });
  console.log(
    paint(1, "hexarch-guardrails demo — the Python README's hexarch.yaml, decided in-process\n"),
  );
  console.log(`policies: ${client.listPolicies().join(", ")}\n`);

  console.log(paint(1, "1. safe_delete: destructive operations need confirmation"));
  show(
    "delete users (no confirmation)",
    await client.decide("safe_delete", { operation: "delete" }),
  );
  show(
    "delete users (confirm: true)",
    await client.decide("safe_delete", { operation: "delete", confirm: true }),
  );
  show("read users", await client.decide("safe_delete", { operation: "read" }));

  console.log(paint(1, "\n2. api_budget: $10 a month for OpenAI, warn from 80%"));
  let spent = 0;
  let calls = 0;
  let last: Decision | undefined;
  for (;;) {
    const d = await client.decide("api_budget", { resource: "openai", cost: 0.75 });
    calls++;
    if (d.action !== last?.action) show(`call #${calls} ($0.75, $${spent.toFixed(2)} spent)`, d);
    last = d;
    if (!d.allowed) break;
    spent += 0.75;
    clock.advance(60_000);
  }
  show(
    "anthropic call (other resource)",
    await client.decide("api_budget", { resource: "anthropic", cost: 5 }),
  );

  console.log(paint(1, "\n3. rate_limit: 100 requests a minute"));
  let allowed = 0;
  let first: Decision | undefined;
  for (let i = 0; i < 150; i++) {
    const d = await client.decide("rate_limit", { resource: "search" });
    if (d.allowed) allowed++;
    else first ??= d;
  }
  console.log(`  150 requests in one minute: ${allowed} allowed, ${150 - allowed} blocked`);
  if (first) show("request #101", first);
  clock.advance(66_000);
  show("a minute later", await client.decide("rate_limit", { resource: "search" }));

  console.log(paint(1, "\n4. the same checks, decided together and atomically"));
  const check = client.check(["api_budget", "rate_limit", "safe_delete"]);
  const d = await check.decide({ resource: "openai", operation: "delete", cost: 0.01 });
  show("openai delete, unconfirmed", d);
  console.log(`  matched rules: ${d.matchedRules.join(", ")} — nothing was consumed`);
  console.log(
    "\nNext: edit the policies in your own hexarch.yaml; every key is in docs/policy-language.md.",
  );
  await client.close();
}

main().catch((err: unknown) => {
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
