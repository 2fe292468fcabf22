/**
 * A semantic diff of two loaded policy sets, for `hexarch-ctl policy diff OLD NEW`: it
 * says what changed in the terms a reader cares about — a limit raised, a rule removed, an
 * action softened — and whether each change lets more calls through or fewer.
 *
 * It compares the normalized {@link PolicySet}, so spellings that mean the same thing
 * (`deny` and `block`, `daily_limit` and `requests_per_day`, `requires: confirmation` and
 * `requires_approval: true`, `"09:00-09:00"` and `"00:00-24:00"`) are not changes.
 *
 * @module
 */

import { formatUsd } from "../engine/compile-rule.ts";
import type { Condition } from "../engine/conditions.ts";
import { SEVERITY } from "../engine/decision.ts";
import { compileGlobs } from "../engine/glob.ts";
import { DAY_MS, HOUR_MS, MINUTE_MS } from "../engine/time-zone.ts";
import type { DeniedWindow, Policy, PolicyRule, PolicySet, TimeWindow } from "./types.ts";

/**
 * What a change does to the calls a policy lets through: `loosened` lets more through (or
 * warns less), `tightened` fewer (or warns more), `changed` when that is not clear (a
 * condition rewritten, a priority, a time zone) or the change has no effect (the rule or
 * policy is disabled on both sides).
 */
export type ChangeEffect = "loosened" | "tightened" | "changed";

/** What kind of thing changed. */
export type PolicyChangeKind =
  | "policy_added"
  | "policy_removed"
  | "rule_added"
  | "rule_removed"
  | "field_changed";

/** One semantic change between two policy sets. */
export interface PolicyChange {
  /** The policy the change is in; `""` for the file's top-level settings (`enforcement`). */
  readonly policyId: string;
  /**
   * The rule, labelled as its file names it: its own `id` (or `name`), else its position,
   * `rules[2]` (in the new file; in the old one for a removed rule).
   */
  readonly ruleId?: string;
  readonly kind: PolicyChangeKind;
  /** The key that changed, as the file spells it: `requests_per_minute`, `monthly_budget`, `action`… */
  readonly field?: string;
  /**
   * The old value, JSON-friendly and in the file's units: `100`, `10` (dollars), `"block"`,
   * `["delete"]`, `["09:00-17:00"]`; a policy or rule object for removals. Absent when the
   * key was not there.
   */
  readonly before?: unknown;
  /** The new value, as {@link PolicyChange.before}; absent when the key was removed. */
  readonly after?: unknown;
  /** Whether the change lets more calls through, fewer, or neither clearly. */
  readonly effect: ChangeEffect;
  /**
   * One line for a reader, e.g.
   * `rate_limit rules[0]: requests_per_minute raised from 100 to 200 (loosened)`.
   */
  readonly message: string;
}

// ---------------------------------------------------------------------------------------
// Semantics of one field

/** Whether the new value makes the rule restrict more (`tighter`), less, or neither clearly. */
type Dir = "tighter" | "looser" | "unknown";

/** A half-open interval of UTC milliseconds. */
type Interval = readonly [number, number];

/** Something that covers a set of values, for subset/superset comparisons. */
type Cover =
  /** Minutes of a day, weekdays, or minutes of a week (plus absolute ranges). */
  | { readonly type: "bits"; readonly bits: Uint8Array; readonly ranges: readonly Interval[] }
  /** A finite set of values, or every value. */
  | { readonly type: "set"; readonly all: boolean; readonly items: ReadonlySet<string> }
  /** Glob patterns (`*` matches everything). */
  | { readonly type: "globs"; readonly patterns: readonly string[] };

/** What a field's value means, for comparing it across versions. */
type Sem =
  | { readonly kind: "num"; readonly n: number; readonly tighter: "lower" | "higher" }
  | { readonly kind: "cover"; readonly cover: Cover; readonly tighter: "bigger" | "smaller" }
  | { readonly kind: "flag"; readonly on: boolean; readonly tighterWhen: boolean }
  | { readonly kind: "rank"; readonly rank: number }
  | { readonly kind: "opaque"; readonly id: string; readonly whenAdded: Dir };

/**
 * What a rule field's effect depends on (besides its policy being enabled): `rule` fields
 * matter only while the rule is enabled and does more than allow; `action` while the rule
 * is enabled; `enabled` (the rule's own switch) when the side it is on does more than allow.
 */
type Scope = "rule" | "action" | "enabled";

/** What a field means when the file leaves it out. */
interface Absent {
  /** The default, when there is one to show (`true` for `enabled`). */
  readonly value?: unknown;
  /** How to show the default; without it, a change from or to absent is "added" / "removed". */
  readonly text?: string;
  readonly sem: Sem;
}

/** One field of a rule or policy, with what it means. */
interface Facet {
  /** Aligns the field across versions (budgets by unit and period, rate limits by window). */
  readonly key: string;
  /** The file's key. */
  readonly field: string;
  /** The noun in messages (default: {@link Facet.field}). */
  readonly noun?: string;
  /** Position in the fixed field order. */
  readonly order: number;
  readonly value: unknown;
  readonly text: string;
  readonly sem: Sem;
  readonly absent: Absent;
  readonly scope: Scope;
  /** Compared only when both versions have it (a time zone that only matters with a schedule). */
  readonly bothOnly?: boolean;
}

/** A difference in one field, before liveness decides its effect. */
interface FieldDiff {
  readonly field: string;
  readonly before?: unknown;
  readonly after?: unknown;
  readonly dir: Dir;
  readonly text: string;
  readonly scope: Scope;
  readonly key: string;
}

const flip = (d: Dir): Dir => (d === "tighter" ? "looser" : d === "looser" ? "tighter" : d);

function covers(outer: Cover, inner: Cover): boolean {
  if (outer.type === "bits" && inner.type === "bits") {
    if (outer.bits.length !== inner.bits.length) return false;
    for (let i = 0; i < inner.bits.length; i++) if (inner.bits[i] && !outer.bits[i]) return false;
    return inner.ranges.every(([s, e]) => outer.ranges.some(([os, oe]) => os <= s && e <= oe));
  }
  if (outer.type === "set" && inner.type === "set") {
    if (outer.all) return true;
    return !inner.all && [...inner.items].every((i) => outer.items.has(i));
  }
  if (outer.type === "globs" && inner.type === "globs") {
    if (outer.patterns.includes("*")) return true;
    if (inner.patterns.includes("*")) return false;
    const match = compileGlobs(outer.patterns);
    // A glob inside another glob is not worked out: only literals are tested against globs.
    return inner.patterns.every((p) => outer.patterns.includes(p) || (!/[*?]/.test(p) && match(p)));
  }
  return false;
}

/** How `after` relates to `before`; `undefined` when they mean the same. */
function relate(before: Sem, after: Sem): { dir: Dir; verb: string } | undefined {
  const changed = { dir: "unknown", verb: "changed" } as const;
  switch (before.kind) {
    case "num": {
      if (after.kind !== "num") return changed;
      if (after.n === before.n) return undefined;
      const up = after.n > before.n;
      return {
        verb: up ? "raised" : "lowered",
        dir: up === (before.tighter === "higher") ? "tighter" : "looser",
      };
    }
    case "cover": {
      if (after.kind !== "cover") return changed;
      const widened = covers(after.cover, before.cover);
      const narrowed = covers(before.cover, after.cover);
      if (widened && narrowed) return undefined;
      if (!widened && !narrowed) return changed;
      const bigger = widened;
      return {
        verb: bigger ? "widened" : "narrowed",
        dir: bigger === (before.tighter === "bigger") ? "tighter" : "looser",
      };
    }
    case "flag":
      if (after.kind !== "flag") return changed;
      if (after.on === before.on) return undefined;
      if (after.tighterWhen !== before.tighterWhen) return changed;
      return { verb: "changed", dir: after.on === after.tighterWhen ? "tighter" : "looser" };
    case "rank":
      if (after.kind !== "rank") return changed;
      if (after.rank === before.rank) return undefined;
      return { verb: "changed", dir: after.rank > before.rank ? "tighter" : "looser" };
    case "opaque":
      if (after.kind === "opaque" && after.id === before.id) return undefined;
      return changed;
  }
}

/** Compares one field across versions (at least one side has it). */
function compareFacets(b: Facet | undefined, a: Facet | undefined): FieldDiff | undefined {
  const some = (a ?? b) as Facet;
  const sb = b ? b.sem : some.absent.sem;
  const sa = a ? a.sem : some.absent.sem;
  const rel = relate(sb, sa);
  if (!rel) return undefined;
  const field = some.field;
  const noun = some.noun ?? field;
  const bText = b ? b.text : some.absent.text;
  const aText = a ? a.text : some.absent.text;
  let dir = rel.dir;
  let text: string;
  if (bText === undefined) {
    text = `${noun} added: ${aText}`;
    if (sa.kind === "opaque") dir = sa.whenAdded;
  } else if (aText === undefined) {
    text = `${noun} removed (was ${bText})`;
    if (sb.kind === "opaque") dir = flip(sb.whenAdded);
  } else {
    text = `${noun} ${rel.verb} from ${bText} to ${aText}`;
  }
  const before = b ? b.value : some.absent.value;
  const after = a ? a.value : some.absent.value;
  return {
    field,
    key: some.key,
    dir,
    text,
    scope: some.scope,
    ...(before !== undefined && { before }),
    ...(after !== undefined && { after }),
  };
}

/** Compares two lists of facets field by field, in the fixed field order. */
function compareAll(before: ReadonlyMap<string, Facet>, after: ReadonlyMap<string, Facet>) {
  const keys = [...new Set([...before.keys(), ...after.keys()])];
  const orderOf = (k: string) => (before.get(k) ?? after.get(k))?.order ?? 0;
  keys.sort((x, y) => orderOf(x) - orderOf(y));
  const diffs: FieldDiff[] = [];
  for (const key of keys) {
    const b = before.get(key);
    const a = after.get(key);
    if ((b?.bothOnly || a?.bothOnly) && !(a && b)) continue;
    const d = compareFacets(b, a);
    if (d) diffs.push(d);
  }
  return diffs;
}

// ---------------------------------------------------------------------------------------
// Rendering values

/** Shows a JSON-friendly value compactly: strings bare, lists in brackets. */
function show(v: unknown): string {
  if (typeof v === "string") return v;
  if (Array.isArray(v)) return `[${v.map(show).join(", ")}]`;
  if (v !== null && typeof v === "object") {
    return `{${Object.entries(v)
      .map(([k, x]) => `${k}: ${show(x)}`)
      .join(", ")}}`;
  }
  return String(v);
}

const hhmm = (m: number) =>
  `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
const formatWindow = (w: TimeWindow) => `${hhmm(w.startMinute)}-${hhmm(w.endMinute)}`;
const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;
const dayName = (d: number): string => DAYS[d] ?? String(d);
/** Day names, Monday first. */
const dayNames = (days: readonly number[]): string[] =>
  [...days].sort((x, y) => ((x + 6) % 7) - ((y + 6) % 7)).map(dayName);

const OPERATOR_TEXT: Readonly<Record<string, string>> = {
  equals: "==",
  not_equals: "!=",
  greater_than: ">",
  greater_or_equal: ">=",
  less_than: "<",
  less_or_equal: "<=",
  not_in: "not in",
  not_contains: "not contains",
};

/** Renders a condition on one line: `tier in ["free","trial"] and (amount > 1000 or not (verified == true))`. */
function renderCondition(c: Condition, nested = false): string {
  if ("all" in c || "any" in c) {
    const [parts, joiner] = "all" in c ? [c.all, " and "] : [c.any, " or "];
    const text = parts.map((p) => renderCondition(p, true)).join(joiner);
    return nested && parts.length > 1 ? `(${text})` : text;
  }
  if ("not" in c) return `not (${renderCondition(c.not)})`;
  const op = OPERATOR_TEXT[c.operator] ?? c.operator;
  if (c.operator === "exists" || c.operator === "not_exists") return `${c.field} ${op}`;
  return `${c.field} ${op} ${JSON.stringify(c.value) ?? "null"}`;
}

function deniedWindowValue(w: DeniedWindow): unknown {
  if (w.kind === "range") {
    return { start: new Date(w.startMs).toISOString(), end: new Date(w.endMs).toISOString() };
  }
  if (!w.days && w.hours) return formatWindow(w.hours);
  return {
    ...(w.days && { days: dayNames(w.days) }),
    ...(w.hours && { hours: formatWindow(w.hours) }),
  };
}

// ---------------------------------------------------------------------------------------
// Coverage of schedules

const DAY_MINUTES = 1440;

function minuteBits(windows: readonly TimeWindow[] | undefined, whenAbsent: 0 | 1): Uint8Array {
  const bits = new Uint8Array(DAY_MINUTES);
  if (!windows) return bits.fill(whenAbsent);
  for (const w of windows) {
    if (w.startMinute < w.endMinute) bits.fill(1, w.startMinute, w.endMinute);
    else if (w.startMinute > w.endMinute) bits.fill(1, w.startMinute).fill(1, 0, w.endMinute);
    else bits.fill(1); // "09:00-09:00": the whole day
  }
  return bits;
}

function dayBits(days: readonly number[] | undefined, whenAbsent: 0 | 1): Uint8Array {
  const bits = new Uint8Array(7);
  if (!days) return bits.fill(whenAbsent);
  for (const d of days) bits[d] = 1;
  return bits;
}

/**
 * The minutes of the week `denied_windows` covers (a window crossing midnight belongs to
 * the day it starts on, as the engine reads it), and its absolute ranges, merged.
 */
function deniedCover(windows: readonly DeniedWindow[] | undefined): Cover {
  const bits = new Uint8Array(7 * DAY_MINUTES);
  const ranges: Interval[] = [];
  for (const w of windows ?? []) {
    if (w.kind === "range") {
      ranges.push([w.startMs, w.endMs]);
      continue;
    }
    for (const d of w.days ?? [0, 1, 2, 3, 4, 5, 6]) {
      const day = d * DAY_MINUTES;
      const h = w.hours;
      if (!h || h.startMinute === h.endMinute) bits.fill(1, day, day + DAY_MINUTES);
      else if (h.startMinute < h.endMinute) bits.fill(1, day + h.startMinute, day + h.endMinute);
      else {
        bits.fill(1, day + h.startMinute, day + DAY_MINUTES);
        const next = ((d + 1) % 7) * DAY_MINUTES;
        bits.fill(1, next, next + h.endMinute);
      }
    }
  }
  ranges.sort((x, y) => x[0] - y[0]);
  const merged: [number, number][] = [];
  for (const [s, e] of ranges) {
    const last = merged.at(-1);
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else merged.push([s, e]);
  }
  return { type: "bits", bits, ranges: merged };
}

// ---------------------------------------------------------------------------------------
// The fields of a rule

const RATE_WINDOWS: Readonly<Record<string, number>> = {
  requests_per_second: 1000,
  requests_per_minute: MINUTE_MS,
  requests_per_hour: HOUR_MS,
  requests_per_day: DAY_MS,
  daily_limit: DAY_MS,
};
const PERIOD_ORDER = { hour: 0, day: 1, month: 2 } as const;

const NO_LIMIT: Sem = { kind: "num", n: Number.POSITIVE_INFINITY, tighter: "lower" };
const num = (n: number, tighter: "lower" | "higher"): Sem => ({ kind: "num", n, tighter });
const cover = (c: Cover, tighter: "bigger" | "smaller"): Sem => ({
  kind: "cover",
  cover: c,
  tighter,
});
const flag = (on: boolean, tighterWhen: boolean): Sem => ({ kind: "flag", on, tighterWhen });
const opaque = (id: string, whenAdded: Dir): Sem => ({ kind: "opaque", id, whenAdded });
const ABSENT_ID = "\u0000absent";
const stringSet = (items: readonly unknown[] | undefined): Cover => ({
  type: "set",
  all: items === undefined,
  items: new Set((items ?? []).map((i) => (typeof i === "string" ? i : JSON.stringify(i)))),
});
const noSet: Cover = { type: "set", all: false, items: new Set() };

/** The rule's label in its policy: its own id or name, else `rules[i]`. */
function ruleLabel(rule: PolicyRule, policyId: string): string {
  return rule.id.startsWith(`${policyId}/`) ? rule.id.slice(policyId.length + 1) : rule.id;
}

/** The rule's own id or name; `undefined` for a rule known by its position. */
function explicitLabel(rule: PolicyRule, policyId: string): string | undefined {
  const label = ruleLabel(rule, policyId);
  return label === `rules[${rule.index}]` ? undefined : label;
}

/** Every field of a rule that the diff compares, in the fixed order. */
function ruleFacets(rule: PolicyRule): Facet[] {
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

// ---------------------------------------------------------------------------------------
// Diffing

/** A rule's fields, computed once per rule. */
class FacetCache {
  readonly #cache = new Map<PolicyRule, ReadonlyMap<string, Facet>>();

  get(rule: PolicyRule): ReadonlyMap<string, Facet> {
    let facets = this.#cache.get(rule);
    if (!facets) {
      facets = new Map(ruleFacets(rule).map((f) => [f.key, f]));
      this.#cache.set(rule, facets);
    }
    return facets;
  }
}

/** A rule as a plain object in the file's terms, for added and removed rules. */
function ruleView(rule: PolicyRule, policyId: string, facets: ReadonlyMap<string, Facet>) {
  const label = explicitLabel(rule, policyId);
  const view: Record<string, unknown> = label === undefined ? {} : { id: label };
  for (const f of facets.values()) view[f.field] = f.value;
  return view;
}

/** A rule on one line: `{operation: [delete], action: require_confirmation}`. */
function describeRule(facets: ReadonlyMap<string, Facet>): string {
  return `{${[...facets.values()].map((f) => `${f.field}: ${f.text}`).join(", ")}}`;
}

/** Rules that hold something back when they fire (an `allow` rule's outcome never decides). */
const restrictive = (rule: PolicyRule) => rule.enabled && rule.action !== "allow";

const effectOf = (dir: Dir, live: boolean): ChangeEffect =>
  !live || dir === "unknown" ? "changed" : dir === "tighter" ? "tightened" : "loosened";

const suffix = (effect: ChangeEffect, note?: string) =>
  effect !== "changed" ? ` (${effect})` : note ? ` (${note})` : "";

/**
 * Pairs before/after items and orders them as the new list, with removed items placed
 * after the last item that preceded them in the old list and survived.
 */
function mergeOrder<T>(
  before: readonly T[],
  after: readonly T[],
  pairs: ReadonlyMap<T, T>,
): { b?: T; a?: T }[] {
  const partnerOf = new Map<T, T>();
  for (const [b, a] of pairs) partnerOf.set(a, b);
  const removedAfter = new Map<T | undefined, T[]>();
  let anchor: T | undefined;
  for (const b of before) {
    const a = pairs.get(b);
    if (a !== undefined) anchor = a;
    else {
      const list = removedAfter.get(anchor) ?? [];
      list.push(b);
      removedAfter.set(anchor, list);
    }
  }
  const out: { b?: T; a?: T }[] = (removedAfter.get(undefined) ?? []).map((b) => ({ b }));
  for (const a of after) {
    const b = partnerOf.get(a);
    out.push(b === undefined ? { a } : { b, a });
    for (const r of removedAfter.get(a) ?? []) out.push({ b: r });
  }
  return out;
}

/**
 * Matches the rules of two versions of a policy: by their own id or name when they have
 * one; rules known by position by the longest run of unchanged rules, then by position in
 * the gaps between (so deleting the first of three anonymous rules removes that rule
 * rather than shifting every other one).
 */
function matchRules(
  policyId: string,
  before: readonly PolicyRule[],
  after: readonly PolicyRule[],
  cache: FacetCache,
): Map<PolicyRule, PolicyRule> {
  const pairs = new Map<PolicyRule, PolicyRule>();
  const byLabel = new Map<string, PolicyRule>();
  for (const a of after) {
    const label = explicitLabel(a, policyId);
    if (label !== undefined) byLabel.set(label, a);
  }
  for (const b of before) {
    const label = explicitLabel(b, policyId);
    const a = label === undefined ? undefined : byLabel.get(label);
    if (a) pairs.set(b, a);
  }
  const bs = before.filter((r) => explicitLabel(r, policyId) === undefined);
  const as = after.filter((r) => explicitLabel(r, policyId) === undefined);
  const same = (b: PolicyRule, a: PolicyRule) =>
    compareAll(cache.get(b), cache.get(a)).length === 0;
  // Longest common subsequence of unchanged rules.
  const n = bs.length;
  const m = as.length;
  const lcs = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  const at = (i: number, j: number) => lcs[i]?.[j] ?? 0;
  for (let i = n - 1; i >= 0; i--) {
    const row = lcs[i] as number[];
    for (let j = m - 1; j >= 0; j--) {
      row[j] = same(bs[i] as PolicyRule, as[j] as PolicyRule)
        ? at(i + 1, j + 1) + 1
        : Math.max(at(i + 1, j), at(i, j + 1));
    }
  }
  const anchors: [number, number][] = [];
  for (let i = 0, j = 0; i < n && j < m; ) {
    if (at(i, j) === at(i + 1, j + 1) + 1 && same(bs[i] as PolicyRule, as[j] as PolicyRule)) {
      anchors.push([i++, j++]);
    } else if (at(i + 1, j) >= at(i, j + 1)) i++;
    else j++;
  }
  anchors.push([n, m]);
  let pi = 0;
  let pj = 0;
  for (const [i, j] of anchors) {
    for (let k = 0; pi + k < i && pj + k < j; k++) {
      pairs.set(bs[pi + k] as PolicyRule, as[pj + k] as PolicyRule);
    }
    if (i < n && j < m) pairs.set(bs[i] as PolicyRule, as[j] as PolicyRule);
    pi = i + 1;
    pj = j + 1;
  }
  return pairs;
}

function diffPolicy(b: Policy, a: Policy, cache: FacetCache, out: PolicyChange[]): void {
  const id = a.id;
  const live = b.enabled && a.enabled;
  if (b.enabled !== a.enabled) {
    const dir: Dir = a.enabled ? "tighter" : "looser";
    const holds = (a.enabled ? a : b).rules.some(restrictive);
    const effect = effectOf(dir, holds);
    out.push({
      policyId: id,
      kind: "field_changed",
      field: "enabled",
      before: b.enabled,
      after: a.enabled,
      effect,
      message: `${id}: policy ${a.enabled ? "enabled" : "disabled"}${suffix(effect)}`,
    });
  }
  if (b.failOpen !== a.failOpen) {
    const effect = effectOf(a.failOpen ? "looser" : "tighter", live);
    out.push({
      policyId: id,
      kind: "field_changed",
      field: "fail_open",
      before: b.failOpen,
      after: a.failOpen,
      effect,
      message: `${id}: fail_open changed from ${b.failOpen} to ${a.failOpen}${suffix(effect, live ? undefined : "no effect: policy disabled")}`,
    });
  }
  const pairs = matchRules(id, b.rules, a.rules, cache);
  for (const { b: rb, a: ra } of mergeOrder(b.rules, a.rules, pairs)) {
    if (rb && ra) diffRule(id, rb, ra, live, cache, out);
    else if (ra) {
      const facets = cache.get(ra);
      const label = ruleLabel(ra, id);
      const effect = effectOf("tighter", a.enabled && restrictive(ra));
      out.push({
        policyId: id,
        ruleId: label,
        kind: "rule_added",
        after: ruleView(ra, id, facets),
        effect,
        message: `${id} ${label}: rule added: ${describeRule(facets)}${suffix(effect)}`,
      });
    } else if (rb) {
      const facets = cache.get(rb);
      const label = ruleLabel(rb, id);
      const effect = effectOf("looser", b.enabled && restrictive(rb));
      out.push({
        policyId: id,
        ruleId: label,
        kind: "rule_removed",
        before: ruleView(rb, id, facets),
        effect,
        message: `${id} ${label}: rule removed (was ${describeRule(facets)})${suffix(effect)}`,
      });
    }
  }
}

function diffRule(
  policyId: string,
  b: PolicyRule,
  a: PolicyRule,
  policyLive: boolean,
  cache: FacetCache,
  out: PolicyChange[],
): void {
  const label = ruleLabel(a, policyId);
  const oldLabel = ruleLabel(b, policyId);
  const where = `${policyId} ${label}${oldLabel === label ? "" : ` (was ${oldLabel})`}`;
  const bothEnabled = b.enabled && a.enabled;
  const note = !policyLive
    ? "no effect: policy disabled"
    : !b.enabled && !a.enabled
      ? "no effect: rule disabled"
      : undefined;
  for (const d of compareAll(cache.get(b), cache.get(a))) {
    const live =
      policyLive &&
      (d.scope === "action"
        ? bothEnabled
        : d.scope === "enabled"
          ? (d.dir === "tighter" ? a : b).action !== "allow"
          : bothEnabled && b.action !== "allow" && a.action !== "allow");
    const effect = effectOf(d.dir, live);
    const text =
      d.key === "enabled" && !a.feature && !b.feature
        ? `rule ${a.enabled ? "enabled" : "disabled"}`
        : d.text;
    out.push({
      policyId,
      ruleId: label,
      kind: "field_changed",
      field: d.field,
      ...(d.before !== undefined && { before: d.before }),
      ...(d.after !== undefined && { after: d.after }),
      effect,
      message: `${where}: ${text}${suffix(effect, d.dir === "unknown" ? undefined : note)}`,
    });
  }
}

function policyView(p: Policy, cache: FacetCache): Record<string, unknown> {
  return {
    id: p.id,
    ...(!p.enabled && { enabled: false }),
    ...(p.failOpen && { fail_open: true }),
    rules: p.rules.map((r) => ruleView(r, p.id, cache.get(r))),
  };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/**
 * The semantic changes from `before` to `after`: policies added and removed, rules added
 * and removed, and every field whose meaning changed, each with its effect on the calls
 * let through. Identical sets (or sets that differ only in spelling, comments, order of
 * rules with ids, names or descriptions) give `[]`.
 *
 * Policies are matched by id; rules by their own `id` (or `name`), else by position. The
 * order is the new file's: policies as it lists them (a removed one where it was), rules
 * by position, fields in a fixed order (on/off, matchers, limits, schedule, users, parameter,
 * action, bookkeeping).
 *
 * @example
 * ```ts
 * const changes = diffPolicies(loadPolicyFile("old.yaml"), loadPolicyFile("hexarch.yaml"));
 * changes[0]?.message; // "rate_limit rules[0]: requests_per_minute raised from 100 to 200 (loosened)"
 * ```
 */
export function diffPolicies(before: PolicySet, after: PolicySet): PolicyChange[] {
  const out: PolicyChange[] = [];
  const cache = new FacetCache();
  const bMode = before.mode ?? "enforce";
  const aMode = after.mode ?? "enforce";
  if (bMode !== aMode) {
    const word = (m: string) => (m === "monitor" ? "warn" : "strict");
    const effect: ChangeEffect = aMode === "monitor" ? "loosened" : "tightened";
    out.push({
      policyId: "",
      kind: "field_changed",
      field: "enforcement",
      before: word(bMode),
      after: word(aMode),
      effect,
      message: `enforcement changed from ${word(bMode)} to ${word(aMode)} (${effect})`,
    });
  }
  const afterById = new Map(after.policies.map((p) => [p.id, p]));
  const pairs = new Map<Policy, Policy>();
  for (const p of before.policies) {
    const a = afterById.get(p.id);
    if (a) pairs.set(p, a);
  }
  for (const { b, a } of mergeOrder(before.policies, after.policies, pairs)) {
    if (b && a) diffPolicy(b, a, cache, out);
    else if (a) {
      const effect = effectOf("tighter", a.enabled && a.rules.some(restrictive));
      out.push({
        policyId: a.id,
        kind: "policy_added",
        after: policyView(a, cache),
        effect,
        message: `${a.id}: policy added with ${plural(a.rules.length, "rule")}${suffix(effect)}`,
      });
    } else if (b) {
      const effect = effectOf("looser", b.enabled && b.rules.some(restrictive));
      out.push({
        policyId: b.id,
        kind: "policy_removed",
        before: policyView(b, cache),
        effect,
        message: `${b.id}: policy removed (had ${plural(b.rules.length, "rule")})${suffix(effect)}`,
      });
    }
  }
  return out;
}

/**
 * Renders changes as a plain-text report: one heading per policy (`(file)` for top-level
 * settings), one indented line per change, then a summary line such as
 * `3 changes: 1 loosened, 2 tightened`; `no semantic changes` when there are none. No
 * colours, no trailing newline.
 *
 * @example
 * ```
 * rate_limit:
 *   rules[0]: requests_per_minute raised from 100 to 200 (loosened)
 * 1 change: 1 loosened
 * ```
 */
export function formatChanges(changes: readonly PolicyChange[]): string {
  if (changes.length === 0) return "no semantic changes";
  const lines: string[] = [];
  let current: string | undefined;
  for (const c of changes) {
    if (c.policyId !== current) {
      current = c.policyId;
      lines.push(c.policyId === "" ? "(file):" : `${c.policyId}:`);
    }
    let text = c.message;
    for (const prefix of [`${c.policyId}: `, `${c.policyId} `]) {
      if (c.policyId !== "" && text.startsWith(prefix)) {
        text = text.slice(prefix.length);
        break;
      }
    }
    lines.push(`  ${text}`);
  }
  const count = (e: ChangeEffect) => changes.filter((c) => c.effect === e).length;
  const parts = (["loosened", "tightened", "changed"] as const)
    .filter((e) => count(e) > 0)
    .map((e) => `${count(e)} ${e}`);
  lines.push(`${plural(changes.length, "change")}: ${parts.join(", ")}`);
  return lines.join("\n");
}
