/**
 * The function a guarded function becomes when called: the Guardian's hot path.
 *
 * @module
 * @internal
 */

import type { ConfirmationBinding, ConfirmationStore } from "../confirm/types.ts";
import type { DecideInput } from "../engine/compile-rule.ts";
import type { Context } from "../kernel/context.ts";
import type { Decision } from "../kernel/decision.ts";
import { isThenable } from "../util/values.ts";
import { bindingOf, confirmWithToken, tokenOf } from "./confirm-call.ts";
import { contextBuilder } from "./context.ts";
import type { CallEffects } from "./effects.ts";
import type { CheckOptions } from "./options.ts";
import { violation } from "./outcomes.ts";
import type { Prepared } from "./sources.ts";

const NO_INPUT: DecideInput = Object.freeze({});

/** What a guarded function's caller needs of its Guardian. */
export interface CallerHost {
  /** Records, warns, settles and refunds for the Guardian's calls. */
  readonly effects: CallEffects;
  /** Whether refusals capture a stack (the `errorStacks` option). */
  readonly errorStacks: boolean;
  /** Never `off`: in that mode guarded functions run without a caller. */
  readonly mode: "enforce" | "monitor";
  /** How long a confirmation store may take. */
  readonly timeoutMs: number;
  /** The Guardian's confirmation store, reporting to its audit log. */
  readonly confirmations: ConfirmationStore | undefined;
  /** A check's own store, made to report to the audit log. */
  audited(store: ConfirmationStore): ConfirmationStore;
  /** The `withContext` context in force, if any. */
  scope(): Context | undefined;
}

/**
 * Builds the per-call function of one guarded function: context, decision, confirmation
 * token, audit record, warnings, then the function itself, with its reservation settled
 * or refunded.
 */
export function makeCaller(
  host: CallerHost,
  prepared: Prepared,
  options: CheckOptions,
  functionName: string | undefined,
  fn: (this: unknown, ...args: unknown[]) => unknown,
): (self: unknown, args: unknown[]) => Promise<unknown> {
  const contextOf = contextBuilder(options, functionName);
  const confirmations = options.confirmations
    ? host.audited(options.confirmations)
    : host.confirmations;
  const { effects, errorStacks, mode } = host;
  const settleWith = options.settle as ((result: unknown) => unknown) | undefined;
  const proceed = (
    decision: Decision,
    ctx: Context,
    self: unknown,
    args: unknown[],
  ): Promise<unknown> => {
    const written = effects.record(decision, ctx, functionName, options.metadata);
    if (written !== undefined) return written.then(() => run(decision, self, args));
    return run(decision, self, args);
  };
  const run = (decision: Decision, self: unknown, args: unknown[]): Promise<unknown> => {
    if (!decision.allowed) {
      if (mode === "enforce") {
        const binding =
          decision.action === "require_confirmation"
            ? () => bindingOf(prepared.policyId, args)
            : undefined;
        return Promise.reject(violation(decision, errorStacks, binding));
      }
      effects.warn(decision, prepared.policyId, functionName, "monitor");
    } else if (decision.action === "warn") {
      effects.warn(decision, prepared.policyId, functionName, "enforce");
    }
    let result: unknown;
    try {
      result = fn.apply(self, args);
    } catch (err) {
      effects.refund(decision);
      return Promise.reject(err);
    }
    const reserved = decision.reservation !== undefined;
    if (isThenable(result)) {
      // Chain only what is needed: most calls reserve nothing and settle nothing.
      if (!reserved) return result instanceof Promise ? result : Promise.resolve(result);
      return Promise.resolve(result).then(
        settleWith
          ? (value: unknown) => {
              effects.settle(decision, settleWith, value);
              return value;
            }
          : undefined,
        (err: unknown) => {
          effects.refund(decision);
          throw err;
        },
      );
    }
    if (settleWith && reserved) effects.settle(decision, settleWith, result);
    return Promise.resolve(result);
  };
  return (self, args) => {
    let ctx: Context;
    let decision: Decision | Promise<Decision>;
    try {
      ctx = contextOf(args, host.scope());
      // The arguments are only read by `parameter:` rules.
      decision = prepared.decide(ctx, prepared.usesArgs ? { args } : NO_INPUT);
    } catch (err) {
      // A context function that throws is the caller's bug: surface it, run nothing.
      return Promise.reject(err);
    }
    // The common case — a synchronous decision that needs no token — allocates no closure.
    if (!isThenable(decision) && (decision.action !== "require_confirmation" || !confirmations)) {
      return proceed(decision, ctx, self, args);
    }
    const confirm = (d: Decision): Decision | Promise<Decision> =>
      confirmable(effects, host.timeoutMs, confirmations, prepared, d, ctx, { args }, () =>
        bindingOf(prepared.policyId, args),
      );
    if (isThenable(decision)) {
      return decision.then(confirm).then((d) => proceed(d, ctx, self, args));
    }
    const final = confirm(decision);
    if (isThenable(final)) return final.then((d) => proceed(d, ctx, self, args));
    return proceed(final, ctx, self, args);
  };
}

/** With a token in the context and a store, a decision asking for confirmation may be met. */
export function confirmable(
  effects: CallEffects,
  timeoutMs: number,
  store: ConfirmationStore | undefined,
  prepared: Prepared,
  decision: Decision,
  ctx: Context,
  input: DecideInput,
  binding: () => ConfirmationBinding | undefined,
): Decision | Promise<Decision> {
  const token = decision.action === "require_confirmation" && store ? tokenOf(ctx) : undefined;
  if (!store || token === undefined) return decision;
  return confirmWithToken(decision, ctx, input, {
    store,
    token,
    binding: binding(),
    decide: prepared.decide,
    refund: (d) => effects.refund(d),
    timeoutMs,
  });
}
