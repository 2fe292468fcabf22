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

/** A compiled condition, in two-valued logic: `true` only when it holds for certain. */
export type Predicate = (context: Readonly<Record<string, unknown>>) => boolean;

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

/** A compiled condition in three-valued logic. */
export type TruthTest = (context: Readonly<Record<string, unknown>>) => Truth;

/** A compiled condition: its test, and an explanation for the contexts it finds unknown. */
export interface CompiledCondition {
  readonly test: TruthTest;
  /**
   * For a context `test` finds {@link UNKNOWN}: which field holds which wrong type, e.g.
   * `context.amount is a string, greater_than needs a number`. Slow path: call it only then.
   */
  readonly explain: (context: Readonly<Record<string, unknown>>) => string;
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

/** `t` negated, unknown staying unknown. */
const negate = (t: Truth): Truth => (t === TRUE ? FALSE : t === FALSE ? TRUE : UNKNOWN);

/**
 * Builds the test applied to a present (non-null) field value. A value of a type the
 * operator cannot compare gives {@link UNKNOWN}: a number is never ordered against a
 * string, nor `NaN` at all; a string operator meets only strings; `equals` a scalar meets
 * only that scalar's type, `equals` a list only lists, a map only maps. `in`/`not_in`
 * compare by equality with each listed value, and meet only the kinds of value listed.
 */

function valueTest(operator: Operator, expected: unknown): (actual: unknown) => Truth {
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

/** A compiled node: its test, and (slow path) the comparison that made it unknown. */
interface Node {
  readonly test: TruthTest;
  readonly why: (ctx: Readonly<Record<string, unknown>>) => string | undefined;
}

function compileNode(condition: Condition, prefix: string): Node {
  if ("all" in condition || "any" in condition) {
    const isAll = "all" in condition;
    const nodes = (isAll ? condition.all : condition.any).map((c) => compileNode(c, prefix));
    const parts = nodes.map((n) => n.test);
    const n = parts.length;
    // all: false wins, then unknown; any: true wins, then unknown.
    const decisive = isAll ? FALSE : TRUE;
    const otherwise = isAll ? TRUE : FALSE;
    return {
      test: (ctx) => {
        let r: Truth = otherwise;
        for (let i = 0; i < n; i++) {
          const t = (parts[i] as TruthTest)(ctx);
          if (t === decisive) return decisive;
          if (t === UNKNOWN) r = UNKNOWN;
        }
        return r;
      },
      why: (ctx) => {
        for (const node of nodes) if (node.test(ctx) === UNKNOWN) return node.why(ctx);
        return undefined;
      },
    };
  }
  if ("not" in condition) {
    const inner = compileNode(condition.not, prefix);
    const test = inner.test;
    return { test: (ctx) => negate(test(ctx)), why: inner.why };
  }
  const get = compileFieldPath(condition.field);
  const { field, operator, value } = condition;
  if (operator === "not_exists")
    return { test: (ctx) => (get(ctx) == null ? TRUE : FALSE), why: () => undefined };
  const test = valueTest(operator, value);
  return {
    test: (ctx) => {
      const actual = get(ctx);
      return actual == null ? FALSE : test(actual);
    },
    why: (ctx) => {
      const actual = get(ctx);
      if (actual == null || test(actual) !== UNKNOWN) return undefined;
      return `${prefix}${field} is ${kindOf(actual)}, ${operator} needs ${needs(operator, value)}`;
    },
  };
}

/**
 * Compiles a condition tree into three-valued logic. A field that is missing (or `null`)
 * fails every operator except `not_exists`. A present value of a type the operator cannot
 * compare is {@link UNKNOWN}, never false: otherwise `amount: "1000"` would step around a
 * rule that blocks `when: amount > 100`, and `not:` would turn the miss into a match.
 * `all` is false if any part is, else unknown if any is; `any` is true if any part is,
 * else unknown if any is; `not` keeps unknown.
 *
 * @param prefix - Prepended to field paths in explanations (`context.` for a decision context).
 */
export function compileTruth(condition: Condition, prefix = "context."): CompiledCondition {
  const node = compileNode(condition, prefix);
  return {
    test: node.test,
    explain: (ctx) => node.why(ctx) ?? "a condition could not be evaluated",
  };
}

/**
 * Compiles a condition tree into a predicate that is `true` only when the condition holds
 * for certain ({@link compileTruth} gives {@link TRUE}); unknown counts as not holding.
 */
export function compileCondition(condition: Condition): Predicate {
  const test = compileNode(condition, "").test;
  return (ctx) => test(ctx) === TRUE;
}
