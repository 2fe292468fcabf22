/**
 * Creating the pending request a `require_confirmation` decision asks for, with a deadline:
 * the one step the decision server's `/authorize` and the web-framework guards share when
 * they hand a caller a token to get approved.
 *
 * @module
 */

import { DecisionBackendError, GuardrailError } from "../kernel/errors.ts";
import { describeValue } from "../util/describe.ts";
import { settleWithin } from "../util/timeout.ts";
import type { ConfirmationRequest, ConfirmationStore } from "./types.ts";

/** A pending request just created: its token (a secret: hand it out, never log it). */
export interface RequestedApproval {
  readonly token: string;
  /** When the token stops working, when the store said so within the deadline. */
  readonly expiresAtMs: number | undefined;
}

/**
 * Creates `request` in `store` and reads back when it expires, each within `timeoutMs`.
 * The expiry is best effort (`undefined` when the store is slow to say); the token is not.
 *
 * @throws DecisionBackendError when the store fails or does not answer in time: no token
 *   was issued, so the caller must refuse (fail closed) rather than answer without one.
 */
export async function requestApproval(
  store: ConfirmationStore,
  request: ConfirmationRequest,
  timeoutMs: number,
): Promise<RequestedApproval> {
  const created = await settleWithin<string, { readonly token: string } | Error>(
    Promise.resolve().then(() => store.create(request)),
    timeoutMs,
    (token) =>
      typeof token === "string" && token !== ""
        ? { token }
        : new GuardrailError(`create answered ${describeValue(token)}, not a token`, {
            code: "store_answer_invalid",
          }),
    () => new GuardrailError(`no answer within ${timeoutMs} ms`, { code: "timed_out" }),
    (e: unknown) =>
      e instanceof Error
        ? e
        : new GuardrailError(describeValue(e), { code: "non_error_thrown", cause: e }),
  );
  if (created instanceof Error) {
    throw new DecisionBackendError(
      `the confirmation store could not create a request: ${created.message}`,
      { cause: created },
    );
  }
  const expiresAtMs = await settleWithin(
    Promise.resolve().then(() => store.get(created.token)),
    timeoutMs,
    (record) => record?.expiresAtMs,
    () => undefined,
    () => undefined,
  );
  return { token: created.token, expiresAtMs };
}
