# Policy 'business_hours' for Open Policy Agent: Production deploys of risky changes on weekdays, 09:00-17:00 Berlin time
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

# Rule office_hours: action block.
_outcomes contains outcome if {
	outcome := _rule_0
}

_rule_0 := {
	"action": "block",
	"rank": [0, 0, 0],
	"reason": "Policy 'business_hours' blocked the call: time zone 'Europe/Berlin' is unknown to OPA (rule office_hours)",
} if {
	_applies_0
	not _zone_known("Europe/Berlin")
} else := {
	"action": "block",
	"rank": [0, 0, 0],
	"reason": "Policy 'business_hours' blocked the call: outside allowed hours 09:00-17:00 (Europe/Berlin) (rule office_hours)",
} if {
	_applies_0
	not _in_any_window(_minute_of_day("Europe/Berlin"), [[540, 1020]])
} else := {
	"action": "block",
	"rank": [0, 0, 0],
	"reason": sprintf("Policy 'business_hours' blocked the call: %s is not an allowed day (Europe/Berlin) (rule office_hours)", [_day_name("Europe/Berlin")]),
} if {
	_applies_0
	not _weekday("Europe/Berlin") in {1, 2, 3, 4, 5}
}

_applies_0 if {
	_matches(object.get(input, "operation", null), ["deploy"])
	input.environment == "production"
	input.change.risk != null
	input.change.risk in ["high", "critical"]
}

# Rule lunch: action warn.
_outcomes contains outcome if {
	outcome := _rule_1
}

_rule_1 := {
	"action": "warn",
	"rank": [2, 0, 1],
	"reason": "Policy 'business_hours' warning: a deploy over lunch has fewer people watching (rule lunch)",
} if {
	_applies_1
	not _zone_known("Europe/Berlin")
} else := {
	"action": "warn",
	"rank": [2, 0, 1],
	"reason": "Policy 'business_hours' warning: a deploy over lunch has fewer people watching (rule lunch)",
} if {
	_applies_1
	_in_window(_minute_of_day("Europe/Berlin"), [720, 780])
}

_applies_1 if {
	_matches(object.get(input, "operation", null), ["deploy", "rollback*"])
}

# A matcher: the value matches one of the globs (* any run of characters, ? one character),
# or the input lacks it: attaching the policy to a call is the declaration.
_matches(value, _) if value == null

_matches(value, globs) if {
	is_string(value)
	some pattern in globs
	glob.match(pattern, null, value)
}

# Whether OPA knows a time zone. A schedule in an unknown one fires: fail closed.
_zone_known(zone) if _minute_of_day(zone) >= 0

# The local time of day in a zone, in minutes since midnight.
_minute_of_day(zone) := (clock[0] * 60) + clock[1] if {
	clock := time.clock([time.now_ns(), zone])
}

# The local weekday in a zone, 0 = Sunday.
_weekday(zone) := day if {
	day := _day_numbers[time.weekday([time.now_ns(), zone])]
}

_day_name(zone) := name if {
	name := lower(time.weekday([time.now_ns(), zone]))
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
