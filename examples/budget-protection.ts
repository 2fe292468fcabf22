// Budget protection: LLM calls under a $10 monthly budget. The guardrail warns from 80% and
// refuses a call whose worst-case cost would overspend; each call is settled at its real cost.
// Install: `npm install hexarch-guardrails`
// Run: `node budget-protection.ts` (Node.js 22.18+); in this repository:
// `npx node examples/budget-protection.ts`
import { Guardian, PolicyViolation } from "hexarch-guardrails";
import { ManualClock } from "hexarch-guardrails/testing";

const POLICIES = `
policies:
  - id: llm_budget
    description: Ten dollars of model calls per calendar month
    rules:
      - resource: openai
        monthly_budget: 10
        action: warn_at_80%
`;

const USD_PER_1K_TOKENS = 0.5; // a made-up price that keeps the numbers readable
const MAX_TOKENS = 2000; // the most a call may use, so its worst-case cost is $1.00

interface FakeResponse {
  text: string;
  usage: { total_tokens: number };
  costUsd: number;
}

/** A stand-in for an LLM client: no network, a deterministic token count per prompt. */
async function fakeCompletion(prompt: string): Promise<FakeResponse> {
  let hash = 0;
  for (const ch of prompt) hash = Math.imul(hash ^ ch.charCodeAt(0), 0x9e3779b1) >>> 0;
  const total_tokens = 900 + (hash % 1100); // never more than MAX_TOKENS
  return {
    text: `answer to "${prompt}"`,
    usage: { total_tokens },
    costUsd: (total_tokens / 1000) * USD_PER_1K_TOKENS,
  };
}

export async function main(log: (line: string) => void = console.log): Promise<void> {
  const clock = new ManualClock("2026-11-25T09:00:00Z");
  const guardian = new Guardian({
    policies: POLICIES,
    env: {},
    clock: clock.now,
    onWarn: (decision) => log(`  warning: ${decision.reason}`),
  });
  const ask = guardian.check("llm_budget", {
    resource: "openai",
    cost: (MAX_TOKENS / 1000) * USD_PER_1K_TOKENS, // reserve the worst case before the call
    settle: (res: FakeResponse) => (res.usage.total_tokens / 1000) * USD_PER_1K_TOKENS,
  })(fakeCompletion);

  log("Budget: $10.00 this month for openai; every call reserves up to $1.00.");
  let spent = 0;
  for (let n = 1; n <= 20; n++) {
    try {
      const res = await ask(`summarize report #${n}`);
      spent += res.costUsd;
      log(
        `call ${n}: ${res.usage.total_tokens} tokens, $${res.costUsd.toFixed(2)} (spent $${spent.toFixed(2)})`,
      );
    } catch (err) {
      if (!(err instanceof PolicyViolation)) throw err;
      log(`call ${n} blocked: ${err.reason}`);
      break;
    }
    clock.advance(60_000);
  }
  log(`Total spent this month: $${spent.toFixed(2)} of $10.00`);

  clock.set("2026-12-01T00:00:00Z");
  const res = await ask("first report of December");
  log(`December 1st, new month: allowed again ($${res.costUsd.toFixed(2)})`);
  await guardian.close();
}

if (import.meta.main) await main();
