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

/** Fields every decision has. */
export interface DecisionBase {
  /** Time-ordered UUIDv7; generated on first read. */
  readonly decisionId: string;
  /** The policy id, or the ids joined with `,` for a check of several policies. */
  readonly policyId: string;
  /** Why: names the policy and the rule that decided. */
  readonly reason: string;
  /** Ids of the rules that applied to the context (`policy/rules[i]` or `policy/name`). */
  readonly matchedRules: readonly string[];
  /** The rule that decided, when one did. */
  readonly ruleId?: string;
  /** Time the decision took, in ms. */
  readonly durationMs: number;
  /** When it was decided, ISO 8601 UTC. */
  readonly timestamp: string;
  /** When it was decided, ms since the epoch. */
  readonly timestampMs: number;
  /** Budget amounts reserved by this decision (admitted decisions only). */
  readonly reservation?: readonly ReservedAmount[];
  /** Set when a backend failed and the decision was made by the fail-open/fail-closed setting. */
  readonly error?: Error;
  /** True when a backend failed and `failOpen` let the call through. */
  readonly failedOpen?: boolean;
  /**
   * Set on a refusal that only rate-limit windows made (no budget refused too): when the
   * caller may try again. Of several full windows, the longest.
   */
  readonly rateLimit?: RateLimitRefusal;
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

/** Plain fields of a decision; the id, ISO timestamp and reservation are derived lazily. */
export interface DecisionFields {
  readonly policyId: string;
  readonly action: DecisionAction;
  /** The reason, or a function that builds it when first read. */
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

// A class, so that the id (a UUID string) and the ISO timestamp are only built when read:
// most allowed decisions are never logged.
class DecisionRecord {
  readonly policyId: string;
  readonly allowed: boolean;
  readonly action: DecisionAction;
  readonly decision: DecisionOutcome;
  readonly matchedRules: readonly string[];
  readonly ruleId: string | undefined;
  readonly durationMs: number;
  readonly timestampMs: number;
  readonly error: Error | undefined;
  readonly failedOpen: boolean | undefined;
  readonly rateLimit: RateLimitRefusal | undefined;
  #id: string | undefined;
  #reason: string | (() => string);
  #counters: readonly ReservationSource[] | undefined;
  #reservation: readonly ReservedAmount[] | undefined | null = null;

  constructor(f: DecisionFields) {
    this.policyId = f.policyId;
    this.action = f.action;
    this.allowed = f.action === "allow" || f.action === "warn";
    this.decision = OUTCOME[f.action];
    this.#reason = f.reason;
    this.matchedRules = f.matchedRules;
    this.ruleId = f.ruleId;
    this.durationMs = f.durationMs;
    this.timestampMs = f.timestampMs;
    this.#counters = f.counters;
    this.error = f.error;
    this.failedOpen = f.failedOpen;
    this.rateLimit = f.rateLimit;
  }

  get decisionId(): string {
    this.#id ??= uuidv7(this.timestampMs);
    return this.#id;
  }

  get reason(): string {
    const r = this.#reason;
    if (typeof r === "string") return r;
    const text = r();
    this.#reason = text;
    return text;
  }

  get reservation(): readonly ReservedAmount[] | undefined {
    if (this.#reservation === null) {
      const out: ReservedAmount[] = [];
      for (const c of this.#counters ?? []) {
        // Zero-amount budget counters too: a call without an estimate settles its real cost.
        if (c.kind === "period" && c.unit !== "requests") {
          out.push({
            key: c.key,
            unit: c.unit,
            amount: c.amount,
            expiresAtMs: c.expiresAtMs,
            refundOnError: c.refundOnError,
          });
        }
      }
      this.#reservation = out.length > 0 ? Object.freeze(out) : undefined;
    }
    return this.#reservation;
  }

  /** {@link timestampMs} as an ISO 8601 string (UTC, millisecond precision). */
  get timestamp(): string {
    return isoTimestamp(this.timestampMs);
  }

  toJSON(): Record<string, unknown> {
    return {
      decisionId: this.decisionId,
      policyId: this.policyId,
      allowed: this.allowed,
      action: this.action,
      decision: this.decision,
      reason: this.reason,
      matchedRules: this.matchedRules,
      ...(this.ruleId !== undefined && { ruleId: this.ruleId }),
      durationMs: this.durationMs,
      timestamp: this.timestamp,
      ...(this.reservation !== undefined && { reservation: this.reservation }),
      ...(this.error !== undefined && { error: this.error.message }),
      ...(this.failedOpen !== undefined && { failedOpen: this.failedOpen }),
      ...(this.rateLimit !== undefined && { rateLimit: this.rateLimit }),
    };
  }
}

/** Builds a decision. */
export function makeDecision(fields: DecisionFields): Decision {
  return new DecisionRecord(fields) as unknown as Decision;
}

/** The latest instant formatted, and its text: decisions made in one millisecond share it. */
let isoMs = Number.NaN;
let isoText = "";

/** `new Date(ms).toISOString()`, remembered for the latest millisecond asked. */
function isoTimestamp(ms: number): string {
  const whole = Math.floor(ms);
  if (whole !== isoMs) {
    isoText = new Date(whole).toISOString();
    isoMs = whole;
  }
  return isoText;
}

/** What a token is bound to: the policy and a fingerprint of the call's arguments. */
export interface ConfirmationBinding {
  readonly policyId: string;
  /** From `fingerprintCall(policyId, args)`; also on `ConfirmationRequired.binding`. */
  readonly fingerprint: string;
}
