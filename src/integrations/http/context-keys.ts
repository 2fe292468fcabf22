/**
 * Keys of a guarded request's context that only the guard may set: confirmation (which
 * comes from an approved token in the `X-Confirmation-Token` header, never from request
 * data a context function passes through) and the query string's digest.
 *
 * @module
 */

/** `extra` without the keys that would confirm a call or carry a token. */
export function withoutConfirmationKeys(extra: Record<string, unknown>): Record<string, unknown> {
  if (
    !("confirm" in extra) &&
    !("confirmationToken" in extra) &&
    !("confirmation_token" in extra)
  ) {
    return extra;
  }
  const { confirm: _c, confirmationToken: _t, confirmation_token: _u, ...rest } = extra;
  return rest;
}

/** The request's own `queryDigest`, which a context function may not replace. */
export function ownQueryDigest(base: Record<string, unknown>): Record<string, unknown> {
  return base.queryDigest === undefined ? {} : { queryDigest: base.queryDigest };
}
