/**
 * `hexarch-guardrails/opa`: decisions from Open Policy Agent, and policies exported to Rego.
 *
 * - {@link OpaDecisionClient} asks OPA's Data API, one rule per policy
 *   (`POST /v1/data/hexarch/<policyId>`) or the Python package's single entry point
 *   (`POST /v1/data/guardrails/evaluate` with `input.policy_id`), and uploads modules with
 *   `publishPolicy`. `new Guardian({ opaUrl })` builds one for you.
 * - {@link toRego} writes one policy of a `hexarch.yaml` as a Rego module for that layout.
 *
 * Nothing here needs a driver or an OPA SDK: the client speaks HTTP with the global `fetch`.
 *
 * @module hexarch-guardrails/opa
 */

export {
  type OpaDecision,
  OpaDecisionClient,
  type OpaDecisionClientOptions,
  type OpaFetch,
} from "./opa-decision-client.ts";
export { RegoTranslationError } from "./rego-syntax.ts";
export { type ToRegoOptions, toRego } from "./to-rego.ts";
