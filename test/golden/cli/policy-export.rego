# Policy 'business_hours' for Open Policy Agent: Deploys only on weekdays, 09:00-17:00
# Written by hexarch-guardrails from the policy file. Change the file and export the
# policy again rather than edit this module: hexarch-ctl policy export business_hours --format rego
#
# POST /v1/data/hexarch/business_hours with {"input": <context>} answers
#   {"allowed": true|false, "action": "allow"|"warn"|"require_confirmation"|"block", "reason": "…"}
# (and this package's helper rules, whose names start with "_").
#
# Rate limits and budgets are not here: they need counters, which the application's
# StateStore keeps.
package hexarch.business_hours

import rego.v1

# The decision: the most severe outcome of the rules that fired (block >
# require_confirmation > warn > allow), ties going to the higher priority, then to the
# earlier rule; allow when none fired.
default decision := {"allowed": true, "action": "allow", "reason": "Policy 'business_hours' allowed the call"}

decision := {"allowed": _allows[top.action], "action": top.action, "reason": top.reason} if {
	ranked := sort([[outcome.rank, outcome] | some outcome in _outcomes])
	top := ranked[0][1]
}

allowed := decision.allowed

action := decision.action

reason := decision.reason

_allows := {"allow": true, "warn": true, "require_confirmation": false, "block": false}

# Rule rules[0]: action block.
_outcomes contains outcome if {
	outcome := _rule_0
}

_rule_0 := {
	"action": "block",
	"rank": [0, 0, 0],
	"reason": "Policy 'business_hours' blocked the call: deploys happen on weekdays between 09:00 and 17:00 UTC (rule rules[0])",
} if {
	_applies_0
	not _in_any_window(_minute_of_day("UTC"), [[540, 1020]])
} else := {
	"action": "block",
	"rank": [0, 0, 0],
	"reason": "Policy 'business_hours' blocked the call: deploys happen on weekdays between 09:00 and 17:00 UTC (rule rules[0])",
} if {
	_applies_0
	not _weekday("UTC") in {1, 2, 3, 4, 5}
}

_applies_0 if {
	_matches(object.get(input, "operation", null), ["deploy"])
}

# A matcher: the value matches one of the globs (* any run of characters, ? one character),
# or the input lacks it: attaching the policy to a call is the declaration.
_matches(value, _) if value == null

_matches(value, globs) if {
	is_string(value)
	some pattern in globs
	glob.match(pattern, null, value)
}

# The local time of day in a zone, in minutes since midnight.
_minute_of_day(zone) := (clock[0] * 60) + clock[1] if {
	clock := time.clock([time.now_ns(), zone])
}

# The local weekday in a zone, 0 = Sunday.
_weekday(zone) := day if {
	day := _day_numbers[time.weekday([time.now_ns(), zone])]
}

_day_numbers := {
	"Sunday": 0,
	"Monday": 1,
	"Tuesday": 2,
	"Wednesday": 3,
	"Thursday": 4,
	"Friday": 5,
	"Saturday": 6,
}

_in_any_window(minute, windows) if {
	some window in windows
	_in_window(minute, window)
}

# Whether a minute of the day is in a window [start, end): a window whose end comes before
# its start crosses midnight; one whose end equals its start is the whole day.
_in_window(minute, window) if {
	window[0] < window[1]
	minute >= window[0]
	minute < window[1]
}

_in_window(minute, window) if {
	window[0] > window[1]
	minute >= window[0]
}

_in_window(minute, window) if {
	window[0] > window[1]
	minute < window[1]
}

_in_window(_, window) if window[0] == window[1]
