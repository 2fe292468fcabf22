import { createGateway, generateText, streamText, wrapLanguageModel } from "ai";
import { Guardian, PolicyViolation } from "hexarch-guardrails";
import {
  guardrailsMiddleware,
  type LlmSettlement,
  pricedModel,
  refusalOf,
  UnpricedModelError,
} from "hexarch-guardrails/integrations/ai-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUILT_IN_PRICING } from "../../src/integrations/ai-sdk/index.ts";
import {
  type FakeLlmServer,
  type FakeUsage,
  startFakeLlmServer,
} from "../support/fake-llm-server.ts";
import { auditTrail, CountingStore, until } from "../support/llm-kit.ts";

const POLICIES = `
policies:
  - id: api_budget
    rules:
      - resource: [openai, anthropic]
        daily_budget: 0.5
      - model: "*-astra"
        allowed: false
`;

const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);

let server: FakeLlmServer;
beforeAll(async () => {
  server = await startFakeLlmServer();
});
afterAll(async () => {
  await server.close();
});

function setup(options: Partial<Parameters<typeof guardrailsMiddleware>[1]> = {}) {
  const state = new CountingStore();
  const audit = auditTrail();
  const settlements: LlmSettlement[] = [];
  const guardian = new Guardian({
    policies: POLICIES,
    env: {},
    state,
    auditLogger: audit,
    clock: () => NOW,
  });
  const middleware = guardrailsMiddleware(guardian, {
    policyId: "api_budget",
    onSettle: (s) => settlements.push(s),
    ...options,
  });
  const gateway = createGateway({ apiKey: "test-key", baseURL: server.gatewayBaseURL });
  const model = (id: string) => wrapLanguageModel({ model: gateway(id), middleware });
  return { state, audit, settlements, model };
}

function priced(provider: string, model: string, u: FakeUsage): number {
  const p = BUILT_IN_PRICING[provider]?.models?.[model];
  if (!p) throw new Error(`no price for ${model}`);
  const uncached = u.inputTokens - u.cachedInputTokens;
  return (
    (uncached * p.inputUsdPerMTok +
      u.cachedInputTokens * (p.cachedInputUsdPerMTok ?? p.inputUsdPerMTok) +
      u.outputTokens * p.outputUsdPerMTok) /
    1e6
  );
}
const micro = (usd: number) => Math.round(usd * 1e6);

describe("guardrailsMiddleware", () => {
  it("prices models by provider: AI Gateway ids, provider.api names", () => {
    expect(pricedModel({ provider: "gateway", modelId: "openai/gpt-6.2-sol" })).toEqual({
      provider: "openai",
      model: "gpt-6.2-sol",
    });
    expect(pricedModel({ provider: "anthropic.messages", modelId: "claude-opus-5-5" })).toEqual({
      provider: "anthropic",
      model: "claude-opus-5-5",
    });
  });

  it("generateText: reserves, then settles at the exact cost of the step's usage", async () => {
    const { model, settlements, state, audit } = setup();
    const { text, usage } = await generateText({
      model: model("openai/gpt-6.2-sol"),
      prompt: "Summarize the release. [words:6] [reasoning:4] [cached:3]",
      maxOutputTokens: 300,
    });
    expect(text).toBe("the quick brown fox jumps over");
    expect(usage.outputTokens).toBe(10);
    const u = server.calls.at(-1)?.usage as FakeUsage;
    expect(settlements[0]?.outcome).toBe("settled");
    expect(settlements[0]?.usage).toMatchObject({ cachedInputTokens: 3, reasoningTokens: 4 });
    expect(settlements[0]?.costUsd).toBeCloseTo(priced("openai", "gpt-6.2-sol", u), 12);
    expect(state.usd()).toBe(micro(priced("openai", "gpt-6.2-sol", u)));
    expect(audit.entries[0]?.context).toMatchObject({
      resource: "openai",
      model: "gpt-6.2-sol",
      operation: "generate",
      maxOutputTokens: 300,
    });
    expect(audit.entries[0]?.functionName).toBe("ai-sdk.generate");
  });

  it("streamText: settles when the stream finishes; gateway ids with dots find their price", async () => {
    const { model, settlements } = setup();
    const result = streamText({
      model: model("anthropic/claude-sonnet-5.5"),
      prompt: "Stream it [words:9]",
      maxOutputTokens: 200,
    });
    let text = "";
    for await (const delta of result.textStream) text += delta;
    expect(text.split(" ")).toHaveLength(9);
    await until(() => settlements.length === 1);
    expect(settlements[0]?.call).toMatchObject({
      provider: "anthropic",
      model: "claude-sonnet-5.5",
      priceKey: "claude-sonnet-5-5",
      stream: true,
    });
    const u = server.calls.at(-1)?.usage as FakeUsage;
    expect(settlements[0]?.costUsd).toBeCloseTo(priced("anthropic", "claude-sonnet-5-5", u), 12);
  });

  it("refuses before the provider is called, and prices no model as free", async () => {
    const { model, settlements } = setup();
    const before = server.calls.length;
    const refused = await generateText({
      model: model("openai/gpt-6-astra"),
      prompt: "hi",
      maxOutputTokens: 100,
    }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PolicyViolation); // generateText passes it through
    const unpriced = await generateText({
      model: model("xai/grok-9"),
      prompt: "hi",
      maxOutputTokens: 100,
    }).catch((e: unknown) => e);
    expect(unpriced).toBeInstanceOf(UnpricedModelError);
    const errors: unknown[] = [];
    const streamed = streamText({
      model: model("openai/gpt-6-astra"),
      prompt: "hi",
      maxOutputTokens: 100,
      onError: ({ error }) => void errors.push(error),
    });
    await streamed.consumeStream();
    expect(refusalOf(errors[0])).toBeInstanceOf(PolicyViolation);
    expect(server.calls.length).toBe(before);
    expect(settlements).toHaveLength(0);
  });

  it("keeps the estimate of an aborted stream and refunds a failed call", async () => {
    const { model, settlements, state } = setup();
    const abort = new AbortController();
    const result = streamText({
      model: model("openai/gpt-6.1-terra"),
      prompt: "long [words:400] [delay:1]",
      maxOutputTokens: 500,
      abortSignal: abort.signal,
      onError: () => {},
    });
    let n = 0;
    for await (const _ of result.textStream) if (++n === 3) abort.abort();
    await until(() => settlements.length === 1);
    expect(settlements[0]?.outcome).toBe("estimate");
    const kept = micro(settlements[0]?.call.estimate.costUsd as number);
    expect(state.usd()).toBe(kept);

    const failed = await generateText({
      model: model("openai/gpt-6.1-terra"),
      prompt: "[fail:500]",
      maxOutputTokens: 100,
      maxRetries: 0,
    }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(Error);
    await until(() => settlements.length === 2);
    expect(settlements[1]?.outcome).toBe("failed");
    expect(state.usd()).toBe(kept);
  });

  it("30 concurrent streams never overspend a $0.50 budget; spend is the sum of usage", async () => {
    const { model, settlements, state } = setup();
    const before = server.calls.length;
    const m = model("openai/gpt-5.5");
    const one = async () => {
      const errors: unknown[] = [];
      const result = streamText({
        model: m,
        prompt: "Chapter [words:990]",
        maxOutputTokens: 1000,
        onError: ({ error }) => void errors.push(error),
      });
      await result.consumeStream();
      if (errors.length) throw errors[0];
    };
    const results = await Promise.allSettled(Array.from({ length: 30 }, one));
    const ok = results.filter((r) => r.status === "fulfilled").length;
    for (const r of results) {
      if (r.status === "rejected") expect(refusalOf(r.reason)).toBeInstanceOf(PolicyViolation);
    }
    expect(ok).toBeGreaterThan(5);
    expect(ok).toBeLessThan(30);
    await until(() => settlements.length === ok);
    const answered = server.calls.slice(before);
    expect(answered).toHaveLength(ok);
    const sum = answered.reduce(
      (s, c) => s + micro(priced("openai", "gpt-5.5", c.usage as FakeUsage)),
      0,
    );
    const estimate = micro(settlements[0]?.call.estimate.costUsd as number);
    expect(state.usd()).toBe(sum);
    expect(state.usd()).toBeLessThanOrEqual(500_000 + estimate);
    expect(state.usd()).toBeGreaterThan(500_000 - 2 * estimate);
  });
});
