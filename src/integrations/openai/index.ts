/**
 * `hexarch-guardrails/integrations/openai`: the official `openai` SDK under a policy.
 *
 * `guardOpenAI(client, guardian, { policyId })` returns a client of the same type whose
 * `chat.completions.create` and `responses.create` (streaming included, and every helper
 * built on them: `parse`, `stream`, `runTools`) reserve the call's estimated cost before
 * the request is sent and settle it from the response's `usage` afterwards.
 *
 * @module hexarch-guardrails/integrations/openai
 */

import type { OpenAI } from "openai";
import type { Guardian } from "../../guardian/guardian.ts";
import { type ApiPromiseLike, DeferredRequest } from "../llm/deferred.ts";
import { type CallLife, type CallPlan, LlmGuard, type LlmGuardOptions } from "../llm/guard.ts";
import { guardClient, type MethodHandler } from "../llm/proxy.ts";
import { observeStream, type SdkStream } from "../llm/stream.ts";
import { GuardedAPIPromise } from "./api-promise.ts";
import { chatStreamObserver, chatUsage, responsesStreamObserver, responsesUsage } from "./usage.ts";

export * from "../llm/public.ts";

/**
 * Options of {@link guardOpenAI}.
 *
 * @example
 * ```ts
 * const options: GuardOpenAIOptions = {
 *   policyId: "api_budget",
 *   context: (call) => ({ userId: currentUser(), feature: "summaries" }),
 *   pricing: { openai: { models: { "ft:gpt-6-luna:acme": { inputUsdPerMTok: 0.3, outputUsdPerMTok: 1.2 } } } },
 * };
 * ```
 */
export interface GuardOpenAIOptions extends LlmGuardOptions {
  /**
   * The pricing provider the calls are counted under (and the context's `resource`). An
   * OpenAI-compatible server of another vendor can be priced under its own name.
   * @default "openai"
   */
  readonly provider?: string;
}

type Body = Readonly<Record<string, unknown>> & {
  readonly model?: unknown;
  readonly stream?: unknown;
};

const num = (v: unknown): number | undefined => (typeof v === "number" ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/**
 * Guards an OpenAI client with a policy: returns a client of the same type whose
 * generation calls are decided before they are sent. A refused call throws the Guardian's
 * `PolicyViolation` (or `ConfirmationRequired`) and sends nothing.
 *
 * - Before: the estimate — prompt tokens from a tokenizer-free estimate of the input, plus
 *   the request's `max_completion_tokens` / `max_tokens` / `max_output_tokens` (times `n`),
 *   else the model's maximum — priced by model, is reserved. The decision's context has
 *   `resource: "openai"`, `operation`, `model`, `tokens` and `cost`, so `model:`,
 *   `max_tokens_per_request` and USD or token budgets apply.
 * - After: the reservation is settled at the exact cost of the response's `usage` (input,
 *   cached input, cache writes, output with reasoning, by the service tier that ran it).
 *   A stream settles when it ends; one the caller abandons or aborts keeps its estimate;
 *   a failed call is refunded.
 * - Streams: Chat Completions streams need `stream_options.include_usage`; the guard adds
 *   it when the caller did not, and then keeps the extra usage-only chunk from the caller.
 *
 * Other methods (embeddings, images, files, ...) are the SDK's own, unguarded.
 *
 * @example
 * ```ts
 * import OpenAI from "openai";
 * import { Guardian } from "hexarch-guardrails";
 * import { guardOpenAI } from "hexarch-guardrails/integrations/openai";
 *
 * const openai = guardOpenAI(new OpenAI(), new Guardian(), { policyId: "api_budget" });
 * const res = await openai.responses.create({ model: "gpt-6.2-sol", input: "Hi", max_output_tokens: 200 });
 * ```
 * @throws UnknownPolicyError when the policy is not loaded (at once).
 * @throws GuardrailError when the `pricing` file or table is invalid (at once).
 */
export function guardOpenAI<C extends OpenAI>(
  client: C,
  guardian: Guardian,
  options: GuardOpenAIOptions,
): C {
  const provider = options.provider ?? "openai";
  const guard = new LlmGuard(guardian, options, provider, [
    "chat.completions.create",
    "responses.create",
  ]);

  const launch = (
    plan: CallPlan,
    run: (life: CallLife) => ApiPromiseLike<unknown>,
  ): GuardedAPIPromise<unknown> => {
    const started = guard.start(plan, run);
    return new GuardedAPIPromise(client, new DeferredRequest(started));
  };
  const failed = (err: unknown) =>
    new GuardedAPIPromise<unknown>(client, DeferredRequest.failed(err));

  const chat: MethodHandler = (resource, original, args) => {
    const [body, requestOptions] = args as [Body, unknown];
    let plan: CallPlan;
    try {
      plan = guard.plan(
        request(provider, "chat.completions.create", body),
        {
          messages: body.messages,
          tools: body.tools,
          functions: body.functions,
          response_format: body.response_format,
          prediction: body.prediction,
        },
        num(body.max_completion_tokens) ?? num(body.max_tokens),
        num(body.n) ?? 1,
        { serviceTier: str(body.service_tier) },
      );
    } catch (err) {
      return failed(err);
    }
    const streamOptions = body.stream_options as { include_usage?: unknown } | null | undefined;
    const askedForUsage = streamOptions?.include_usage === true;
    const sent =
      plan.stream && !askedForUsage
        ? { ...body, stream_options: { ...streamOptions, include_usage: true } }
        : body;
    return launch(plan, (life) =>
      (original.call(resource, sent, requestOptions) as ApiPromiseLike<unknown>)._thenUnwrap(
        (data) => {
          if (plan.stream) {
            return observeStream(
              data as SdkStream<never>,
              chatStreamObserver(askedForUsage),
              life,
              client,
            );
          }
          const completion = data as { usage?: never; service_tier?: string | null };
          settleOrKeep(life, chatUsage(completion.usage, completion.service_tier));
          return data;
        },
      ),
    );
  };

  const responses: MethodHandler = (resource, original, args) => {
    const [body, requestOptions] = args as [Body, unknown];
    let plan: CallPlan;
    try {
      plan = guard.plan(
        request(provider, "responses.create", body),
        {
          input: body.input,
          instructions: body.instructions,
          tools: body.tools,
          text: body.text,
          prompt: body.prompt,
        },
        num(body.max_output_tokens),
        1,
        { serviceTier: str(body.service_tier) },
      );
    } catch (err) {
      return failed(err);
    }
    return launch(plan, (life) =>
      (original.call(resource, body, requestOptions) as ApiPromiseLike<unknown>)._thenUnwrap(
        (data) => {
          if (plan.stream) {
            return observeStream(data as SdkStream<never>, responsesStreamObserver(), life, client);
          }
          const response = data as { usage?: never; service_tier?: string | null };
          settleOrKeep(life, responsesUsage(response.usage, response.service_tier));
          return data;
        },
      ),
    );
  };

  return guardClient(client, {
    "chat.completions.create": chat,
    "responses.create": responses,
  });
}

function request(provider: string, operation: string, body: Body) {
  return {
    provider,
    operation,
    model: typeof body.model === "string" ? body.model : "",
    stream: body.stream === true,
    params: body,
  };
}

function settleOrKeep(life: CallLife, usage: ReturnType<typeof chatUsage>): void {
  if (usage) life.settle(usage);
  else life.keepEstimate();
}
