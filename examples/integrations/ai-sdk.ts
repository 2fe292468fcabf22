// The Vercel AI SDK under a policy: one middleware, any provider. generateText and
// streamText calls are decided before they reach the provider and settled at their usage;
// a model the policy does not allow never gets a request.
// Install: `npm install hexarch-guardrails ai`
// Run: `AI_GATEWAY_API_KEY=… node ai-sdk.ts` (Node.js 22.18+), through the Vercel AI Gateway.
// The test suite runs `main` against a local fake gateway (its `baseURL`).
import { createGateway, generateText, streamText, wrapLanguageModel } from "ai";
import { Guardian, PolicyViolation } from "hexarch-guardrails";
import { guardrailsMiddleware } from "hexarch-guardrails/integrations/ai-sdk";

const POLICIES = `
policies:
  - id: llm
    rules:
      - resource: [openai, anthropic]
        monthly_budget: 20
      - model: "claude-fable-*"
        allowed: false
        message: Fable is reserved for the research team
`;

export async function main(
  log: (line: string) => void = console.log,
  baseURL?: string,
): Promise<void> {
  const guardian = new Guardian({ policies: POLICIES, env: {} });
  const middleware = guardrailsMiddleware(guardian, {
    policyId: "llm",
    onSettle: (s) =>
      log(`  ${s.call.provider}/${s.call.model}: ${s.outcome}, $${(s.costUsd ?? 0).toFixed(6)}`),
  });
  // The key comes from AI_GATEWAY_API_KEY, unless a test points the gateway at its fake.
  const gateway = createGateway(baseURL ? { baseURL, apiKey: "example" } : {});
  const model = (id: string) => wrapLanguageModel({ model: gateway(id), middleware });

  try {
    log("generateText with openai/gpt-6.1-terra:");
    const { text } = await generateText({
      model: model("openai/gpt-6.1-terra"),
      prompt: "Name three colors. [words:3]",
      maxOutputTokens: 100,
    });
    log(`  text: ${text}`);

    log("streamText with anthropic/claude-haiku-5.5:");
    const result = streamText({
      model: model("anthropic/claude-haiku-5.5"),
      prompt: "Count to five. [words:5]",
      maxOutputTokens: 100,
    });
    let streamed = "";
    for await (const delta of result.textStream) streamed += delta;
    log(`  text: ${streamed}`);
    await result.usage; // the settlement is logged once the stream has finished

    log("generateText with anthropic/claude-fable-5.2:");
    await generateText({ model: model("anthropic/claude-fable-5.2"), prompt: "Hi" }).catch(
      (err: unknown) => {
        if (!(err instanceof PolicyViolation)) throw err;
        log(`  refused: ${err.reason}`);
      },
    );
  } finally {
    await guardian.close();
  }
}

if (import.meta.main) await main();
