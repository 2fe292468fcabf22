/**
 * Every field of a rule that the diff compares, each with its value in the file's terms
 * and what it means, in a fixed order: on/off, matchers, limits, schedule, users,
 * parameter, action, bookkeeping.
 *
 * @module
 */

import { SEVERITY } from "../../kernel/decision.ts";
import { formatUsd } from "../../util/money.ts";
import { DAY_MS, HOUR_MS, MINUTE_MS } from "../time-zone.ts";
import type { PolicyRule, TimeWindow } from "../types.ts";
import type { Facet, Scope } from "./facet.ts";
import { dayNames, deniedWindowValue, formatWindow, renderCondition, show } from "./render.ts";
import { dayBits, deniedCover, minuteBits } from "./schedule.ts";
import {
  ABSENT_ID,
  type Cover,
  cover,
  type Dir,
  flag,
  NO_LIMIT,
  noSet,
  num,
  opaque,
  stringSet,
} from "./semantics.ts";

/** The window of each standard rate-limit key, in ms. */
const RATE_WINDOWS: Readonly<Record<string, number>> = {
  requests_per_second: 1000,
  requests_per_minute: MINUTE_MS,
  requests_per_hour: HOUR_MS,
  requests_per_day: DAY_MS,
  daily_limit: DAY_MS,
};
/** Budget periods in field order. */
const PERIOD_ORDER = { hour: 0, day: 1, month: 2 } as const;

/** Every field of a rule that the diff compares, in the fixed order. */
export function ruleFacets(rule: PolicyRule): Facet[] {
  const out: Facet[] = [];
  type Spec = Omit<Facet, "key" | "scope" | "text"> & {
    key?: string;
    scope?: Scope;
    text?: string;
  };
  const add = (f: Spec) => out.push({ key: f.field, scope: "rule", text: show(f.value), ...f });
  /** A quantity limit: absent means unlimited, lower is stricter. */
  const limit = (field: string, order: number, n: number, f: Partial<Spec> = {}) =>
    add({ field, order, value: n, sem: num(n, "lower"), absent: { sem: NO_LIMIT }, ...f });
  /** A value compared only for equality; `whenAdded` says what adding it does. */
  const label = (
    field: string,
    order: number,
    value: string,
    whenAdded: Dir,
    f: Partial<Spec> = {},
  ) =>
    add({
      field,
      order,
      value,
      sem: opaque(value, whenAdded),
      absent: { sem: opaque(ABSENT_ID, whenAdded) },
      ...f,
    });
  /** A set of values, compared by inclusion; `absent` is what a missing key covers. */
  const covering = (
    field: string,
    order: number,
    value: unknown,
    c: Cover,
    absent: Cover,
    tighter: "bigger" | "smaller",
    absentText?: string,
  ) =>
    add({
      field,
      order,
      value,
      sem: cover(c, tighter),
      absent: {
        ...(absentText !== undefined && { text: absentText }),
        sem: cover(absent, tighter),
      },
    });
  const bits = (b: Uint8Array): Cover => ({ type: "bits", bits: b, ranges: [] });

  // on or off
  if (rule.feature) {
    // With `feature`, `enabled` is the feature's state, and `false` fires the rule.
    const on = rule.feature.enabled;
    add({
      field: "enabled",
      order: 1,
      value: on,
      sem: flag(on, false),
      absent: { value: true, text: "true", sem: flag(true, true) },
    });
  } else if (!rule.enabled) {
    add({
      field: "enabled",
      order: 1,
      value: false,
      sem: flag(false, true),
      absent: { value: true, text: "true", sem: flag(true, true) },
      scope: "enabled",
    });
  }

  // matchers: a wider matcher makes the rule apply to more calls
  const any: Cover = { type: "globs", patterns: ["*"] };
  const globs = (field: string, order: number, patterns: readonly string[] | undefined) => {
    if (patterns)
      covering(field, order, [...patterns], { type: "globs", patterns }, any, "bigger", "any");
  };
  globs("resource", 10, rule.resource);
  globs("operation", 11, rule.operation);
  globs("resource_types", 12, rule.resourceTypes);
  globs("model", 13, rule.model?.patterns);
  if (rule.model) {
    const allowed = rule.model.allowed;
    add({
      field: "allowed",
      order: 14,
      value: allowed,
      sem: flag(allowed, false),
      absent: { sem: flag(true, false) },
    });
  }
  // A feature or a condition narrows the calls the rule applies to.
  if (rule.feature) label("feature", 15, rule.feature.name, "looser");
  if (rule.when) {
    const text = renderCondition(rule.when);
    label("when", 16, text, "looser", {
      noun: "condition",
      sem: opaque(JSON.stringify(rule.when), "looser"),
    });
  }

  // quantities
  const seen = new Map<string, number>();
  const occurrence = (k: string) => {
    const n = seen.get(k) ?? 0;
    seen.set(k, n + 1);
    return `${k}#${n}`;
  };
  for (const r of rule.rateLimits) {
    const standard = RATE_WINDOWS[r.key] === r.windowMs;
    limit(standard ? r.key : "rate_limit", 20 + r.windowMs / (1000 * DAY_MS), r.limit, {
      key: occurrence(`rate:${r.windowMs}`),
      ...(!standard && { text: `${r.limit} per ${r.windowMs} ms` }),
    });
  }
  // Counters per user (tenant…) let each of them use the whole limit.
  if (rule.per !== undefined) label("per", 30, rule.per, "looser");
  for (const b of rule.budgets) {
    const usd = b.unit === "usd";
    limit(b.key, 40 + (usd ? 0 : 0.5) + PERIOD_ORDER[b.period] / 10, b.limit, {
      key: occurrence(`budget:${b.unit}:${b.period}`),
      ...(usd && { value: b.limit / 1_000_000, text: formatUsd(b.limit) }),
    });
  }
  const cost = rule.maxCostPerCallMicros;
  if (cost !== undefined) {
    limit("max_cost_per_call", 50, cost, { value: cost / 1_000_000, text: formatUsd(cost) });
  }
  if (rule.maxTokensPerRequest !== undefined) {
    limit("max_tokens_per_request", 51, rule.maxTokensPerRequest);
  }

  // schedule: more allowed time is looser, more forbidden time tighter
  const s = rule.schedule;
  const hours = (
    field: string,
    order: number,
    w: readonly TimeWindow[] | undefined,
    allowed: boolean,
  ) => {
    if (w)
      covering(
        field,
        order,
        w.map(formatWindow),
        bits(minuteBits(w, 0)),
        bits(minuteBits(undefined, allowed ? 1 : 0)),
        allowed ? "smaller" : "bigger",
      );
  };
  const days = (
    field: string,
    order: number,
    d: readonly number[] | undefined,
    allowed: boolean,
  ) => {
    if (d)
      covering(
        field,
        order,
        dayNames(d),
        bits(dayBits(d, 0)),
        bits(dayBits(undefined, allowed ? 1 : 0)),
        allowed ? "smaller" : "bigger",
      );
  };
  hours("allowed_hours", 60, s?.allowedHours, true);
  days("allowed_days", 61, s?.allowedDays, true);
  hours("forbidden_hours", 62, s?.forbiddenHours, false);
  days("forbidden_days", 63, s?.forbiddenDays, false);
  if (s?.deniedWindows) {
    covering(
      "denied_windows",
      64,
      s.deniedWindows.map(deniedWindowValue),
      deniedCover(s.deniedWindows),
      deniedCover(undefined),
      "bigger",
    );
  }
  // The zone is resolved into every rule; it only matters to schedules and calendar budgets.
  if (s || rule.budgets.length > 0)
    label("timezone", 65, rule.timezone, "unknown", { bothOnly: true });

  // who and what may pass
  if (rule.requires) {
    covering("requires", 70, [...rule.requires], stringSet(rule.requires), noSet, "bigger");
  }
  if (rule.allowedUsers) {
    covering(
      "allowed_users",
      71,
      [...rule.allowedUsers],
      stringSet(rule.allowedUsers),
      stringSet(undefined),
      "smaller",
      "anyone",
    );
  }
  const p = rule.parameter;
  if (p) {
    label("parameter", 80, p.name, "unknown");
    if (p.min !== undefined) {
      add({
        field: "min",
        order: 81,
        value: p.min,
        sem: num(p.min, "higher"),
        absent: { sem: num(Number.NEGATIVE_INFINITY, "higher") },
      });
    }
    if (p.max !== undefined) limit("max", 82, p.max);
    if (p.maxLength !== undefined) limit("max_length", 83, p.maxLength);
    if (p.allowedValues) {
      covering(
        "allowed_values",
        84,
        [...p.allowedValues],
        stringSet(p.allowedValues),
        stringSet(undefined),
        "smaller",
        "any",
      );
    }
  }

  // what it does
  const action =
    rule.limitAtPercent === undefined ? rule.action : `block_at_${rule.limitAtPercent}%`;
  // Severity first; among blocks, a lower block_at_N% is stricter.
  const rank = SEVERITY[rule.action] * 1000 + (100 - (rule.limitAtPercent ?? 100));
  add({
    field: "action",
    order: 85,
    value: action,
    sem: { kind: "rank", rank },
    absent: { sem: { kind: "rank", rank: 0 } },
    scope: "action",
  });
  if (rule.warnAtPercent !== undefined) {
    limit("warn_at_percentage", 86, rule.warnAtPercent, { text: `${rule.warnAtPercent}%` });
  }

  // bookkeeping
  if (!rule.refundOnError) {
    add({
      field: "refund_on_error",
      order: 90,
      value: false,
      sem: flag(false, false),
      absent: { value: true, text: "true", sem: flag(true, false) },
    });
  }
  if (rule.priority !== 0) {
    add({
      field: "priority",
      order: 91,
      value: rule.priority,
      sem: opaque(String(rule.priority), "unknown"),
      absent: { value: 0, text: "0", sem: opaque("0", "unknown") },
    });
  }
  return out.sort((x, y) => x.order - y.order);
}

/** A rule's fields, computed once per rule. */
export class FacetCache {
  readonly #cache = new Map<PolicyRule, ReadonlyMap<string, Facet>>();

  /** The rule's fields by {@link Facet.key}, in the fixed order. */
  get(rule: PolicyRule): ReadonlyMap<string, Facet> {
    let facets = this.#cache.get(rule);
    if (!facets) {
      facets = new Map(ruleFacets(rule).map((f) => [f.key, f]));
      this.#cache.set(rule, facets);
    }
    return facets;
  }
}
