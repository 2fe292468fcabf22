/**
 * Normalizing `when:` conditions: comparisons, the `{field: value}` shorthand and
 * `all` / `any` / `not`, with a clear message for every mistake.
 *
 * @module
 */

import { nearest } from "../util/suggest.ts";
import {
  type Comparison,
  type Condition,
  checkComparisonValue,
  OPERATORS,
  resolveOperator,
} from "./conditions.ts";
import { parseFieldPath } from "./field-path.ts";
import type { DocPath, IssueCollector } from "./issues.ts";

/** Normalizes a `when:` value; reports problems and returns `undefined` on any. */
export function normalizeCondition(
  raw: unknown,
  path: DocPath,
  issues: IssueCollector,
): Condition | undefined {
  if (Array.isArray(raw)) {
    // An empty list would be "always true" (and under `not:` "never"): a rule switched on
    // or off without a word. Say so instead.
    if (raw.length === 0) {
      issues.add(path, "an empty list of conditions: list at least one, or remove the key");
      return undefined;
    }
    const parts = raw.map((c, i) => normalizeCondition(c, [...path, i], issues));
    return parts.every((p) => p !== undefined) ? { all: parts as Condition[] } : undefined;
  }
  if (raw === null || typeof raw !== "object") {
    issues.add(
      path,
      "expected a condition: {field, operator, value}, {field: value}, or all/any/not",
    );
    return undefined;
  }
  const obj = raw as Record<string, unknown>;
  const keys = Object.keys(obj);
  for (const combinator of ["all", "any"] as const) {
    if (combinator in obj) {
      if (keys.length !== 1) {
        issues.add(path, `'${combinator}' must be the only key of its condition`);
        return undefined;
      }
      const items = obj[combinator];
      if (!Array.isArray(items) || items.length === 0) {
        issues.add([...path, combinator], `'${combinator}' expects a non-empty list of conditions`);
        return undefined;
      }
      const parts = items.map((c, i) => normalizeCondition(c, [...path, combinator, i], issues));
      if (!parts.every((p) => p !== undefined)) return undefined;
      return combinator === "all" ? { all: parts as Condition[] } : { any: parts as Condition[] };
    }
  }
  if ("not" in obj) {
    if (keys.length !== 1) {
      issues.add(path, "'not' must be the only key of its condition");
      return undefined;
    }
    const inner = normalizeCondition(obj.not, [...path, "not"], issues);
    return inner && { not: inner };
  }
  if ("field" in obj || "operator" in obj || "op" in obj || "value" in obj) {
    // A comparison; a misspelled or missing `field` must not turn into a shorthand that
    // never matches (which would switch the rule off without a word).
    if (typeof obj.field !== "string") {
      const typo = Object.keys(obj).find((k) => k !== "field" && nearest(k, ["field"]) === "field");
      issues.add(
        typo ? [...path, typo] : path,
        typo
          ? `unknown key '${typo}' in condition — did you mean 'field'?`
          : "a condition with an operator needs 'field': the dotted context path to compare",
        typo ? "key" : "value",
      );
      return undefined;
    }
    return normalizeComparison(obj, path, issues);
  }
  if (keys.length === 0) {
    issues.add(path, "empty condition");
    return undefined;
  }
  // Shorthand: {field: value, ...} — equals, or `in` for a list; several keys mean all.
  const parts: Condition[] = [];
  for (const field of keys) {
    if (!parseFieldPath(field)) {
      issues.add([...path, field], `malformed field path '${field}'`, "key");
      return undefined;
    }
    const value = obj[field];
    parts.push(
      Array.isArray(value)
        ? { field, operator: "in", value }
        : { field, operator: "equals", value },
    );
  }
  return parts.length === 1 ? parts[0] : { all: parts };
}

function normalizeComparison(
  obj: Record<string, unknown>,
  path: DocPath,
  issues: IssueCollector,
): Comparison | undefined {
  const field = obj.field as string;
  let ok = true;
  for (const key of Object.keys(obj)) {
    if (!["field", "operator", "op", "value"].includes(key)) {
      const hint = nearest(key, ["field", "operator", "op", "value"]);
      issues.add(
        [...path, key],
        `unknown key '${key}' in condition${hint ? ` — did you mean '${hint}'?` : ""}`,
        "key",
      );
      ok = false;
    }
  }
  if (!parseFieldPath(field)) {
    issues.add([...path, "field"], `malformed field path '${field}' (expected e.g. user.roles[0])`);
    ok = false;
  }
  const opKey = "operator" in obj ? "operator" : "op";
  const opName = obj[opKey];
  if (typeof opName !== "string") {
    issues.add(path, "condition needs an 'operator' (or 'op'), e.g. operator: equals");
    return undefined;
  }
  const operator = resolveOperator(opName.trim().toLowerCase());
  if (!operator) {
    const hint = nearest(opName, [...OPERATORS]);
    issues.add(
      [...path, opKey],
      `unknown operator '${opName}'${hint ? ` — did you mean '${hint}'?` : ""}`,
    );
    return undefined;
  }
  const problem = checkComparisonValue(operator, obj.value);
  if (problem) {
    issues.add([...path, "value"], problem);
    ok = false;
  }
  if (!ok) return undefined;
  return "value" in obj ? { field, operator, value: obj.value } : { field, operator };
}
