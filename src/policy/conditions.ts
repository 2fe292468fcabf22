/**
 * The `when:` condition language: comparisons of a context field against a value, composed
 * with `all`, `any` and `not`, and the operators a comparison may use. What a condition
 * means at run time (its compilation into three-valued logic) is the engine's
 * (`engine/conditions.ts`).
 *
 * @module
 */

import type { Operator } from "./operators.ts";

export {
  checkComparisonValue,
  OPERATOR_ALIASES,
  OPERATORS,
  type Operator,
  resolveOperator,
} from "./operators.ts";

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
