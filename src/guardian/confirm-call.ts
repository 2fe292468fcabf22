/**
 * How a guarded call spends a confirmation token: check it without using it, decide again
 * as confirmed, and only when that decision lets the call run, consume the token (which
 * the store does atomically, so of two racing calls one wins).
 *
 * @module
 */

import { fingerprintCall } from "../confirm/fingerprint.ts";
import { refusal, refusalOf } from "../confirm/refusals.ts";
import type {
  ConfirmationBinding,
  ConfirmationRecord,
  ConfirmationStore,
  ConsumeConfirmationResult,
} from "../confirm/types.ts";
import type { DecideInput } from "../engine/compile-rule.ts";
import type { Context } from "../kernel/context.ts";
import { type Decision, makeDecision } from "../kernel/decision.ts";
import { GuardrailError } from "../kernel/errors.ts";
import { describeValue } from "../util/describe.ts";
import { settleWithin } from "../util/timeout.ts";

/** The confirmation token in a context (`confirmationToken`, or the Python `confirmation_token`). */
export function tokenOf(ctx: Context): string | undefined {
  const t = ctx.confirmationToken ?? ctx.confirmation_token;
  return typeof t === "string" && t !== "" ? t : undefined;
}

/** A context without the confirmation fields, for binding `enforce` calls. */
export function withoutConfirmation(ctx: Context): Context {
  const { confirm: _c, confirmationToken: _t, confirmation_token: _p, ...rest } = ctx;
  return rest;
}

/** The binding of a call, or `undefined` when its arguments cannot be fingerprinted. */
export function bindingOf(
  policyId: string,
  args: readonly unknown[],
): ConfirmationBinding | undefined {
  try {
    return { policyId, fingerprint: fingerprintCall(policyId, args) };
  } catch {
    return undefined;
  }
}

/** Why a stored request cannot confirm this call, or `undefined` when it can. */
function whyRefused(
  record: ConfirmationRecord | undefined,
  binding: ConfirmationBinding,
): string | undefined {
  return record === undefined ? refusal("unknown").message : refusalOf(record, binding)?.message;
}

/** What {@link confirmWithToken} needs from the Guardian. */
export interface TokenContext {
  readonly store: ConfirmationStore;
  readonly token: string;
  readonly binding: ConfirmationBinding | undefined;
  /** Decides again (as confirmed). */
  readonly decide: (ctx: Context, input: DecideInput) => Decision | Promise<Decision>;
  /** Gives back what an admitted decision reserved. */
  readonly refund: (decision: Decision) => void;
  readonly timeoutMs: number;
}

/**
 * A decision that asks for confirmation, given a token: the confirmed decision when the
 * token is approved, unexpired, unused and issued for this policy and these arguments;
 * otherwise the same refusal, saying which check the token failed. Never rejects.
 * In a dry run (`input.dryRun`) the token is checked and the call decided as confirmed
 * (without moving counters), but the token is not used: the answer says it would be.
 */
export async function confirmWithToken(
  decision: Decision,
  ctx: Context,
  input: DecideInput,
  t: TokenContext,
): Promise<Decision> {
  const refused = (why: string): Decision =>
    makeDecision({
      policyId: decision.policyId,
      action: "require_confirmation",
      reason: `${decision.reason}; confirmation token refused: ${why}`,
      matchedRules: decision.matchedRules,
      ruleId: decision.ruleId,
      durationMs: decision.durationMs,
      timestampMs: decision.timestampMs,
    });
  const binding = t.binding;
  if (!binding) return refused("the call's arguments cannot be bound to a token (pass plain data)");
  const storeFailed = (err: unknown) =>
    refused(
      `the confirmation store failed (${err instanceof Error ? err.message : describeValue(err)})`,
    );
  const slow = () => refused(`the confirmation store did not answer within ${t.timeoutMs} ms`);
  const call = <T>(f: () => T | Promise<T>): Promise<{ value: Awaited<T> } | Decision> => {
    try {
      return settleWithin<Awaited<T>, { value: Awaited<T> } | Decision>(
        Promise.resolve(f()),
        t.timeoutMs,
        (value) => ({ value }),
        slow,
        storeFailed,
      );
    } catch (err) {
      return Promise.resolve(storeFailed(err));
    }
  };
  // 1. Check the token without using it up.
  const looked = await call(() => t.store.get(t.token));
  if (!("value" in looked)) return looked;
  const why = whyRefused(looked.value, binding);
  if (why) return refused(why);
  // 2. Decide as confirmed: another rule may still refuse, and then the token stays unused.
  const confirmed = await t.decide({ ...ctx, confirm: true }, input);
  if (!confirmed.allowed) return confirmed;
  // A dry run says what the token would do, and leaves it usable (it reserved nothing).
  if (input.dryRun === true) {
    return makeDecision({
      policyId: confirmed.policyId,
      action: confirmed.action,
      reason: `${confirmed.reason}; dry run: the confirmation token would be used (it was checked, not used)`,
      matchedRules: confirmed.matchedRules,
      ruleId: confirmed.ruleId,
      durationMs: confirmed.durationMs,
      timestampMs: confirmed.timestampMs,
      error: confirmed.error,
      failedOpen: confirmed.failedOpen,
    });
  }
  // 3. Use the token, atomically; a call that lost the race gives its reservation back.
  const used = await call(() => t.store.consume(t.token, binding));
  if (!("value" in used)) {
    t.refund(confirmed);
    return used;
  }
  const r = used.value as ConsumeConfirmationResult | undefined;
  if (r === null || typeof r !== "object" || typeof r.ok !== "boolean") {
    t.refund(confirmed);
    return storeFailed(
      new GuardrailError(`consume answered ${describeValue(r)}`, { code: "store_answer_invalid" }),
    );
  }
  if (!r.ok) {
    t.refund(confirmed);
    return refused(r.message);
  }
  return confirmed;
}
