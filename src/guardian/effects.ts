/**
 * What happens around a decision besides the decision itself: recording it, warning,
 * settling and refunding budgets, and reporting failures of any of these without ever
 * letting them reach the guarded call or crash the host process.
 *
 * @module
 */

import type { DecisionEntry, DecisionRecorder } from "../audit/recorder.ts";
import { truncatedContext } from "../audit/records.ts";
import { refundReservation, settleReservation } from "../engine/reservations.ts";
import { type Context, withoutToken } from "../kernel/context.ts";
import type { Decision } from "../kernel/decision.ts";
import { GuardrailError } from "../kernel/errors.ts";
import type { StateStore } from "../state/types.ts";
import { describeValue } from "../util/describe.ts";
import { isThenable } from "../util/values.ts";
import { oversizedContextBytes } from "./context-size.ts";
import type { CallInfo, CheckOptions, GuardianMode } from "./options.ts";

/** Options of {@link CallEffects}. */
export interface CallEffectsOptions {
  readonly audit: DecisionRecorder | undefined;
  readonly onWarn: (decision: Decision, call: CallInfo) => void;
  readonly onError: ((error: Error) => void) | undefined;
  readonly mode: GuardianMode;
  /** The embedded engine's state store, where its budget reservations are settled and refunded. */
  readonly state: StateStore | undefined;
}

/** How one decision's record differs from the Guardian's usual one. */
export interface RecordOverrides {
  /** Record here instead of the Guardian's audit log. */
  readonly to?: DecisionRecorder | undefined;
  /** The record's user id, instead of the context's `userId`/`user_id`. */
  readonly userId?: string | undefined;
  /** The mode the record is made in, instead of the Guardian's. */
  readonly mode?: GuardianMode | undefined;
}

/** The side effects of guarded calls, for one Guardian. */
export class CallEffects {
  readonly #audit: DecisionRecorder | undefined;
  readonly #onWarn: (decision: Decision, call: CallInfo) => void;
  readonly #onError: (error: Error) => void;
  readonly #mode: GuardianMode;
  readonly #state: StateStore | undefined;
  readonly #reported = new Set<string>();

  constructor(options: CallEffectsOptions) {
    this.#audit = options.audit;
    this.#onWarn = options.onWarn;
    this.#onError = options.onError ?? ((err) => this.reportOnce(err));
    this.#mode = options.mode;
    this.#state = options.state;
  }

  /** Whether decisions are recorded anywhere (an audit log, a decision log file). */
  get records(): boolean {
    return this.#audit !== undefined;
  }

  /** Closes the audit sink; resolves to what its `close()` said (a `DecisionLogger`: how many records it could not write). */
  async close(): Promise<unknown> {
    return this.#audit?.close?.();
  }

  /**
   * Records a decision in the audit log (or in `overrides.to`). A durable log's record is
   * awaited: the promise rejects (`audit_write_failed`) when it cannot be written. Any
   * other log writes in the background, its failures going to `onError`.
   */
  record(
    decision: Decision,
    context: Context,
    functionName: string | undefined,
    metadata: CheckOptions["metadata"],
    overrides?: RecordOverrides,
  ): undefined | Promise<void> {
    const audit = overrides?.to ?? this.#audit;
    if (!audit) return undefined;
    // A context refused for its size is stored as a marker of that size, never itself (an
    // overlong user id is cut by the record itself, as every indexed text column is).
    const oversized = oversizedContextBytes(decision);
    const mode = overrides?.mode ?? this.#mode;
    const entry: DecisionEntry = {
      decision,
      functionName,
      userId:
        overrides?.userId ??
        (typeof context.userId === "string"
          ? context.userId
          : typeof context.user_id === "string"
            ? context.user_id
            : undefined),
      context: oversized === undefined ? withoutToken(context) : truncatedContext(oversized),
      metadata,
      mode: !decision.allowed && mode === "monitor" ? "monitor" : "enforce",
    };
    if (audit.durable === true) {
      // Durable: the call waits for the record, and does not run without it.
      try {
        return Promise.resolve(audit.record(entry)).then(undefined, (err: unknown) => {
          throw new GuardrailError(
            `the decision could not be written to the audit log, so the call did not run (durable mode): ${err instanceof Error ? err.message : describeValue(err)}`,
            { code: "audit_write_failed", cause: err },
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
    const state = this.#state;
    if (!state || !decision.reservation) return;
    const apply = (real: unknown): void => {
      const usage =
        typeof real === "number"
          ? { costUsd: real }
          : real !== null && typeof real === "object"
            ? (real as { costUsd?: number; tokens?: number })
            : undefined;
      if (!usage) return;
      const r = settleReservation(decision, usage, state);
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
    const state = this.#state;
    if (!state || !decision.reservation) return;
    try {
      const r = refundReservation(decision, state, { onError: true });
      if (isThenable(r)) r.then(undefined, (err: unknown) => this.fail("refund", err));
    } catch (err) {
      this.fail("refund", err);
    }
  }

  fail(what: string, err: unknown): void {
    const error =
      err instanceof Error
        ? err
        : new GuardrailError(describeValue(err), { code: "non_error_thrown", cause: err });
    const wrapped = new GuardrailError(`${what} failed: ${error.message}`, {
      code: what === "audit" ? "audit_write_failed" : "guard_effect_failed",
      cause: error,
    });
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
