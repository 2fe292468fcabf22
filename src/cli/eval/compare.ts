/**
 * Comparing an answer with what a case expects: each expected field, with the aliases a
 * cases file written for the Python server may use, and templates that carry the ids of
 * created rules and policies into later steps.
 *
 * @module
 */

import { isDeepStrictEqual } from "node:util";
import type { PolicyTestExpectation } from "../../policy/test-cases/index.ts";
import type { FieldDiff, JsonObject, Outcome } from "./types.ts";

const STATUS_KEYS = new Set(["status_code", "statusCode"]);
const PATTERN_KEYS = new Set(["reason_pattern", "reasonPattern", "reason_matches"]);
const CONTAINS_KEYS = new Set(["reason_contains", "reasonContains"]);

/** `matched_rules` → `matchedRules`. */
const camel = (k: string): string => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
/** `matchedRules` → `matched_rules`. */
const snake = (k: string): string => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** A field of an answer, by its name or its other spelling (snake_case or camelCase). */
export function field(body: JsonObject, key: string): unknown {
  const own = (k: string): boolean => Object.hasOwn(body, k);
  if (own(key)) return body[key];
  for (const alt of [camel(key), snake(key)]) if (own(alt)) return body[alt];
  return undefined;
}

/**
 * The fields of `expect` the answer does not have. `status_code` is the HTTP status;
 * `reason_pattern` a regular expression the reason must match; `reason_contains` a
 * substring; every other key must equal the answer's field (deep equality).
 */
export function diffAnswer(expect: JsonObject, status: number, body: JsonObject): FieldDiff[] {
  const diffs: FieldDiff[] = [];
  for (const [key, expected] of Object.entries(expect)) {
    if (STATUS_KEYS.has(key)) {
      if (status !== expected) diffs.push({ field: key, expected, actual: status });
      continue;
    }
    if (PATTERN_KEYS.has(key) || CONTAINS_KEYS.has(key)) {
      const reason = body.reason;
      const holds =
        typeof reason === "string" &&
        typeof expected === "string" &&
        (PATTERN_KEYS.has(key) ? new RegExp(expected).test(reason) : reason.includes(expected));
      if (!holds) diffs.push({ field: key, expected, actual: reason });
      continue;
    }
    const actual = field(body, key);
    if (!isDeepStrictEqual(actual, expected)) diffs.push({ field: key, expected, actual });
  }
  return diffs;
}

/** Whether the deciding rule is the one named: by full id, or by the part after `policy/`. */
const ruleMatches = (rule: string, id: string): boolean => id === rule || id.endsWith(`/${rule}`);

/**
 * The parts of a policy test expectation an `/authorize` answer does not meet, as
 * `hexarch-ctl policy test` checks them: `reason` is a substring, `rule` one of the
 * matched rules.
 */
export function diffExpectation(e: PolicyTestExpectation, body: JsonObject): FieldDiff[] {
  const diffs: FieldDiff[] = [];
  if (e.allowed !== undefined && body.allowed !== e.allowed) {
    diffs.push({ field: "allowed", expected: e.allowed, actual: body.allowed });
  }
  if (e.action !== undefined && body.action !== e.action) {
    diffs.push({ field: "action", expected: e.action, actual: body.action });
  }
  const reason = typeof body.reason === "string" ? body.reason : "";
  if (e.reason !== undefined && !reason.includes(e.reason)) {
    diffs.push({
      field: "reason",
      expected: `containing ${JSON.stringify(e.reason)}`,
      actual: reason,
    });
  }
  if (e.rule !== undefined) {
    const rules = Array.isArray(body.matchedRules) ? (body.matchedRules as unknown[]) : [];
    const rule = e.rule;
    if (!rules.some((r) => typeof r === "string" && ruleMatches(rule, r))) {
      diffs.push({ field: "rule", expected: e.rule, actual: rules });
    }
  }
  return diffs;
}

/** The coverage outcome of a decision's action. */
export function outcomeOf(action: unknown): Outcome | undefined {
  if (action === "allow") return "allow";
  if (action === "warn") return "warn";
  if (action === "block" || action === "require_confirmation") return "deny";
  return undefined;
}

/** The coverage outcome an expectation that held proves (`allowed: true` counts as allow). */
export function outcomeOfExpectation(e: PolicyTestExpectation): Outcome | undefined {
  if (e.action !== undefined) return outcomeOf(e.action);
  if (e.allowed !== undefined) return e.allowed ? "allow" : "deny";
  return undefined;
}

/** The names the id of a created rule or policy may have in an answer. */
const ID_FIELDS = ["id", "rule_id", "ruleId", "policy_id", "policyId"] as const;

/** The id of a created object: `id`, else `rule_id`, `ruleId`, `policy_id`, `policyId`. */
export function createdId(body: JsonObject): unknown {
  for (const k of ID_FIELDS) if (body[k] !== undefined) return body[k];
  return undefined;
}

/** A reference that names no earlier step, or a field its answer lacks. */
export class UnresolvedReference extends Error {}

/** Path segments a template may not name: they reach an object's prototype, not its fields. */
const FORBIDDEN_SEGMENTS = new Set(["__proto__", "constructor", "prototype"]);

const TEMPLATE = /\{\{\s*([^{}\s]+)\s*\}\}/g;

/** `{{step}}` is the id the step created; `{{step.field.sub}}` a field of its answer. */
function resolve(ref: string, created: ReadonlyMap<string, JsonObject>): unknown {
  const [stepId = "", ...path] = ref.split(".");
  const bad = path.find((seg) => FORBIDDEN_SEGMENTS.has(seg));
  if (bad !== undefined)
    throw new UnresolvedReference(
      `{{${ref}}}: '${bad}' is not a field a template may name (__proto__, constructor and prototype are refused)`,
    );
  const body = created.get(stepId);
  if (!body) {
    const known = [...created.keys()];
    throw new UnresolvedReference(
      `{{${ref}}} names no earlier create step (${known.length ? `created so far: ${known.join(", ")}` : "none created so far"})`,
    );
  }
  let value: unknown = path.length === 0 ? createdId(body) : body;
  for (const [i, seg] of path.entries()) {
    if (value === null || typeof value !== "object") {
      value = undefined;
      break;
    }
    const obj = value as JsonObject;
    value =
      i === 0 && (ID_FIELDS as readonly string[]).includes(seg)
        ? (obj[seg] ?? createdId(obj))
        : field(obj, seg);
  }
  if (value === undefined)
    throw new UnresolvedReference(`{{${ref}}}: the answer of step '${stepId}' has no such field`);
  return value;
}

/** Fills the templates of a request; a string that is one template takes the value's type. */
export function fillTemplates(value: unknown, created: ReadonlyMap<string, JsonObject>): unknown {
  if (typeof value === "string") {
    const whole = /^\{\{\s*([^{}\s]+)\s*\}\}$/.exec(value);
    if (whole) return resolve(whole[1] as string, created);
    return value.replace(TEMPLATE, (_, ref: string) => String(resolve(ref, created)));
  }
  if (Array.isArray(value)) return value.map((v) => fillTemplates(v, created));
  if (value !== null && typeof value === "object") {
    const out: JsonObject = {};
    // defineProperty: a key `__proto__` (JSON.parse makes it an own field) stays a field.
    for (const [k, v] of Object.entries(value))
      Object.defineProperty(out, k, {
        value: fillTemplates(v, created),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    return out;
  }
  return value;
}

/** camelCase fields the Python routes spell in snake_case (the server refuses unknown fields). */
const BODY_ALIASES: Readonly<Record<string, string>> = {
  ruleIds: "rule_ids",
  ruleType: "rule_type",
  failureMode: "failure_mode",
  scopeValue: "scope_value",
};

/**
 * A create step's body as the server takes it: camelCase aliases renamed, and entries of
 * `rule_ids` that are the id of an earlier `create_rule` step replaced by the id it created.
 */
export function normalizeCreateBody(
  body: JsonObject,
  createdRules: ReadonlyMap<string, unknown>,
): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(body)) out[BODY_ALIASES[k] ?? k] = v;
  if (Array.isArray(out.rule_ids)) {
    out.rule_ids = out.rule_ids.map((r) =>
      typeof r === "string" && createdRules.has(r) ? createdRules.get(r) : r,
    );
  }
  return out;
}
