/**
 * `hexarch-ctl policy export ID --format test`: a starter test file for a policy, one or
 * two cases per rule, for `hexarch-ctl policy test` to run and its author to extend.
 *
 * @module
 */

import { Document } from "yaml";
import type { Policy, PolicyRule } from "../policy/types.ts";

/** A first value a glob list matches, when one is plain enough to write down. */
const sample = (patterns: readonly string[] | undefined): string | undefined =>
  patterns?.find((p) => !/[*?[\]]/.test(p));

const label = (rule: PolicyRule, policyId: string): string =>
  rule.id.startsWith(`${policyId}/`) ? rule.id.slice(policyId.length + 1) : rule.id;

/** The context that makes a rule's matchers apply. */
function matchingContext(rule: PolicyRule): Record<string, unknown> {
  const ctx: Record<string, unknown> = {};
  const resource = sample(rule.resource);
  const operation = sample(rule.operation);
  if (resource !== undefined) ctx.resource = resource;
  if (operation !== undefined) ctx.operation = operation;
  const model = rule.model && sample(rule.model.patterns);
  if (model !== undefined) ctx.model = rule.model?.allowed ? `not-${model}` : model;
  if (rule.feature) ctx.feature = rule.feature.name;
  if (rule.per !== undefined) ctx[rule.per] = "test-user";
  return ctx;
}

interface Case {
  name: string;
  policy: string;
  context?: Record<string, unknown>;
  at?: string;
  repeat?: number;
  expect: string | Record<string, unknown>;
}

/** Cases for one rule: what makes it refuse (or act), and for confirmation, what passes. */
function casesFor(policy: Policy, rule: PolicyRule): Case[] {
  const name = `${policy.id} ${label(rule, policy.id)}`;
  const ctx = matchingContext(rule);
  const base = { policy: policy.id, context: ctx };
  const ruleRef = label(rule, policy.id);
  const limit = rule.rateLimits[0];
  if (limit && limit.limit <= 10_000) {
    return [
      {
        name: `${name}: the ${limit.limit}th call is allowed`,
        ...base,
        repeat: limit.limit,
        expect: "allow",
      },
      {
        name: `${name}: call ${limit.limit + 1} is refused`,
        ...base,
        repeat: limit.limit + 1,
        expect: { action: rule.action, rule: ruleRef },
      },
    ];
  }
  const budget = rule.budgets.find((b) => b.unit === "usd");
  if (budget) {
    const dollars = budget.limit / 1_000_000;
    return [
      {
        name: `${name}: a call over the whole budget is refused`,
        ...base,
        context: { ...ctx, cost: Math.round((dollars + 0.01) * 100) / 100 },
        expect: { allowed: false, rule: ruleRef },
      },
    ];
  }
  if (rule.action === "require_confirmation" || rule.requires?.includes("confirm")) {
    return [
      { name: `${name}: asks for confirmation`, ...base, expect: "require_confirmation" },
      {
        name: `${name}: runs once confirmed`,
        ...base,
        context: { ...ctx, confirm: true },
        expect: "allow",
      },
    ];
  }
  if (rule.schedule) {
    return [
      {
        name: `${name}: refused outside its hours (a Sunday, 03:00 UTC; adjust to your schedule)`,
        ...base,
        at: "2026-01-04T03:00:00Z",
        expect: { action: rule.action, rule: ruleRef },
      },
    ];
  }
  return [
    { name: `${name}: ${rule.action}`, ...base, expect: { action: rule.action, rule: ruleRef } },
  ];
}

/** A test file (YAML text) with starter cases for every enabled rule of `policy`. */
export function testSkeleton(policy: Policy): string {
  const tests = policy.rules.filter((r) => r.enabled).flatMap((r) => casesFor(policy, r));
  const doc = new Document({ tests }, { aliasDuplicateObjects: false });
  doc.commentBefore = ` Starter tests for policy '${policy.id}', written by hexarch-ctl policy export --format test.
 Review each expectation, add the cases that matter to you, then run:
   hexarch-ctl policy test <this file>`;
  return doc.toString({ lineWidth: 0, flowCollectionPadding: true });
}
