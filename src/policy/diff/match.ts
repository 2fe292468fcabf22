/**
 * Aligning two versions of a list: rules matched by their own id or name, else by
 * position around the longest run of unchanged rules; and the merged order in which
 * changes are reported (the new list's, removed items where they were).
 *
 * @module
 */

import type { PolicyRule } from "../types.ts";
import { compareAll } from "./facet.ts";
import type { FacetCache } from "./rule-facets.ts";

/** The rule's label in its policy: its own id or name, else `rules[i]`. */
export function ruleLabel(rule: PolicyRule, policyId: string): string {
  return rule.id.startsWith(`${policyId}/`) ? rule.id.slice(policyId.length + 1) : rule.id;
}

/** The rule's own id or name; `undefined` for a rule known by its position. */
export function explicitLabel(rule: PolicyRule, policyId: string): string | undefined {
  const label = ruleLabel(rule, policyId);
  return label === `rules[${rule.index}]` ? undefined : label;
}

/**
 * Pairs before/after items and orders them as the new list, with removed items placed
 * after the last item that preceded them in the old list and survived.
 */
export function mergeOrder<T>(
  before: readonly T[],
  after: readonly T[],
  pairs: ReadonlyMap<T, T>,
): { b?: T; a?: T }[] {
  const partnerOf = new Map<T, T>();
  for (const [b, a] of pairs) partnerOf.set(a, b);
  const removedAfter = new Map<T | undefined, T[]>();
  let anchor: T | undefined;
  for (const b of before) {
    const a = pairs.get(b);
    if (a !== undefined) anchor = a;
    else {
      const list = removedAfter.get(anchor) ?? [];
      list.push(b);
      removedAfter.set(anchor, list);
    }
  }
  const out: { b?: T; a?: T }[] = (removedAfter.get(undefined) ?? []).map((b) => ({ b }));
  for (const a of after) {
    const b = partnerOf.get(a);
    out.push(b === undefined ? { a } : { b, a });
    for (const r of removedAfter.get(a) ?? []) out.push({ b: r });
  }
  return out;
}

/**
 * Matches the rules of two versions of a policy: by their own id or name when they have
 * one; rules known by position by the longest run of unchanged rules, then by position in
 * the gaps between (so deleting the first of three anonymous rules removes that rule
 * rather than shifting every other one).
 */
export function matchRules(
  policyId: string,
  before: readonly PolicyRule[],
  after: readonly PolicyRule[],
  cache: FacetCache,
): Map<PolicyRule, PolicyRule> {
  const pairs = new Map<PolicyRule, PolicyRule>();
  const byLabel = new Map<string, PolicyRule>();
  for (const a of after) {
    const label = explicitLabel(a, policyId);
    if (label !== undefined) byLabel.set(label, a);
  }
  for (const b of before) {
    const label = explicitLabel(b, policyId);
    const a = label === undefined ? undefined : byLabel.get(label);
    if (a) pairs.set(b, a);
  }
  const bs = before.filter((r) => explicitLabel(r, policyId) === undefined);
  const as = after.filter((r) => explicitLabel(r, policyId) === undefined);
  const same = (b: PolicyRule, a: PolicyRule) =>
    compareAll(cache.get(b), cache.get(a)).length === 0;
  // Longest common subsequence of unchanged rules.
  const n = bs.length;
  const m = as.length;
  const lcs = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  const at = (i: number, j: number) => lcs[i]?.[j] ?? 0;
  for (let i = n - 1; i >= 0; i--) {
    const row = lcs[i] as number[];
    for (let j = m - 1; j >= 0; j--) {
      row[j] = same(bs[i] as PolicyRule, as[j] as PolicyRule)
        ? at(i + 1, j + 1) + 1
        : Math.max(at(i + 1, j), at(i, j + 1));
    }
  }
  const anchors: [number, number][] = [];
  for (let i = 0, j = 0; i < n && j < m; ) {
    if (at(i, j) === at(i + 1, j + 1) + 1 && same(bs[i] as PolicyRule, as[j] as PolicyRule)) {
      anchors.push([i++, j++]);
    } else if (at(i + 1, j) >= at(i, j + 1)) i++;
    else j++;
  }
  anchors.push([n, m]);
  let pi = 0;
  let pj = 0;
  for (const [i, j] of anchors) {
    for (let k = 0; pi + k < i && pj + k < j; k++) {
      pairs.set(bs[pi + k] as PolicyRule, as[pj + k] as PolicyRule);
    }
    if (i < n && j < m) pairs.set(bs[i] as PolicyRule, as[j] as PolicyRule);
    pi = i + 1;
    pj = j + 1;
  }
  return pairs;
}
