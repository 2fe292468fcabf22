/**
 * The loaded, validated form of a policy file: what `loadPolicyFile` returns and what the
 * engine compiles. Names are camelCase; amounts carry their unit.
 *
 * @module
 */

import type { Condition } from "./conditions.ts";
import type { CalendarPeriod } from "./time-zone.ts";

/** What a rule does when it fires. */
export type RuleAction = "allow" | "warn" | "block" | "require_confirmation";

/** A time-of-day window in minutes since local midnight; `end` is exclusive and may be ≤ `start` (crosses midnight). */
export interface TimeWindow {
  readonly startMinute: number;
  readonly endMinute: number;
}

/** A `denied_windows` entry: recurring (days and/or hours) or one absolute range. */
export type DeniedWindow =
  | {
      readonly kind: "recurring";
      /** Weekdays (0 = Sunday); absent means every day. */
      readonly days?: readonly number[];
      /** Hours; absent means the whole day. */
      readonly hours?: TimeWindow;
    }
  | { readonly kind: "range"; readonly startMs: number; readonly endMs: number };

/** When a rule lets calls through, in the rule's time zone. */
export interface Schedule {
  /** The rule fires outside all of these windows. */
  readonly allowedHours?: readonly TimeWindow[];
  /** The rule fires on any other weekday (0 = Sunday). */
  readonly allowedDays?: readonly number[];
  /** The rule fires inside any of these windows. */
  readonly forbiddenHours?: readonly TimeWindow[];
  /** The rule fires on these weekdays. */
  readonly forbiddenDays?: readonly number[];
  /** The rule fires inside any of these. */
  readonly deniedWindows?: readonly DeniedWindow[];
}

/** A sliding-window request limit. */
export interface RateLimit {
  /** The file's key, e.g. `requests_per_minute`. */
  readonly key: string;
  readonly limit: number;
  readonly windowMs: number;
}

/** A calendar-period budget of money or tokens. */
export interface Budget {
  /** The file's key, e.g. `monthly_budget`. */
  readonly key: string;
  /** `usd` limits are in micro-dollars; `tokens` limits in tokens. */
  readonly unit: "usd" | "tokens";
  readonly period: CalendarPeriod;
  /** Micro-dollars (unit `usd`) or tokens. */
  readonly limit: number;
}

/** Bounds on one call parameter (`parameter:` rules). */
export interface ParameterBounds {
  readonly name: string;
  readonly min?: number;
  readonly max?: number;
  readonly maxLength?: number;
  readonly allowedValues?: readonly unknown[];
}

/** One rule of a policy, validated and normalized. */
export interface PolicyRule {
  /** `policyId/name` when the rule has an `id` or `name`, else `policyId/rules[i]`. */
  readonly id: string;
  /** Position in the policy's `rules` list. */
  readonly index: number;
  readonly name?: string;
  readonly description?: string;
  /** Replaces the generated reason when the rule fires. */
  readonly message?: string;
  /** Breaks ties between outcomes of the same severity; higher wins. */
  readonly priority: number;
  /** A disabled rule (`enabled: false` without `feature`) is never evaluated. */
  readonly enabled: boolean;
  readonly resource?: readonly string[];
  readonly operation?: readonly string[];
  readonly resourceTypes?: readonly string[];
  readonly feature?: { readonly name: string; readonly enabled: boolean };
  readonly model?: { readonly patterns: readonly string[]; readonly allowed: boolean };
  readonly when?: Condition;
  readonly rateLimits: readonly RateLimit[];
  /** Context field whose value keys the rule's counters (per user, per tenant…). */
  readonly per?: string;
  readonly budgets: readonly Budget[];
  readonly maxCostPerCallMicros?: number;
  readonly maxTokensPerRequest?: number;
  readonly schedule?: Schedule;
  /** IANA zone for schedules and calendar budgets. */
  readonly timezone: string;
  /** Context flags that must be `true` (`confirm` for confirmation). */
  readonly requires?: readonly string[];
  readonly allowedUsers?: readonly string[];
  readonly parameter?: ParameterBounds;
  /** Give budget reservations back when the guarded function throws. */
  readonly refundOnError: boolean;
  /** What happens when the rule fires (a limit is exceeded, a window is hit, a matcher-only rule matches). */
  readonly action: RuleAction;
  /** Warn from this percentage of each quantity limit (`warn_at_N%`, `alert_at_percentage`). */
  readonly warnAtPercent?: number;
  /** Treat N% of each quantity limit as the limit (`block_at_N%`). */
  readonly limitAtPercent?: number;
  /** Where the rule starts in its file (1-based; 0 when loaded from an object). */
  readonly line: number;
}

/** One policy. */
export interface Policy {
  readonly id: string;
  readonly name?: string;
  readonly description?: string;
  /** A disabled policy is listed but not evaluated: checks against it allow. */
  readonly enabled: boolean;
  /** When a decision backend fails, let the call run instead of blocking it. */
  readonly failOpen: boolean;
  readonly timezone: string;
  readonly rules: readonly PolicyRule[];
}

/** The `logging:` section: one JSON line per decision appended to a file. */
export interface PolicyLogging {
  readonly enabled: boolean;
  readonly level: "info" | "warning" | "error";
  readonly file?: string;
}

/** A loaded policy file. */
export interface PolicySet {
  /** The file it came from, or `<inline>`. */
  readonly source: string;
  readonly policies: readonly Policy[];
  /** `enforcement:` mapped to a mode (`strict` → enforce, `warn` → monitor). */
  readonly mode?: "enforce" | "monitor";
  readonly logging?: PolicyLogging;
  readonly opa?: { readonly url?: string; readonly timeoutMs?: number };
}
