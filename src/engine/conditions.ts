/**
 * `when:` conditions compiled once, when a policy loads, into closures that answer in
 * three-valued logic. The language itself (the condition tree and its operators) is the
 * policy's (`policy/conditions.ts`); what each operator makes of a value is in
 * `comparison.ts`. Both are re-exported here, the public face of conditions.
 *
 * @module
 */

import type { Condition } from "../policy/conditions.ts";
import { compileFieldPath } from "../policy/field-path.ts";
import {
  explainUnknown,
  FALSE,
  negate,
  TRUE,
  type Truth,
  UNKNOWN,
  valueTest,
} from "./comparison.ts";

export {
  type Comparison,
  type Condition,
  checkComparisonValue,
  OPERATOR_ALIASES,
  OPERATORS,
  type Operator,
  resolveOperator,
} from "../policy/conditions.ts";
export { FALSE, TRUE, type Truth, UNKNOWN } from "./comparison.ts";

/** A compiled condition, in two-valued logic: `true` only when it holds for certain. */
export type Predicate = (context: Readonly<Record<string, unknown>>) => boolean;

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
      return `${prefix}${field} ${explainUnknown(operator, value, actual)}`;
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
