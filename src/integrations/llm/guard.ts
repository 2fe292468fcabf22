/**
 * Reservation and settlement of guarded LLM calls, shared by the provider wrappers.
 *
 * A call is one `guardian.check` of the policy: its context carries the provider, model
 * and estimated tokens, its `cost` is the estimate, and its guarded function lives as long
 * as the provider call — it resolves with the exact cost when the response's usage is
 * known (for a stream, when the stream ends), with nothing when only the estimate can
 * stand (an abandoned stream), and rejects when the call fails (so the Guardian refunds).
 * The caller gets the provider's own value (promise, stream) as soon as it exists.
 *
 * @module
 */

import type { Guardian } from "../../guardian/guardian.ts";
import type { SettledUsage } from "../../guardian/options.ts";
import type { Context } from "../../kernel/context.ts";
import { GuardrailError } from "../../kernel/errors.ts";
import { estimateTokens } from "./estimate.ts";
import {
  costOfUsage,
  Pricing,
  type PricingTable,
  type ResolvedPrice,
  type TokenUsage,
} from "./pricing.ts";

/** One provider request, as the guard sees it before estimating it. */
export interface LlmRequest {
  /** Pricing provider: `openai`, `anthropic`, or the AI SDK provider's name. */
  readonly provider: string;
  /** The SDK method (`chat.completions.create`, `messages.create`, `doStream`, ...). */
  readonly operation: string;
  /** The model id as requested. */
  readonly model: string;
  /** Whether the response streams. */
  readonly stream: boolean;
  /** The request body as the caller gave it. */
  readonly params: Readonly<Record<string, unknown>>;
}

/** What a call is reserved at before it runs. */
export interface LlmEstimate {
  /** Estimated prompt tokens (tokenizer-free unless `estimateInputTokens` is given). */
  readonly inputTokens: number;
  /** The output limit: the request's `max_tokens`-style limit, else the model's maximum. */
  readonly maxOutputTokens: number;
  /** `inputTokens` plus every choice's output limit: the context's `tokens`. */
  readonly tokens: number;
  /** The price of `tokens` for this model, in USD: the context's `cost`. */
  readonly costUsd: number;
}

/** A request with its estimate: what `context` functions and `onSettle` receive. */
export interface LlmCall extends LlmRequest {
  readonly estimate: LlmEstimate;
  /** The pricing-table entry the model matched (`default` for the provider's default price). */
  readonly priceKey: string;
}

/**
 * How a call ended for the budget:
 * - `settled` — the response's usage replaced the estimate;
 * - `estimate` — no usage came (a stream abandoned or aborted before its end), so the
 *   estimate stays counted: the provider bills what it generated before the stop, which
 *   the client cannot know, and the estimate bounds it;
 * - `failed` — the call failed; the Guardian refunds the estimate (unless the rule says
 *   `refund_on_error: false`).
 */
export type LlmOutcome = "settled" | "estimate" | "failed";

/** What `onSettle` is told when a call's cost is final. */
export interface LlmSettlement {
  readonly call: LlmCall;
  readonly outcome: LlmOutcome;
  /** The response's usage (`settled` only). */
  readonly usage?: TokenUsage;
  /** What the call counts against USD budgets now (`settled`: exact; `estimate`: the estimate). */
  readonly costUsd?: number;
  /** What it counts against token budgets now. */
  readonly tokens?: number;
  /** Why it failed (`failed` only). */
  readonly error?: unknown;
}

/** Options every LLM wrapper takes. */
export interface LlmGuardOptions {
  /** The policy (or policies, decided together) every call is checked against. */
  readonly policyId: string | readonly string[];
  /**
   * More context for each call's decision, from the call (`userId`, `feature`, a tenant):
   * laid over the context the wrapper builds (`resource`, `operation`, `model`, `stream`,
   * `inputTokens`, `maxOutputTokens`). `withContext` scopes apply too.
   */
  readonly context?: (call: LlmCall) => Context;
  /**
   * Prices that override or extend the built-in table: a table, or the path of a JSON file
   * holding one (same shape as the built-in `pricing.json`).
   */
  readonly pricing?: PricingTable | string;
  /**
   * Output limit of the estimate when the request sets none and the pricing table knows no
   * maximum for the model.
   * @default 16384
   */
  readonly defaultMaxOutputTokens?: number;
  /** Replaces the tokenizer-free prompt estimate (plug a real tokenizer in here). */
  readonly estimateInputTokens?: (request: LlmRequest) => number;
  /** Called once per call when its cost is final (for metrics, logs and tests). */
  readonly onSettle?: (settlement: LlmSettlement) => void;
  /** Tags for the audit record of every call. */
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/** Usage fields a request fixes before it runs (tier, speed, region): priced into the estimate too. */
export type RequestPricing = Pick<TokenUsage, "serviceTier" | "fast" | "inferenceGeo">;

const DEFAULT_MAX_OUTPUT_TOKENS = 16_384;

/** A planned call: the first argument of the guarded function (a class, so no `userId` is read from it). */
export class CallPlan implements LlmCall {
  readonly provider: string;
  readonly operation: string;
  readonly model: string;
  readonly stream: boolean;
  readonly params: Readonly<Record<string, unknown>>;
  readonly estimate: LlmEstimate;
  readonly priceKey: string;
  readonly resolved: ResolvedPrice;
  /** The decision context (built once, read by the Guardian's context function). */
  context: Context;

  constructor(request: LlmRequest, estimate: LlmEstimate, resolved: ResolvedPrice) {
    this.provider = request.provider;
    this.operation = request.operation;
    this.model = request.model;
    this.stream = request.stream;
    this.params = request.params;
    this.estimate = estimate;
    this.resolved = resolved;
    this.priceKey = resolved.modelKey;
    this.context = {
      resource: request.provider,
      operation: request.operation,
      model: request.model,
      stream: request.stream,
      inputTokens: estimate.inputTokens,
      maxOutputTokens: estimate.maxOutputTokens,
    };
  }
}

/** The end of one call's life: exactly one of settle, keep the estimate, fail. */
export class CallLife {
  readonly #plan: CallPlan;
  readonly #resolve: (spent: SettledUsage) => void;
  readonly #reject: (error: unknown) => void;
  readonly #onSettle: ((s: LlmSettlement) => void) | undefined;
  #done = false;

  constructor(
    plan: CallPlan,
    resolve: (spent: SettledUsage) => void,
    reject: (error: unknown) => void,
    onSettle: ((s: LlmSettlement) => void) | undefined,
  ) {
    this.#plan = plan;
    this.#resolve = resolve;
    this.#reject = reject;
    this.#onSettle = onSettle;
  }

  /** Whether the call's cost is final. */
  get done(): boolean {
    return this.#done;
  }

  /** Settles the reservation at the exact cost of `usage`. */
  settle(usage: TokenUsage): void {
    if (this.#done) return;
    this.#done = true;
    const costUsd = costOfUsage(this.#plan.resolved, usage);
    const tokens = usage.inputTokens + usage.outputTokens;
    this.#resolve({ costUsd, tokens });
    this.#report({ call: this.#plan, outcome: "settled", usage, costUsd, tokens });
  }

  /** Leaves the estimate counted (no usage is known). */
  keepEstimate(): void {
    if (this.#done) return;
    this.#done = true;
    this.#resolve(undefined);
    const { costUsd, tokens } = this.#plan.estimate;
    this.#report({ call: this.#plan, outcome: "estimate", costUsd, tokens });
  }

  /** The call failed: the Guardian refunds the reservation. */
  fail(error: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#reject(error);
    this.#report({ call: this.#plan, outcome: "failed", error });
  }

  #report(settlement: LlmSettlement): void {
    const onSettle = this.#onSettle;
    if (!onSettle) return;
    try {
      onSettle(settlement);
    } catch (err) {
      // A reporting hook must not break the call it reports on.
      process.emitWarning(
        `hexarch-guardrails: onSettle threw: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
}

/** A launched call: the provider's value, and the life that settles it. */
export interface Started<T> {
  readonly value: T;
  readonly life: CallLife;
}

interface Launcher {
  begin(life: CallLife): void;
}

type Run = (plan: CallPlan, launcher: Launcher) => Promise<SettledUsage>;

/**
 * The guard of one wrapped client (or one middleware): the prepared checks, the prices,
 * and the estimate of each request.
 */
export class LlmGuard {
  readonly pricing: Pricing;
  readonly #options: LlmGuardOptions;
  readonly #runs = new Map<string, Run>();
  readonly #userContext: ((call: LlmCall) => Context) | undefined;

  /**
   * @param label prefix of the audit log's function name (`openai` gives `openai.chat.completions.create`).
   * @param operations the operations this guard runs; each gets its own prepared check.
   * @throws UnknownPolicyError when the policy is not loaded (now, not at call time).
   */
  constructor(
    guardian: Guardian,
    options: LlmGuardOptions,
    label: string,
    operations: readonly string[],
  ) {
    this.#options = options;
    this.pricing = new Pricing(options.pricing);
    this.#userContext = options.context;
    const onSettle = options.onSettle;
    for (const operation of operations) {
      const run = guardian.check(options.policyId, {
        name: `${label}.${operation}`,
        context: (plan: CallPlan) => plan.context,
        cost: (plan: CallPlan) => plan.estimate.costUsd,
        tokens: (plan: CallPlan) => plan.estimate.tokens,
        settle: (spent: SettledUsage) => spent,
        ...(options.metadata !== undefined && { metadata: options.metadata }),
      })(function guardedLlmCall(plan: CallPlan, launcher: Launcher): Promise<SettledUsage> {
        // Lives as long as the provider call: resolved or rejected by its CallLife.
        return new Promise<SettledUsage>((resolve, reject) => {
          launcher.begin(new CallLife(plan, resolve, reject, onSettle));
        });
      });
      this.#runs.set(operation, run);
    }
  }

  /**
   * Prices and estimates a request.
   *
   * @param content the parts of the body that become prompt tokens.
   * @param maxOutputTokens the request's output limit, if any.
   * @param choices how many completions the request asks for (`n`).
   * @throws UnpricedModelError when the model has no price.
   */
  plan(
    request: LlmRequest,
    content: unknown,
    maxOutputTokens: number | undefined,
    choices = 1,
    pricing: RequestPricing = {},
  ): CallPlan {
    const resolved = this.pricing.lookup(request.provider, request.model);
    const inputTokens =
      this.#options.estimateInputTokens?.(request) ??
      estimateTokens(content, resolved.charsPerToken);
    const maxOut =
      maxOutputTokens ??
      resolved.price.maxOutputTokens ??
      this.#options.defaultMaxOutputTokens ??
      DEFAULT_MAX_OUTPUT_TOKENS;
    const outputTokens = maxOut * Math.max(1, choices);
    const costUsd = costOfUsage(resolved, { inputTokens, outputTokens, ...pricing });
    const plan = new CallPlan(
      request,
      { inputTokens, maxOutputTokens: maxOut, tokens: inputTokens + outputTokens, costUsd },
      resolved,
    );
    const user = this.#userContext;
    if (user) plan.context = { ...plan.context, ...user(plan) };
    return plan;
  }

  /**
   * Decides the call and, when it may run, launches it: `launch` gets the call's life and
   * returns the provider's value, which the answer carries. Rejects with the Guardian's
   * `PolicyViolation` (or whatever `launch` threw) when the call did not start.
   */
  start<T>(plan: CallPlan, launch: (life: CallLife) => T): Promise<Started<T>> {
    const run = this.#runs.get(plan.operation);
    if (!run)
      return Promise.reject(
        new GuardrailError(`no guarded operation ${plan.operation}`, { code: "internal_misuse" }),
      );
    return new Promise<Started<T>>((resolve, reject) => {
      let started = false;
      run(plan, {
        begin(life) {
          let value: T;
          try {
            value = launch(life);
          } catch (err) {
            life.fail(err);
            throw err;
          }
          started = true;
          resolve({ value, life });
        },
      }).then(undefined, (err: unknown) => {
        // After the start, a rejection is the call's failure: the Guardian refunds, the
        // caller sees the error through the provider's own value.
        if (!started) reject(err);
      });
    });
  }
}
