/**
 * The operators of `when:` comparisons: their canonical names, the aliases accepted for
 * them, and the check, when a policy loads, that a comparison's value fits its operator.
 *
 * @module
 */

import { compilePattern } from "./pattern.ts";

/** Every operator, by its canonical name. */
export const OPERATORS = [
  "equals",
  "not_equals",
  "in",
  "not_in",
  "contains",
  "not_contains",
  "starts_with",
  "ends_with",
  "matches",
  "between",
  "greater_than",
  "greater_or_equal",
  "less_than",
  "less_or_equal",
  "exists",
  "not_exists",
] as const;

/** A canonical operator name. */
export type Operator = (typeof OPERATORS)[number];

/** Alternative spellings accepted for operators (the Python package's short names and a few common ones). */
export const OPERATOR_ALIASES: Readonly<Record<string, Operator>> = {
  eq: "equals",
  "==": "equals",
  ne: "not_equals",
  neq: "not_equals",
  "!=": "not_equals",
  gt: "greater_than",
  ">": "greater_than",
  gte: "greater_or_equal",
  ">=": "greater_or_equal",
  greater_than_or_equal: "greater_or_equal",
  lt: "less_than",
  "<": "less_than",
  lte: "less_or_equal",
  "<=": "less_or_equal",
  less_than_or_equal: "less_or_equal",
  regex: "matches",
  not_contain: "not_contains",
  startswith: "starts_with",
  endswith: "ends_with",
};

/** Resolves an operator name or alias; `undefined` when unknown. */
export function resolveOperator(name: string): Operator | undefined {
  if ((OPERATORS as readonly string[]).includes(name)) return name as Operator;
  // Own properties only: `constructor` or `__proto__` must not resolve to Object's.
  return Object.hasOwn(OPERATOR_ALIASES, name) ? OPERATOR_ALIASES[name] : undefined;
}

/**
 * Checks that a comparison's value fits its operator. Returns a message describing what
 * was expected, or `undefined` when it fits.
 */
export function checkComparisonValue(operator: Operator, value: unknown): string | undefined {
  switch (operator) {
    case "in":
    case "not_in":
      return Array.isArray(value) ? undefined : `'${operator}' expects a list of values`;
    case "between":
      return Array.isArray(value) &&
        value.length === 2 &&
        ((typeof value[0] === "number" && typeof value[1] === "number") ||
          (typeof value[0] === "string" && typeof value[1] === "string"))
        ? undefined
        : "'between' expects [low, high], two numbers or two strings";
    case "greater_than":
    case "greater_or_equal":
    case "less_than":
    case "less_or_equal":
      return typeof value === "number" || typeof value === "string"
        ? undefined
        : `'${operator}' expects a number or a string`;
    case "starts_with":
    case "ends_with":
      return typeof value === "string" ? undefined : `'${operator}' expects a string`;
    case "matches":
      if (typeof value !== "string") return "'matches' expects a regular expression string";
      try {
        compilePattern(value);
        return undefined;
      } catch (err) {
        return (err as Error).message;
      }
    case "exists":
    case "not_exists":
      return undefined;
    default:
      return value === undefined ? `'${operator}' expects a value` : undefined;
  }
}
