/**
 * API-defined policies (the decision server's `/rules` and `/policies`) as a decision
 * source: every enabled policy whose scope covers the caller decides, deny-overrides, each
 * rule's condition compiled once and kept until the rule changes.
 *
 * `ApiPolicyDecisions` (`api-policy-decisions.ts`) reads and caches them; this module
 * compiles and decides: {@link ApiPolicyClient} is a {@link DecisionClient} that
 * decides synchronously and never throws (a rule that cannot be evaluated is an error in
 * its decision, denied under `FAIL_CLOSED`, let through under `FAIL_OPEN`).
 *
 * @module
 */

import type {
  ApiPolicy,
  ApiPolicyInput,
  ApiPolicyStore,
  ApiRule,
  ApiRuleInput,
} from "../api-policies/types.ts";
import {
  type CompiledCondition,
  compileTruth,
  TRUE,
  type Truth,
  UNKNOWN,
} from "../engine/conditions.ts";
import type { Context } from "../kernel/context.ts";
import { type Decision, makeDecision } from "../kernel/decision.ts";
import { GuardrailError, InvalidOptionError } from "../kernel/errors.ts";
import { IssueCollector } from "../policy/issues.ts";
import { normalizeCondition } from "../policy/normalize-condition.ts";
import type { DecisionClient } from "./types.ts";

/** The policy id to decide API-defined policies under (they have no id of their own as a set). */
export const API_POLICIES_ID = "api";

/** The policy id of a decision no API-defined policy applied to. */
export const NO_API_POLICY_ID = "api:none";

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
 * What API-defined policies decide on: the request, the caller and what is asked. Rule
 * conditions read its fields by path (`input.context.amount`, `identity.tenant_id`).
 */
export type ApiPolicyEnvelope = {
  readonly request: {
    readonly method: string;
    readonly path: string;
    readonly query: Readonly<Record<string, unknown>>;
  };
  readonly identity: CallerIdentity;
  readonly input: {
    readonly action: string;
    readonly resource: unknown;
    readonly context: Context;
  };
};

/**
 * Compiles a rule condition: the same language as `when:` in a policy file, in the same
 * three-valued logic. Field paths in explanations are envelope paths (`input.context.amount`).
 *
 * @throws GuardrailError `invalid_rule_condition`, whose message starts with the path of
 *   the first problem (`condition.field: …`).
 */
export function compileRuleCondition(condition: unknown): CompiledCondition {
  const issues = new IssueCollector("condition");
  const normalized = normalizeCondition(condition, ["condition"], issues);
  if (!normalized || issues.issues.length > 0) {
    const first = issues.issues[0];
    throw new GuardrailError(
      first ? `${first.path}: ${first.message}` : "condition: invalid condition",
      { code: "invalid_rule_condition" },
    );
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

/** What API-defined policies made of one request, beyond its decision. */
export interface ApiPolicyOutcome {
  /** Ids of the enabled policies whose scope covered the caller, in creation order. */
  readonly policies: readonly string[];
  /** `<policy>/<rule>: <message>` for each rule that could not be evaluated. */
  readonly evaluationErrors: readonly string[];
  /** On an allow: the policies whose evaluation errors `FAIL_OPEN` let through. */
  readonly failedOpen: readonly string[];
}

/** A rule ready to evaluate: its condition compiled, or why it cannot be. */
/** A rule with its condition compiled (or why it does not compile). @internal */
export interface ReadyRule {
  readonly rule: ApiRule;
  readonly compiled: CompiledCondition | GuardrailError;
}

/** How one policy judged a request. */
interface Verdict {
  readonly policyId: string;
  readonly allowed: boolean;
  /** The rules whose conditions were false or unknown. */
  readonly failedRules: readonly string[];
  /** Of `failedRules`, those whose condition was unknown, with the explanation. */
  readonly unknown: readonly { readonly ruleId: string; readonly message: string }[];
  /** Rules that could not be evaluated (missing, or a stored condition that does not compile). */
  readonly errors: readonly { readonly ruleId: string; readonly message: string }[];
  /** Whether errors were let through by `FAIL_OPEN`. */
  readonly failedOpen: boolean;
}

/** A policy ready to judge: its enabled rules present, in priority order. */
/** A policy with its rules in order and their conditions compiled. @internal */
export interface ReadyPolicy {
  readonly policy: ApiPolicy;
  readonly rules: readonly ReadyRule[];
  /** Rule ids the policy names that do not exist. */
  readonly missing: readonly string[];
}

const NO_IDENTITY: CallerIdentity = {
  actor_id: "anonymous",
  actor_type: "user",
  tenant_id: null,
  org_id: null,
  team_id: null,
  user_id: null,
};

const textOrNull = (v: unknown): string | null => (typeof v === "string" ? v : null);

/** The caller of an envelope given as a context (fields of the wrong type count as absent). */
function identityOf(context: Context): CallerIdentity {
  const id = context.identity;
  if (id === null || typeof id !== "object") return NO_IDENTITY;
  const i = id as Record<string, unknown>;
  return {
    actor_id: typeof i.actor_id === "string" ? i.actor_id : "anonymous",
    actor_type: typeof i.actor_type === "string" ? i.actor_type : "user",
    tenant_id: textOrNull(i.tenant_id),
    org_id: textOrNull(i.org_id),
    team_id: textOrNull(i.team_id),
    user_id: textOrNull(i.user_id),
  };
}

/**
 * Judges one policy: it allows only when every enabled rule's condition holds, in
 * priority order. An evaluation error denies under `FAIL_CLOSED` and is passed over
 * under `FAIL_OPEN`; a condition that is false or unknown (a field of the wrong type)
 * denies under both.
 */
function judge(ready: ReadyPolicy, envelope: Context): Verdict {
  const failedRules: string[] = [];
  const errors: { ruleId: string; message: string }[] = ready.missing.map((id) => ({
    ruleId: id,
    message: `rule '${id}' does not exist`,
  }));
  const unknown: { ruleId: string; message: string }[] = [];
  for (const { rule, compiled } of ready.rules) {
    if (compiled instanceof GuardrailError) {
      errors.push({ ruleId: rule.id, message: compiled.message });
      continue;
    }
    let truth: Truth;
    try {
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
  const failOpen = ready.policy.failure_mode === "FAIL_OPEN";
  return {
    policyId: ready.policy.id,
    allowed: failedRules.length === 0 && (errors.length === 0 || failOpen),
    failedRules,
    unknown,
    errors,
    failedOpen: failOpen && errors.length > 0,
  };
}

/** The reason of a decision, as the Python server words it. */
function reasonOf(
  policyIds: readonly string[],
  denying: Verdict | undefined,
  failedOpen: readonly Verdict[],
): string {
  if (policyIds.length === 0) return "no_applicable_policies";
  if (denying) {
    const detail =
      denying.errors.length > 0 && denying.failedRules.length === 0
        ? ` (evaluation failed: ${denying.errors.map((e) => e.message).join("; ")})`
        : denying.unknown.length > 0
          ? ` (${denying.unknown.map((e) => e.message).join("; ")})`
          : "";
    return `policy_denied:${denying.policyId}${detail}`;
  }
  if (failedOpen.length > 0)
    return `allowed: evaluation failed and FAIL_OPEN let it through (${failedOpen.map((v) => `${v.policyId}: ${v.errors.map((e) => e.message).join("; ")}`).join(", ")})`;
  return `allowed by ${policyIds.length === 1 ? "policy" : "policies"} ${policyIds.join(", ")}`;
}

/**
 * The API-defined policies in force at one moment, compiled: a {@link DecisionClient}
 * whose `decide` reads an {@link ApiPolicyEnvelope} as its context, answers at once and
 * never throws. The policy id it is asked for is not read: every enabled policy whose
 * scope covers the caller decides; one denial denies; none applying denies. It keeps no
 * counters and records nothing, so a dry run (`input.dryRun`) is decided as any request.
 *
 * @example
 * ```ts
 * const client = await apiPolicies.client();
 * const decision = client.decide(API_POLICIES_ID, envelope);
 * const { policies } = client.outcomeOf(decision) ?? { policies: [] };
 * ```
 */
export interface ApiPolicyClient extends DecisionClient {
  /** How many enabled policies this client holds (whatever their scope). */
  readonly size: number;
  /** Decides a request: `context` is its {@link ApiPolicyEnvelope}. */
  decide(policyId: string, context: Context): Decision;
  /** Which policies applied to a decision this client made, and what failed in them. */
  outcomeOf(decision: Decision): ApiPolicyOutcome | undefined;
}

class CompiledApiPolicies implements ApiPolicyClient {
  readonly #policies: readonly ReadyPolicy[];
  readonly #clock: () => number;
  readonly #outcomes = new WeakMap<Decision, ApiPolicyOutcome>();

  constructor(policies: readonly ReadyPolicy[], clock: () => number) {
    this.#policies = policies;
    this.#clock = clock;
  }

  /** How many enabled policies this client holds (whatever their scope). */
  get size(): number {
    return this.#policies.length;
  }

  /** Decides a request: `context` is its {@link ApiPolicyEnvelope}. */
  decide(_policyId: string, context: Context): Decision {
    const started = performance.now();
    const identity = identityOf(context);
    const applying = this.#policies.filter((p) => policyApplies(p.policy, identity));
    const verdicts = applying.map((p) => judge(p, context));
    const denying = verdicts.find((v) => !v.allowed);
    const failedOpen = verdicts.filter((v) => v.failedOpen);
    const policyIds = applying.map((p) => p.policy.id);
    const allowed = policyIds.length > 0 && denying === undefined;
    const errorText = verdicts.flatMap((v) =>
      v.errors.map((e) => `${v.policyId}/${e.ruleId}: ${e.message}`),
    );
    const decision = makeDecision({
      action: allowed ? "allow" : "block",
      policyId:
        denying?.policyId ?? (policyIds.length > 0 ? policyIds.join(",") : NO_API_POLICY_ID),
      reason: reasonOf(policyIds, denying, failedOpen),
      matchedRules: denying ? [...denying.failedRules, ...denying.errors.map((e) => e.ruleId)] : [],
      durationMs: performance.now() - started,
      timestampMs: this.#clock(),
      ...(errorText.length > 0 && {
        error: new GuardrailError(errorText.join("; "), { code: "api_rule_evaluation_failed" }),
      }),
      ...(failedOpen.length > 0 && allowed && { failedOpen: true }),
    });
    this.#outcomes.set(decision, {
      policies: policyIds,
      evaluationErrors: errorText,
      failedOpen: allowed ? failedOpen.map((v) => v.policyId) : [],
    });
    return decision;
  }

  /** Which policies applied to a decision this client made, and what failed in them. */
  outcomeOf(decision: Decision): ApiPolicyOutcome | undefined {
    return this.#outcomes.get(decision);
  }
}

/** A client with no API-defined policies: every request is denied (`no_applicable_policies`). */
export function noApiPolicies(clock: () => number = Date.now): ApiPolicyClient {
  return new CompiledApiPolicies([], clock);
}

/**
 * The client of policies made ready (by `ApiPolicyDecisions`).
 *
 * @internal
 */
export function apiPolicyClient(
  policies: readonly ReadyPolicy[],
  clock: () => number,
): ApiPolicyClient {
  return new CompiledApiPolicies(policies, clock);
}
