# Policy 'llm_budget' for Open Policy Agent: 10 USD a day on the openai resource; spend reported by POST /events/provider-calls
# Written by hexarch-guardrails from the policy file. Change the file and export the
# policy again rather than edit this module: hexarch-ctl policy export llm_budget --format rego
#
# POST /v1/data/hexarch/llm_budget with {"input": <context>} answers
#   {"allowed": true|false, "action": "allow"|"warn"|"require_confirmation"|"block", "reason": "…"}
# (and this package's helper rules, whose names start with "_").
#
# Rate limits and budgets are not here: they need counters, which the application's
# StateStore keeps.
package hexarch.llm_budget

import rego.v1

# The decision: the most severe outcome of the rules that fired (block >
# require_confirmation > warn > allow), ties going to the higher priority, then to the
# earlier rule; allow when none fired.
default decision := {"allowed": true, "action": "allow", "reason": "Policy 'llm_budget' allowed the call"}

allowed := decision.allowed

action := decision.action

reason := decision.reason

# Rule rules[0]: action block.
# Not translated: daily_budget: $10.00 — counters, kept by the application's StateStore.
# Nothing else to decide: in OPA this rule never fires.
