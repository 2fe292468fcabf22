/**
 * The diff itself: policies matched by id, rules by {@link matchRules}, and every change
 * reported with its effect on the calls let through.
 *
 * @module
 */

import type { Policy, PolicyRule, PolicySet } from "../types.ts";
import { compareAll, type Facet } from "./facet.ts";
import { explicitLabel, matchRules, mergeOrder, ruleLabel } from "./match.ts";
import { plural } from "./render.ts";
import { FacetCache } from "./rule-facets.ts";
import { type Dir, effectOf, suffix } from "./semantics.ts";
import type { ChangeEffect, PolicyChange } from "./types.ts";

/** A rule as a plain object in the file's terms, for added and removed rules. */
function ruleView(rule: PolicyRule, policyId: string, facets: ReadonlyMap<string, Facet>) {
  const label = explicitLabel(rule, policyId);
  const view: Record<string, unknown> = label === undefined ? {} : { id: label };
  for (const f of facets.values()) view[f.field] = f.value;
  return view;
}

/** A rule on one line: `{operation: [delete], action: require_confirmation}`. */
function describeRule(facets: ReadonlyMap<string, Facet>): string {
  return `{${[...facets.values()].map((f) => `${f.field}: ${f.text}`).join(", ")}}`;
}

/** Rules that hold something back when they fire (an `allow` rule's outcome never decides). */
const restrictive = (rule: PolicyRule) => rule.enabled && rule.action !== "allow";

/** Appends the changes between two versions of one policy to `out`. */
function diffPolicy(b: Policy, a: Policy, cache: FacetCache, out: PolicyChange[]): void {
  const id = a.id;
  const live = b.enabled && a.enabled;
  if (b.enabled !== a.enabled) {
    const dir: Dir = a.enabled ? "tighter" : "looser";
    const holds = (a.enabled ? a : b).rules.some(restrictive);
    const effect = effectOf(dir, holds);
    out.push({
      policyId: id,
      kind: "field_changed",
      field: "enabled",
      before: b.enabled,
      after: a.enabled,
      effect,
      message: `${id}: policy ${a.enabled ? "enabled" : "disabled"}${suffix(effect)}`,
    });
  }
  if (b.failOpen !== a.failOpen) {
    const effect = effectOf(a.failOpen ? "looser" : "tighter", live);
    out.push({
      policyId: id,
      kind: "field_changed",
      field: "fail_open",
      before: b.failOpen,
      after: a.failOpen,
      effect,
      message: `${id}: fail_open changed from ${b.failOpen} to ${a.failOpen}${suffix(effect, live ? undefined : "no effect: policy disabled")}`,
    });
  }
  const pairs = matchRules(id, b.rules, a.rules, cache);
  for (const { b: rb, a: ra } of mergeOrder(b.rules, a.rules, pairs)) {
    if (rb && ra) diffRule(id, rb, ra, live, cache, out);
    else if (ra) {
      const facets = cache.get(ra);
      const label = ruleLabel(ra, id);
      const effect = effectOf("tighter", a.enabled && restrictive(ra));
      out.push({
        policyId: id,
        ruleId: label,
        kind: "rule_added",
        after: ruleView(ra, id, facets),
        effect,
        message: `${id} ${label}: rule added: ${describeRule(facets)}${suffix(effect)}`,
      });
    } else if (rb) {
      const facets = cache.get(rb);
      const label = ruleLabel(rb, id);
      const effect = effectOf("looser", b.enabled && restrictive(rb));
      out.push({
        policyId: id,
        ruleId: label,
        kind: "rule_removed",
        before: ruleView(rb, id, facets),
        effect,
        message: `${id} ${label}: rule removed (was ${describeRule(facets)})${suffix(effect)}`,
      });
    }
  }
}

/** Appends the field changes between two versions of one rule to `out`. */
function diffRule(
  policyId: string,
  b: PolicyRule,
  a: PolicyRule,
  policyLive: boolean,
  cache: FacetCache,
  out: PolicyChange[],
): void {
  const label = ruleLabel(a, policyId);
  const oldLabel = ruleLabel(b, policyId);
  const where = `${policyId} ${label}${oldLabel === label ? "" : ` (was ${oldLabel})`}`;
  const bothEnabled = b.enabled && a.enabled;
  const note = !policyLive
    ? "no effect: policy disabled"
    : !b.enabled && !a.enabled
      ? "no effect: rule disabled"
      : undefined;
  for (const d of compareAll(cache.get(b), cache.get(a))) {
    const live =
      policyLive &&
      (d.scope === "action"
        ? bothEnabled
        : d.scope === "enabled"
          ? (d.dir === "tighter" ? a : b).action !== "allow"
          : bothEnabled && b.action !== "allow" && a.action !== "allow");
    const effect = effectOf(d.dir, live);
    const text =
      d.key === "enabled" && !a.feature && !b.feature
        ? `rule ${a.enabled ? "enabled" : "disabled"}`
        : d.text;
    out.push({
      policyId,
      ruleId: label,
      kind: "field_changed",
      field: d.field,
      ...(d.before !== undefined && { before: d.before }),
      ...(d.after !== undefined && { after: d.after }),
      effect,
      message: `${where}: ${text}${suffix(effect, d.dir === "unknown" ? undefined : note)}`,
    });
  }
}

/** A policy as a plain object in the file's terms, for added and removed policies. */
function policyView(p: Policy, cache: FacetCache): Record<string, unknown> {
  return {
    id: p.id,
    ...(!p.enabled && { enabled: false }),
    ...(p.failOpen && { fail_open: true }),
    rules: p.rules.map((r) => ruleView(r, p.id, cache.get(r))),
  };
}

/**
 * The semantic changes from `before` to `after`: policies added and removed, rules added
 * and removed, and every field whose meaning changed, each with its effect on the calls
 * let through. Identical sets (or sets that differ only in spelling, comments, order of
 * rules with ids, names or descriptions) give `[]`.
 *
 * Policies are matched by id; rules by their own `id` (or `name`), else by position. The
 * order is the new file's: policies as it lists them (a removed one where it was), rules
 * by position, fields in a fixed order (on/off, matchers, limits, schedule, users, parameter,
 * action, bookkeeping).
 *
 * @example
 * ```ts
 * const changes = diffPolicies(loadPolicyFile("old.yaml"), loadPolicyFile("hexarch.yaml"));
 * changes[0]?.message; // "rate_limit rules[0]: requests_per_minute raised from 100 to 200 (loosened)"
 * ```
 */
export function diffPolicies(before: PolicySet, after: PolicySet): PolicyChange[] {
  const out: PolicyChange[] = [];
  const cache = new FacetCache();
  const bMode = before.mode ?? "enforce";
  const aMode = after.mode ?? "enforce";
  if (bMode !== aMode) {
    const word = (m: string) => (m === "monitor" ? "warn" : "strict");
    const effect: ChangeEffect = aMode === "monitor" ? "loosened" : "tightened";
    out.push({
      policyId: "",
      kind: "field_changed",
      field: "enforcement",
      before: word(bMode),
      after: word(aMode),
      effect,
      message: `enforcement changed from ${word(bMode)} to ${word(aMode)} (${effect})`,
    });
  }
  const afterById = new Map(after.policies.map((p) => [p.id, p]));
  const pairs = new Map<Policy, Policy>();
  for (const p of before.policies) {
    const a = afterById.get(p.id);
    if (a) pairs.set(p, a);
  }
  for (const { b, a } of mergeOrder(before.policies, after.policies, pairs)) {
    if (b && a) diffPolicy(b, a, cache, out);
    else if (a) {
      const effect = effectOf("tighter", a.enabled && a.rules.some(restrictive));
      out.push({
        policyId: a.id,
        kind: "policy_added",
        after: policyView(a, cache),
        effect,
        message: `${a.id}: policy added with ${plural(a.rules.length, "rule")}${suffix(effect)}`,
      });
    } else if (b) {
      const effect = effectOf("looser", b.enabled && b.rules.some(restrictive));
      out.push({
        policyId: b.id,
        kind: "policy_removed",
        before: policyView(b, cache),
        effect,
        message: `${b.id}: policy removed (had ${plural(b.rules.length, "rule")})${suffix(effect)}`,
      });
    }
  }
  return out;
}
