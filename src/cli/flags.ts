/**
 * Parsers of numeric command-line flags, shared by the commands: a bad value is a usage
 * error (exit 2) naming the flag.
 *
 * @module
 */

import { usageError } from "./errors.ts";

/** A flag that takes a whole number from `min` to `max`. */
export function wholeNumber(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max || value.trim() === "")
      throw usageError(`${name} must be a whole number from ${min} to ${max}, not '${value}'`);
    return n;
  };
}
