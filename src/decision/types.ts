/**
 * The `DecisionClient` contract: whatever answers "may this call run?".
 *
 * @module
 */

import type { DecideInput } from "../engine/compile-rule.ts";
import type { Context } from "../kernel/context.ts";
import type { Decision } from "../kernel/decision.ts";

/**
 * The least a custom decision client must return: the contract of the Python SDK's
 * decision service and of OPA responses. `action` defaults to `allow`/`block` by `allowed`.
 */
export interface DecisionLike {
  readonly allowed: boolean;
  readonly reason?: string;
  readonly action?: string;
}

/**
 * Decides whether a call may run. The local client (`LocalDecisionClient`), the OPA client
 * and the remote client implement it; so can your own.
 */
export interface DecisionClient {
  /**
   * Decides for one policy id. May answer synchronously. With `input.dryRun` (a dry run:
   * `guardian.decide(id, ctx, { dryRun: true })`), answer the same decision with no
   * effect — consume no quota, record nothing — or refuse it; a client that keeps no
   * state (OPA, API-defined policies) answers as usual.
   */
  decide(
    policyId: string,
    context: Context,
    input?: DecideInput,
  ): Decision | DecisionLike | Promise<Decision | DecisionLike>;
  /** Whether the client knows a policy id; clients that cannot tell leave it out. */
  hasPolicy?(policyId: string): boolean;
  /** Releases connections and other resources. */
  close?(): void | Promise<void>;
}
