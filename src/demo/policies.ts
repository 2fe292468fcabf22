/**
 * The policy file of the Python package's README, unchanged: the demo's embedded default.
 *
 * @module
 */

/** `hexarch.yaml` as the Python package's README shows it. */
export const README_POLICIES = `policies:
  - id: "api_budget"
    description: "Protect against overspending"
    rules:
      - resource: "openai"
        monthly_budget: 10
        action: "warn_at_80%"

  - id: "rate_limit"
    description: "Prevent API abuse"
    rules:
      - resource: "*"
        requests_per_minute: 100
        action: "block"

  - id: "safe_delete"
    description: "Require confirmation for destructive ops"
    rules:
      - operation: "delete"
        action: "require_confirmation"
`;
