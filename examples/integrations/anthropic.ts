// The official Anthropic SDK under a policy: a daily token budget per user and a cap on
// what one request may ask for. Each message reserves its prompt estimate plus max_tokens,
// and is settled at its real usage once the stream's final counts arrive.
// Install: `npm install hexarch-guardrails @anthropic-ai/sdk`
// Run: `ANTHROPIC_API_KEY=sk-ant-… node anthropic.ts` (Node.js 22.18+). The test suite runs
// `main` against a local fake provider (its `baseURL`), which the [words:N] hints steer.
import Anthropic from "@anthropic-ai/sdk";
import { Guardian } from "hexarch-guardrails";
import { guardAnthropic, refusalOf } from "hexarch-guardrails/integrations/anthropic";

const POLICIES = `
policies:
  - id: assistant
    rules:
      - resource: anthropic
        max_tokens_per_day: 3500     # tokens per user per day, settled to real usage
        per: userId
      - resource: anthropic
        max_tokens_per_request: 3000
`;

export async function main(
  log: (line: string) => void = console.log,
  baseURL?: string,
): Promise<void> {
  const guardian = new Guardian({
    policies: POLICIES,
    env: {},
    clock: () => Date.UTC(2026, 10, 26, 9),
  });
  const claude = guardAnthropic(
    // The key comes from ANTHROPIC_API_KEY, unless a test points the client at its fake provider.
    new Anthropic(baseURL ? { baseURL, apiKey: "sk-ant-example" } : {}),
    guardian,
    {
      policyId: "assistant",
      onSettle: (s) =>
        log(`  ${s.outcome}: ${s.tokens} tokens (reserved ${s.call.estimate.tokens})`),
    },
  );

  const ask = async (userId: string, question: string, maxTokens: number) => {
    log(`${userId} asks (max_tokens ${maxTokens}):`);
    try {
      // Per-call context: the user the daily token budget is kept for.
      const message = await guardian.withContext({ userId }, () =>
        claude.messages
          .stream({
            model: "claude-sonnet-5-5",
            max_tokens: maxTokens,
            messages: [{ role: "user", content: question }],
          })
          .finalMessage(),
      );
      const block = message.content[0];
      const text = block?.type === "text" ? block.text : "";
      log(`  answer: ${text.length > 40 ? `${text.slice(0, 40)}...` : text}`);
    } catch (err) {
      const refusal = refusalOf(err); // the stream helper wraps errors in its own class
      if (!refusal) throw err;
      log(`  refused: ${refusal.reason}`);
    }
  };

  try {
    await ask("ada", "What changed in the release? [words:8]", 2000);
    await ask("ada", "Write the whole manual. [words:5]", 5000);
    await ask("ada", "Explain the migration. [words:1900]", 2000);
    await ask("ada", "And the rollback? [words:10]", 2000);
    await ask("grace", "And the rollback? [words:10]", 2000);
  } finally {
    await guardian.close();
  }
}

if (import.meta.main) await main();
