/**
 * What happens around a decision besides the decision itself: recording it, warning,
 * settling and refunding budgets, and reporting failures of any of these without ever
 * letting them reach the guarded call or crash the host process.
 *
 * @module
 */

import type { DecisionEntry, DecisionRecorder } from "../audit/recorder.ts";
import { truncatedContext } from "../audit/records.ts";
import type { LocalDecisionClient } from "../decision/local-decision-client.ts";
import { type Context, withoutToken } from "../kernel/context.ts";
import type { Decision } from "../kernel/decision.ts";
import { GuardrailError } from "../kernel/errors.ts";
import { describeValue } from "../util/describe.ts";
import { isThenable } from "../util/values.ts";
import { oversizedContextBytes } from "./context-size.ts";
import type { CallInfo, CheckOptions, GuardianMode } from "./options.ts";

/** Options of {@link CallEffects}. */
export interface CallEffectsOptions {
  readonly audit: DecisionRecorder | undefined;
  readonly onWarn: (decision: Decision, call: CallInfo) => void;
  readonly onError: ((error: Error) => void) | undefined;
  readonly local: LocalDecisionClient | undefined;
  readonly mode: GuardianMode;
}

/** The side effects of guarded calls, for one Guardian. */
export class CallEffects {
  readonly #audit: DecisionRecorder | undefined;
  readonly #onWarn: (decision: Decision, call: CallInfo) => void;
  readonly #onError: (error: Error) => void;
  readonly #local: LocalDecisionClient | undefined;
  readonly #mode: GuardianMode;
  readonly #reported = new Set<string>();

  constructor(options: CallEffectsOptions) {
    this.#audit = options.audit;
    this.#onWarn = options.onWarn;
    this.#onError = options.onError ?? ((err) => this.reportOnce(err));
    this.#local = options.local;
    this.#mode = options.mode;
  }

  /** Closes the audit sink; resolves to what its `close()` said (a `DecisionLogger`: how many records it could not write). */
  async close(): Promise<unknown> {
    return this.#audit?.close?.();
  }

  record(
    decision: Decision,
    context: Context,
    functionName: string | undefined,
    metadata: CheckOptions["metadata"],
  ): undefined | Promise<void> {
    const audit = this.#audit;
    if (!audit) return undefined;
    // A context refused for its size is stored as a marker of that size, never itself (an
    // overlong user id is cut by the record itself, as every indexed text column is).
    const oversized = oversizedContextBytes(decision);
    const entry: DecisionEntry = {
      decision,
      functionName,
      userId:
        typeof context.userId === "string"
          ? context.userId
          : typeof context.user_id === "string"
            ? context.user_id
            : undefined,
      context: oversized === undefined ? withoutToken(context) : truncatedContext(oversized),
      metadata,
      mode: !decision.allowed && this.#mode === "monitor" ? "monitor" : "enforce",
    };
    if (audit.durable === true) {
      // Durable: the call waits for the record, and does not run without it.
      try {
        return Promise.resolve(audit.record(entry)).then(undefined, (err: unknown) => {
          throw new GuardrailError(
            `the decision could not be written to the audit log, so the call did not run (durable mode): ${err instanceof Error ? err.message : describeValue(err)}`,
            { cause: err },
          );
        });
      } catch (err) {
        return Promise.reject(err);
      }
    }
    try {
      const r = audit.record(entry);
      if (isThenable(r)) r.then(undefined, (err: unknown) => this.fail("audit", err));
    } catch (err) {
      this.fail("audit", err);
    }
    return undefined;
  }

  warn(
    decision: Decision,
    policyId: string,
    functionName: string | undefined,
    mode: "enforce" | "monitor",
  ): void {
    try {
      // An async handler's rejection is caught too: hooks never crash the host.
      const r: unknown = this.#onWarn(decision, { policyId, functionName, mode });
      if (isThenable(r)) r.then(undefined, (err: unknown) => this.fail("onWarn", err));
    } catch (err) {
      this.fail("onWarn", err);
    }
  }

  settle(decision: Decision, settle: (result: unknown) => unknown, value: unknown): void {
    const local = this.#local;
    if (!local || !decision.reservation) return;
    const apply = (real: unknown): void => {
      const usage =
        typeof real === "number"
          ? { costUsd: real }
          : real !== null && typeof real === "object"
            ? (real as { costUsd?: number; tokens?: number })
            : undefined;
      if (!usage) return;
      const r = local.settle(decision, usage);
      if (isThenable(r)) r.then(undefined, (err: unknown) => this.fail("settle", err));
    };
    try {
      const real = settle(value);
      // A settle function may be async (it may look the price up); its answer counts when it comes.
      if (isThenable(real)) {
        real.then(
          (v) => {
            try {
              apply(v);
            } catch (err) {
              this.fail("settle", err);
            }
          },
          (err: unknown) => this.fail("settle", err),
        );
      } else {
        apply(real);
      }
    } catch (err) {
      this.fail("settle", err);
    }
  }

  refund(decision: Decision): void {
    const local = this.#local;
    if (!local || !decision.reservation) return;
    try {
      const r = local.refund(decision, { onError: true });
      if (isThenable(r)) r.then(undefined, (err: unknown) => this.fail("refund", err));
    } catch (err) {
      this.fail("refund", err);
    }
  }

  fail(what: string, err: unknown): void {
    const error = err instanceof Error ? err : new Error(describeValue(err));
    const wrapped = new GuardrailError(`${what} failed: ${error.message}`, { cause: error });
    try {
      const r: unknown = this.#onError(wrapped);
      if (isThenable(r)) r.then(undefined, () => {});
    } catch {
      // An error handler that throws must not take the host process down.
    }
  }

  reportOnce(err: Error): void {
    const kind = err.message.split(":")[0] ?? "";
    if (this.#reported.has(kind)) return;
    this.#reported.add(kind);
    process.stderr.write(
      `[hexarch] ${err.message} (further '${kind}' failures are not reported)\n`,
    );
  }
}
