// The official OpenAI SDK under a policy: one line wraps the client, every chat completion
// and Responses call reserves its worst-case cost before it is sent, and is settled at the
// exact cost of its `usage` afterwards. A disallowed model is refused before any request.
// Install: `npm install hexarch-guardrails openai`
// Run: `OPENAI_API_KEY=sk-… node openai.ts` (Node.js 22.18+). The test suite runs `main`
// against a local fake provider (its `baseURL`), which the [words:N] hints steer.
import { Guardian, PolicyViolation } from "hexarch-guardrails";
import { guardOpenAI } from "hexarch-guardrails/integrations/openai";
import OpenAI from "openai";

const POLICIES = `
policies:
  - id: api_budget
    rules:
      - resource: openai
        daily_budget: 0.05           # USD per day for this service
        action: warn_at_80%
      - model: "gpt-6*-astra"        # the flagship is not for this service
        allowed: false
        message: astra models need a separate budget
      - resource: openai
        max_tokens_per_request: 8000
`;

const usd = (n: number) => `$${n.toFixed(4)}`;

export async function main(
  log: (line: string) => void = console.log,
  baseURL?: string,
): Promise<void> {
  const guardian = new Guardian({
    policies: POLICIES,
    env: {},
    clock: () => Date.UTC(2026, 10, 26, 9),
    onWarn: (decision) => log(`  warning: ${decision.reason}`),
  });
  const openai = guardOpenAI(
    // The key comes from OPENAI_API_KEY, unless a test points the client at its fake provider.
    new OpenAI({ maxRetries: 0, ...(baseURL && { baseURL, apiKey: "sk-example" }) }),
    guardian,
    {
      policyId: "api_budget",
      context: () => ({ feature: "release-notes" }),
      onSettle: (s) =>
        log(
          `  ${s.outcome}: ${usd(s.costUsd ?? 0)} for ${s.tokens ?? 0} tokens (reserved ${usd(s.call.estimate.costUsd)})`,
        ),
    },
  );

  try {
    log("chat.completions.create, gpt-6.2-sol, at most 300 tokens:");
    const completion = await openai.chat.completions.create({
      model: "gpt-6.2-sol",
      messages: [{ role: "user", content: "Summarize the release notes. [words:24]" }],
      max_completion_tokens: 300,
    });
    log(`  answer: ${completion.choices[0]?.message.content?.slice(0, 40)}...`);

    log("responses.create, streamed:");
    const stream = await openai.responses.create({
      model: "gpt-6.1-terra",
      input: "Write a haiku about budgets. [words:9]",
      max_output_tokens: 200,
      stream: true,
    });
    let text = "";
    for await (const event of stream) {
      if (event.type === "response.output_text.delta") text += event.delta;
    }
    log(`  streamed: ${text}`);

    log("gpt-6-astra:");
    await openai.chat.completions
      .create({ model: "gpt-6-astra", messages: [{ role: "user", content: "Hi" }] })
      .catch((err: unknown) => {
        if (!(err instanceof PolicyViolation)) throw err;
        log(`  refused before sending: ${err.reason}`);
      });

    log("Long answers until the daily budget says no:");
    for (let n = 1; n <= 20; n++) {
      try {
        await openai.chat.completions.create({
          model: "gpt-6.2-sol",
          messages: [{ role: "user", content: `Draft section ${n}. [words:900]` }],
          max_completion_tokens: 1000,
        });
      } catch (err) {
        if (!(err instanceof PolicyViolation)) throw err;
        log(`  section ${n} blocked: ${err.reason}`);
        break;
      }
    }
  } finally {
    await guardian.close();
  }
}

if (import.meta.main) await main();
