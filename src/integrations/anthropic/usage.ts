/**
 * Anthropic usage in the guard's shape, and the observer that finds it in a Messages
 * stream: `message_start` carries the input side, `message_delta` the final counts.
 *
 * @module
 */

import type { TokenUsage } from "../llm/pricing.ts";
import type { StreamObserver } from "../llm/stream.ts";

/** Messages API `usage` (the fields read; a `message_delta` carries a subset). */
export interface AnthropicUsage {
  readonly input_tokens?: number | null;
  readonly cache_creation_input_tokens?: number | null;
  readonly cache_read_input_tokens?: number | null;
  readonly cache_creation?: {
    readonly ephemeral_5m_input_tokens?: number | null;
    readonly ephemeral_1h_input_tokens?: number | null;
  } | null;
  readonly output_tokens?: number | null;
  readonly output_tokens_details?: { readonly thinking_tokens?: number | null } | null;
  readonly speed?: string | null;
  readonly inference_geo?: string | null;
}

const n = (v: number | null | undefined): number => (typeof v === "number" && v > 0 ? v : 0);

/** Messages API usage; `undefined` when there is none. */
export function anthropicUsage(u: AnthropicUsage | null | undefined): TokenUsage | undefined {
  if (!u || typeof u.output_tokens !== "number") return undefined;
  const read = n(u.cache_read_input_tokens);
  const created = n(u.cache_creation_input_tokens);
  const long = Math.min(created, n(u.cache_creation?.ephemeral_1h_input_tokens));
  return {
    // Anthropic's input_tokens leaves out the cache; the guard counts every prompt token.
    inputTokens: n(u.input_tokens) + read + created,
    cachedInputTokens: read,
    cacheWriteTokens: created - long,
    cacheWriteLongTokens: long,
    outputTokens: n(u.output_tokens),
    reasoningTokens: n(u.output_tokens_details?.thinking_tokens),
    fast: u.speed === "fast",
    inferenceGeo: u.inference_geo,
  };
}

/** `start` with the non-null fields of a `message_delta`'s cumulative usage laid over it. */
function merge(start: AnthropicUsage | undefined, delta: AnthropicUsage): AnthropicUsage {
  const out: Record<string, unknown> = { ...start };
  for (const [k, v] of Object.entries(delta)) if (v !== null && v !== undefined) out[k] = v;
  return out as AnthropicUsage;
}

interface StreamEvent {
  readonly type?: string;
  readonly message?: { readonly usage?: AnthropicUsage | null };
  readonly usage?: AnthropicUsage | null;
}

/** Finds the usage of a Messages stream: final once `message_delta` has come. */
export function messageStreamObserver(): StreamObserver<StreamEvent> {
  let start: AnthropicUsage | undefined;
  let final: AnthropicUsage | undefined;
  return {
    see(event) {
      if (event.type === "message_start" && event.message?.usage) start = event.message.usage;
      else if (event.type === "message_delta" && event.usage) final = merge(start, event.usage);
      return true;
    },
    usage: () => (final ? anthropicUsage(final) : undefined),
  };
}
