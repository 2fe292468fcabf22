import Anthropic, { APIError, APIPromise } from "@anthropic-ai/sdk";
import { Stream } from "@anthropic-ai/sdk/core/streaming";
import { MessageStream } from "@anthropic-ai/sdk/lib/MessageStream";
import { Guardian, PolicyViolation } from "hexarch-guardrails";
import {
  guardAnthropic,
  type LlmSettlement,
  refusalOf,
  UnpricedModelError,
} from "hexarch-guardrails/integrations/anthropic";
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
      - resource: anthropic
        daily_budget: 1
  - id: guarded
    rules:
      - model: "claude-fable-*"
        allowed: false
      - resource: anthropic
        max_tokens_per_request: 3000
`;

const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);

let server: FakeLlmServer;
beforeAll(async () => {
  server = await startFakeLlmServer();
});
afterAll(async () => {
  await server.close();
});

function setup(policyId = "api_budget") {
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
  const raw = new Anthropic({
    apiKey: "sk-ant-test",
    baseURL: server.anthropicBaseURL,
    maxRetries: 0,
  });
  const client = guardAnthropic(raw, guardian, {
    policyId,
    onSettle: (s) => settlements.push(s),
  });
  return { state, audit, settlements, client, raw };
}

function priced(model: string, u: FakeUsage): number {
  const p = BUILT_IN_PRICING.anthropic?.models?.[model];
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
const user = (content: string) => [{ role: "user" as const, content }];

describe("guardAnthropic", () => {
  it("returns a client of the same type and class", async () => {
    const { client, raw } = setup();
    expectTypeOf(client).toEqualTypeOf<typeof raw>();
    expect(client).toBeInstanceOf(Anthropic);
    const pending = client.messages.create({
      model: "claude-haiku-5-5",
      max_tokens: 20,
      messages: user("hi"),
    });
    expect(pending).toBeInstanceOf(APIPromise);
    await pending;
  });

  it("settles a message at the exact cost of its usage, cache reads included", async () => {
    const { client, settlements, state, audit } = setup();
    const message = await client.messages.create({
      model: "claude-sonnet-5-5",
      max_tokens: 400,
      system: "You write release notes.",
      messages: user("Summarize the changes. [words:25] [cached:6]"),
    });
    expect(message.content[0]?.type).toBe("text");
    const u = server.calls.at(-1)?.usage as FakeUsage;
    // The API reports input_tokens without the cache; the guard counts every prompt token.
    expect(message.usage.input_tokens + (message.usage.cache_read_input_tokens ?? 0)).toBe(
      u.inputTokens,
    );
    expect(settlements[0]?.outcome).toBe("settled");
    expect(settlements[0]?.usage).toMatchObject({
      inputTokens: u.inputTokens,
      cachedInputTokens: 6,
    });
    expect(settlements[0]?.costUsd).toBeCloseTo(priced("claude-sonnet-5-5", u), 12);
    expect(state.usd()).toBe(micro(priced("claude-sonnet-5-5", u)));
    expect(audit.entries[0]?.context).toMatchObject({
      resource: "anthropic",
      operation: "messages.create",
      model: "claude-sonnet-5-5",
    });
  });

  it("streams: create({ stream: true }) and messages.stream() settle when the message ends", async () => {
    const { client, settlements } = setup();
    const stream = await client.messages.create({
      model: "claude-haiku-5-5",
      max_tokens: 300,
      messages: user("Stream [words:7]"),
      stream: true,
    });
    expect(stream).toBeInstanceOf(Stream);
    const types = [];
    for await (const event of stream) types.push(event.type);
    expect(types.at(-1)).toBe("message_stop");
    expect(settlements[0]?.outcome).toBe("settled");
    expect(settlements[0]?.usage?.outputTokens).toBe(7);

    const helper = client.messages.stream({
      model: "claude-opus-5-5",
      max_tokens: 300,
      messages: user("Helper [words:5]"),
    });
    expect(helper).toBeInstanceOf(MessageStream);
    const texts: string[] = [];
    helper.on("text", (t) => texts.push(t));
    const final = await helper.finalMessage();
    expect(texts.join("")).toBe("the quick brown fox jumps");
    expect(final.usage.output_tokens).toBe(5);
    expect(settlements[1]?.call.model).toBe("claude-opus-5-5");
    const u = server.calls.at(-1)?.usage as FakeUsage;
    expect(settlements[1]?.costUsd).toBeCloseTo(priced("claude-opus-5-5", u), 12);
  });

  it("keeps the estimate of an aborted stream, refunds failures", async () => {
    const { client, settlements, state } = setup();
    const helper = client.messages.stream({
      model: "claude-haiku-5-5",
      max_tokens: 500,
      messages: user("long [words:300] [delay:1]"),
    });
    let seen = 0;
    helper.on("text", () => {
      if (++seen === 3) helper.abort();
    });
    await helper.done().catch(() => {});
    await until(() => settlements.length === 1);
    expect(settlements[0]?.outcome).toBe("estimate");
    const kept = micro(settlements[0]?.call.estimate.costUsd as number);
    expect(state.usd()).toBe(kept);

    const failed = await client.messages
      .create({ model: "claude-haiku-5-5", max_tokens: 50, messages: user("[fail:500]") })
      .catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(APIError);
    const dropped = await client.messages
      .stream({
        model: "claude-haiku-5-5",
        max_tokens: 50,
        messages: user("[fail:stream] [words:20]"),
      })
      .finalMessage()
      .catch((e: unknown) => e);
    expect(dropped).toBeInstanceOf(Error);
    await until(() => settlements.length === 3);
    // The HTTP error is refunded; the stream broken after output began keeps its estimate.
    expect(settlements.slice(1).map((s) => s.outcome)).toEqual(["failed", "estimate"]);
    expect(state.usd()).toBe(kept + micro(settlements[2]?.call.estimate.costUsd as number));
  });

  it("refuses before sending: a disallowed model, max_tokens_per_request, an unpriced model", async () => {
    const { client } = setup("guarded");
    const before = server.calls.length;
    const fable = await client.messages
      .create({ model: "claude-fable-5-2", max_tokens: 100, messages: user("hi") })
      .catch((e: unknown) => e);
    expect(fable).toBeInstanceOf(PolicyViolation);
    const big = await client.messages
      .stream({ model: "claude-sonnet-5-5", max_tokens: 8000, messages: user("hi") })
      .finalMessage()
      .catch((e: unknown) => e);
    // The SDK's stream helper wraps every failure in its own error class; the refusal is the cause.
    expect(big).toBeInstanceOf(Anthropic.AnthropicError);
    expect(refusalOf(big)?.reason).toContain("tokens per request");
    const unknown = await client.beta.messages
      .create({ model: "claude-nova-1", max_tokens: 100, messages: user("hi") })
      .catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(UnpricedModelError);
    expect(server.calls.length).toBe(before);
    // The beta namespace is guarded like the stable one.
    const beta = await client.beta.messages.create({
      model: "claude-sonnet-5-5",
      max_tokens: 100,
      messages: user("hi [words:2]"),
    });
    expect(beta.content).toHaveLength(1);
    expect(server.calls.length).toBe(before + 1);
  });

  it("50 concurrent message streams never overspend a $1 budget; spend is the sum of usage", async () => {
    const { client, state, settlements } = setup();
    const before = server.calls.length;
    // claude-opus-5-5, up to 2500 output tokens: about $0.05 a call, and each uses 2450.
    const one = () =>
      client.messages
        .stream({
          model: "claude-opus-5-5",
          max_tokens: 2500,
          messages: user("Chapter [words:2450]"),
        })
        .finalMessage();
    const results = await Promise.allSettled(Array.from({ length: 50 }, one));
    const ok = results.filter((r) => r.status === "fulfilled");
    for (const r of results) {
      if (r.status === "rejected") expect(refusalOf(r.reason)).toBeInstanceOf(PolicyViolation);
    }
    expect(ok.length).toBeGreaterThan(10);
    expect(ok.length).toBeLessThan(40);
    await until(() => settlements.length === ok.length);
    const answered = server.calls.slice(before);
    expect(answered).toHaveLength(ok.length);
    const sum = answered.reduce(
      (s, c) => s + micro(priced("claude-opus-5-5", c.usage as FakeUsage)),
      0,
    );
    const estimate = micro(settlements[0]?.call.estimate.costUsd as number);
    expect(state.usd()).toBe(sum);
    expect(state.usd()).toBeLessThanOrEqual(1_000_000 + estimate);
    expect(state.usd()).toBeGreaterThan(1_000_000 - 2 * estimate);
  });
});
