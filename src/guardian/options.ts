/**
 * Options of `Guardian` and of `guardian.check`.
 *
 * @module
 */

import type { DecisionRecorder } from "../audit/recorder.ts";
import type { ConfirmationStore } from "../confirm/types.ts";
import type { DecisionClient } from "../decision/types.ts";
import type { Context } from "../kernel/context.ts";
import type { Decision } from "../kernel/decision.ts";
import type { PolicySet } from "../policy/types.ts";
import type { StateStore } from "../state/types.ts";
import {
  anyOfRule,
  booleanRule,
  checkOptions,
  functionRule,
  methodsRule,
  nonEmptyStringRule,
  objectRule,
  oneOfRule,
  positiveMsRule,
  type RulesFor,
  someMethodRule,
  stringRule,
} from "../util/check-options.ts";
import { maxContextBytesRule } from "./context-size.ts";
import type { PolicyServiceClient } from "./decision-source.ts";

/**
 * How a Guardian treats decisions:
 * - `enforce` — blocked calls throw before the body runs;
 * - `monitor` — would-be blocks run, and are recorded and reported as such;
 * - `off` — nothing is evaluated at all.
 */
export type GuardianMode = "enforce" | "monitor" | "off";

/** What a warning handler is told about the call. */
export interface CallInfo {
  readonly policyId: string;
  /** The guarded function's name, when known. */
  readonly functionName?: string | undefined;
  /** `monitor` when the decision would have blocked but the Guardian only monitors. */
  readonly mode: "enforce" | "monitor";
}

/** Options of `new Guardian(options)`. */
export interface GuardianOptions {
  /**
   * Path of the policy file. Default: `HEXARCH_POLICY_FILE`, else the first `hexarch.yaml`
   * (or `.yml`, `.hexarch.yaml`, `.hexarch.yml`) walking up from the working directory.
   */
  readonly policyFile?: string;
  /** Policies given directly: YAML text, a parsed object, or a loaded `PolicySet`. Wins over `policyFile`. */
  readonly policies?: string | Readonly<Record<string, unknown>> | PolicySet;
  /**
   * Who decides. Default: the embedded engine on the loaded policies. Also takes any
   * `DecisionClient` or an object with `checkPolicy(policyId, context)` returning
   * `{ allowed, reason, action }` (the Python SDK's decision service contract).
   */
  readonly decisionClient?: DecisionClient | PolicyServiceClient;
  /**
   * Send every decision to Open Policy Agent at this URL, one rule per policy
   * (`POST {opaUrl}/v1/data/hexarch/<policyId>`, the layout of the Rego that
   * `hexarch-ctl policy export ID --format rego` writes). The timeout is `timeoutMs`, else the
   * policy file's `opa.timeout_seconds`, else 2 seconds. For another layout or more options,
   * give an `OpaDecisionClient` (from `hexarch-guardrails/opa`) as `decisionClient` instead.
   *
   * Default: `HEXARCH_POLICY_OPA_URL`, else `OPA_URL` (as the Python package reads them) when
   * neither `decisionClient` nor `policies` is given: policies given in code are decided in
   * this process whatever the environment says. Like any `decisionClient`, OPA decides the
   * stateless parts of a policy only: rate limits and budgets are not counted.
   */
  readonly opaUrl?: string | undefined;
  /**
   * Where rate-limit and budget counters live.
   * @default new MemoryStateStore()
   */
  readonly state?: StateStore;
  /**
   * Where confirmation tokens are checked: a call whose context carries
   * `confirmationToken` satisfies `require_confirmation` when the token is approved,
   * unexpired, unused, and was issued for this policy and these arguments.
   */
  readonly confirmations?: ConfirmationStore;
  /** Receives every decision (`DecisionLogger` from `hexarch-guardrails/audit`). */
  readonly auditLogger?: DecisionRecorder;
  /**
   * Default: `HEXARCH_MODE`, else the file's `enforcement:` (`strict` → enforce,
   * `warn` → monitor), else `enforce`.
   */
  readonly mode?: GuardianMode;
  /**
   * Called when a call runs with a warning (and, in monitor mode, for would-be blocks).
   * Default: one line on stderr.
   */
  readonly onWarn?: (decision: Decision, call: CallInfo) => void;
  /**
   * Reports failures that do not change a decision (an audit store that is down, a failed
   * refund). Default: one line on stderr per kind of failure.
   */
  readonly onError?: (error: Error) => void;
  /**
   * The time in ms since the epoch, for tests.
   * @default Date.now
   */
  readonly clock?: () => number;
  /**
   * When a decision backend fails, let calls run (`true`) or block them (`false`).
   * Default: `false`, or `true` when `HEXARCH_POLICY_FAIL_CLOSED` is `false`. A policy can
   * say `fail_open: true` for itself.
   */
  readonly failOpen?: boolean;
  /**
   * Capture a stack trace in each `PolicyViolation`. Capturing one costs microseconds;
   * a service that refuses many calls per second (a rate limit under attack) can turn it
   * off: the message still names the policy, the rule and the reason.
   * @default true
   */
  readonly errorStacks?: boolean;
  /**
   * The largest context a decision evaluates, in bytes of its JSON encoding (UTF-8,
   * escapes aside). A larger context is refused unevaluated — blocked, whatever the
   * policy's `fail_open`, with a reason naming its size and this option — and its audit
   * record carries `{ "$truncated": true, "bytes": N }` instead of the context, so one
   * call cannot make the engine or the audit log chew through megabytes (a cyclic
   * context is refused the same way). The size is measured by a walk that stops at the
   * cap. `Infinity` turns the cap off.
   * @default 1048576 (1 MiB)
   */
  readonly maxContextBytes?: number;
  /**
   * How long to wait for an asynchronous decision client before failing.
   * @default 5000
   */
  readonly timeoutMs?: number;
  /**
   * Environment for `HEXARCH_MODE`, `HEXARCH_POLICY_FILE`, `HEXARCH_POLICY_FAIL_CLOSED`,
   * `HEXARCH_POLICY_OPA_URL` and `OPA_URL`. Default: `process.env`.
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Where policy discovery starts. Default: `process.cwd()`. */
  readonly cwd?: string;
}

/** What each option of {@link GuardianOptions} takes, checked by `new Guardian`. */
const GUARDIAN_OPTION_RULES = {
  policyFile: stringRule("a path string"),
  policies: anyOfRule("YAML text, a policies object or a loaded PolicySet", [
    stringRule(),
    objectRule(),
  ]),
  decisionClient: someMethodRule(
    "a DecisionClient (an object with a decide method) or an object with a checkPolicy method",
    ["decide", "checkPolicy"],
  ),
  opaUrl: nonEmptyStringRule("an http(s) URL string"),
  state: methodsRule("StateStore", ["consume", "adjust"]),
  confirmations: methodsRule("ConfirmationStore", ["create", "approve", "deny", "get", "consume"]),
  auditLogger: methodsRule("DecisionRecorder", ["record"]),
  mode: oneOfRule(["enforce", "monitor", "off"]),
  onWarn: functionRule("a function (decision, call) => void"),
  onError: functionRule("a function (error) => void"),
  clock: functionRule("a function returning the time in ms since the epoch"),
  failOpen: booleanRule,
  errorStacks: booleanRule,
  maxContextBytes: maxContextBytesRule,
  timeoutMs: positiveMsRule,
  env: objectRule("an object of environment variables"),
  cwd: stringRule("a directory path string"),
} satisfies RulesFor<GuardianOptions>;

/**
 * Checks the options of `new Guardian`: each against what it takes, and keys that are near
 * misses of an option (`policyfile`, `timeout`).
 *
 * @throws InvalidOptionError naming the option, what was given and what is expected.
 * @internal
 */
export function checkGuardianOptions(options: unknown): void {
  checkOptions("Guardian", options, GUARDIAN_OPTION_RULES);
}

/** A value given directly or computed from the guarded call's arguments. */
// `never[]` accepts a function of any parameters; the Guardian calls it with the call's arguments.
export type FromArgs<T> = T | ((...args: never[]) => T);

/** What a `settle` function answers: USD as a number, `{ costUsd, tokens }`, or nothing. */
export type SettledUsage =
  | number
  | { readonly costUsd?: number; readonly tokens?: number }
  | undefined;

/** Options of `guardian.check(policyId, options)`. */
export interface CheckOptions {
  /** Extra context for the decision: an object, or a function of the call's arguments. */
  readonly context?: FromArgs<Context>;
  /** Tags for the audit record (and `metadata` in the context). */
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** Estimated cost in USD: a number, or a function of the call's arguments. */
  readonly cost?: FromArgs<number>;
  /** Estimated tokens: a number, or a function of the call's arguments. */
  readonly tokens?: FromArgs<number>;
  readonly resource?: string;
  readonly operation?: string;
  /** The user: a string, or a function of the call's arguments. */
  readonly userId?: FromArgs<string | undefined>;
  /** Function name for the audit log. Default: the function's own name. */
  readonly name?: string;
  /**
   * Where this check's confirmation tokens are checked, instead of the Guardian's
   * `confirmations` (a `ConfirmationWorkflow` passes its own store here).
   */
  readonly confirmations?: ConfirmationStore;
  /**
   * The real cost after the call, from its result: USD as a number, or `{ costUsd, tokens }`.
   * The budget reservation is corrected by the difference.
   */
  readonly settle?: (result: never) => SettledUsage | Promise<SettledUsage>;
}

/**
 * Spend to count after the fact with `Guardian.recordSpend`: what a call cost, and the
 * context that says which rules' budgets it counts against (as a guarded call's options do).
 */
export interface SpendReport {
  /** What was spent, in USD (counted against `budget:`/`max_cost_usd` style USD budgets). */
  readonly costUsd?: number;
  /** Tokens used (counted against token budgets). */
  readonly tokens?: number;
  /** The resource the spend was on (`resource:` matchers see it). */
  readonly resource?: string;
  /** The operation (`operation:` matchers see it). */
  readonly operation?: string;
  /** Who spent it (per-user budgets key on it). */
  readonly userId?: string;
  /** More context for matchers, `when:` conditions and `per:` keys. */
  readonly context?: Context;
}

/** Options of `Guardian.enforce`: how the decision is recorded. */
export interface EnforceOptions {
  /** The function name of the audit record (a route, a tool), and of `onWarn`'s call info. */
  readonly name?: string;
  /** Tags for the audit record. */
  readonly metadata?: Readonly<Record<string, unknown>>;
}
