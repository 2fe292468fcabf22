/**
 * Deciding with API-defined policies (the Python server's `/authorize` shape): which
 * policies apply to the caller, and whether all their rules hold.
 *
 * @module
 */

import type { ApiPolicy, ApiRule } from "../api-policies/types.ts";
import {
  type CompiledCondition,
  compileTruth,
  TRUE,
  type Truth,
  UNKNOWN,
} from "../engine/conditions.ts";
import { IssueCollector } from "../policy/issues.ts";
import { normalizeCondition } from "../policy/normalize-condition.ts";

/** Who calls, as API policies see it (the Python server's identity headers). */
export interface CallerIdentity {
  readonly actor_id: string;
  readonly actor_type: string;
  readonly tenant_id: string | null;
  readonly org_id: string | null;
  readonly team_id: string | null;
  readonly user_id: string | null;
}

/**
 * Compiles a rule condition; throws an `Error` whose message says what is wrong.
 * The same language as `when:` in a policy file, in the same three-valued logic. Field
 * paths in explanations are envelope paths (`input.context.amount`).
 */
export function compileRuleCondition(condition: unknown): CompiledCondition {
  const issues = new IssueCollector("condition");
  const normalized = normalizeCondition(condition, ["condition"], issues);
  if (!normalized || issues.issues.length > 0) {
    const first = issues.issues[0];
    throw new Error(first ? `${first.path}: ${first.message}` : "condition: invalid condition");
  }
  return compileTruth(normalized, "");
}

/** Whether a policy's scope covers the caller (GLOBAL always; the others by their value). */
export function policyApplies(policy: ApiPolicy, identity: CallerIdentity): boolean {
  switch (policy.scope) {
    case "GLOBAL":
      return true;
    case "ORGANIZATION":
      return policy.scope_value !== null && identity.org_id === policy.scope_value;
    case "TEAM":
      return policy.scope_value !== null && identity.team_id === policy.scope_value;
    case "USER":
      return policy.scope_value !== null && identity.user_id === policy.scope_value;
    default:
      return false;
  }
}

/** How one policy judged a request. */
export interface PolicyVerdict {
  readonly policyId: string;
  readonly allowed: boolean;
  /** The rules whose conditions were false or unknown. */
  readonly failedRules: readonly string[];
  /**
   * Of `failedRules`, those whose condition was unknown (a field of the wrong type), with
   * the explanation. They deny under `FAIL_OPEN` too: a caller's malformed input is not a
   * failure of the server.
   */
  readonly unknown: readonly { readonly ruleId: string; readonly message: string }[];
  /** Rules that could not be evaluated (missing, or a stored condition that no longer compiles). */
  readonly errors: readonly { readonly ruleId: string; readonly message: string }[];
  /** Whether errors were let through by `FAIL_OPEN`. */
  readonly failedOpen: boolean;
}

/**
 * Judges one policy: it allows only when every enabled rule's condition holds, in
 * priority order. An evaluation error denies under `FAIL_CLOSED` and is passed over
 * under `FAIL_OPEN`; a condition that is false or unknown (a field of the wrong type)
 * denies under both.
 */
export function judgePolicy(
  policy: ApiPolicy,
  rules: ReadonlyMap<string, ApiRule>,
  envelope: Readonly<Record<string, unknown>>,
): PolicyVerdict {
  const failedRules: string[] = [];
  const errors: { ruleId: string; message: string }[] = [];
  const unknown: { ruleId: string; message: string }[] = [];
  const present = policy.rule_ids
    .map((id) => rules.get(id))
    .filter((r): r is ApiRule => r !== undefined)
    .sort((a, b) => a.priority - b.priority || a.created_at.localeCompare(b.created_at));
  for (const id of policy.rule_ids)
    if (!rules.has(id)) errors.push({ ruleId: id, message: `rule '${id}' does not exist` });
  for (const rule of present) {
    if (!rule.enabled) continue;
    let truth: Truth;
    let compiled: CompiledCondition;
    try {
      compiled = compileRuleCondition(rule.condition);
      truth = compiled.test(envelope);
    } catch (err) {
      errors.push({ ruleId: rule.id, message: (err as Error).message });
      continue;
    }
    if (truth === TRUE) continue;
    failedRules.push(rule.id);
    if (truth === UNKNOWN)
      unknown.push({
        ruleId: rule.id,
        message: `${compiled.explain(envelope)}: rule '${rule.id}' fails (fail closed)`,
      });
  }
  const failOpen = policy.failure_mode === "FAIL_OPEN";
  return {
    policyId: policy.id,
    allowed: failedRules.length === 0 && (errors.length === 0 || failOpen),
    failedRules,
    unknown,
    errors,
    failedOpen: failOpen && errors.length > 0,
  };
}
