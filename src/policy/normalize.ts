/**
 * Turns a schema-valid raw policy file into {@link PolicySet}: resolves aliases, converts
 * money to micro-dollars and times to minutes, and checks what a schema cannot (time
 * zones, regular expressions, thresholds that disagree, keys that need a partner).
 *
 * @module
 */

import { parseFieldPath } from "./field-path.ts";
import type { DocPath, IssueCollector } from "./issues.ts";
import { normalizeCondition } from "./normalize-condition.ts";
import { normalizeSchedule } from "./normalize-schedule.ts";
import { CONFIRM_FLAGS, parseAction, ruleAction } from "./rule-action.ts";
import type { RawPolicyFile, RawRule } from "./schema.ts";
import { DAY_MS, HOUR_MS, MINUTE_MS, TimeZone } from "./time-zone.ts";
import type { Budget, ParameterBounds, Policy, PolicyRule, PolicySet, RateLimit } from "./types.ts";

const RATE_KEYS = [
  ["requests_per_second", 1000],
  ["requests_per_minute", MINUTE_MS],
  ["requests_per_hour", HOUR_MS],
  ["requests_per_day", DAY_MS],
  ["daily_limit", DAY_MS],
] as const;

const list = <T>(v: T | readonly T[] | undefined): readonly T[] | undefined =>
  v === undefined ? undefined : Array.isArray(v) ? (v as readonly T[]) : [v as T];

const toMicros = (usd: number): number => Math.round(usd * 1_000_000);

function checkZone(zone: string | undefined, path: DocPath, issues: IssueCollector): boolean {
  if (zone === undefined || TimeZone.isValid(zone)) return true;
  issues.add(
    path,
    `unknown time zone '${zone}' (expected an IANA name such as UTC or Europe/Berlin)`,
  );
  return false;
}

function normalizeRule(
  raw: RawRule,
  policyId: string,
  index: number,
  policyZone: string,
  path: DocPath,
  issues: IssueCollector,
): PolicyRule | undefined {
  const before = issues.issues.length;
  const at = (key: string): DocPath => [...path, key];
  // An unknown zone is reported once; UTC stands in so the rest can still be checked.
  const timezone = checkZone(raw.timezone, at("timezone"), issues)
    ? (raw.timezone ?? policyZone)
    : "UTC";

  const rateLimits: RateLimit[] = [];
  for (const [key, windowMs] of RATE_KEYS) {
    const limit = raw[key];
    if (limit !== undefined) rateLimits.push({ key, limit, windowMs });
  }
  if (raw.daily_limit !== undefined && raw.requests_per_day !== undefined) {
    issues.add(at("daily_limit"), "daily_limit and requests_per_day mean the same limit; keep one");
  }

  const budgets: Budget[] = [];
  const tooSmall = (key: string, usd: number | undefined) => {
    if (usd !== undefined && toMicros(usd) < 1) {
      issues.add(at(key), `${key} of $${usd} is below the smallest amount counted ($0.000001)`);
    }
  };
  for (const key of [
    "daily_budget",
    "monthly_budget",
    "daily_budget_usd",
    "monthly_budget_usd",
    "max_cost_per_call",
  ] as const) {
    tooSmall(key, raw[key]);
  }
  const money = (
    key: "daily_budget" | "monthly_budget",
    alias: "daily_budget_usd" | "monthly_budget_usd",
  ) => {
    const a = raw[key];
    const b = raw[alias];
    if (a !== undefined && b !== undefined)
      issues.add(at(alias), `${alias} and ${key} mean the same budget; keep one`);
    const usd = a ?? b;
    if (usd !== undefined) {
      budgets.push({
        key: a !== undefined ? key : alias,
        unit: "usd",
        period: key === "daily_budget" ? "day" : "month",
        limit: toMicros(usd),
      });
    }
  };
  money("daily_budget", "daily_budget_usd");
  money("monthly_budget", "monthly_budget_usd");
  for (const [key, period] of [
    ["max_tokens_per_hour", "hour"],
    ["max_tokens_per_day", "day"],
    ["max_tokens_per_month", "month"],
  ] as const) {
    const limit = raw[key];
    if (limit !== undefined) budgets.push({ key, unit: "tokens", period, limit });
  }

  const { action, warnAt: actionWarn, limitAt } = parseAction(ruleAction(raw, path, issues));
  const thresholds = [
    ["action", actionWarn],
    ["alert_at_percentage", raw.alert_at_percentage],
    ["warn_at_percentage", raw.warn_at_percentage],
  ] as const;
  let warnAtPercent: number | undefined;
  let warnSource = "";
  for (const [key, value] of thresholds) {
    if (value === undefined) continue;
    if (warnAtPercent !== undefined && warnAtPercent !== value) {
      issues.add(
        at(key),
        `${key} (${value}%) disagrees with ${warnSource} (${warnAtPercent}%); keep one threshold`,
      );
    }
    warnAtPercent ??= value;
    warnSource ||= key;
  }
  for (const [key, value] of [
    ["warn", actionWarn],
    ["block", limitAt],
  ] as const) {
    if (value !== undefined && (value <= 0 || value > 100)) {
      issues.add(at("action"), `${key}_at_N% needs 0 < N ≤ 100, got ${value}`);
    }
  }
  const hasQuantity =
    rateLimits.length > 0 ||
    budgets.length > 0 ||
    raw.max_cost_per_call !== undefined ||
    raw.max_tokens_per_request !== undefined;
  if ((warnAtPercent !== undefined || limitAt !== undefined) && !hasQuantity) {
    issues.add(
      at(warnSource || "action"),
      "a percentage threshold needs a quantity limit in the same rule (a budget, requests_per_*, max_tokens_* or max_cost_per_call)",
    );
  }
  if (raw.per !== undefined) {
    if (rateLimits.length === 0 && budgets.length === 0) {
      issues.add(
        at("per"),
        "'per' keys the rule's counters, but the rule has none (add requests_per_* or a budget)",
      );
    } else if (!parseFieldPath(raw.per)) {
      issues.add(at("per"), `malformed field path '${raw.per}'`);
    }
  }

  if (raw.allowed !== undefined && raw.model === undefined) {
    issues.add(at("allowed"), "'allowed' applies to a 'model' rule; add model: <name or glob>");
  }
  let parameter: ParameterBounds | undefined;
  const bounds = ["min", "max", "max_length", "allowed_values"] as const;
  if (raw.parameter === undefined) {
    for (const key of bounds) {
      if (raw[key] !== undefined)
        issues.add(at(key), `'${key}' bounds a call parameter; add parameter: <name>`, "key");
    }
  } else if (bounds.every((k) => raw[k] === undefined)) {
    issues.add(
      at("parameter"),
      "'parameter' needs at least one of min, max, max_length, allowed_values",
    );
  } else {
    if (raw.min !== undefined && raw.max !== undefined && raw.min > raw.max) {
      issues.add(at("min"), `min (${raw.min}) is greater than max (${raw.max})`);
    }
    parameter = {
      name: raw.parameter,
      ...(raw.min !== undefined && { min: raw.min }),
      ...(raw.max !== undefined && { max: raw.max }),
      ...(raw.max_length !== undefined && { maxLength: raw.max_length }),
      ...(raw.allowed_values !== undefined && { allowedValues: raw.allowed_values }),
    };
  }

  const schedule = normalizeSchedule(raw, timezone, path, issues);
  const when =
    raw.when === undefined ? undefined : normalizeCondition(raw.when, at("when"), issues);

  const requires = new Set<string>();
  for (const flag of list(raw.requires) ?? []) {
    requires.add(CONFIRM_FLAGS.includes(flag) ? "confirm" : flag);
  }
  if (raw.requires_approval === true) requires.add("confirm");

  if (issues.issues.length > before) return undefined;
  const label = raw.id ?? raw.name;
  const hasFeature = raw.feature !== undefined;
  const resource = list(raw.resource);
  const operation = list(raw.operation);
  const resourceTypes = list(raw.resource_types);
  const models = list(raw.model);
  const allowedUsers = list(raw.allowed_users);
  return {
    id: label ? `${policyId}/${label}` : `${policyId}/rules[${index}]`,
    index,
    ...(raw.name !== undefined && { name: raw.name }),
    ...(raw.description !== undefined && { description: raw.description }),
    ...(raw.message !== undefined && { message: raw.message }),
    priority: raw.priority ?? 0,
    enabled: hasFeature ? true : raw.enabled !== false,
    ...(resource && { resource }),
    ...(operation && { operation }),
    ...(resourceTypes && { resourceTypes }),
    ...(hasFeature && { feature: { name: raw.feature as string, enabled: raw.enabled !== false } }),
    ...(models && { model: { patterns: models, allowed: raw.allowed !== false } }),
    ...(when && { when }),
    rateLimits,
    ...(raw.per !== undefined && { per: raw.per }),
    budgets,
    ...(raw.max_cost_per_call !== undefined && {
      maxCostPerCallMicros: toMicros(raw.max_cost_per_call),
    }),
    ...(raw.max_tokens_per_request !== undefined && {
      maxTokensPerRequest: raw.max_tokens_per_request,
    }),
    ...(schedule && { schedule }),
    timezone,
    ...(requires.size > 0 && { requires: [...requires] }),
    ...(allowedUsers && { allowedUsers }),
    ...(parameter && { parameter }),
    refundOnError: raw.refund_on_error !== false,
    action,
    ...(warnAtPercent !== undefined && { warnAtPercent }),
    ...(limitAt !== undefined && { limitAtPercent: limitAt }),
    line: issues.position(path).line,
  };
}

/**
 * Normalizes a schema-valid file. Rules listed in `skip` (paths with schema errors) are
 * left out; their problems are already reported.
 */
export function normalizePolicyFile(
  raw: RawPolicyFile,
  source: string,
  issues: IssueCollector,
  skip: ReadonlySet<string>,
): PolicySet {
  const fileZone = checkZone(raw.timezone, ["timezone"], issues) ? (raw.timezone ?? "UTC") : "UTC";
  const seen = new Map<string, number>();
  const policies: Policy[] = [];
  raw.policies.forEach((p, pi) => {
    const pPath = ["policies", pi] as const;
    if (skip.size > 0 && skip.has(`policies.${pi}`)) return;
    const first = seen.get(p.id);
    if (first !== undefined) {
      const firstLine = issues.position(["policies", first, "id"]).line;
      issues.add(
        [...pPath, "id"],
        `duplicate policy id '${p.id}'${firstLine ? ` (first defined on line ${firstLine})` : ""}`,
      );
      return;
    }
    seen.set(p.id, pi);
    const zone = checkZone(p.timezone, [...pPath, "timezone"], issues)
      ? (p.timezone ?? fileZone)
      : "UTC";
    const rules: PolicyRule[] = [];
    const ruleIds = new Set<string>();
    p.rules.forEach((r, ri) => {
      const rPath = [...pPath, "rules", ri];
      if (skip.size > 0 && skip.has(`policies.${pi}.rules.${ri}`)) return;
      const rule = normalizeRule(r, p.id, ri, zone, rPath, issues);
      if (!rule) return;
      if (ruleIds.has(rule.id)) {
        issues.add(
          [...rPath, r.id !== undefined ? "id" : "name"],
          `duplicate rule id '${rule.id}' in policy '${p.id}'`,
        );
        return;
      }
      ruleIds.add(rule.id);
      rules.push(rule);
    });
    policies.push({
      id: p.id,
      ...(p.name !== undefined && { name: p.name }),
      ...(p.description !== undefined && { description: p.description }),
      enabled: p.enabled !== false,
      failOpen: p.fail_open === true,
      timezone: zone,
      rules,
    });
  });
  const logging = raw.logging;
  const level = logging?.level;
  return {
    source,
    policies,
    ...(raw.enforcement !== undefined && {
      mode: raw.enforcement === "warn" ? "monitor" : "enforce",
    }),
    ...(logging && {
      logging: {
        enabled: logging.enabled === true,
        level:
          level === "error"
            ? "error"
            : level === "warning" || level === "warn"
              ? "warning"
              : "info",
        ...(logging.file !== undefined && { file: logging.file }),
      },
    }),
    ...(raw.opa && {
      opa: {
        ...(raw.opa.url !== undefined && { url: raw.opa.url }),
        ...(raw.opa.timeout_seconds !== undefined && { timeoutMs: raw.opa.timeout_seconds * 1000 }),
      },
    }),
  };
}
