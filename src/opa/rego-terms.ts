/**
 * Pieces shared by the parts of `toRego`'s writer: the shape of a rule's branches and
 * reasons, the state of the rule being written, and small Rego terms (sets, lists, globs).
 *
 * @module
 */

import type { DecisionAction } from "../kernel/decision.ts";
import type { PolicyRule } from "../policy/types.ts";
import { globPattern, regoValue } from "./rego-syntax.ts";

/** A piece of a reason: literal text, or a Rego expression formatted with `%s`, `%d` or `%v`. */
export type Part = string | { readonly expr: string; readonly verb: "s" | "d" | "v" };

/** One way a rule fires: the conditions (besides the rule's matchers) and the outcome. */
export interface Branch {
  readonly action: DecisionAction;
  readonly body: readonly string[];
  readonly detail: readonly Part[];
}

/** The rule being written: what its sub-rules and errors need. */
export interface RuleScope {
  /** The rule being written. */
  readonly rule: PolicyRule;
  /** Sub-rules of the rule being written (`any`, `not`, `allowed_users`). */
  readonly extra: string[];
  /** How many `_when_` sub-rules the rule has so far. */
  subrules: number;
  /** Throws the `RegoTranslationError` for the rule. */
  fail(message: string): never;
}

/** A Rego set of literal values (`set()` when empty). */
export const setTerm = (items: readonly (string | number)[]) =>
  items.length === 0 ? "set()" : `{${items.map((i) => regoValue(i)).join(", ")}}`;
/** A Rego array of terms. */
export const listTerm = (items: readonly string[]) => `[${items.join(", ")}]`;
/** A literal string as a glob that matches only itself. */
export const literalGlob = (s: string) => globPattern(s).replace(/[*?]/g, "\\$&");

/** The rule's name within its policy: `rules[0]` or its own id. */
export const labelOf = (rule: PolicyRule, policyId: string): string =>
  rule.id.startsWith(`${policyId}/`) ? rule.id.slice(policyId.length + 1) : rule.id;
