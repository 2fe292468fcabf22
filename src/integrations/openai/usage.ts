/**
 * OpenAI usage in the guard's shape, and the observers that find it in streams: the last
 * chunk of a Chat Completions stream (`stream_options.include_usage`) and the final
 * `response.*` event of a Responses stream.
 *
 * @module
 */

import type { TokenUsage } from "../llm/pricing.ts";
import type { StreamObserver } from "../llm/stream.ts";

/** Chat Completions `usage` (the fields read). */
interface ChatUsage {
  readonly prompt_tokens?: number;
  readonly completion_tokens?: number;
  readonly prompt_tokens_details?: {
    readonly cached_tokens?: number;
    readonly cache_write_tokens?: number;
  } | null;
  readonly completion_tokens_details?: { readonly reasoning_tokens?: number } | null;
}

/** Responses API `usage` (the fields read). */
interface ResponsesUsage {
  readonly input_tokens?: number;
  readonly output_tokens?: number;
  readonly input_tokens_details?: {
    readonly cached_tokens?: number;
    readonly cache_write_tokens?: number;
    readonly cache_write_tokens_details?: {
      readonly ttl_30m_tokens?: number;
      readonly ttl_12h_tokens?: number;
    } | null;
  } | null;
  readonly output_tokens_details?: { readonly reasoning_tokens?: number } | null;
}

const n = (v: number | null | undefined): number => (typeof v === "number" && v > 0 ? v : 0);

/** Chat Completions usage; `undefined` when the response carries none. */
export function chatUsage(
  usage: ChatUsage | null | undefined,
  serviceTier: string | null | undefined,
): TokenUsage | undefined {
  if (!usage || typeof usage.prompt_tokens !== "number") return undefined;
  return {
    inputTokens: n(usage.prompt_tokens),
    cachedInputTokens: n(usage.prompt_tokens_details?.cached_tokens),
    cacheWriteTokens: n(usage.prompt_tokens_details?.cache_write_tokens),
    outputTokens: n(usage.completion_tokens),
    reasoningTokens: n(usage.completion_tokens_details?.reasoning_tokens),
    serviceTier,
  };
}

/** Responses API usage; `undefined` when the response carries none. */
export function responsesUsage(
  usage: ResponsesUsage | null | undefined,
  serviceTier: string | null | undefined,
): TokenUsage | undefined {
  if (!usage || typeof usage.input_tokens !== "number") return undefined;
  const details = usage.input_tokens_details;
  const ttl = details?.cache_write_tokens_details;
  return {
    inputTokens: n(usage.input_tokens),
    cachedInputTokens: n(details?.cached_tokens),
    cacheWriteTokens: ttl ? n(ttl.ttl_30m_tokens) : n(details?.cache_write_tokens),
    cacheWriteLongTokens: n(ttl?.ttl_12h_tokens),
    outputTokens: n(usage.output_tokens),
    reasoningTokens: n(usage.output_tokens_details?.reasoning_tokens),
    serviceTier,
  };
}

interface ChatChunk {
  readonly choices?: readonly unknown[];
  readonly usage?: ChatUsage | null;
  readonly service_tier?: string | null;
}

/**
 * Finds the usage chunk of a Chat Completions stream. When the guard added
 * `include_usage` (the caller did not ask for it), that chunk — the one with no choices —
 * is kept from the caller, so the stream reads as the caller asked for it.
 */
export function chatStreamObserver(callerAskedForUsage: boolean): StreamObserver<ChatChunk> {
  let usage: TokenUsage | undefined;
  let tier: string | null | undefined;
  return {
    see(chunk) {
      if (chunk.service_tier) tier = chunk.service_tier;
      if (!chunk.usage) return true;
      usage = chatUsage(chunk.usage, tier);
      return callerAskedForUsage || (chunk.choices?.length ?? 0) > 0;
    },
    usage: () => usage,
  };
}

interface ResponsesEvent {
  readonly type?: string;
  readonly response?: {
    readonly usage?: ResponsesUsage | null;
    readonly service_tier?: string | null;
  };
}

const FINAL_EVENTS = new Set(["response.completed", "response.incomplete", "response.failed"]);

/** Finds the usage in the final event of a Responses stream. */
export function responsesStreamObserver(): StreamObserver<ResponsesEvent> {
  let usage: TokenUsage | undefined;
  return {
    see(event) {
      if (event.type && FINAL_EVENTS.has(event.type) && event.response) {
        usage = responsesUsage(event.response.usage, event.response.service_tier) ?? usage;
      }
      return true;
    },
    usage: () => usage,
  };
}
