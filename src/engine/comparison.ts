/**
 * One comparison in three-valued (Kleene) logic: the {@link Truth} values, the test each
 * operator applies to a present field value, and the explanation of an unknown result.
 *
 * @module
 */

import type { Operator } from "../policy/operators.ts";
import { compilePattern } from "../policy/pattern.ts";

/**
 * A three-valued (Kleene) truth: {@link FALSE}, {@link TRUE} or {@link UNKNOWN}. A small
 * number rather than an object, so evaluating a condition allocates nothing.
 */
export type Truth = 0 | 1 | 2;
/** The condition does not hold. */
export const FALSE = 0 as const;
/** The condition holds. */
export const TRUE = 1 as const;
/**
 * The condition cannot be decided: a field is present but holds a type its operator cannot
 * compare (`"1000"` or `[1000]` for `greater_than: 100`). Rules treat it as applying (fail
 * closed), except `allow` rules, which must never be granted on it.
 */
export const UNKNOWN = 2 as const;

/** `t` negated, unknown staying unknown. */
export const negate = (t: Truth): Truth => (t === TRUE ? FALSE : t === FALSE ? TRUE : UNKNOWN);

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

/** The JSON kind of a value, as messages name it: `a string`, `a list`, `NaN`… */
function kindOf(v: unknown): string {
  if (Array.isArray(v)) return "a list";
  if (v === null) return "null";
  if (typeof v === "number" && Number.isNaN(v)) return "NaN";
  const t = typeof v;
  return t === "object" ? "a map" : t === "undefined" ? "missing" : `a ${t}`;
}

/** What a present value must be for `operator` against `expected`, for messages. */
function needs(operator: Operator, expected: unknown): string {
  switch (operator) {
    case "contains":
    case "not_contains":
      return "a string or a list";
    case "starts_with":
    case "ends_with":
    case "matches":
      return "a string";
    case "between":
      return kindOf((expected as readonly unknown[])[0]);
    default:
      return kindOf(expected);
  }
}

/**
 * Why `actual` (present) makes `operator` against `expected` unknown, after the field's
 * name: `is a string, greater_than needs a number`.
 */
export function explainUnknown(operator: Operator, expected: unknown, actual: unknown): string {
  return `is ${kindOf(actual)}, ${operator} needs ${needs(operator, expected)}`;
}

/**
 * Builds the test applied to a present (non-null) field value. A value of a type the
 * operator cannot compare gives {@link UNKNOWN}: a number is never ordered against a
 * string, nor `NaN` at all; a string operator meets only strings; `equals` a scalar meets
 * only that scalar's type, `equals` a list only lists, a map only maps. `in`/`not_in`
 * compare by equality with each listed value, and meet only the kinds of value listed.
 */
export function valueTest(operator: Operator, expected: unknown): (actual: unknown) => Truth {
  switch (operator) {
    case "equals":
    case "not_equals": {
      const yes = operator === "equals" ? TRUE : FALSE;
      const no = operator === "equals" ? FALSE : TRUE;
      if (expected === null) return () => no;
      if (isScalar(expected)) {
        const type = typeof expected;
        return (a) => (a === expected ? yes : typeof a === type ? no : UNKNOWN);
      }
      const list = Array.isArray(expected);
      return (a) =>
        typeof a !== "object" || a === null || Array.isArray(a) !== list
          ? UNKNOWN
          : deepEqual(a, expected)
            ? yes
            : no;
    }
    case "in":
    case "not_in": {
      const list = expected as readonly unknown[];
      const scalars = list.every(isScalar);
      const set = new Set(list);
      const has = scalars
        ? (a: unknown) => set.has(a)
        : (a: unknown) => list.some((x) => deepEqual(x, a));
      // A value of a type none of the listed values has (`["delete"]` against
      // `[delete, drop]`) cannot be judged: unknown, as for `equals`, so a blocking rule
      // cannot be escaped by wrapping the value.
      const kinds = new Set(list.map(kindOf));
      const yes = operator === "in" ? TRUE : FALSE;
      const no = operator === "in" ? FALSE : TRUE;
      return (a) => (has(a) ? yes : kinds.has(kindOf(a)) ? no : UNKNOWN);
    }
    case "contains":
    case "not_contains": {
      const has = (a: unknown): Truth =>
        typeof a === "string"
          ? typeof expected === "string" && a.includes(expected)
            ? TRUE
            : FALSE
          : Array.isArray(a)
            ? a.some((x) => deepEqual(x, expected))
              ? TRUE
              : FALSE
            : UNKNOWN;
      return operator === "contains" ? has : (a) => negate(has(a));
    }
    case "starts_with": {
      const e = expected as string;
      return (a) => (typeof a !== "string" ? UNKNOWN : a.startsWith(e) ? TRUE : FALSE);
    }
    case "ends_with": {
      const e = expected as string;
      return (a) => (typeof a !== "string" ? UNKNOWN : a.endsWith(e) ? TRUE : FALSE);
    }
    case "matches": {
      const re = compilePattern(expected as string);
      return (a) => (typeof a !== "string" ? UNKNOWN : re.test(a) ? TRUE : FALSE);
    }
    // Numbers with numbers, strings with strings (ISO dates order as strings); NaN orders
    // against nothing. The casts only quiet the compiler: the type test before each
    // comparison makes both sides the same primitive type.
    case "between": {
      const [low, high] = expected as readonly [number, number];
      const type = typeof low;
      return (a) =>
        typeof a !== type || Number.isNaN(a)
          ? UNKNOWN
          : (a as number) >= low && (a as number) <= high
            ? TRUE
            : FALSE;
    }
    case "greater_than": {
      const e = expected as number;
      const type = typeof e;
      return (a) =>
        typeof a !== type || Number.isNaN(a) ? UNKNOWN : (a as number) > e ? TRUE : FALSE;
    }
    case "greater_or_equal": {
      const e = expected as number;
      const type = typeof e;
      return (a) =>
        typeof a !== type || Number.isNaN(a) ? UNKNOWN : (a as number) >= e ? TRUE : FALSE;
    }
    case "less_than": {
      const e = expected as number;
      const type = typeof e;
      return (a) =>
        typeof a !== type || Number.isNaN(a) ? UNKNOWN : (a as number) < e ? TRUE : FALSE;
    }
    case "less_or_equal": {
      const e = expected as number;
      const type = typeof e;
      return (a) =>
        typeof a !== type || Number.isNaN(a) ? UNKNOWN : (a as number) <= e ? TRUE : FALSE;
    }
    case "exists":
      return () => TRUE;
    case "not_exists":
      return () => FALSE;
  }
}
