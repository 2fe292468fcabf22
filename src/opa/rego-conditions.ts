/**
 * A rule's matchers and `when` conditions as Rego body lines, with the sub-rules that
 * `any` and `not` need.
 *
 * @module
 */

import type { Comparison, Condition } from "../engine/conditions.ts";
import type { PolicyRule } from "../policy/types.ts";
import {
  globPattern,
  inputPathArray,
  inputRef,
  re2Pattern,
  regoString,
  regoValue,
} from "./rego-syntax.ts";
import { listTerm, literalGlob, type RuleScope } from "./rego-terms.ts";

/** The rule's matchers as body lines (empty: it applies to every call). */
export function matchers(scope: RuleScope, rule: PolicyRule): string[] {
  const lines: string[] = [];
  const matches = (value: string, globs: readonly string[]) =>
    `_matches(${value}, ${listTerm(globs.map((g) => regoString(g)))})`;
  const field = (name: string, patterns: readonly string[] | undefined) => {
    if (!patterns || patterns.includes("*")) return;
    lines.push(matches(`object.get(input, ${regoString(name)}, null)`, patterns.map(globPattern)));
  };
  field("resource", rule.resource);
  field("operation", rule.operation);
  if (rule.resourceTypes && !rule.resourceTypes.includes("*")) {
    lines.push(
      matches(`_either("resourceType", "resource_type")`, rule.resourceTypes.map(globPattern)),
    );
  }
  if (rule.feature) {
    lines.push(matches(`object.get(input, "feature", null)`, [literalGlob(rule.feature.name)]));
  }
  field("model", rule.model?.patterns);
  if (rule.when) lines.push(...condition(scope, rule.when));
  return lines;
}

/** A new sub-rule of the current rule, with one body per entry (an `or`). */
function subrule(scope: RuleScope, bodies: readonly (readonly string[])[]): string {
  const name = `_when_${scope.rule.index}_${scope.subrules++}`;
  scope.extra.push(
    bodies
      .map(
        (body) =>
          `${name} if {\n${(body.length ? body : ["true"]).map((l) => `\t${l}`).join("\n")}\n}`,
      )
      .join("\n\n"),
  );
  return name;
}

/** A condition as body lines (all of which must hold). */
function condition(scope: RuleScope, c: Condition): string[] {
  if ("all" in c) return c.all.flatMap((x) => condition(scope, x));
  if ("any" in c) {
    if (c.any.length === 0) return ["false"];
    const bodies = c.any.map((x) => condition(scope, x));
    return [subrule(scope, bodies)];
  }
  if ("not" in c) return [`not ${subrule(scope, [condition(scope, c.not)])}`];
  return comparison(scope, c);
}

/** One comparison as body lines. */
function comparison(scope: RuleScope, c: Comparison): string[] {
  const ref = inputRef(c.field);
  let x: string;
  try {
    x = c.operator === "exists" || c.operator === "not_exists" ? "null" : regoValue(c.value);
  } catch (err) {
    scope.fail(`the value of '${c.field}' ${c.operator}: ${(err as Error).message}`);
  }
  const typed = (v: unknown) => (typeof v === "number" ? `is_number(${ref})` : `is_string(${ref})`);
  switch (c.operator) {
    case "equals":
      return c.value === null ? ["false"] : [`${ref} == ${x}`];
    case "not_equals":
      return [`${ref} != null`, `${ref} != ${x}`];
    case "in":
      return [`${ref} != null`, `${ref} in ${x}`];
    case "not_in":
      return [`${ref} != null`, `not ${ref} in ${x}`];
    case "contains":
      if (typeof c.value !== "string") return [`is_array(${ref})`, `${x} in ${ref}`];
      return [
        subrule(scope, [
          [`is_string(${ref})`, `contains(${ref}, ${x})`],
          [`is_array(${ref})`, `${x} in ${ref}`],
        ]),
      ];
    case "not_contains":
      return [
        subrule(scope, [
          typeof c.value === "string"
            ? [`is_string(${ref})`, `not contains(${ref}, ${x})`]
            : [`is_string(${ref})`],
          [`is_array(${ref})`, `not ${x} in ${ref}`],
        ]),
      ];
    case "starts_with":
      return [`is_string(${ref})`, `startswith(${ref}, ${x})`];
    case "ends_with":
      return [`is_string(${ref})`, `endswith(${ref}, ${x})`];
    case "matches": {
      const re2 = re2Pattern(c.value as string);
      if (typeof re2 !== "string") {
        scope.fail(
          `the regular expression ${JSON.stringify(c.value)} ('${c.field}' matches) uses ${re2.problem}, which OPA's regular expressions (RE2) lack; rewrite it, or keep this policy on the embedded engine`,
        );
      }
      return [`is_string(${ref})`, `regex.match(${regoString(re2)}, ${ref})`];
    }
    case "between": {
      const [low, high] = c.value as readonly [unknown, unknown];
      return [typed(low), `${ref} >= ${regoValue(low)}`, `${ref} <= ${regoValue(high)}`];
    }
    case "greater_than":
      return [typed(c.value), `${ref} > ${x}`];
    case "greater_or_equal":
      return [typed(c.value), `${ref} >= ${x}`];
    case "less_than":
      return [typed(c.value), `${ref} < ${x}`];
    case "less_or_equal":
      return [typed(c.value), `${ref} <= ${x}`];
    case "exists":
      return [`${ref} != null`];
    case "not_exists":
      return [`object.get(input, ${inputPathArray(c.field)}, null) == null`];
  }
}
