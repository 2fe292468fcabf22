/**
 * Reading Open Policy Agent's answers for `OpaDecisionClient`: a decision document mapped
 * onto `{ allowed, action, reason }`, and OPA's error bodies put in words.
 *
 * @module
 * @internal
 */

import type { DecisionAction } from "../kernel/decision.ts";
import { DecisionBackendError, defineErrorCode } from "../kernel/errors.ts";
import { describeValue } from "../util/describe.ts";
import { isRecord } from "../util/values.ts";
import type { OpaDecision } from "./opa-decision-client.ts";

const ACTIONS: Readonly<Record<string, DecisionAction>> = {
  allow: "allow",
  warn: "warn",
  block: "block",
  deny: "block",
  require_confirmation: "require_confirmation",
  require_approval: "require_confirmation",
};

/** Why OPA could not be asked (fail-open applies), as opposed to a refusal. */
export class OpaUnavailable extends DecisionBackendError {}
// Its own name, the family's code: callers switch on `decision_backend_unavailable`.
defineErrorCode(OpaUnavailable, "decision_backend_unavailable");

/** `: code: message` of an OPA error body (`{code, message, errors: [{message, location}]}`). */
export function opaErrorText(parsed: unknown, text: string): string {
  if (!isRecord(parsed)) {
    const line = text.trim().split("\n")[0]?.slice(0, 200);
    return line ? `: ${line}` : "";
  }
  const head = [parsed.code, parsed.message].filter((s) => typeof s === "string").join(": ");
  const details = Array.isArray(parsed.errors)
    ? parsed.errors
        .filter(isRecord)
        .slice(0, 5)
        .map((e) => {
          const loc = isRecord(e.location)
            ? `${String(e.location.file ?? "")}:${String(e.location.row ?? "")}:${String(e.location.col ?? "")}: `
            : "";
          return `${loc}${String(e.message ?? e.code ?? "")}`;
        })
    : [];
  const all = [head, ...details].filter((s) => s !== "").join("; ");
  return all ? `: ${all}` : "";
}

/**
 * Maps OPA's `result` onto a decision: `{allowed, reason?, action?}` (the generated Rego's),
 * `{allow, deny}` booleans, a `deny` set of messages, or a bare boolean.
 *
 * @throws DecisionBackendError for anything else, or a contradiction (`allowed: true` with
 *   `action: "block"`).
 */
export function answerOf(policyId: string, result: unknown, path: string): OpaDecision {
  const at = `OPA decision at ${path}`;
  if (typeof result === "boolean") {
    return {
      allowed: result,
      action: result ? "allow" : "block",
      reason: `Policy '${policyId}' ${result ? "allowed" : "blocked"} the call: the ${at} is ${result}`,
    };
  }
  if (!isRecord(result)) {
    throw new OpaUnavailable(
      `the ${at} is ${describeValue(result)}, not {allowed, reason, action}, allow/deny or a boolean`,
    );
  }
  let allowed: boolean | undefined;
  let denials: string[] | undefined;
  if (typeof result.allowed === "boolean") allowed = result.allowed;
  else {
    const allow = typeof result.allow === "boolean" ? result.allow : undefined;
    let deny: boolean | undefined;
    if (typeof result.deny === "boolean") deny = result.deny;
    else if (Array.isArray(result.deny)) {
      denials = result.deny.map((d) => (typeof d === "string" ? d : JSON.stringify(d)));
      deny = denials.length > 0;
    }
    if (allow !== undefined || deny !== undefined) allowed = (allow ?? true) && !(deny ?? false);
  }
  if (allowed === undefined) {
    throw new OpaUnavailable(
      `the ${at} has no boolean 'allowed' (nor 'allow' or 'deny'): keys ${Object.keys(result).join(", ") || "none"}`,
    );
  }
  const named =
    typeof result.action === "string" && Object.hasOwn(ACTIONS, result.action)
      ? ACTIONS[result.action]
      : undefined;
  if (named !== undefined && (named === "allow" || named === "warn") !== allowed) {
    throw new OpaUnavailable(
      `the ${at} contradicts itself: allowed is ${allowed} but action is '${String(result.action)}'`,
    );
  }
  const action: DecisionAction = named ?? (allowed ? "allow" : "block");
  const reason =
    typeof result.reason === "string" && result.reason !== ""
      ? result.reason
      : denials && denials.length > 0
        ? `Policy '${policyId}' blocked the call: ${denials.join("; ")}`
        : `Policy '${policyId}' ${allowed ? "allowed" : "blocked"} the call (the ${at} gave no reason)`;
  return { allowed, action, reason };
}
