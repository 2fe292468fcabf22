/**
 * The decision: what a policy check answers, and how it is built on the hot path.
 *
 * @module
 */

import { uuidv7 } from "./uuid.ts";

/** What the decision asks the caller to do. */
export type DecisionAction = "allow" | "warn" | "block" | "require_confirmation";

/** The audit log's three outcomes (`require_confirmation` is recorded as `blocked`). */
export type DecisionOutcome = "allowed" | "warned" | "blocked";

/** A budget reservation made by an admitted decision, to settle or refund after the call. */
export interface ReservedAmount {
  /** The counter's key in the state store. */
  readonly key: string;
  /** `usd` amounts are micro-dollars. */
  readonly unit: "usd" | "tokens";
  /** What was reserved. */
  readonly amount: number;
  /** End of the counter's period (UTC ms). */
  readonly expiresAtMs: number;
  /** Whether the policy gives it back when the guarded function throws. */
  readonly refundOnError: boolean;
}

/**
 * What a refusal by a rate limit (a `requests_per_*` window) tells a caller who wants to
 * retry: `Retry-After` and `RateLimit-*` headers are built from it.
 */
export interface RateLimitRefusal {
  /** Requests admitted per window. */
  readonly limit: number;
  /** The window's length, in ms. */
  readonly windowMs: number;
  /**
   * How long until a request can be admitted again, at most, in ms: the window's length,
   * after which every request counted now has left the window (a sliding window may free
   * a slot sooner).
   */
  readonly retryAfterMs: number;
}

/**
 * Fields every decision has.
 *
 * A decision is a plain object of own, enumerable data properties, always the same keys in
 * the same order (a field that does not apply is present as `undefined`): `{ ...decision }`
 * and `structuredClone(decision)` keep every field. `structuredClone` turns {@link DecisionBase.error}
 * into a plain `Error` with the same message and stack (its class and `code` are lost, as
 * for any structured clone of an error).
 *
 * `JSON.stringify(decision)` leaves out the fields that are `undefined` and writes
 * {@link DecisionBase.error} as `{}` (an `Error` has no JSON form): send or log
 * {@link decisionToJSON}`(decision)` instead, whose shape is documented on {@link DecisionJSON}.
 */
export interface DecisionBase {
  /** Time-ordered UUIDv7. */
  readonly decisionId: string;
  /** The policy id, or the ids joined with `,` for a check of several policies. */
  readonly policyId: string;
  /** Why: names the policy and the rule that decided. */
  readonly reason: string;
  /** Ids of the rules that applied to the context (`policy/rules[i]` or `policy/name`). */
  readonly matchedRules: readonly string[];
  /** The rule that decided, when one did. */
  readonly ruleId?: string | undefined;
  /** Time the decision took, in ms. */
  readonly durationMs: number;
  /** When it was decided, ISO 8601 UTC (`"Invalid Date"` from a clock that gave no time). */
  readonly timestamp: string;
  /** When it was decided, ms since the epoch. */
  readonly timestampMs: number;
  /** Budget amounts reserved by this decision (admitted decisions only). */
  readonly reservation?: readonly ReservedAmount[] | undefined;
  /** Set when a backend failed and the decision was made by the fail-open/fail-closed setting. */
  readonly error?: Error | undefined;
  /** True when a backend failed and `failOpen` let the call through. */
  readonly failedOpen?: boolean | undefined;
  /**
   * Set on a refusal that only rate-limit windows made (no budget refused too): when the
   * caller may try again. Of several full windows, the longest.
   */
  readonly rateLimit?: RateLimitRefusal | undefined;
}

/** The call may run. */
export interface AllowDecision extends DecisionBase {
  readonly allowed: true;
  readonly action: "allow";
  readonly decision: "allowed";
}
/** The call may run, with a warning. */
export interface WarnDecision extends DecisionBase {
  readonly allowed: true;
  readonly action: "warn";
  readonly decision: "warned";
}
/** The call must not run. */
export interface BlockDecision extends DecisionBase {
  readonly allowed: false;
  readonly action: "block";
  readonly decision: "blocked";
}
/** The call must not run until confirmed. */
export interface ConfirmationDecision extends DecisionBase {
  readonly allowed: false;
  readonly action: "require_confirmation";
  readonly decision: "blocked";
}

/** A policy decision: a readonly union discriminated by `action` (or `allowed`). */
export type Decision = AllowDecision | WarnDecision | BlockDecision | ConfirmationDecision;

/** Severity order: the most severe outcome of a check wins. */
export const SEVERITY: Readonly<Record<DecisionAction, number>> = {
  allow: 0,
  warn: 1,
  require_confirmation: 2,
  block: 3,
};

const OUTCOME: Readonly<Record<DecisionAction, DecisionOutcome>> = {
  allow: "allowed",
  warn: "warned",
  require_confirmation: "blocked",
  block: "blocked",
};

/** A counter of a decision as the decision needs it to report its reservation. */
export interface ReservationSource {
  readonly kind: "window" | "period";
  readonly key: string;
  readonly unit: "requests" | "usd" | "tokens";
  readonly amount: number;
  readonly expiresAtMs: number;
  readonly refundOnError: boolean;
}

/** What {@link makeDecision} builds a decision from. */
export interface DecisionFields {
  readonly policyId: string;
  readonly action: DecisionAction;
  /** The reason, or a function that builds it (called once, when the decision is made). */
  readonly reason: string | (() => string);
  readonly matchedRules: readonly string[];
  readonly ruleId?: string | undefined;
  readonly durationMs: number;
  readonly timestampMs: number;
  /** The admitted decision's counters; budget counters with an amount become its reservation. */
  readonly counters?: readonly ReservationSource[] | undefined;
  readonly error?: Error | undefined;
  readonly failedOpen?: boolean | undefined;
  readonly rateLimit?: RateLimitRefusal | undefined;
}

/** The budget counters of an admitted decision, as its reservation (`undefined`: none). */
function reservationOf(
  counters: readonly ReservationSource[] | undefined,
): readonly ReservedAmount[] | undefined {
  if (counters === undefined) return undefined;
  let out: ReservedAmount[] | undefined;
  for (let i = 0; i < counters.length; i++) {
    const c = counters[i] as ReservationSource;
    // Zero-amount budget counters too: a call without an estimate settles its real cost.
    if (c.kind !== "period" || c.unit === "requests") continue;
    out ??= [];
    out.push({
      key: c.key,
      unit: c.unit,
      amount: c.amount,
      expiresAtMs: c.expiresAtMs,
      refundOnError: c.refundOnError,
    });
  }
  return out === undefined ? undefined : Object.freeze(out);
}

/**
 * Builds a decision: a plain object (see {@link DecisionBase}) whose keys are always the
 * same, in the same order, so every decision has one shape.
 */
export function makeDecision(f: DecisionFields): Decision {
  const action = f.action;
  const reason = f.reason;
  const timestampMs = f.timestampMs;
  // One object literal with every key: the engine's decisions share one hidden class.
  return {
    decisionId: uuidv7(timestampMs),
    policyId: f.policyId,
    allowed: action === "allow" || action === "warn",
    action,
    decision: OUTCOME[action],
    reason: typeof reason === "string" ? reason : reason(),
    matchedRules: f.matchedRules,
    ruleId: f.ruleId,
    durationMs: f.durationMs,
    timestamp: isoTimestamp(timestampMs),
    timestampMs,
    reservation: reservationOf(f.counters),
    error: f.error,
    failedOpen: f.failedOpen,
    rateLimit: f.rateLimit,
  } as Decision;
}

/**
 * A decision as JSON carries it, as {@link decisionToJSON} returns it (the shape a decision
 * had as JSON before it became plain data). Fields that do not apply are left out.
 */
export interface DecisionJSON {
  readonly decisionId: string;
  readonly policyId: string;
  readonly allowed: boolean;
  readonly action: DecisionAction;
  readonly decision: DecisionOutcome;
  readonly reason: string;
  readonly matchedRules: readonly string[];
  readonly ruleId?: string;
  readonly durationMs: number;
  /** ISO 8601 UTC (the ms form, `timestampMs`, is left out: it says the same). */
  readonly timestamp: string;
  readonly reservation?: readonly ReservedAmount[];
  /** The error's message. */
  readonly error?: string;
  readonly failedOpen?: boolean;
  readonly rateLimit?: RateLimitRefusal;
}

/**
 * A decision as plain JSON data, for logs and HTTP answers: the {@link DecisionJSON}
 * shape, with `error` as its message. `JSON.stringify(decisionToJSON(d))` is the
 * documented wire form of a decision.
 *
 * @example
 * ```ts
 * res.json(decisionToJSON(decision));
 * ```
 */
export function decisionToJSON(d: Decision): DecisionJSON {
  return {
    decisionId: d.decisionId,
    policyId: d.policyId,
    allowed: d.allowed,
    action: d.action,
    decision: d.decision,
    reason: d.reason,
    matchedRules: d.matchedRules,
    ...(d.ruleId !== undefined && { ruleId: d.ruleId }),
    durationMs: d.durationMs,
    timestamp: d.timestamp,
    ...(d.reservation !== undefined && { reservation: d.reservation }),
    ...(d.error !== undefined && { error: d.error.message }),
    ...(d.failedOpen !== undefined && { failedOpen: d.failedOpen }),
    ...(d.rateLimit !== undefined && { rateLimit: d.rateLimit }),
  };
}

/** The latest instant formatted, and its text: decisions made in one millisecond share it. */
let isoMs = Number.NaN;
let isoText = "";
/** The UTC day of the latest instant (its first ms), and its `YYYY-MM-DDT` text. */
let dayStartMs = Number.NaN;
let dayText = "";
const DAY_MS = 86_400_000;
/** The latest instant a `Date` can hold, either side of the epoch. */
const MAX_DATE_MS = 8.64e15;
const PAD2 = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, "0"));
const PAD3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, "0"));

/**
 * `new Date(ms).toISOString()`, built from the day's text and the time of day: every
 * decision formats its instant, and `toISOString` costs more than the rest of a decision.
 * An instant no `Date` can hold (`NaN`, a clock gone wrong) gives `"Invalid Date"`.
 */
function isoTimestamp(ms: number): string {
  const whole = Math.floor(ms);
  if (whole === isoMs) return isoText;
  if (!(Math.abs(whole) <= MAX_DATE_MS)) return "Invalid Date";
  const day = Math.floor(whole / DAY_MS) * DAY_MS;
  if (day !== dayStartMs) {
    const text = new Date(day).toISOString();
    dayText = text.slice(0, text.indexOf("T") + 1);
    dayStartMs = day;
  }
  let rest = whole - day;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = Math.floor(rest / 1000);
  isoText = `${dayText}${PAD2[hours] as string}:${PAD2[minutes] as string}:${PAD2[seconds] as string}.${PAD3[rest - seconds * 1000] as string}Z`;
  isoMs = whole;
  return isoText;
}

/** What a token is bound to: the policy and a fingerprint of the call's arguments. */
export interface ConfirmationBinding {
  readonly policyId: string;
  /** From `fingerprintCall(policyId, args)`; also on `ConfirmationRequired.binding`. */
  readonly fingerprint: string;
}
