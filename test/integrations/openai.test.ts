import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Guardian, PolicyViolation, UnknownPolicyError } from "hexarch-guardrails";
import {
  guardOpenAI,
  type LlmSettlement,
  UnpricedModelError,
} from "hexarch-guardrails/integrations/openai";
import OpenAI, { APIError, APIPromise } from "openai";
import { Stream } from "openai/core/streaming";
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from "vitest";
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
      - resource: openai
        daily_budget: 1
        action: block
  - id: no_astra
    rules:
      - model: "gpt-6*-astra"
        allowed: false
        message: astra models are not for this service
  - id: small_requests
    rules:
      - resource: openai
        max_tokens_per_request: 2000
  - id: token_budget
    rules:
      - resource: openai
        max_tokens_per_day: 5000
`;

const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);

let server: FakeLlmServer;
beforeAll(async () => {
  server = await startFakeLlmServer();
});
afterAll(async () => {
  await server.close();
});

function setup(policyId = "api_budget", extra: Partial<Parameters<typeof guardOpenAI>[2]> = {}) {
  const state = new CountingStore();
  const audit = auditTrail();
  const settlements: LlmSettlement[] = [];
  const guardian = new Guardian({
    policies: POLICIES,
    env: {},
    state,
    auditLogger: audit,
    clock: () => NOW,
    onWarn: () => {},
  });
  const raw = new OpenAI({ apiKey: "sk-test", baseURL: server.openaiBaseURL, maxRetries: 0 });
  const client = guardOpenAI(raw, guardian, {
    policyId,
    onSettle: (s) => settlements.push(s),
    ...extra,
  });
  const calls = () => server.calls.length;
  return { state, audit, settlements, guardian, client, raw, calls };
}

/** The fake's usage priced with the built-in table. */
function priced(model: string, u: FakeUsage): number {
  const p = BUILT_IN_PRICING.openai?.models?.[model];
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

describe("guardOpenAI", () => {
  it("returns a client of the same type and class", async () => {
    const { client, raw } = setup();
    expectTypeOf(client).toEqualTypeOf<typeof raw>();
    expect(client).toBeInstanceOf(OpenAI);
    const pending = client.chat.completions.create({
      model: "gpt-6-luna",
      messages: [],
      max_tokens: 5,
    });
    expect(pending).toBeInstanceOf(APIPromise);
    await pending;
  });

  it("reserves the estimate, then settles a completion at the exact cost of its usage", async () => {
    const { client, state, settlements, audit } = setup();
    const res = await client.chat.completions.create({
      model: "gpt-6.2-sol",
      messages: [{ role: "user", content: "Summarize the report. [words:30] [cached:4]" }],
      max_completion_tokens: 500,
    });
    expect(res.object).toBe("chat.completion");
    expect(res.choices[0]?.message.content?.split(" ")).toHaveLength(30);
    const call = server.calls.at(-1);
    expect(call?.usage?.outputTokens).toBe(30);
    const exact = priced("gpt-6.2-sol", call?.usage as FakeUsage);
    expect(settlements).toHaveLength(1);
    expect(settlements[0]?.outcome).toBe("settled");
    expect(settlements[0]?.costUsd).toBeCloseTo(exact, 12);
    expect(settlements[0]?.usage?.cachedInputTokens).toBe(4);
    // The estimate was bigger: 500 output tokens reserved.
    expect(settlements[0]?.call.estimate.maxOutputTokens).toBe(500);
    expect(settlements[0]?.call.estimate.costUsd).toBeGreaterThan(exact);
    expect(state.usd()).toBe(micro(exact));
    // The audit record names the provider, the operation and the model.
    const ctx = audit.entries[0]?.context;
    expect(ctx).toMatchObject({
      resource: "openai",
      operation: "chat.completions.create",
      model: "gpt-6.2-sol",
      stream: false,
    });
    expect(ctx?.tokens).toBe(settlements[0]?.call.estimate.tokens);
    expect(audit.entries[0]?.functionName).toBe("openai.chat.completions.create");
  });

  it("refuses before any network call: model rules and max_tokens_per_request", async () => {
    const { client: astra } = setup("no_astra");
    const before = server.calls.length;
    const err = await astra.chat.completions
      .create({ model: "gpt-6-astra", messages: [{ role: "user", content: "hi" }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PolicyViolation);
    expect((err as PolicyViolation).reason).toContain("astra models are not for this service");
    // Other models pass.
    await astra.chat.completions.create({
      model: "gpt-6-luna",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 50,
    });
    const { client: small } = setup("small_requests");
    const big = await small.responses
      .create({ model: "gpt-6-luna", input: "hi", max_output_tokens: 4000 })
      .catch((e: unknown) => e);
    expect(big).toBeInstanceOf(PolicyViolation);
    // No max_output_tokens: the model's maximum (128K) is the estimate, which is refused too.
    const unbounded = await small.responses
      .create({ model: "gpt-6-luna", input: "hi" })
      .catch((e: unknown) => e);
    expect(unbounded).toBeInstanceOf(PolicyViolation);
    const ok = await small.responses.create({
      model: "gpt-6-luna",
      input: "hi",
      max_output_tokens: 1000,
    });
    expect(ok.status).toBe("completed");
    expect(server.calls.length - before).toBe(2); // only the allowed calls reached the server
  });

  it("fails at once for an unknown policy; takes extra context and a custom prompt estimate", async () => {
    const { raw, guardian } = setup();
    expect(() => guardOpenAI(raw, guardian, { policyId: "no_such_policy" })).toThrow(
      UnknownPolicyError,
    );
    const { client, audit, settlements } = setup("api_budget", {
      context: (call) => ({ userId: "u-7", feature: call.stream ? "chat" : "batch" }),
      estimateInputTokens: (request) => (request.model === "gpt-6-luna" ? 1234 : 0),
    });
    await client.chat.completions.create({
      model: "gpt-6-luna",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 10,
      n: 3,
    });
    expect(audit.entries[0]?.userId).toBe("u-7");
    expect(audit.entries[0]?.context).toMatchObject({ feature: "batch", inputTokens: 1234 });
    // Three choices: three times the output limit.
    expect(settlements[0]?.call.estimate.tokens).toBe(1234 + 30);
  });

  it("treats an unknown model as an error unless a default price is configured", async () => {
    const { client } = setup();
    const before = server.calls.length;
    const err = await client.chat.completions
      .create({ model: "gpt-9-ultra", messages: [{ role: "user", content: "hi" }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnpricedModelError);
    expect((err as Error).message).toContain("no price for openai model 'gpt-9-ultra'");
    expect(server.calls.length).toBe(before);

    const { client: priced, settlements } = setup("api_budget", {
      pricing: { openai: { default: { inputUsdPerMTok: 1, outputUsdPerMTok: 4 } } },
    });
    await priced.chat.completions.create({
      model: "gpt-9-ultra",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 100,
    });
    expect(settlements[0]?.call.priceKey).toBe("default");
    // A dated snapshot is priced as its model.
    await priced.chat.completions.create({
      model: "gpt-4o-2024-08-06",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 100,
    });
    expect(settlements[1]?.call.priceKey).toBe("gpt-4o");
  });

  it("reads a pricing file that overrides the built-in table", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hexarch-pricing-"));
    const file = join(dir, "prices.json");
    writeFileSync(
      file,
      JSON.stringify({
        openai: { models: { "gpt-6-luna": { inputUsdPerMTok: 100, outputUsdPerMTok: 100 } } },
      }),
    );
    const { client, settlements } = setup("api_budget", { pricing: file });
    await client.chat.completions.create({
      model: "gpt-6-luna",
      messages: [{ role: "user", content: "hi [words:10]" }],
      max_tokens: 100,
    });
    const u = server.calls.at(-1)?.usage as FakeUsage;
    expect(settlements[0]?.costUsd).toBeCloseTo(((u.inputTokens + u.outputTokens) * 100) / 1e6, 12);
    writeFileSync(file, JSON.stringify({ openai: { models: { x: { inputUsdPerMtok: 1 } } } }));
    expect(() => setup("api_budget", { pricing: file })).toThrow(/invalid pricing table/);
  });

  it("streams chat completions: settles at the end, keeps the usage chunk from callers that did not ask", async () => {
    const { client, settlements, state } = setup();
    const before = server.calls.length;
    const stream = await client.chat.completions.create({
      model: "gpt-6.1-terra",
      messages: [{ role: "user", content: "Stream it [words:8]" }],
      max_tokens: 100,
      stream: true,
    });
    expect(stream).toBeInstanceOf(Stream);
    expect(stream.controller).toBeInstanceOf(AbortController);
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    // The guard asked for usage, and kept that extra chunk from this caller.
    expect(server.calls[before]?.body.stream_options).toEqual({ include_usage: true });
    expect(chunks.every((c) => c.choices.length === 1)).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe(
      "the quick brown fox jumps over the lazy",
    );
    expect(settlements[0]?.outcome).toBe("settled");
    const exact = priced("gpt-6.1-terra", server.calls[before]?.usage as FakeUsage);
    expect(settlements[0]?.costUsd).toBeCloseTo(exact, 12);
    expect(state.usd()).toBe(micro(exact));

    // A caller that asked for usage gets the usage chunk.
    const withUsage = await client.chat.completions.create({
      model: "gpt-6.1-terra",
      messages: [{ role: "user", content: "again [words:3]" }],
      max_tokens: 100,
      stream: true,
      stream_options: { include_usage: true },
    });
    const last = [];
    for await (const chunk of withUsage) last.push(chunk);
    expect(last.at(-1)?.usage?.completion_tokens).toBe(3);
  });

  it("keeps the estimate of a stream the caller abandons, and refunds failed calls", async () => {
    const { client, settlements, state } = setup();
    const stream = await client.chat.completions.create({
      model: "gpt-6.1-terra",
      messages: [{ role: "user", content: "long one [words:200] [delay:1]" }],
      max_tokens: 300,
      stream: true,
    });
    let n = 0;
    for await (const _ of stream) if (++n === 3) break;
    await until(() => settlements.length === 1);
    expect(settlements[0]?.outcome).toBe("estimate");
    expect(state.usd()).toBe(micro(settlements[0]?.call.estimate.costUsd as number));

    // An HTTP error: refunded.
    const failed = await client.chat.completions
      .create({
        model: "gpt-6.1-terra",
        messages: [{ role: "user", content: "[fail:500]" }],
        max_tokens: 300,
      })
      .catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(APIError);
    expect(settlements[1]?.outcome).toBe("failed");
    // A stream whose connection drops after output began: the tokens were generated (and
    // billed), so its estimate stays counted rather than being refunded.
    const dropping = await client.chat.completions.create({
      model: "gpt-6.1-terra",
      messages: [{ role: "user", content: "[fail:stream] [words:20]" }],
      max_tokens: 300,
      stream: true,
    });
    const dropped = await (async () => {
      for await (const _ of dropping) {
        // read until it breaks
      }
    })().catch((e: unknown) => e);
    expect(dropped).toBeInstanceOf(Error);
    expect(settlements[2]?.outcome).toBe("estimate");
    // The abandoned and the broken streams' estimates are still counted; the 500 is not.
    expect(state.usd()).toBe(
      micro(settlements[0]?.call.estimate.costUsd as number) +
        micro(settlements[2]?.call.estimate.costUsd as number),
    );
  });

  it("guards the Responses API, streaming and the SDK helpers built on create", async () => {
    const { client, settlements } = setup();
    const res = await client.responses.create({
      model: "gpt-6.2-sol",
      instructions: "Be brief.",
      input: [{ role: "user", content: "Hello [words:5] [reasoning:7]" }],
      max_output_tokens: 200,
    });
    expect(res.output_text).toBe("the quick brown fox jumps");
    expect(settlements[0]?.usage).toMatchObject({ outputTokens: 12, reasoningTokens: 7 });

    const events = await client.responses.create({
      model: "gpt-6.2-sol",
      input: "Hello [words:4]",
      max_output_tokens: 200,
      stream: true,
    });
    const types = [];
    for await (const e of events) types.push(e.type);
    expect(types.at(-1)).toBe("response.completed");
    expect(settlements[1]?.outcome).toBe("settled");

    // Helpers route through the guarded create.
    const helper = client.responses.stream({
      model: "gpt-6.2-sol",
      input: "Hello [words:6]",
      max_output_tokens: 200,
    });
    const final = await helper.finalResponse();
    expect(final.output_text).toBe("the quick brown fox jumps over");
    expect(settlements[2]?.call.operation).toBe("responses.create");

    const chat = client.chat.completions.stream({
      model: "gpt-6-luna",
      messages: [{ role: "user", content: "hi [words:2]" }],
      max_tokens: 50,
    });
    const completion = await chat.finalChatCompletion();
    expect(completion.choices[0]?.message.content).toBe("the quick");
    expect(settlements[3]?.outcome).toBe("settled");

    const parsed = await client.chat.completions.parse({
      model: "gpt-6-luna",
      messages: [{ role: "user", content: "hi [words:2]" }],
      max_tokens: 50,
    });
    expect(parsed.choices[0]?.message.content).toBe("the quick");
    expect(settlements).toHaveLength(5);

    const { data, response } = await client.responses
      .create({ model: "gpt-6-luna", input: "hi [words:1]", max_output_tokens: 20 })
      .withResponse();
    expect(response.status).toBe(200);
    expect(data.output_text).toBe("the");

    // withOptions gives a guarded client too.
    const derived = client.withOptions({ timeout: 5000 });
    await derived.responses.create({ model: "gpt-6-luna", input: "hi", max_output_tokens: 20 });
    expect(settlements).toHaveLength(7);
  });

  it("counts tokens against token budgets and settles them to the real usage", async () => {
    const { client, state } = setup("token_budget");
    await client.chat.completions.create({
      model: "gpt-6-luna",
      messages: [{ role: "user", content: "hi [words:10]" }],
      max_tokens: 1000,
    });
    const u = server.calls.at(-1)?.usage as FakeUsage;
    expect(state.tokens()).toBe(u.inputTokens + u.outputTokens);
    // 5000 tokens a day: a request whose estimate alone is larger is refused.
    const err = await client.chat.completions
      .create({
        model: "gpt-6-luna",
        messages: [{ role: "user", content: "hi" }],
        max_tokens: 6000,
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PolicyViolation);
  });

  it("50 concurrent streamed completions never overspend a $1 budget; spend is the sum of usage", async () => {
    const { client, state, settlements } = setup();
    const before = server.calls.length;
    // gpt-6-astra, up to 1000 output tokens: about $0.05 a call, and each reply uses 990.
    const one = () =>
      client.chat.completions
        .create({
          model: "gpt-6-astra",
          messages: [{ role: "user", content: "Write the chapter. [words:990]" }],
          max_tokens: 1000,
          stream: true,
        })
        .then(async (stream) => {
          let text = "";
          for await (const c of stream) text += c.choices[0]?.delta.content ?? "";
          return text.split(" ").length;
        });
    const results = await Promise.allSettled(Array.from({ length: 50 }, one));
    const ok = results.filter((r) => r.status === "fulfilled");
    const refused = results.filter((r) => r.status === "rejected");
    for (const r of refused)
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(PolicyViolation);
    expect(ok.length).toBeGreaterThan(10);
    expect(refused.length).toBeGreaterThan(10);
    await until(() => settlements.length === ok.length);
    const answered = server.calls.slice(before);
    expect(answered).toHaveLength(ok.length); // refused calls never reached the server
    const estimate = settlements[0]?.call.estimate.costUsd as number;
    const spent = state.usd();
    // Settled spend is the sum of the responses' usage (each rounded to micro-dollars).
    const sum = answered.reduce(
      (s, c) => s + micro(priced("gpt-6-astra", c.usage as FakeUsage)),
      0,
    );
    expect(spent).toBe(sum);
    expect(spent).toBeLessThanOrEqual(1_000_000 + micro(estimate));
    // And the budget was used, not refused early.
    expect(spent).toBeGreaterThan(1_000_000 - 2 * micro(estimate));
  });
});
