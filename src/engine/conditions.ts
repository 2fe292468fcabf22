/**
 * `when:` conditions: operators and their composition with `all`, `any` and `not`,
 * compiled into predicate closures once, when a policy loads.
 *
 * @module
 */

import { RE2JS, RE2JSException } from "re2js";
import { compileFieldPath } from "./field-path.ts";

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

/** One comparison of a context field against a value. */
export interface Comparison {
  readonly field: string;
  readonly operator: Operator;
  readonly value?: unknown;
}

/** A condition tree, as `when:` holds it after loading. */
export type Condition =
  | Comparison
  | { readonly all: readonly Condition[] }
  | { readonly any: readonly Condition[] }
  | { readonly not: Condition };

/** A compiled condition. */
export type Predicate = (context: Readonly<Record<string, unknown>>) => boolean;

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

/** A compiled `matches` pattern: `test` searches the whole value in linear time. */
export interface CompiledPattern {
  /** True when the pattern matches anywhere in `value` (like `RegExp.prototype.test`). */
  test(value: string): boolean;
}

/** Compiled patterns by source, so a pattern checked at load is not compiled again. */
const patternCache = new Map<string, CompiledPattern>();
const PATTERN_CACHE_MAX = 4096;

/**
 * Compiles a `matches` pattern with RE2 (re2js, pure JavaScript), whose matching time is
 * linear in the value: a pattern from a policy file or an API rule cannot stall the event
 * loop (`^(a+)+$` against a long value answers in milliseconds, where `RegExp` backtracks
 * for hours). RE2 has no backreferences and no lookaround; such a pattern is refused here,
 * when the policy loads, never at decision time.
 *
 * @throws Error whose message says why RE2 refuses the pattern.
 */
export function compilePattern(source: string): CompiledPattern {
  let compiled = patternCache.get(source);
  if (compiled) return compiled;
  try {
    const re = RE2JS.compile(source);
    compiled = { test: (value) => re.test(value) };
  } catch (err) {
    const why = /\(\?<?[=!]/.test(source)
      ? "lookahead and lookbehind are not supported"
      : /\\[1-9]/.test(source)
        ? "backreferences are not supported"
        : /\\u/.test(source)
          ? "write \\x{00e9}, not \\u00e9"
          : err instanceof RE2JSException
            ? err.message
            : String(err);
    const shown = source.length > 80 ? `${source.slice(0, 80)}…` : source;
    throw new Error(
      `invalid regular expression /${shown}/: ${why} (patterns use RE2 syntax, matched in linear time)`,
      { cause: err },
    );
  }
  // A bounded cache: patterns from API rules are caller-supplied.
  if (patternCache.size >= PATTERN_CACHE_MAX) patternCache.clear();
  patternCache.set(source, compiled);
  return compiled;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return (
    ka.length === kb.length &&
    ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
  );
}

function isScalar(v: unknown): boolean {
  return v === null || (typeof v !== "object" && typeof v !== "function");
}

/** `a < b` style ordering of two numbers or two strings; `undefined` when not comparable. */
function compare(a: unknown, b: unknown): number | undefined {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  return undefined;
}

/** Builds the test applied to a present field value. */
function valueTest(operator: Operator, expected: unknown): (actual: unknown) => boolean {
  switch (operator) {
    case "equals":
      return isScalar(expected) ? (a) => a === expected : (a) => deepEqual(a, expected);
    case "not_equals":
      return isScalar(expected) ? (a) => a !== expected : (a) => !deepEqual(a, expected);
    case "in":
    case "not_in": {
      const list = expected as readonly unknown[];
      const scalars = list.every(isScalar);
      const set = new Set(list);
      const has = scalars
        ? (a: unknown) => set.has(a)
        : (a: unknown) => list.some((x) => deepEqual(x, a));
      return operator === "in" ? has : (a) => !has(a);
    }
    case "contains":
    case "not_contains": {
      const has = (a: unknown): boolean | undefined =>
        typeof a === "string"
          ? typeof expected === "string" && a.includes(expected)
          : Array.isArray(a)
            ? a.some((x) => deepEqual(x, expected))
            : undefined;
      return operator === "contains" ? (a) => has(a) === true : (a) => has(a) === false;
    }
    case "starts_with":
      return (a) => typeof a === "string" && a.startsWith(expected as string);
    case "ends_with":
      return (a) => typeof a === "string" && a.endsWith(expected as string);
    case "matches": {
      const re = compilePattern(expected as string);
      return (a) => typeof a === "string" && re.test(a);
    }
    case "between": {
      const [low, high] = expected as readonly [unknown, unknown];
      return (a) => {
        const lo = compare(a, low);
        const hi = compare(a, high);
        return lo !== undefined && hi !== undefined && lo >= 0 && hi <= 0;
      };
    }
    case "greater_than":
      return (a) => (compare(a, expected) ?? Number.NaN) > 0;
    case "greater_or_equal":
      return (a) => (compare(a, expected) ?? Number.NaN) >= 0;
    case "less_than":
      return (a) => (compare(a, expected) ?? Number.NaN) < 0;
    case "less_or_equal":
      return (a) => (compare(a, expected) ?? Number.NaN) <= 0;
    case "exists":
      return () => true;
    case "not_exists":
      return () => false;
  }
}

/**
 * Compiles a condition tree. A field that is missing (or `null`) fails every operator except
 * `not_exists`; a value of the wrong type fails the comparison (including the `not_*` ones),
 * so a malformed context never satisfies a condition by accident.
 */
export function compileCondition(condition: Condition): Predicate {
  if ("all" in condition) {
    const parts = condition.all.map(compileCondition);
    return (ctx) => parts.every((p) => p(ctx));
  }
  if ("any" in condition) {
    const parts = condition.any.map(compileCondition);
    return (ctx) => parts.some((p) => p(ctx));
  }
  if ("not" in condition) {
    const inner = compileCondition(condition.not);
    return (ctx) => !inner(ctx);
  }
  const get = compileFieldPath(condition.field);
  if (condition.operator === "not_exists") return (ctx) => get(ctx) == null;
  const test = valueTest(condition.operator, condition.value);
  return (ctx) => {
    const actual = get(ctx);
    return actual != null && test(actual);
  };
}
