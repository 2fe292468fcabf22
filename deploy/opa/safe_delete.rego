# Policy 'safe_delete' for Open Policy Agent: deleting needs confirmation
# Written by hexarch-guardrails from the policy file. Change the file and export the
# policy again rather than edit this module: hexarch-ctl policy export safe_delete --format rego
#
# POST /v1/data/hexarch/safe_delete with {"input": <context>} answers
#   {"allowed": true|false, "action": "allow"|"warn"|"require_confirmation"|"block", "reason": "…"}
# (and this package's helper rules, whose names start with "_").
#
# Rate limits and budgets are not here: they need counters, which the application's
# StateStore keeps.
package hexarch.safe_delete

import rego.v1

# The decision: the most severe outcome of the rules that fired (block >
# require_confirmation > warn > allow), ties going to the higher priority, then to the
# earlier rule; allow when none fired.
default decision := {"allowed": true, "action": "allow", "reason": "Policy 'safe_delete' allowed the call"}

decision := {"allowed": _allows[top.action], "action": top.action, "reason": top.reason} if {
	ranked := sort([[outcome.rank, outcome] | some outcome in _outcomes])
	top := ranked[0][1]
}

allowed := decision.allowed

action := decision.action

reason := decision.reason

_allows := {"allow": true, "warn": true, "require_confirmation": false, "block": false}

# Rule rules[0]: action require_confirmation.
_outcomes contains outcome if {
	outcome := _confirmed(_rule_0)
}

_rule_0 := {
	"action": "require_confirmation",
	"rank": [1, 0, 0],
	"reason": "Policy 'safe_delete' requires confirmation: matched operation delete (rule rules[0])",
	"confirmed": "Policy 'safe_delete' allowed the call: confirmed (rule rules[0])",
} if {
	_applies_0
}

_applies_0 if {
	_matches(object.get(input, "operation", null), ["delete"])
}

# A rule asking for confirmation lets the call run when the input has "confirm": true.
_confirmed(outcome) := {
	"action": "allow",
	"rank": [3, outcome.rank[1], outcome.rank[2]],
	"reason": outcome.confirmed,
} if {
	outcome.action == "require_confirmation"
	input.confirm == true
} else := outcome

# A matcher: the value matches one of the globs (* any run of characters, ? one character),
# or the input lacks it: attaching the policy to a call is the declaration.
_matches(value, _) if value == null

_matches(value, globs) if {
	is_string(value)
	some pattern in globs
	glob.match(pattern, null, value)
}
