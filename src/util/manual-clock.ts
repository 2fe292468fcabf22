/**
 * A clock you move by hand, for tests of rate limits, budgets and schedules.
 *
 * @module
 */

import { GuardrailError } from "../kernel/errors.ts";

/**
 * A controllable clock. Pass `clock.now` wherever a `clock` option is taken.
 *
 * @example
 * ```ts
 * const clock = new ManualClock("2026-03-08T06:59:00Z");
 * const client = new LocalDecisionClient({ policies, clock: clock.now });
 * clock.advance(60_000);
 * ```
 */
export class ManualClock {
  #ms: number;

  /** Starts at an instant (ms since the epoch, a `Date` or an ISO string). Default: 2026-01-01T00:00:00Z. */
  constructor(start: number | Date | string = Date.UTC(2026, 0, 1)) {
    this.#ms = toMs(start);
  }

  /** The current time in ms since the epoch; a bound function, safe to pass around. */
  readonly now = (): number => this.#ms;

  /** Moves the clock forward (or back, with a negative number) by `ms`. */
  advance(ms: number): void {
    this.#ms += ms;
  }

  /**
   * Sets the clock to an instant (ms since the epoch, a `Date` or an ISO string).
   *
   * @throws GuardrailError (code `invalid_argument`) when `at` is not a valid instant; the
   *   clock is left as it was.
   */
  set(at: number | Date | string): void {
    this.#ms = toMs(at);
  }
}

/** An instant in ms since the epoch; throws `invalid_argument` for one that is not valid (`NaN`, `"soon"`). */
function toMs(at: number | Date | string): number {
  const ms = typeof at === "number" ? at : new Date(at).getTime();
  if (!Number.isFinite(ms))
    throw new GuardrailError(`not a valid instant: ${String(at)}`, { code: "invalid_argument" });
  return ms;
}
