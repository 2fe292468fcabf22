/**
 * Errors the CLI reports as one line plus a hint, with its exit code.
 *
 * @module
 */

import { GuardrailError } from "../kernel/errors.ts";

/** Exit code of a usage error (a bad flag, a missing argument). */
export const USAGE = 2;
/** Exit code of a failure (a broken chain, an invalid file, a store that is down). */
export const FAILURE = 1;

/** An error `hexarch-ctl` prints as `hexarch-ctl: message` and `hint: …`, without a stack. */
export class CliError extends Error {
  /** What to try next. */
  readonly hint: string | undefined;
  /** The process exit code: {@link USAGE} or {@link FAILURE}. */
  readonly exitCode: number;

  constructor(
    message: string,
    options: { hint?: string; exitCode?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? FAILURE;
  }
}
CliError.prototype.name = "CliError";

/**
 * Whether a library error is a bad argument the user typed (`--older-than 7x`, a negative
 * number of days): code `invalid_argument`, reported as a usage error.
 */
export const isInvalidArgument = (err: unknown): err is GuardrailError =>
  err instanceof GuardrailError && err.code === "invalid_argument";

/** A usage error: exit code 2. */
export const usageError = (message: string, hint?: string): CliError =>
  new CliError(message, { exitCode: USAGE, ...(hint !== undefined && { hint }) });

/** Ends the command with an exit code after it printed its own report (prints nothing more). */
export const silentExit = (exitCode: number): CliError => new CliError("", { exitCode });
