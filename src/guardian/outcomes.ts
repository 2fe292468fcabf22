/**
 * What a Guardian makes of a decision for the caller: the error a refusal throws, the
 * default warning line, the answer when guardrails are off.
 *
 * @module
 */

import type { ConfirmationBinding } from "../confirm/types.ts";
import { type Decision, makeDecision } from "../kernel/decision.ts";
import { ConfirmationRequired, GuardrailError, PolicyViolation } from "../kernel/errors.ts";
import type { CallInfo, GuardianMode } from "./options.ts";

/** The default `onWarn`: one line on stderr, never a stack trace. */
export const defaultWarn = (decision: Decision, call: CallInfo): void => {
  const where = call.functionName ? ` ${call.functionName}()` : "";
  const what = call.mode === "monitor" ? "would block (monitor mode)" : "warning";
  process.stderr.write(`[hexarch]${where} ${what}: ${decision.reason}\n`);
};

/** The answer of `evaluate`/`enforce` when guardrails are off. */
export function offDecision(policyId: string, now: number): Decision {
  return makeDecision({
    policyId,
    action: "allow",
    reason: `Policy '${policyId}' not evaluated: guardrails are off`,
    matchedRules: [],
    durationMs: 0,
    timestampMs: now,
  });
}

/** The error a refused decision throws; without a stack trace when `stacks` is false. */
export function violation(
  decision: Decision,
  stacks = true,
  binding?: ConfirmationBinding | (() => ConfirmationBinding | undefined),
): PolicyViolation {
  const make = () =>
    decision.action === "require_confirmation"
      ? new ConfirmationRequired(decision, binding)
      : new PolicyViolation(decision);
  if (stacks) return make();
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

const MODES: readonly GuardianMode[] = ["enforce", "monitor", "off"];

/**
 * The mode asked for explicitly: the `mode` option, else `HEXARCH_MODE`.
 * @throws GuardrailError for a value that is not a mode.
 */
export function explicitMode(
  option: GuardianMode | undefined,
  env: string | undefined,
): GuardianMode | undefined {
  const fromEnv = env?.trim().toLowerCase();
  if (fromEnv && !MODES.includes(fromEnv as GuardianMode)) {
    throw new GuardrailError(`HEXARCH_MODE must be enforce, monitor or off, not '${env}'`, {
      code: "invalid_mode",
    });
  }
  if (option !== undefined && !MODES.includes(option)) {
    throw new GuardrailError(`mode must be enforce, monitor or off, not '${String(option)}'`, {
      code: "invalid_mode",
    });
  }
  return option ?? (fromEnv as GuardianMode | undefined) ?? undefined;
}
