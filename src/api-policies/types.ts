/**
 * API-defined rules and policies: what the decision server's `/rules` and `/policies`
 * routes create, stored beside the audit log (audit migration 5). Field names are the
 * Python server's, as they travel on the wire.
 *
 * @module
 */

/** Where a policy applies: everywhere, or to one organization, team or user. */
export type ApiPolicyScope = "GLOBAL" | "ORGANIZATION" | "TEAM" | "USER";

/** What an evaluation error does: deny (`FAIL_CLOSED`) or let the call through (`FAIL_OPEN`). */
export type ApiFailureMode = "FAIL_CLOSED" | "FAIL_OPEN";

/** Every scope, in the order the documentation lists them. */
export const API_POLICY_SCOPES: readonly ApiPolicyScope[] = [
  "GLOBAL",
  "ORGANIZATION",
  "TEAM",
  "USER",
];

/** Every failure mode. */
export const API_FAILURE_MODES: readonly ApiFailureMode[] = ["FAIL_CLOSED", "FAIL_OPEN"];

/** A rule as created or replaced (every field but the id and the times). */
export interface ApiRuleInput {
  readonly name: string;
  readonly description: string | null;
  /** Free-form kind (`CONDITION`, `PERMISSION`, `CONSTRAINT`, …); evaluation ignores it. */
  readonly rule_type: string;
  /** Lower runs first. */
  readonly priority: number;
  readonly enabled: boolean;
  /** A `when:` condition tree (`field`/`operator`/`value`, `all`/`any`/`not`). */
  readonly condition: Readonly<Record<string, unknown>>;
}

/** A stored rule. */
export interface ApiRule extends ApiRuleInput {
  readonly id: string;
  /** ISO 8601 UTC. */
  readonly created_at: string;
  /** ISO 8601 UTC. */
  readonly updated_at: string;
}

/** A policy as created or replaced. */
export interface ApiPolicyInput {
  readonly name: string;
  readonly description: string | null;
  readonly scope: ApiPolicyScope;
  /** The organization, team or user id the scope names; `null` for `GLOBAL`. */
  readonly scope_value: string | null;
  readonly failure_mode: ApiFailureMode;
  readonly enabled: boolean;
  /** Ids of the policy's rules. */
  readonly rule_ids: readonly string[];
}

/** A stored policy. */
export interface ApiPolicy extends ApiPolicyInput {
  readonly id: string;
  readonly created_at: string;
  readonly updated_at: string;
}

/** CRUD over API-defined rules and policies. */
export interface ApiPolicyStore {
  /** Every rule, by priority then creation time. */
  listRules(): Promise<ApiRule[]>;
  getRule(id: string): Promise<ApiRule | undefined>;
  /** Rules by id (those that exist), in no particular order. */
  getRules(ids: readonly string[]): Promise<ApiRule[]>;
  createRule(input: ApiRuleInput): Promise<ApiRule>;
  /** Replaces a rule's fields; `undefined` when there is no such rule. */
  updateRule(id: string, input: ApiRuleInput): Promise<ApiRule | undefined>;
  /** Whether a rule was deleted. Policies that name it keep the id (see `FAIL_OPEN`). */
  deleteRule(id: string): Promise<boolean>;
  /** Every policy, by creation time. */
  listPolicies(): Promise<ApiPolicy[]>;
  getPolicy(id: string): Promise<ApiPolicy | undefined>;
  createPolicy(input: ApiPolicyInput): Promise<ApiPolicy>;
  updatePolicy(id: string, input: ApiPolicyInput): Promise<ApiPolicy | undefined>;
  deletePolicy(id: string): Promise<boolean>;
  /** Releases the connection. */
  close(): Promise<void>;
}
