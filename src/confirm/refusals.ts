/**
 * Why a confirmation token is refused, in the same words for every store.
 *
 * @module
 */

import type {
  ConfirmationBinding,
  ConfirmationRecord,
  ConfirmationRefusal,
  ConsumeConfirmationResult,
} from "./types.ts";

/** The refusal of a token, with its message (`record` names who denied it, or its policy). */
export function refusal(
  kind: ConfirmationRefusal,
  record?: Pick<ConfirmationRecord, "decidedBy" | "policyId">,
): ConsumeConfirmationResult & { readonly ok: false } {
  const message: Record<ConfirmationRefusal, string> = {
    unknown: "the confirmation token is unknown",
    pending: "the confirmation has not been approved yet",
    denied: `the confirmation was denied by ${record?.decidedBy ?? "an approver"}`,
    expired: "the confirmation token has expired",
    used: "the confirmation token was already used",
    wrong_policy: `the confirmation was issued for policy '${record?.policyId ?? "another policy"}'`,
    wrong_arguments: "the confirmation was issued for a call with other arguments",
  };
  return { ok: false, refusal: kind, message: message[kind] };
}

/**
 * Why `record` cannot confirm a call bound to `binding` (its status first, then the
 * policy, then the arguments), or `undefined` when it can.
 */
export function refusalOf(
  record: ConfirmationRecord,
  binding: ConfirmationBinding,
): (ConsumeConfirmationResult & { readonly ok: false }) | undefined {
  switch (record.status) {
    case "pending":
    case "denied":
    case "expired":
      return refusal(record.status, record);
    case "consumed":
      return refusal("used", record);
    default:
      break;
  }
  if (record.policyId !== binding.policyId) return refusal("wrong_policy", record);
  if (record.fingerprint !== binding.fingerprint) return refusal("wrong_arguments", record);
  return undefined;
}
