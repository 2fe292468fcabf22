// The official Anthropic SDK under a policy: a daily token budget per user and a cap on
// what one request may ask for. Each message reserves its prompt estimate plus max_tokens,
// and is settled at its real usage once the stream's final counts arrive.
// Run: `npx node examples/integrations/anthropic.ts` (after `npm ci`). It talks to the
// local fake provider from the test suite; with a real key, drop `baseURL` and the hints.
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
  const fake = baseURL
    ? undefined
    : await (await import("../../test/support/fake-llm-server.ts")).startFakeLlmServer();
  const guardian = new Guardian({
    policies: POLICIES,
    env: {},
    clock: () => Date.UTC(2026, 10, 26, 9),
  });
  const claude = guardAnthropic(
    new Anthropic({ apiKey: "sk-ant-example", baseURL: baseURL ?? fake?.anthropicBaseURL }),
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
    await fake?.close();
  }
}

if (import.meta.main) await main();
