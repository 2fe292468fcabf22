/**
 * Bounding how long the call path waits for a backend.
 *
 * @module
 */

import { invalidOption, positiveMsRule } from "./check-options.ts";

/** The longest delay a Node timer can hold (≈24.8 days). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Checks a timeout option: a positive number of ms, or `Infinity` for none.
 * @param owner the class or function the option was given to, named in the message.
 * @throws InvalidOptionError otherwise.
 */
export function checkTimeout(ms: number, name = "timeoutMs", owner?: string): number {
  if (!positiveMsRule.test(ms)) throw invalidOption(owner, name, positiveMsRule.expected, ms);
  return ms;
}

/**
 * Settles with `promise`'s value, or with `onTimeout()` after `ms`, or with `onError(err)`
 * when it rejects (or `onValue` throws). Never rejects; clears its timer.
 */
export function settleWithin<T, R>(
  promise: PromiseLike<T>,
  ms: number,
  onValue: (value: T) => R | PromiseLike<R>,
  onTimeout: () => R,
  onError: (err: unknown) => R,
): Promise<R> {
  return new Promise<R>((resolve) => {
    let done = false;
    const timer =
      Number.isFinite(ms) && ms <= MAX_TIMER_MS
        ? setTimeout(() => {
            if (done) return;
            done = true;
            resolve(onTimeout());
          }, ms)
        : undefined;
    timer?.unref?.();
    const finish = (produce: () => R | PromiseLike<R>) => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      try {
        Promise.resolve(produce()).then(resolve, (err: unknown) => resolve(onError(err)));
      } catch (err) {
        resolve(onError(err));
      }
    };
    promise.then(
      (value) => finish(() => onValue(value)),
      (err: unknown) => finish(() => onError(err)),
    );
  });
}
