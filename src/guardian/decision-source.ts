/**
 * Turns whatever decides — the local engine, a `DecisionClient`, or an object with the
 * Python SDK's `checkPolicy(policyId, context)` — into one shape the Guardian calls, and
 * turns every failure of it (a throw, a rejection, a timeout, a malformed answer) into a
 * decision made by the fail-open/fail-closed setting. Nothing here throws on the call path.
 *
 * @module
 */

import type { DecisionClient, DecisionLike } from "../decision/types.ts";
import type { DecideInput } from "../engine/compile-rule.ts";
import { type Context, withoutToken } from "../kernel/context.ts";
import { type Decision, type DecisionAction, makeDecision } from "../kernel/decision.ts";
import { DecisionBackendError, GuardrailError } from "../kernel/errors.ts";
import { describeValue } from "../util/describe.ts";
import { settleWithin } from "../util/timeout.ts";
import { isThenable } from "../util/values.ts";

/** The Python SDK's custom decision service: `checkPolicy(policyId, context)`. */
export interface PolicyServiceClient {
  checkPolicy(policyId: string, context: Context): DecisionLike | Promise<DecisionLike>;
  close?(): void | Promise<void>;
}

/** Decides one prepared policy. */
export type PreparedDecide = (ctx: Context, input: DecideInput) => Decision | Promise<Decision>;

function isDecision(v: unknown): v is Decision {
  return (
    v !== null &&
    typeof v === "object" &&
    typeof (v as Decision).decisionId === "string" &&
    Array.isArray((v as Decision).matchedRules)
  );
}

/** Maps `{allowed, reason, action}` onto a decision. */
export function toDecision(
  policyId: string,
  answer: DecisionLike,
  startedMs: number,
  clock: () => number,
): Decision {
  const allowed = answer.allowed;
  const action: DecisionAction = allowed
    ? answer.action === "warn"
      ? "warn"
      : "allow"
    : answer.action === "require_confirmation"
      ? "require_confirmation"
      : "block";
  return makeDecision({
    policyId,
    action,
    reason:
      typeof answer.reason === "string" && answer.reason
        ? answer.reason
        : `Policy '${policyId}' ${allowed ? "allowed" : "blocked"} the call (decision client gave no reason)`,
    matchedRules: [],
    durationMs: performance.now() - startedMs,
    timestampMs: clock(),
  });
}

/** A decision made because the backend failed. */
export function failureDecision(
  policyId: string,
  cause: unknown,
  failOpen: boolean,
  startedMs: number,
  clock: () => number,
): Decision {
  const message = cause instanceof Error ? cause.message : describeValue(cause);
  return makeDecision({
    policyId,
    action: failOpen ? "allow" : "block",
    reason: `Policy '${policyId}' ${failOpen ? "allowed" : "blocked"} the call: the decision backend failed, failing ${failOpen ? "open" : "closed"} (${message})`,
    matchedRules: [],
    durationMs: performance.now() - startedMs,
    timestampMs: clock(),
    error:
      cause instanceof DecisionBackendError
        ? cause
        : new DecisionBackendError(`decision backend failed: ${message}`, { cause }),
    failedOpen: failOpen,
  });
}

/**
 * A dry run a client cannot answer (it has only `checkPolicy`): refused, whatever
 * `failOpen` says, without asking it.
 */
function dryRunRefused(policyId: string, startedMs: number, clock: () => number): Decision {
  const message =
    "the decision client cannot answer a dry run (it has checkPolicy but no decide to pass it to); it was not asked";
  return makeDecision({
    policyId,
    action: "block",
    reason: `Policy '${policyId}' blocked the call: ${message}`,
    matchedRules: [],
    durationMs: performance.now() - startedMs,
    timestampMs: clock(),
    error: new GuardrailError(message, { code: "dry_run_unsupported" }),
    failedOpen: false,
  });
}

/** Options of {@link remoteDecide}. */
export interface RemoteDecideOptions {
  readonly failOpen: boolean;
  /** Give up on an answer after this long. */
  readonly timeoutMs: number;
  readonly clock: () => number;
}

/**
 * Wraps a custom client's decide/checkPolicy for one policy id with a timeout and
 * failure handling.
 */
export function remoteDecide(
  client: DecisionClient | PolicyServiceClient,
  policyId: string,
  options: RemoteDecideOptions,
): PreparedDecide {
  // Confirmation tokens are secrets: they are checked here, never sent to a remote decider.
  const hasDecide = "decide" in client && typeof client.decide === "function";
  const ask = hasDecide
    ? (ctx: Context, input: DecideInput) =>
        (client as DecisionClient).decide(policyId, withoutToken(ctx), input)
    : (ctx: Context) => (client as PolicyServiceClient).checkPolicy(policyId, withoutToken(ctx));
  const settle = (answer: unknown, started: number): Decision => {
    try {
      if (isDecision(answer)) return answer;
      if (
        answer === null ||
        typeof answer !== "object" ||
        typeof (answer as DecisionLike).allowed !== "boolean"
      ) {
        throw new DecisionBackendError(
          `decision client answered ${describeValue(answer)}, not {allowed, reason, action}`,
        );
      }
      return toDecision(policyId, answer as DecisionLike, started, options.clock);
    } catch (err) {
      return failureDecision(policyId, err, options.failOpen, started, options.clock);
    }
  };
  return (ctx, input) => {
    const started = performance.now();
    // `checkPolicy` cannot be told it is a dry run: asking it might consume or record.
    if (!hasDecide && input?.dryRun === true)
      return dryRunRefused(policyId, started, options.clock);
    let answer: Decision | DecisionLike | Promise<Decision | DecisionLike>;
    try {
      answer = ask(ctx, input);
    } catch (err) {
      return failureDecision(policyId, err, options.failOpen, started, options.clock);
    }
    if (!isThenable(answer)) return settle(answer, started);
    return settleWithin(
      answer,
      options.timeoutMs,
      (a) => settle(a, started),
      () =>
        failureDecision(
          policyId,
          new DecisionBackendError(`decision client did not answer within ${options.timeoutMs} ms`),
          options.failOpen,
          started,
          options.clock,
        ),
      (err) => failureDecision(policyId, err, options.failOpen, started, options.clock),
    );
  };
}
