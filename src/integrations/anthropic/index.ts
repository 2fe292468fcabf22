/**
 * `hexarch-guardrails/integrations/anthropic`: the official `@anthropic-ai/sdk` under a
 * policy.
 *
 * `guardAnthropic(client, guardian, { policyId })` returns a client of the same type whose
 * `messages.create` and `beta.messages.create` (streaming included, and every helper built
 * on them: `messages.stream()` with `finalMessage()`, `parse()`, tool runners) reserve the
 * call's estimated cost before the request is sent and settle it from the response's
 * `usage` afterwards.
 *
 * @module hexarch-guardrails/integrations/anthropic
 */

import type { BaseAnthropic } from "@anthropic-ai/sdk";
import type { Guardian } from "../../guardian/guardian.ts";
import { type ApiPromiseLike, DeferredRequest } from "../llm/deferred.ts";
import {
  type CallLife,
  type CallPlan,
  LlmGuard,
  type LlmGuardOptions,
  type LlmRequest,
} from "../llm/guard.ts";
import { guardClient, type MethodHandler } from "../llm/proxy.ts";
import { observeStream, type SdkStream } from "../llm/stream.ts";
import { GuardedAPIPromise } from "./api-promise.ts";
import { type AnthropicUsage, anthropicUsage, messageStreamObserver } from "./usage.ts";

export * from "../llm/public.ts";

/**
 * Options of {@link guardAnthropic}.
 *
 * @example
 * ```ts
 * const options: GuardAnthropicOptions = {
 *   policyId: ["api_budget", "rate_limit"],
 *   context: (call) => ({ userId: currentUser() }),
 * };
 * ```
 */
export interface GuardAnthropicOptions extends LlmGuardOptions {
  /**
   * The pricing provider the calls are counted under (and the context's `resource`): a
   * client for Bedrock or Vertex can be priced under its own name with its own `pricing`.
   * @default "anthropic"
   */
  readonly provider?: string;
}

type Params = Readonly<Record<string, unknown>> & { readonly model?: unknown };

/**
 * Guards an Anthropic client with a policy: returns a client of the same type whose
 * message calls are decided before they are sent. A refused call throws the Guardian's
 * `PolicyViolation` (or `ConfirmationRequired`) and sends nothing.
 *
 * - Before: the estimate — prompt tokens from a tokenizer-free estimate of `system`,
 *   `messages` and `tools`, plus `max_tokens` — priced by model (fast mode and
 *   `inference_geo` included), is reserved. The decision's context has
 *   `resource: "anthropic"`, `operation`, `model`, `tokens` and `cost`.
 * - After: the reservation is settled at the exact cost of the response's `usage` (input,
 *   cache reads, 5-minute and 1-hour cache writes, output with thinking). A stream settles
 *   when its `message_delta` has reported the final counts; one the caller abandons
 *   before that keeps its estimate; a failed call is refunded.
 *
 * `countTokens` (free) and the Batches API are the SDK's own, unguarded.
 *
 * @example
 * ```ts
 * import Anthropic from "@anthropic-ai/sdk";
 * import { guardAnthropic } from "hexarch-guardrails/integrations/anthropic";
 *
 * const claude = guardAnthropic(new Anthropic(), guardian, { policyId: "api_budget" });
 * const stream = claude.messages.stream({ model: "claude-sonnet-5-5", max_tokens: 1024, messages });
 * const message = await stream.finalMessage();
 * ```
 * @throws UnknownPolicyError when the policy is not loaded (at once).
 * @throws GuardrailError when the `pricing` file or table is invalid (at once).
 */
export function guardAnthropic<C extends BaseAnthropic>(
  client: C,
  guardian: Guardian,
  options: GuardAnthropicOptions,
): C {
  const provider = options.provider ?? "anthropic";
  const guard = new LlmGuard(guardian, options, provider, [
    "messages.create",
    "beta.messages.create",
  ]);

  const handler =
    (operation: string): MethodHandler =>
    (resource, original, args) => {
      const [params, requestOptions] = args as [Params, unknown];
      let plan: CallPlan;
      try {
        plan = guard.plan(
          request(provider, operation, params),
          { system: params.system, messages: params.messages, tools: params.tools },
          typeof params.max_tokens === "number" ? params.max_tokens : undefined,
          1,
          {
            fast: params.speed === "fast",
            inferenceGeo:
              typeof params.inference_geo === "string" ? params.inference_geo : undefined,
          },
        );
      } catch (err) {
        return new GuardedAPIPromise(client, DeferredRequest.failed(err));
      }
      const started = guard.start(plan, (life) =>
        (original.call(resource, params, requestOptions) as ApiPromiseLike<unknown>)._thenUnwrap(
          (data) => settle(plan, life, data, client),
        ),
      );
      return new GuardedAPIPromise(client, new DeferredRequest(started));
    };

  return guardClient(client, {
    "messages.create": handler("messages.create"),
    "beta.messages.create": handler("beta.messages.create"),
  });
}

function request(provider: string, operation: string, params: Params): LlmRequest {
  return {
    provider,
    operation,
    model: typeof params.model === "string" ? params.model : "",
    stream: params.stream === true,
    params,
  };
}

/** Settles a message at its usage, or wraps a stream to settle when it ends. */
function settle(plan: CallPlan, life: CallLife, data: unknown, client: BaseAnthropic): unknown {
  if (plan.stream) {
    return observeStream(data as SdkStream<never>, messageStreamObserver(), life, client);
  }
  const usage = anthropicUsage((data as { usage?: AnthropicUsage }).usage);
  if (usage) life.settle(usage);
  else life.keepEstimate();
  return data;
}
