/**
 * Whether a rule applies to a context: its matchers on top-level fields (`resource`,
 * `operation`, `resource_types`, `feature`, `model`) and its `when:` condition, combined
 * into one three-valued test; and the text that says what matched.
 *
 * @module
 */

import { compileGlobs, type StringMatcher } from "../policy/glob.ts";
import type { PolicyRule } from "../policy/types.ts";
import {
  type CompiledCondition,
  compileTruth,
  FALSE,
  type Predicate,
  TRUE,
  type Truth,
  type TruthTest,
  UNKNOWN,
} from "./conditions.ts";

/**
 * A matcher on a top-level context field. A missing field matches: attaching the policy to
 * a call is the declaration. A value that is not a string (`["delete"]`, `{op: "delete"}`,
 * `7`) matches too: a malformed context must not step around a rule (fail closed). Strings
 * match exactly (case and spaces count). `undefined` when the patterns match everything
 * (`*`), so the rule skips the test altogether.
 */
function fieldMatcher(field: string, patterns: readonly string[]): Predicate | undefined {
  if (patterns.includes("*")) return undefined;
  const only =
    patterns.length === 1 && !/[*?]/.test(patterns[0] as string) ? patterns[0] : undefined;
  if (only !== undefined) {
    // The common case, `operation: delete`: one comparison, no nested calls.
    return (ctx) => {
      const v = ctx[field];
      return v === only || typeof v !== "string";
    };
  }
  const match: StringMatcher = compileGlobs(patterns);
  return (ctx) => {
    const v = ctx[field];
    return typeof v !== "string" || match(v);
  };
}

/** A rule's applicability test, and its compiled `when:` (to explain an unknown). */
export interface RuleApplies {
  /**
   * `TRUE`, `FALSE`, or `UNKNOWN`: the rule applies because a `when:` condition met a value
   * of the wrong type (fail closed; never for `allow` rules, whose `UNKNOWN` is `FALSE`).
   * `undefined` = always.
   */
  readonly applies: TruthTest | undefined;
  readonly when: CompiledCondition | undefined;
}

/** Compiles the matchers and `when:` of a rule into one test. */
export function compileApplies(rule: PolicyRule): RuleApplies {
  const matchers: Predicate[] = [];
  const add = (m: Predicate | undefined) => {
    if (m) matchers.push(m);
  };
  if (rule.resource) add(fieldMatcher("resource", rule.resource));
  if (rule.operation) add(fieldMatcher("operation", rule.operation));
  if (rule.resourceTypes) {
    const m = compileGlobs(rule.resourceTypes);
    matchers.push((ctx) => {
      const v = ctx.resourceType ?? ctx.resource_type;
      return typeof v !== "string" || m(v);
    });
  }
  if (rule.feature) {
    const name = rule.feature.name;
    matchers.push((ctx) => typeof ctx.feature !== "string" || ctx.feature === name);
  }
  if (rule.model) add(fieldMatcher("model", rule.model.patterns));
  const when = rule.when ? compileTruth(rule.when) : undefined;
  const fields: Predicate | undefined =
    matchers.length === 0
      ? undefined
      : matchers.length === 1
        ? matchers[0]
        : (ctx) => {
            for (const m of matchers) if (!m(ctx)) return false;
            return true;
          };
  // An `allow` rule is never granted on an unknown condition; any other rule applies.
  const onUnknown: Truth = rule.action === "allow" ? FALSE : UNKNOWN;
  const whenTest = when?.test;
  const applies: TruthTest | undefined =
    whenTest === undefined
      ? fields && ((ctx) => (fields(ctx) ? TRUE : FALSE))
      : fields === undefined
        ? (ctx) => {
            const t = whenTest(ctx);
            return t === UNKNOWN ? onUnknown : t;
          }
        : (ctx) => {
            if (!fields(ctx)) return FALSE;
            const t = whenTest(ctx);
            return t === UNKNOWN ? onUnknown : t;
          };
  return { applies, when };
}

/** What a matcher-only rule's reason says matched. */
export function matchDetail(rule: PolicyRule): string {
  const parts: string[] = [];
  if (rule.operation) parts.push(`operation ${rule.operation.join(" or ")}`);
  if (rule.resource) parts.push(`resource ${rule.resource.join(" or ")}`);
  if (rule.resourceTypes) parts.push(`resource type ${rule.resourceTypes.join(" or ")}`);
  if (rule.model) parts.push(`model ${rule.model.patterns.join(" or ")}`);
  if (rule.feature) parts.push(`feature ${rule.feature.name}`);
  const matched = parts.length ? `matched ${parts.join(", ")}` : "";
  if (rule.when) return matched ? `${matched}, and its conditions held` : "its conditions held";
  return matched || "applies to every call";
}
