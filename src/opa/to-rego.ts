/**
 * `toRego`: one policy of a `hexarch.yaml` as a Rego module for Open Policy Agent.
 *
 * The module is package `hexarch.<policyId>` (the path `OpaDecisionClient` asks by default),
 * and `POST /v1/data/hexarch/<policyId>` with `{"input": context}` answers
 * `{"allowed", "action", "reason"}` (plus helper rules whose names start with `_`). It decides
 * the stateless parts of the policy exactly as the embedded engine does — matchers, `when`
 * conditions, schedules in the rule's time zone, `requires`, `allowed_users`, parameter
 * bounds, per-call cost and token caps, confirmation — with the same severity order and the
 * same reasons. Rate limits and budgets need counters: they stay in the application's
 * `StateStore`, and the module says so in a comment where they were.
 *
 * Each rule becomes a chain of `else` branches ordered by severity, then by the order the
 * engine checks its triggers, so the first branch that holds is the outcome the engine would
 * pick for that rule; the decision then sorts the rules' outcomes by
 * `[3 - severity, -priority, rule index]`.
 *
 * @module
 */

import { UnknownPolicyError } from "../kernel/errors.ts";
import { parsePolicies } from "../policy/load.ts";
import { isPolicySet } from "../policy/policy-set.ts";
import type { PolicySet } from "../policy/types.ts";
import { packagePath } from "./rego-syntax.ts";
import { PolicyWriter } from "./rego-writer.ts";

/** Options of {@link toRego}. */
export interface ToRegoOptions {
  /**
   * The package path the policy goes under, with slashes or dots: the policy's package is
   * `<path>.<policyId>`. Give `OpaDecisionClient` the same `path`.
   * @default "hexarch"
   */
  readonly path?: string;
}

/**
 * Translates one policy into a Rego v1 module (it also loads on OPA 0.59 and later, through
 * `import rego.v1`). The output is deterministic: the same policy gives the same text.
 *
 * @param source the policy file's YAML text, its parsed object, or a loaded `PolicySet`.
 * @param policyId the policy to translate.
 * @example
 * ```ts
 * import { toRego } from "hexarch-guardrails/opa";
 * import { loadPolicyFile } from "hexarch-guardrails";
 *
 * writeFileSync("safe_delete.rego", toRego(loadPolicyFile(), "safe_delete"));
 * ```
 * @throws UnknownPolicyError when the policy is not in `source`.
 * @throws RegoTranslationError when the policy uses something Rego cannot express the same
 *   way (a regular expression with lookahead or backreferences).
 * @throws PolicyFileError when `source` is not a valid policy file.
 */
export function toRego(
  source: string | Readonly<Record<string, unknown>> | PolicySet,
  policyId: string,
  options: ToRegoOptions = {},
): string {
  const set = isPolicySet(source) ? source : parsePolicies(source);
  const policy = set.policies.find((p) => p.id === policyId);
  if (!policy)
    throw new UnknownPolicyError(
      policyId,
      set.policies.map((p) => p.id),
    );
  const parts = [...(options.path ?? "hexarch").split(/[/.]/).filter((s) => s !== ""), policyId];
  const urlPath = `/v1/data/${parts.map(encodeURIComponent).join("/")}`;
  return new PolicyWriter(policy).write(packagePath(parts), urlPath);
}
