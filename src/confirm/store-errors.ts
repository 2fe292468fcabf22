/**
 * The errors every `ConfirmationStore` throws, in the same words and with the same codes
 * for every backend: the decision server maps them to HTTP statuses by code alone.
 *
 * @module
 */

import { GuardrailError } from "../kernel/errors.ts";

/** `approve` or `deny` was given a token no request has (`confirmation_not_found`). */
export function confirmationNotFound(): GuardrailError {
  return new GuardrailError("unknown confirmation token", { code: "confirmation_not_found" });
}

/**
 * `approve` or `deny` was given a request that is no longer pending: already approved,
 * denied or used, or expired (`confirmation_not_pending`).
 *
 * @param status - where the request stands (a `ConfirmationStatus`), or `"decided"` when
 *   the store only knows that someone decided it.
 */
export function confirmationNotPending(status: string): GuardrailError {
  const where = status === "decided" ? "was already decided" : `is ${status}`;
  return new GuardrailError(`the confirmation ${where}, not pending`, {
    code: "confirmation_not_pending",
  });
}

/** `create` was given a request without its binding (`confirmation_request_invalid`). */
export function bindingMissing(): GuardrailError {
  return new GuardrailError(
    "a confirmation request needs policyId and fingerprint (see ConfirmationRequired.binding)",
    { code: "confirmation_request_invalid" },
  );
}
