/**
 * Options of `Guardian.decide`: how the decision is recorded, whether it is warned about,
 * and what decides instead of the Guardian's own policies.
 *
 * @module
 */

import type { DecisionRecorder } from "../audit/recorder.ts";
import type { DecisionClient } from "../decision/types.ts";
import type { Context } from "../kernel/context.ts";
import type { Decision } from "../kernel/decision.ts";

/** Tags of an audit record. */
export type RecordMetadata = Readonly<Record<string, unknown>>;

/** How `Guardian.decide` records its decision. */
export interface DecideRecordOptions {
  /** The record's function name (a route, a tool), and `onWarn`'s. */
  readonly functionName?: string | undefined;
  /** The record's user id. Default: the context's `userId`, else its `user_id`. */
  readonly userId?: string | undefined;
  /**
   * Tags for the record, or a function making them once the decision is made and before
   * it is recorded (to tag it with what the decision led to: the id of a confirmation
   * request it asked for, the policies that applied). Called only when the decision is
   * recorded; when it throws or rejects, nothing is recorded and `decide` rejects with
   * its error.
   */
  readonly metadata?:
    | RecordMetadata
    | ((decision: Decision) => RecordMetadata | Promise<RecordMetadata>)
    | undefined;
  /**
   * The context to record, when it is not the context decided (confirmation tokens are
   * left out of either). Default: the decided context, with the `withContext` scope.
   */
  readonly context?: Context | undefined;
  /**
   * Record here instead of the Guardian's audit log (a server's own log). A durable
   * recorder (`durable: true`) is waited for, as the Guardian's own is.
   */
  readonly to?: DecisionRecorder | undefined;
}

/** Options of `Guardian.decide`. */
export interface DecideOptions {
  /**
   * How to record the decision; `false` to not record it. Default: recorded in the
   * Guardian's audit log, without a function name or metadata.
   */
  readonly record?: DecideRecordOptions | false;
  /**
   * Call `onWarn` as a guarded call does: for a `warn` decision, and for a refusal let
   * through by monitor mode.
   * @default true
   */
  readonly warn?: boolean;
  /**
   * Decide with this client instead of the Guardian's own policies (a server's
   * API-defined policies). Its answer is checked and bounded in time like a
   * `decisionClient`'s (confirmation tokens are checked here, never sent to it); a client
   * that throws or does not answer in time refuses (fails closed, whatever the Guardian's
   * `failOpen`); the decision is recorded in `enforce` mode: the Guardian's mode
   * (`monitor`, `off`) and `failOpen` are its own policies' and do not apply to it.
   */
  readonly client?: DecisionClient | undefined;
  /**
   * A dry run: the decision a real call would get — action, reason, matched rules — with
   * no effect at all. Nothing is recorded (whatever `record` says), `onWarn` is not
   * called (whatever `warn` says), rate-limit windows and budgets are read and not moved
   * (the state store's `peek`; the decision carries no reservation to settle or refund),
   * and no confirmation request is created.
   *
   * A `confirmationToken` in the context is checked and not used: the answer says what
   * the token would do (the confirmed decision when it is approved, unexpired, unused and
   * bound to this call; else the refusal naming the check it fails), and the token stays
   * usable for the real call.
   *
   * Whatever decides must be able to answer without effect, or the decision is refused
   * (block, error code `dry_run_unsupported`, whatever `failOpen` says) and nothing moves:
   * a state store without `peek`, or a client with only `checkPolicy` (no `decide` to
   * pass the dry run to). The built-in stores and clients answer dry runs: the memory and
   * Redis stores, `LocalDecisionClient`, `RemoteDecisionClient` (which sends
   * `dry_run: true` and refuses an answer not marked as a dry run), and the stateless API
   * policy and OPA clients (OPA's own decision logs, if it keeps any, are OPA's). A
   * `decisionClient` of your own receives `{ dryRun: true }` as its `input` and must
   * honour it.
   * @default false
   */
  readonly dryRun?: boolean | undefined;
}
