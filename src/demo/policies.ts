/**
 * The demo's embedded policies: the Python README's three, plus a webhook throttle and a
 * business-hours rule.
 *
 * @module
 */

/** The demo's `hexarch.yaml`. */
export const DEMO_POLICIES = `policies:
  # The Python README's three policies, unchanged
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

  # Two more for the story
  - id: "webhook_throttle"
    description: "At most 5 webhooks a second per destination"
    rules:
      - requests_per_second: 5
        per: destination
        action: block

  - id: "business_hours"
    description: "Deploys only on weekdays, 09:00-17:00 New York time"
    rules:
      - operation: deploy
        allowed_hours: "09:00-17:00"
        allowed_days: weekdays
        timezone: America/New_York
        message: deploys happen on weekdays between 09:00 and 17:00 New York time
`;
