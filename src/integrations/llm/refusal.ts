/**
 * Telling a refusal from other failures when an SDK helper has wrapped it.
 *
 * @module
 */

import { PolicyViolation } from "../../kernel/errors.ts";

/**
 * The Guardian's refusal behind `error`: the error itself, or its `cause` (at any depth).
 * A guarded `create` rejects with the `PolicyViolation` itself, but the SDKs' stream
 * helpers (`messages.stream()`, `chat.completions.stream()`, `responses.stream()`,
 * `runTools()`) report every failure as the SDK's own error class, with the original as
 * its `cause`.
 *
 * @example
 * ```ts
 * const stream = claude.messages.stream({ model, max_tokens: 1024, messages });
 * const message = await stream.finalMessage().catch((err: unknown) => {
 *   const refusal = refusalOf(err);
 *   if (refusal) return fallback(refusal.reason);
 *   throw err;
 * });
 * ```
 */
export function refusalOf(error: unknown): PolicyViolation | undefined {
  let e = error;
  for (let depth = 0; depth < 8 && e !== null && typeof e === "object"; depth++) {
    if (e instanceof PolicyViolation) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
