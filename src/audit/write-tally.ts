/**
 * What a `DecisionLogger`'s writes came to: the counters behind its `stats`, and the
 * store-failure report told once per outage. Shared by the batched write loop, the
 * durable group commit and the poison-record search.
 *
 * @module
 * @internal
 */

import { GuardrailError } from "../kernel/errors.ts";

/** Counters of what happened to records, and the once-per-outage failure report. */
export class WriteTally {
  recorded = 0;
  written = 0;
  dropped = 0;
  failures = 0;
  /** Durable records whose write failed (their callers' promises rejected). */
  refused = 0;
  /** Queued records dropped as poison (also counted in `dropped`). */
  poisoned = 0;
  /** A failure was reported and no write succeeded since. */
  #failing = false;
  readonly #onError: (error: Error) => void;

  constructor(onError: (error: Error) => void) {
    this.#onError = onError;
  }

  /** `n` records written: the store works (again). */
  wrote(n: number): void {
    this.written += n;
    this.#failing = false;
  }

  /** A failed append: counted, and reported once until a write succeeds again. */
  failed(err: unknown): void {
    this.failures++;
    if (this.#failing) return;
    this.#failing = true;
    const error = toError(err);
    this.report(
      new GuardrailError(`writing the audit log failed: ${error.message}`, {
        code: "audit_write_failed",
        cause: error,
      }),
    );
  }

  /** Tells `onError`, whose own failure must not take the host down. */
  report(error: Error): void {
    try {
      this.#onError(error);
    } catch {
      // a failing error hook must not take the host down
    }
  }
}

/** `err` as an `Error`. */
export function toError(err: unknown): Error {
  return err instanceof Error
    ? err
    : new GuardrailError(String(err), { code: "non_error_thrown", cause: err });
}
