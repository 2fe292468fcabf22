/**
 * Every error the library throws. All of them extend {@link GuardrailError}, so one
 * `instanceof` check catches them all.
 *
 * @module
 */

import type { ConfirmationBinding, Decision, DecisionAction } from "./decision.ts";

/**
 * Base class of every error thrown by hexarch-guardrails (the Python `GuardrailException`).
 *
 * Every subclass carries a stable {@link GuardrailError.code}: switch on it rather than on
 * messages, which may be reworded. The codes are listed in `docs/errors.md`.
 */
export class GuardrailError extends Error {
  /**
   * Stable, machine-readable code in snake_case (such as `"policy_violation"` or
   * `"unknown_policy"`). It never changes between releases, unlike the message.
   */
  declare readonly code: string;

  /**
   * @param options - `cause` as for `Error`; `code` names this one failure more precisely
   *   than its class does (`"audit_store_closed"`). Without it the class's code stands.
   */
  constructor(message?: string, options?: GuardrailErrorOptions) {
    super(message, options);
    if (options?.code !== undefined) {
      Object.defineProperty(this, "code", {
        value: options.code,
        writable: true,
        configurable: true,
        enumerable: false,
      });
    }
  }
}

/** Options of a {@link GuardrailError}: the standard `cause`, and a code of its own. */
export interface GuardrailErrorOptions extends ErrorOptions {
  /** A stable snake_case code for this failure, listed in `docs/errors.md`. */
  readonly code?: string | undefined;
}

/**
 * Gives an error class its `name` and stable `code`. Both live on the prototype, not on
 * each instance: a refused call builds its error on the hot path, and own fields would be
 * defined anew every time. Used by every error class of the library.
 *
 * @internal
 */
export function defineErrorCode(cls: abstract new (...args: never[]) => Error, code: string): void {
  for (const [key, value] of [
    ["name", cls.name],
    ["code", code],
  ] as const) {
    Object.defineProperty(cls.prototype, key, {
      value,
      writable: true,
      configurable: true,
      enumerable: false,
    });
  }
}

/**
 * A guarded call was refused by a policy. Thrown before the guarded function's body runs.
 *
 * @example
 * ```ts
 * try {
 *   await deleteUser("u1");
 * } catch (err) {
 *   if (err instanceof PolicyViolation) console.log(err.policyId, err.reason);
 * }
 * ```
 */
export class PolicyViolation extends GuardrailError {
  /** Id of the policy (or comma-separated ids of the policies) that refused the call. */
  readonly policyId: string;
  /** The action that refused the call: `"block"` or `"require_confirmation"`. */
  readonly action: DecisionAction;
  /** The full decision. */
  readonly decision: Decision;

  constructor(decision: Decision) {
    // No message here: `message` reads the decision's reason, which is only built when
    // someone reads it (most refusals are caught and counted, never printed).
    super();
    this.policyId = decision.policyId;
    this.action = decision.action;
    this.decision = decision;
  }

  /** Human-readable reason, naming the policy and the rule (also the error's `message`). */
  get reason(): string {
    return this.decision.reason;
  }
}

// `message` is the decision's reason, read on demand; assigning one (as some test runners
// and loggers do) stores it on the error like any other.
Object.defineProperty(PolicyViolation.prototype, "message", {
  configurable: true,
  get(this: PolicyViolation): string {
    return this.decision.reason;
  },
  set(this: PolicyViolation, value: string) {
    Object.defineProperty(this, "message", {
      value,
      writable: true,
      configurable: true,
      enumerable: false,
    });
  },
});

/**
 * A policy requires confirmation for this call. Retry with `confirm: true` in the context
 * or with a valid confirmation token.
 */
export class ConfirmationRequired extends PolicyViolation {
  /**
   * What a confirmation token must be bound to for this call, when raised by a guarded
   * call: pass it to `ConfirmationStore.create` to ask for approval.
   */
  get binding(): ConfirmationBinding | undefined {
    if (typeof this.#binding === "function") this.#binding = this.#binding();
    return this.#binding;
  }

  #binding: ConfirmationBinding | undefined | (() => ConfirmationBinding | undefined);

  /**
   * @param binding the binding, or a function computing it the first time it is read
   *   (fingerprinting the arguments is not free, and most refusals are never retried).
   */
  constructor(
    decision: Decision,
    binding?: ConfirmationBinding | (() => ConfirmationBinding | undefined),
  ) {
    super(decision);
    this.#binding = binding;
  }
}

/** Where in a policy file a problem was found. Lines and columns start at 1. */
export interface PolicyFileIssue {
  /** Path of the file, or `"<inline>"` for policies given as text or an object. */
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** Path inside the document, such as `policies[1].rules[0].requests_per_minute`. */
  readonly path: string;
  /** What is wrong and what was expected. */
  readonly message: string;
}

/**
 * A policy file could not be found, parsed or validated (the Python `PolicyConfigError`).
 * The message lists every problem as `file:line:column: message`; {@link PolicyFileError.issues}
 * holds them as data.
 */
export class PolicyFileError extends GuardrailError {
  /** Every problem found, in document order. Empty when the file could not be found. */
  readonly issues: readonly PolicyFileIssue[];

  constructor(message: string, issues: readonly PolicyFileIssue[] = [], options?: ErrorOptions) {
    super(message, options);
    this.issues = issues;
  }

  /** Builds an error whose message lists each issue on its own line. */
  static fromIssues(issues: readonly PolicyFileIssue[]): PolicyFileError {
    const first = issues[0];
    const head =
      issues.length === 1 && first
        ? formatIssue(first)
        : `${issues.length} problems in ${first?.file ?? "policy file"}:\n${issues
            .map((i) => `  ${formatIssue(i)}`)
            .join("\n")}`;
    return new PolicyFileError(head, issues);
  }
}

/** Formats one issue as `file:line:column: message (at path)`; line and column are left out when unknown (0). */
export function formatIssue(issue: PolicyFileIssue): string {
  const where = issue.path ? ` (at ${issue.path})` : "";
  const pos = issue.line > 0 ? `:${issue.line}:${issue.column}` : "";
  return `${issue.file}${pos}: ${issue.message}${where}`;
}

/**
 * A decision backend (the state store, OPA, a remote decision server) failed.
 * The original error is kept as `cause`.
 */
export class DecisionBackendError extends GuardrailError {}

/** An unknown policy id was asked for. The message lists the known ids. */
export class UnknownPolicyError extends GuardrailError {
  /** The id that was asked for. */
  readonly policyId: string;
  constructor(policyId: string, known: readonly string[]) {
    const hint = known.length ? `known policies: ${known.join(", ")}` : "no policies are loaded";
    super(`unknown policy '${policyId}' (${hint})`);
    this.policyId = policyId;
  }
}

/**
 * An option given to a constructor (or factory) is not what it takes: the wrong type, out
 * of range, or a mistyped key. Thrown at construction, never on the first call. The
 * message names the component, the option, what was given (strings quoted as given) and
 * what is expected:
 *
 * `Guardian: timeoutMs must be a positive number of milliseconds (or Infinity), got "100"`
 *
 * @example
 * ```ts
 * try {
 *   new Guardian({ timeoutMs: Number(process.env.TIMEOUT) });
 * } catch (err) {
 *   if (err instanceof InvalidOptionError) console.error(`fix ${err.option}: ${err.message}`);
 * }
 * ```
 */
export class InvalidOptionError extends GuardrailError {
  /** The option at fault as it is spelled in code: `timeoutMs`, `keys[0].secret`, or a mistyped key. */
  readonly option: string;
  /** What was given the option: the class or function name, such as `"Guardian"`. */
  readonly owner: string | undefined;

  constructor(
    message: string,
    where: { readonly option: string; readonly owner?: string | undefined },
  ) {
    super(message);
    this.option = where.option;
    this.owner = where.owner;
  }
}

defineErrorCode(GuardrailError, "guardrail_error");
defineErrorCode(PolicyViolation, "policy_violation");
defineErrorCode(ConfirmationRequired, "confirmation_required");
defineErrorCode(PolicyFileError, "policy_file_invalid");
defineErrorCode(DecisionBackendError, "decision_backend_unavailable");
defineErrorCode(UnknownPolicyError, "unknown_policy");
defineErrorCode(InvalidOptionError, "invalid_option");
