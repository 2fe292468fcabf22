/**
 * Where the policy language is documented, for the starter file's comments and the JSON
 * Schema's hover text.
 *
 * @module
 */

/** docs/policy-language.md in the repository (the package ships a copy under `docs/`). */
export const POLICY_DOCS_URL =
  "https://github.com/no1rstack/hexarch-guardrails-ts/blob/main/docs/policy-language.md";
