/**
 * The commented starter policy file `hexarch-ctl init` writes.
 *
 * @module
 */

/** A starter `hexarch.yaml`: every policy valid, every key explained. */
export const STARTER_POLICY_FILE = `# hexarch.yaml: guardrails for this project, read by hexarch-guardrails.
# The policy language: docs/policy-language.md in the hexarch-guardrails package.
# Check it with: npx hexarch-ctl policy validate
#
# Guard a function with one line:
#   const ask = guardian.check("api_budget", { resource: "openai", cost: 0.02 })(askModel);
# A refused call throws PolicyViolation before the function body runs.

policies:
  # Stop a runaway LLM bill: warn at 80% of $10 a month, block past it.
  - id: api_budget
    description: Protect against overspending
    rules:
      - resource: openai          # matches the call's context.resource ("*" for any)
        monthly_budget: 10        # US dollars per calendar month (daily_budget, hourly_budget too)
        action: warn_at_80%       # warn from 80% on, block once the budget is spent

  # Throttle each user: 100 calls a minute, counted in a sliding window.
  - id: rate_limit
    description: Prevent API abuse
    rules:
      - resource: "*"
        requests_per_minute: 100  # also requests_per_second, _per_hour, _per_day
        per: userId               # one counter per context.userId (leave out for one global counter)
        action: block

  # Destructive operations need an explicit confirmation (context.confirm: true or a token).
  - id: safe_delete
    description: Require confirmation for destructive operations
    rules:
      - operation: delete
        action: require_confirmation

  # Deploys on weekdays during office hours only.
  - id: business_hours
    description: Deploys only on weekdays, 09:00-17:00
    rules:
      - operation: deploy
        allowed_hours: "09:00-17:00"
        allowed_days: weekdays
        timezone: UTC             # any IANA zone, e.g. Europe/Berlin
        message: deploys happen on weekdays between 09:00 and 17:00 UTC
`;
