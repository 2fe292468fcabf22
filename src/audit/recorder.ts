/**
 * The hook through which a `Guardian` hands every decision to the audit log. The
 * `DecisionLogger` of `hexarch-guardrails/audit` implements it; so can your own sink.
 *
 * @module
 */

import type { ConfirmationEvent } from "../confirm/events.ts";
import type { Context } from "../kernel/context.ts";
import type { Decision } from "../kernel/decision.ts";

/** One decision as the audit log receives it. */
export interface DecisionEntry {
  readonly decision: Decision;
  /** The guarded function's name (or the `name` option). */
  readonly functionName?: string | undefined;
  readonly userId?: string | undefined;
  /** The context the decision was made on. */
  readonly context: Context;
  /** The check's `metadata` option. */
  readonly metadata?: Readonly<Record<string, unknown>> | undefined;
  /** `monitor` marks a would-be block that was let through. */
  readonly mode: "enforce" | "monitor";
}

/** Receives decisions. `record` must not throw for a bad store: report and carry on. */
export interface DecisionRecorder {
  /**
   * When true, a guarded call waits for `record` to settle and does not run if it rejects.
   * @default false
   */
  readonly durable?: boolean;
  /** Records one decision. A returned promise is not awaited on the call path. */
  record(entry: DecisionEntry): void | Promise<void>;
  /**
   * Records what happened to a confirmation request (created, approved, denied, consumed,
   * refused). Optional: recorders without it do not hear of confirmations.
   */
  recordConfirmation?(event: ConfirmationEvent): void | Promise<void>;
  /**
   * Flushes buffered records and releases the store. It may resolve to a report (the
   * `DecisionLogger` resolves to `{ unwritten, timedOut }`); callers need not read it.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a synchronous close returns nothing
  close?(): void | Promise<unknown>;
}
