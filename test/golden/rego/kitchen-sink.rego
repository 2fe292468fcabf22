# Policy 'kitchen-sink' for Open Policy Agent: Every key OPA can decide
# Written by hexarch-guardrails from the policy file. Change the file and export the
# policy again rather than edit this module: hexarch-ctl policy export kitchen-sink --format rego
#
# POST /v1/data/hexarch/kitchen-sink with {"input": <context>} answers
#   {"allowed": true|false, "action": "allow"|"warn"|"require_confirmation"|"block", "reason": "…"}
# (and this package's helper rules, whose names start with "_").
#
# Rate limits and budgets are not here: they need counters, which the application's
# StateStore keeps.
package hexarch["kitchen-sink"]

import rego.v1

# The decision: the most severe outcome of the rules that fired (block >
# require_confirmation > warn > allow), ties going to the higher priority, then to the
# earlier rule; allow when none fired.
default decision := {"allowed": true, "action": "allow", "reason": "Policy 'kitchen-sink' allowed the call"}

decision := {"allowed": _allows[top.action], "action": top.action, "reason": top.reason} if {
	ranked := sort([[outcome.rank, outcome] | some outcome in _outcomes])
	top := ranked[0][1]
}

allowed := decision.allowed

action := decision.action

reason := decision.reason

_allows := {"allow": true, "warn": true, "require_confirmation": false, "block": false}

# Rule no_prod_deletes: action block, priority 5.
_outcomes contains outcome if {
	outcome := _rule_0
}

_rule_0 := {
	"action": "block",
	"rank": [0, -5, 0],
	"reason": "Policy 'kitchen-sink' blocked the call: matched operation delete or drop_*, resource db?, and its conditions held (rule no_prod_deletes)",
} if {
	_applies_0
}

_applies_0 if {
	_matches(object.get(input, "resource", null), ["db?"])
	_matches(object.get(input, "operation", null), ["delete", "drop_*"])
	input.env == "production"
	_when_0_1
	_when_0_2
	is_string(input.name)
	regex.match("^tmp_\\d+$", input.name)
	_when_0_3
	is_number(input.amount)
	input.amount >= 10
	input.amount <= 20
	object.get(input, ["region"], null) == null
	input.tier != null
	not input.tier in ["gold"]
	is_number(input.score)
	input.score >= 0.5
	is_string(input.path)
	startswith(input.path, "/admin")
	input.note != null
	input["odd-key"] != null
	input["odd-key"] != 1
}

_when_0_0 if {
	input.user.verified == true
}

_when_0_1 if {
	input.user.tier != null
	input.user.tier in ["free", "trial"]
}

_when_0_1 if {
	not _when_0_0
}

_when_0_2 if {
	is_string(input.tags)
	contains(input.tags, "sensitive")
}

_when_0_2 if {
	is_array(input.tags)
	"sensitive" in input.tags
}

_when_0_3 if {
	is_string(input.user.roles[0])
	not contains(input.user.roles[0], "guest")
}

_when_0_3 if {
	is_array(input.user.roles[0])
	not "guest" in input.user.roles[0]
}

# Rule admins: action require_confirmation.
_outcomes contains outcome if {
	outcome := _confirmed(_rule_1)
}

_rule_1 := {
	"action": "require_confirmation",
	"rank": [1, 0, 1],
	"reason": "Policy 'kitchen-sink' requires confirmation: no user id in the context; allowed_users applies (rule admins)",
	"confirmed": "Policy 'kitchen-sink' allowed the call: confirmed (rule admins)",
} if {
	not _users_ok_1
	not _user_id
} else := {
	"action": "require_confirmation",
	"rank": [1, 0, 1],
	"reason": sprintf("Policy 'kitchen-sink' requires confirmation: user '%s' is not allowed (rule admins)", [user]),
	"confirmed": "Policy 'kitchen-sink' allowed the call: confirmed (rule admins)",
} if {
	not _users_ok_1
	user := _user_id
}

_users_ok_1 if _user_id in {"alice"}

_users_ok_1 if _user_id == _owner_id

_users_ok_1 if {
	some role in _roles
	role in {"admin"}
}

# Rule rules[2]: action require_confirmation.
_outcomes contains outcome if {
	outcome := _confirmed(_rule_2)
}

_rule_2 := {
	"action": "block",
	"rank": [0, 0, 2],
	"reason": "Policy 'kitchen-sink' blocked the call: requires backup_verified to be true in the context (rule rules[2])",
} if {
	_applies_2
	not input.backup_verified == true
} else := {
	"action": "require_confirmation",
	"rank": [1, 0, 2],
	"reason": "Policy 'kitchen-sink' requires confirmation: requires confirm to be true in the context (rule rules[2])",
	"confirmed": "Policy 'kitchen-sink' allowed the call: confirmed (rule rules[2])",
} if {
	_applies_2
	not input.confirm == true
}

_applies_2 if {
	_matches(_either("resourceType", "resource_type"), ["table", "view_*"])
}

# Rule rules[3]: action block.
# The parameter is read from the input field 'limit' only: the call's arguments are not sent to OPA.
_outcomes contains outcome if {
	outcome := _rule_3
}

_rule_3 := {
	"action": "block",
	"rank": [0, 0, 3],
	"reason": sprintf("Policy 'kitchen-sink' blocked the call: parameter 'limit' must be a number, got %s (rule rules[3])", [_describe(value)]),
} if {
	value := input.limit
	not is_number(value)
} else := {
	"action": "block",
	"rank": [0, 0, 3],
	"reason": sprintf("Policy 'kitchen-sink' blocked the call: parameter 'limit' = %v is below the minimum 1 (rule rules[3])", [value]),
} if {
	value := input.limit
	is_number(value)
	value < 1
} else := {
	"action": "block",
	"rank": [0, 0, 3],
	"reason": sprintf("Policy 'kitchen-sink' blocked the call: parameter 'limit' = %v is above the maximum 100 (rule rules[3])", [value]),
} if {
	value := input.limit
	is_number(value)
	value > 100
}

# Rule rules[4]: action block.
# The parameter is read from the input field 'mode' only: the call's arguments are not sent to OPA.
_outcomes contains outcome if {
	outcome := _rule_4
}

_rule_4 := {
	"action": "block",
	"rank": [0, 0, 4],
	"reason": "Policy 'kitchen-sink' blocked the call: parameter 'mode' must be a string or a list to have a length (rule rules[4])",
} if {
	value := input.mode
	not is_string(value)
	not is_array(value)
} else := {
	"action": "block",
	"rank": [0, 0, 4],
	"reason": sprintf("Policy 'kitchen-sink' blocked the call: parameter 'mode' is %d long, over the maximum of 10 (rule rules[4])", [count(value)]),
} if {
	value := input.mode
	count(value) > 10
} else := {
	"action": "block",
	"rank": [0, 0, 4],
	"reason": sprintf("Policy 'kitchen-sink' blocked the call: parameter 'mode' = %s is not one of the allowed values (rule rules[4])", [_describe(value)]),
} if {
	value := input.mode
	not value in ["fast", "safe"]
}

# Rule rules[5]: action block, warn at 80%.
_outcomes contains outcome if {
	outcome := _rule_5
}

_rule_5 := {
	"action": "block",
	"rank": [0, 0, 5],
	"reason": sprintf("Policy 'kitchen-sink' blocked the call: cost must be a non-negative number, got %s (rule rules[5])", [_describe(value)]),
} if {
	value := input.cost
	value != null
	not _non_negative(value)
} else := {
	"action": "block",
	"rank": [0, 0, 5],
	"reason": sprintf("Policy 'kitchen-sink' blocked the call: cost per call %s exceeds the limit of $0.50 (rule rules[5])", [_usd(amount)]),
} if {
	value := input.cost
	_non_negative(value)
	amount := round(value * 1000000)
	amount > 500000
} else := {
	"action": "warn",
	"rank": [2, 0, 5],
	"reason": sprintf("Policy 'kitchen-sink' warning: cost per call %s is at %d%% of the limit of $0.50 (rule rules[5])", [_usd(amount), floor((amount * 100) / 500000)]),
} if {
	value := input.cost
	_non_negative(value)
	amount := round(value * 1000000)
	amount >= 400000
	amount <= 500000
}

# Rule rules[6]: action block.
_outcomes contains outcome if {
	outcome := _rule_6
}

_rule_6 := {
	"action": "block",
	"rank": [0, 0, 6],
	"reason": sprintf("Policy 'kitchen-sink' blocked the call: tokens must be a non-negative number, got %s (rule rules[6])", [_describe(value)]),
} if {
	value := input.tokens
	value != null
	not _non_negative(value)
} else := {
	"action": "block",
	"rank": [0, 0, 6],
	"reason": sprintf("Policy 'kitchen-sink' blocked the call: tokens per request %d tokens exceeds the limit of 4000 tokens (rule rules[6])", [amount]),
} if {
	value := input.tokens
	_non_negative(value)
	amount := round(value)
	amount > 4000
}

# Rule rules[7]: action block.
_outcomes contains outcome if {
	outcome := _rule_7
}

_rule_7 := {
	"action": "block",
	"rank": [0, 0, 7],
	"reason": sprintf("Policy 'kitchen-sink' blocked the call: model '%s' is not allowed (rule rules[7])", [input.model]),
} if {
	_applies_7
	is_string(input.model)
} else := {
	"action": "block",
	"rank": [0, 0, 7],
	"reason": "Policy 'kitchen-sink' blocked the call: model (gpt-4*) is not allowed (rule rules[7])",
} if {
	_applies_7
	not is_string(input.model)
}

_applies_7 if {
	_matches(object.get(input, "model", null), ["gpt-4*"])
}

# Rule rules[8]: action block.
_outcomes contains outcome if {
	outcome := _rule_8
}

_rule_8 := {
	"action": "block",
	"rank": [0, 0, 8],
	"reason": "Policy 'kitchen-sink' blocked the call: feature 'beta' is disabled (rule rules[8])",
} if {
	_applies_8
}

_applies_8 if {
	_matches(object.get(input, "feature", null), ["beta"])
}

# Rule rules[9]: action warn.
_outcomes contains outcome if {
	outcome := _rule_9
}

_rule_9 := {
	"action": "warn",
	"rank": [2, 0, 9],
	"reason": "Policy 'kitchen-sink' warning: time zone 'america/new_york' is unknown to OPA (rule rules[9])",
} if {
	not _zone_known("America/New_York")
} else := {
	"action": "warn",
	"rank": [2, 0, 9],
	"reason": "Policy 'kitchen-sink' warning: inside forbidden hours 22:00-06:00 (america/new_york) (rule rules[9])",
} if {
	_in_window(_minute_of_day("America/New_York"), [1320, 360])
} else := {
	"action": "warn",
	"rank": [2, 0, 9],
	"reason": sprintf("Policy 'kitchen-sink' warning: %s is a forbidden day (america/new_york) (rule rules[9])", [_day_name("America/New_York")]),
} if {
	_weekday("America/New_York") in {0}
} else := {
	"action": "warn",
	"rank": [2, 0, 9],
	"reason": "Policy 'kitchen-sink' warning: inside denied window 12:00-13:00 (america/new_york) (rule rules[9])",
} if {
	_in_window(_minute_of_day("America/New_York"), [720, 780])
} else := {
	"action": "warn",
	"rank": [2, 0, 9],
	"reason": "Policy 'kitchen-sink' warning: inside denied window on friday 22:00-02:00 (america/new_york) (rule rules[9])",
} if {
	_minute_of_day("America/New_York") >= 1320
	_weekday("America/New_York") in {5}
} else := {
	"action": "warn",
	"rank": [2, 0, 9],
	"reason": "Policy 'kitchen-sink' warning: inside denied window on friday 22:00-02:00 (america/new_york) (rule rules[9])",
} if {
	_minute_of_day("America/New_York") < 120
	_weekday("America/New_York") in {6}
} else := {
	"action": "warn",
	"rank": [2, 0, 9],
	"reason": "Policy 'kitchen-sink' warning: inside denied window 2026-12-24T05:00:00.000Z to 2026-12-27T05:00:00.000Z (rule rules[9])",
} if {
	time.now_ns() >= 1798088400000000000
	time.now_ns() < 1798347600000000000
}

# Rule rules[10]: action allow, priority -1.
_outcomes contains outcome if {
	outcome := _rule_10
}

_rule_10 := {
	"action": "allow",
	"rank": [3, 1, 10],
	"reason": "Policy 'kitchen-sink' allowed the call: matched model claude-* (rule rules[10])",
} if {
	_applies_10
}

_applies_10 if {
	_matches(object.get(input, "model", null), ["claude-*"])
}

# Rule rules[11] is disabled (enabled: false): not evaluated.

# Rule rules[12]: action block.
# Not translated: requests_per_hour: 1000 per tenant.id, max_tokens_per_day: 100000 tokens per tenant.id — counters, kept by the application's StateStore.
# Nothing else to decide: in OPA this rule never fires.

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

# The first of two input fields that is present and not null, else null.
_either(first, second) := input[first] if {
	input[first] != null
} else := object.get(input, second, null)

# The user: userId, else user_id (a number stands for its decimal text).
_user_id := id if {
	id := _either("userId", "user_id")
	is_string(id)
}

_user_id := sprintf("%v", [id]) if {
	id := _either("userId", "user_id")
	is_number(id)
}

# The resource's owner, for "@self": ownerId, else owner_id.
_owner_id := id if {
	id := _either("ownerId", "owner_id")
	is_string(id)
}

_owner_id := sprintf("%v", [id]) if {
	id := _either("ownerId", "owner_id")
	is_number(id)
}

# The caller's roles, for "@role" entries: roles (a list), else role (a string).
_roles contains role if {
	role := _either("roles", "role")
	is_string(role)
}

_roles contains role if {
	roles := _either("roles", "role")
	is_array(roles)
	some role in roles
	is_string(role)
}

_non_negative(value) if {
	is_number(value)
	value >= 0
}

# A value as a reason shows it: "text", 42, true, null, a list, an object.
_describe(value) := json.marshal(value) if {
	is_string(value)
	count(value) <= 60
} else := json.marshal(concat("", [substring(value, 0, 60), "…"])) if {
	is_string(value)
} else := "a list" if {
	is_array(value)
} else := "an object" if {
	is_object(value)
} else := json.marshal(value)

# Micro-dollars as a reason shows them: $1.23, $0.00, $0.000025.
_usd(micros) := sprintf("$%d.%02d", [floor(cents / 100), cents % 100]) if {
	micros >= 10000
	cents := round(micros / 10000)
} else := "$0.00" if {
	micros == 0
} else := trim_right(sprintf("$0.%06d", [micros]), "0")

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
