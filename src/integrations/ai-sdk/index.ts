/**
 * `hexarch-guardrails/integrations/ai-sdk`: a language-model middleware for the Vercel AI
 * SDK (`ai`), so `generateText`, `streamText` and everything built on them run under a
 * policy, whatever the provider.
 *
 * ```ts
 * const model = wrapLanguageModel({ model: openai("gpt-6.2-sol"), middleware: guardrailsMiddleware(guardian, { policyId: "api_budget" }) });
 * ```
 *
 * This module imports nothing from `ai` at runtime: the middleware is a plain object.
 *
 * @module hexarch-guardrails/integrations/ai-sdk
 */

import type { LanguageModelMiddleware } from "ai";
import type { Guardian } from "../../guardian/guardian.ts";
import {
  type CallLife,
  type CallPlan,
  LlmGuard,
  type LlmGuardOptions,
  type LlmRequest,
} from "../llm/guard.ts";
import type { TokenUsage } from "../llm/pricing.ts";

export * from "../llm/public.ts";

type WrapGenerate = NonNullable<LanguageModelMiddleware["wrapGenerate"]>;
type WrapStream = NonNullable<LanguageModelMiddleware["wrapStream"]>;
type Model = Parameters<WrapGenerate>[0]["model"];
type CallOptions = Parameters<WrapGenerate>[0]["params"];
type GenerateResult = Awaited<ReturnType<WrapGenerate>>;
type StreamResult = Awaited<ReturnType<WrapStream>>;
type StreamPart = StreamResult["stream"] extends ReadableStream<infer P> ? P : never;
type ModelUsage = GenerateResult["usage"];

/** Where a model's calls are priced and counted: a pricing provider and a model id. */
export interface PricedModel {
  /** Pricing provider (and the context's `resource`): `openai`, `anthropic`, ... */
  readonly provider: string;
  /** The model id to look up in the pricing table. */
  readonly model: string;
}

/**
 * Options of {@link guardrailsMiddleware}.
 *
 * @example
 * ```ts
 * const options: GuardrailsMiddlewareOptions = {
 *   policyId: "api_budget",
 *   pricing: { mistral: { models: { "mistral-large-3": { inputUsdPerMTok: 2, outputUsdPerMTok: 6 } } } },
 * };
 * ```
 */
export interface GuardrailsMiddlewareOptions extends LlmGuardOptions {
  /**
   * Maps a model to its pricing provider and id. Default: the part of `model.provider`
   * before the first dot (`openai.responses` → `openai`); for the AI Gateway
   * (`gateway`, ids like `anthropic/claude-sonnet-5.5`), the id's prefix and the rest.
   */
  readonly priceAs?: (model: {
    readonly provider: string;
    readonly modelId: string;
  }) => PricedModel;
}

/** The default {@link GuardrailsMiddlewareOptions.priceAs}. */
export function pricedModel(model: {
  readonly provider: string;
  readonly modelId: string;
}): PricedModel {
  const slash = model.modelId.indexOf("/");
  if (slash > 0 && (model.provider === "gateway" || model.provider.startsWith("gateway."))) {
    return { provider: model.modelId.slice(0, slash), model: model.modelId.slice(slash + 1) };
  }
  const dot = model.provider.indexOf(".");
  return {
    provider: dot > 0 ? model.provider.slice(0, dot) : model.provider,
    model: model.modelId,
  };
}

/**
 * A language-model middleware that puts every generation under a policy. Each model call
 * (`doGenerate` / `doStream`, so each step of a multi-step `generateText`) is decided
 * before it reaches the provider: its estimate — prompt tokens from a tokenizer-free
 * estimate of the prompt and tools, plus `maxOutputTokens` (else the model's maximum) —
 * priced by model is reserved, and settled at the exact cost of the call's `usage`
 * (a stream's `finish` part). A stream the caller cancels keeps its estimate; a failed
 * call is refunded. A refused call rejects with the Guardian's `PolicyViolation`.
 *
 * @example
 * ```ts
 * import { generateText, wrapLanguageModel } from "ai";
 * import { guardrailsMiddleware } from "hexarch-guardrails/integrations/ai-sdk";
 *
 * const model = wrapLanguageModel({
 *   model: "openai/gpt-6.2-sol",
 *   middleware: guardrailsMiddleware(guardian, { policyId: "api_budget" }),
 * });
 * const { text } = await generateText({ model, prompt: "Hi", maxOutputTokens: 500 });
 * ```
 * @throws UnknownPolicyError when the policy is not loaded (at once).
 * @throws GuardrailError when the `pricing` file or table is invalid (at once).
 */
export function guardrailsMiddleware(
  guardian: Guardian,
  options: GuardrailsMiddlewareOptions,
): LanguageModelMiddleware {
  const guard = new LlmGuard(guardian, options, "ai-sdk", ["generate", "stream"]);
  const priceAs = options.priceAs ?? pricedModel;
  const plan = (operation: "generate" | "stream", params: CallOptions, model: Model): CallPlan => {
    const priced = priceAs(model);
    const request: LlmRequest = {
      provider: priced.provider,
      operation,
      model: priced.model,
      stream: operation === "stream",
      params: params as unknown as Readonly<Record<string, unknown>>,
    };
    return guard.plan(
      request,
      { prompt: params.prompt, tools: params.tools, responseFormat: params.responseFormat },
      params.maxOutputTokens,
    );
  };

  return {
    specificationVersion: "v4",

    async wrapGenerate({ doGenerate, params, model }) {
      const started = await guard.start(plan("generate", params, model), (life) =>
        Promise.resolve(doGenerate()).then(
          (result) => {
            settleOrKeep(life, usageOf(result.usage));
            return result;
          },
          (err: unknown) => {
            life.fail(err);
            throw err;
          },
        ),
      );
      return started.value;
    },

    async wrapStream({ doStream, params, model }) {
      const started = await guard.start(plan("stream", params, model), (life) =>
        Promise.resolve(doStream()).then(
          (result) => ({ ...result, stream: observeParts(result.stream, life) }),
          (err: unknown) => {
            life.fail(err);
            throw err;
          },
        ),
      );
      return started.value;
    },
  };
}

/** The AI SDK's usage in the guard's shape; `undefined` when the provider reported none. */
function usageOf(usage: ModelUsage | undefined): TokenUsage | undefined {
  if (!usage) return undefined;
  const input = usage.inputTokens;
  const output = usage.outputTokens;
  const cacheRead = input.cacheRead ?? 0;
  const cacheWrite = input.cacheWrite ?? 0;
  const inputTokens = input.total ?? (input.noCache ?? 0) + cacheRead + cacheWrite;
  const outputTokens = output.total ?? (output.text ?? 0) + (output.reasoning ?? 0);
  if (input.total === undefined && output.total === undefined && !inputTokens && !outputTokens) {
    return undefined;
  }
  return {
    inputTokens,
    cachedInputTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
    outputTokens,
    reasoningTokens: output.reasoning ?? 0,
  };
}

function settleOrKeep(life: CallLife, usage: TokenUsage | undefined): void {
  if (usage) life.settle(usage);
  else life.keepEstimate();
}

/**
 * The stream with its `finish` part watched: settled when it ends, the estimate kept when
 * the caller cancels it first, failed (refunded) when it errors before reporting usage.
 */
function observeParts(
  source: ReadableStream<StreamPart>,
  life: CallLife,
): ReadableStream<StreamPart> {
  const reader = source.getReader();
  let usage: TokenUsage | undefined;
  let error: unknown;
  return new ReadableStream<StreamPart>({
    async pull(controller) {
      let next: Awaited<ReturnType<typeof reader.read>>;
      try {
        next = await reader.read();
      } catch (err) {
        if (usage) life.settle(usage);
        // The caller aborted mid-stream: what was generated is billed, and unknown.
        else if (err instanceof Error && err.name === "AbortError") life.keepEstimate();
        else life.fail(err);
        controller.error(err);
        return;
      }
      if (next.done) {
        if (usage) life.settle(usage);
        else if (error !== undefined) life.fail(error);
        else life.keepEstimate();
        controller.close();
        return;
      }
      const part = next.value;
      if (part.type === "finish") usage = usageOf(part.usage);
      else if (part.type === "error") error = part.error;
      controller.enqueue(part);
    },
    cancel(reason) {
      settleOrKeep(life, usage);
      return reader.cancel(reason);
    },
  });
}
