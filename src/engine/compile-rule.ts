/**
 * Compiles one {@link PolicyRule} into closures: a matcher (does the rule apply? see
 * `rule-matchers.ts`), the stateless triggers (does it fire?), and the specs of its
 * counters. Everything that can be computed once — reasons, sets, regular expressions,
 * time zones — is computed here.
 *
 * @module
 */

import type { Context } from "../kernel/context.ts";
import type { DecisionAction } from "../kernel/decision.ts";
import { SEVERITY } from "../kernel/decision.ts";
import { compileFieldPath, type FieldGetter } from "../policy/field-path.ts";
import { type CalendarPeriod, periodAt, TimeZone } from "../policy/time-zone.ts";
import type { Budget, PolicyRule, RuleAction } from "../policy/types.ts";
import { describeValue } from "../util/describe.ts";
import { formatUsd } from "../util/money.ts";
import type { TruthTest } from "./conditions.ts";
import { compileApplies, matchDetail } from "./rule-matchers.ts";
import { allowedUsersTrigger, parameterTrigger, scheduleTrigger } from "./triggers.ts";

/**
 * Text, or a function that builds it. Reasons that carry numbers are built only when read:
 * most refused calls in a busy service are never logged one by one.
 */
export type LazyText = string | (() => string);

/** What one rule contributes to a decision. */
export interface Outcome {
  readonly action: DecisionAction;
  readonly severity: number;
  readonly priority: number;
  readonly reason: LazyText;
  readonly ruleId: string;
}

/** Extra input to a decision beyond the context. */
export interface DecideInput {
  /** The guarded call's arguments (for `parameter:` rules). */
  readonly args?: readonly unknown[] | undefined;
  /**
   * A dry run: decide exactly as a real call would, but move nothing. Counters are read
   * with the state store's `peek` (never `consume`), and the decision reserves no budget.
   * With a store that has no `peek`, a decision that needs counters is refused with an
   * error of code `dry_run_unsupported`, never consumed.
   */
  readonly dryRun?: boolean | undefined;
}

/** A stateless trigger: returns an outcome when the rule fires (or warns), else `undefined`. */
export type Trigger = (
  ctx: Context,
  nowMs: number,
  input: DecideInput | undefined,
) => Outcome | undefined;

/** A counter a rule keeps; the key is completed per call with the `per` value and period. */
export interface CounterSpec {
  readonly rule: CompiledRule;
  readonly kind: "window" | "period";
  readonly label: string;
  readonly unit: "requests" | "usd" | "tokens";
  /** Effective limit (after `block_at_N%`). */
  readonly limit: number;
  /** The limit as written. */
  readonly nominalLimit: number;
  /** {@link CounterSpec.limit} as reasons show it, formatted once (not per decision). */
  readonly limitText: string;
  /** {@link CounterSpec.nominalLimit} as reasons show it. */
  readonly nominalLimitText: string;
  /** Total at or above which the rule warns; `Infinity` for none. */
  readonly warnAt: number;
  readonly windowMs: number;
  /** Builds (and caches) this counter's store keys. */
  readonly keys: CounterKeys;
  readonly period?: PeriodTracker;
}

/**
 * Builds a counter's store keys — `prefix`, the period index, `|`, the `per` value — and
 * caches them by `per` value. The store then looks up the same string object every time,
 * whose hash V8 has already computed: a fresh concatenation would be hashed on every call.
 * The cache is dropped when the period changes or it grows past `maxEntries`.
 */
export class CounterKeys {
  readonly prefix: string;
  readonly #cache = new Map<string, string>();
  readonly #maxEntries: number;
  #period = Number.NaN;

  constructor(prefix: string, maxEntries = 8192) {
    this.prefix = prefix;
    this.#maxEntries = maxEntries;
  }

  /** The key for a `per` value in a period (`periodIndex` is ignored for windows: pass 0). */
  key(per: string, periodIndex: number): string {
    if (periodIndex !== this.#period || this.#cache.size >= this.#maxEntries) {
      this.#cache.clear();
      this.#period = periodIndex;
    }
    let key = this.#cache.get(per);
    if (key === undefined) {
      key = `${this.prefix}${periodIndex}|${per}`;
      this.#cache.set(per, key);
    }
    return key;
  }
}

/** Caches the current calendar period of one zone, so most calls skip the time-zone math. */
export class PeriodTracker {
  readonly #zone: TimeZone;
  readonly #period: CalendarPeriod;
  startMs = Number.POSITIVE_INFINITY;
  endMs = Number.NEGATIVE_INFINITY;
  index = 0;

  constructor(zone: TimeZone, period: CalendarPeriod) {
    this.#zone = zone;
    this.#period = period;
  }

  /** Moves to the period containing `nowMs` if needed. */
  at(nowMs: number): this {
    if (nowMs < this.startMs || nowMs >= this.endMs) {
      const p = periodAt(this.#zone, this.#period, nowMs);
      this.startMs = p.startMs;
      this.endMs = p.endMs;
      this.index = p.index;
    }
    return this;
  }
}

/** A compiled rule. */
export interface CompiledRule {
  readonly id: string;
  readonly policyId: string;
  readonly priority: number;
  readonly action: RuleAction;
  /**
   * Does the rule apply to this context? `TRUE`, `FALSE`, or `UNKNOWN`: it applies because a
   * `when:` condition met a value of the wrong type (fail closed; never for `allow` rules,
   * whose `UNKNOWN` is `FALSE`). `undefined` = always.
   */
  readonly applies: TruthTest | undefined;
  /**
   * The outcome of a matcher-only rule (see `always`) that applies on `UNKNOWN`: its
   * reason names the field and the type it should have had.
   */
  readonly unknown: (ctx: Context) => Outcome;
  /** Whether a trigger reads the call's arguments (`parameter:`). */
  readonly readsArgs: boolean;
  /** Stateless triggers; a rule with neither triggers nor counters fires whenever it applies. */
  readonly triggers: readonly Trigger[];
  /** The outcome when a matcher-only rule applies. */
  readonly always: Outcome | undefined;
  readonly counters: readonly CounterSpec[];
  /** Reads the `per` value; `undefined` without `per`. */
  readonly per: FieldGetter | undefined;
  /** The `per` field's name, for reasons. */
  readonly perName: string;
  /** Give budget reservations back when the guarded function throws. */
  readonly refundOnError: boolean;
  /** The outcome for "a counter refused" (block, or confirmation). */
  readonly refusal: (detail: LazyText) => Outcome;
  /** The outcome for "warn" on this rule. */
  readonly warning: (detail: LazyText) => Outcome;
  /** An `allow` outcome for a confirmed call. */
  readonly confirmed: Outcome;
  /** A `block` outcome for invalid input (a negative cost), whatever the rule's action. */
  readonly invalid: (detail: LazyText) => Outcome;
}

const VERB: Readonly<Record<DecisionAction, string>> = {
  allow: "allowed the call",
  warn: "warning",
  require_confirmation: "requires confirmation",
  block: "blocked the call",
};

/** The rule's name within its policy: `rules[0]` or its own id. */
const label = (rule: PolicyRule, policyId: string): string =>
  rule.id.startsWith(`${policyId}/`) ? rule.id.slice(policyId.length + 1) : rule.id;

/** Compiles a rule for a policy. */
export function compileRule(rule: PolicyRule, policyId: string): CompiledRule {
  const ruleLabel = label(rule, policyId);
  const outcome = (action: DecisionAction, detail: LazyText): Outcome => {
    const head = `Policy '${policyId}' ${VERB[action]}: `;
    const tail = ` (rule ${ruleLabel})`;
    const text = rule.message ?? detail;
    return {
      action,
      severity: SEVERITY[action],
      priority: rule.priority,
      ruleId: rule.id,
      reason: typeof text === "string" ? head + text + tail : () => head + text() + tail,
    };
  };
  const fired = (detail: LazyText): Outcome => outcome(rule.action, detail);
  const warning = (detail: LazyText): Outcome => outcome("warn", detail);
  const confirmed = outcome("allow", "confirmed");

  const { applies, when } = compileApplies(rule);

  // --- stateless triggers
  const triggers: Trigger[] = [];
  const warnPct = rule.warnAtPercent;
  const limitPct = rule.limitAtPercent ?? 100;
  if (rule.feature && !rule.feature.enabled) {
    const o = fired(`feature '${rule.feature.name}' is disabled`);
    triggers.push(() => o);
  }
  if (rule.model && !rule.model.allowed) {
    const patterns = rule.model.patterns.join(", ");
    triggers.push((ctx) =>
      fired(
        `model ${typeof ctx.model === "string" ? `'${ctx.model}'` : `(${patterns})`} is not allowed`,
      ),
    );
  }
  if (rule.requires) {
    const flags = rule.requires;
    // On a rule that asks for confirmation, a missing precondition other than `confirm`
    // blocks: confirming the call must not stand in for, say, `backup_verified`.
    const unmet = (f: string) =>
      f !== "confirm" && rule.action === "require_confirmation"
        ? outcome.bind(null, "block")
        : fired;
    triggers.push((ctx) => {
      for (const f of flags)
        if (ctx[f] !== true) return unmet(f)(`requires ${f} to be true in the context`);
      return undefined;
    });
  }
  if (rule.allowedUsers) triggers.push(allowedUsersTrigger(rule.allowedUsers, fired));
  if (rule.schedule)
    triggers.push(scheduleTrigger(rule.schedule, TimeZone.get(rule.timezone), fired));
  if (rule.parameter) triggers.push(parameterTrigger(rule, fired));
  const quantity = (
    field: "cost" | "tokens",
    max: number,
    scale: number,
    fmt: (n: number) => string,
    noun: string,
  ): Trigger => {
    const hard = Math.floor((max * limitPct) / 100);
    const soft = warnPct === undefined ? Number.POSITIVE_INFINITY : (max * warnPct) / 100;
    return (ctx) => {
      const raw = ctx[field];
      if (raw === undefined || raw === null) return undefined;
      if (typeof raw !== "number" || !Number.isFinite(raw) || raw < 0) {
        return outcome(
          "block",
          `${field} must be a non-negative number, got ${describeValue(raw)}`,
        );
      }
      const v = Math.round(raw * scale);
      if (v > hard) return fired(`${noun} ${fmt(v)} exceeds the limit of ${fmt(hard)}`);
      if (v >= soft)
        return warning(
          `${noun} ${fmt(v)} is at ${Math.floor((v / max) * 100)}% of the limit of ${fmt(max)}`,
        );
      return undefined;
    };
  };
  if (rule.maxCostPerCallMicros !== undefined) {
    triggers.push(
      quantity("cost", rule.maxCostPerCallMicros, 1_000_000, formatUsd, "cost per call"),
    );
  }
  if (rule.maxTokensPerRequest !== undefined) {
    triggers.push(
      quantity("tokens", rule.maxTokensPerRequest, 1, (n) => `${n} tokens`, "tokens per request"),
    );
  }

  const compiled: CompiledRule = {
    id: rule.id,
    policyId,
    priority: rule.priority,
    action: rule.action,
    applies,
    unknown: (ctx) =>
      fired(
        `${when ? when.explain(ctx) : "a condition could not be evaluated"}: the rule applies (fail closed)`,
      ),
    readsArgs: rule.parameter !== undefined,
    triggers,
    always: undefined,
    counters: [],
    per: rule.per === undefined ? undefined : compileFieldPath(rule.per),
    perName: rule.per ?? "",
    refundOnError: rule.refundOnError,
    refusal: fired,
    warning,
    confirmed,
    invalid: (detail) => outcome("block", detail),
  };
  const counters: CounterSpec[] = [];
  const warnAt = (limit: number) =>
    warnPct === undefined ? Number.POSITIVE_INFINITY : (limit * warnPct) / 100;
  const effective = (limit: number) => Math.max(0, Math.floor((limit * limitPct) / 100));
  for (const r of rule.rateLimits) {
    counters.push({
      rule: compiled,
      kind: "window",
      label: r.key.replaceAll("_", " "),
      unit: "requests",
      limit: effective(r.limit),
      nominalLimit: r.limit,
      limitText: String(effective(r.limit)),
      nominalLimitText: String(r.limit),
      warnAt: warnAt(r.limit),
      windowMs: r.windowMs,
      keys: new CounterKeys(`${rule.id}:w${r.windowMs}:`),
    });
  }
  for (const b of rule.budgets)
    counters.push(budgetSpec(compiled, rule, b, effective(b.limit), warnAt(b.limit)));
  const always =
    triggers.length === 0 && counters.length === 0 ? fired(matchDetail(rule)) : undefined;
  return { ...compiled, counters, always };
}

/** An amount of a counter's unit as reasons show it: `$12.50`, `500 tokens`, `3`. */
export function amountText(unit: CounterSpec["unit"], n: number): string {
  return unit === "usd" ? formatUsd(n) : unit === "tokens" ? `${n} tokens` : `${n}`;
}

function budgetSpec(
  compiled: CompiledRule,
  rule: PolicyRule,
  b: Budget,
  limit: number,
  warnAt: number,
): CounterSpec {
  const noun =
    b.unit === "usd"
      ? `${b.period === "day" ? "daily" : b.period === "month" ? "monthly" : "hourly"} budget`
      : b.key.replaceAll("_", " ");
  return {
    rule: compiled,
    kind: "period",
    label: noun,
    unit: b.unit,
    limit,
    nominalLimit: b.limit,
    limitText: amountText(b.unit, limit),
    nominalLimitText: amountText(b.unit, b.limit),
    warnAt,
    windowMs: 0,
    keys: new CounterKeys(`${rule.id}:${b.unit === "usd" ? "$" : "t"}${b.period[0]}`),
    period: new PeriodTracker(TimeZone.get(rule.timezone), b.period),
  };
}
