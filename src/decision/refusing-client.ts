/**
 * A decision client that refuses: for refusals made before any policy is asked (an API
 * key that is revoked or lacks a scope), so they are decided and recorded by the same
 * path as every other decision.
 *
 * @module
 */

import type { Context } from "../kernel/context.ts";
import { type Decision, makeDecision } from "../kernel/decision.ts";
import type { DecisionClient } from "./types.ts";

/** A {@link DecisionClient} refusing every call, synchronously. */
export interface RefusingClient extends DecisionClient {
  /** A `block` decision for `policyId`, with the client's reason and rule. */
  decide(policyId: string, context: Context): Decision;
}

/**
 * A client that blocks every call with `reason`, naming `ruleId` as the rule that decided.
 *
 * @example
 * ```ts
 * await guardian.decide("hexarch:api-key", { route }, {
 *   client: refusingClient("API key 'k1' is revoked", "revoked_key"),
 * });
 * ```
 */
export function refusingClient(
  reason: string,
  ruleId: string,
  clock: () => number = Date.now,
): RefusingClient {
  return {
    decide: (policyId) =>
      makeDecision({
        action: "block",
        policyId,
        reason,
        matchedRules: [ruleId],
        durationMs: 0,
        timestampMs: clock(),
      }),
  };
}
