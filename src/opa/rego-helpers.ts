/**
 * The helper rules and functions a module written by `toRego` may call (`_matches`,
 * `_usd`, `_in_window`, …), and the choice of those a module needs.
 *
 * @module
 */

/** Helper rules and functions, in the order they are written, each with what it needs. */
const HELPERS: readonly {
  readonly name: string;
  readonly needs: readonly string[];
  readonly text: string;
}[] = [
  {
    name: "_confirmed",
    needs: [],
    text: `# A rule asking for confirmation lets the call run when the input has "confirm": true.
_confirmed(outcome) := {
	"action": "allow",
	"rank": [3, outcome.rank[1], outcome.rank[2]],
	"reason": outcome.confirmed,
} if {
	outcome.action == "require_confirmation"
	input.confirm == true
} else := outcome`,
  },
  {
    name: "_matches",
    needs: [],
    text: `# A matcher: the value matches one of the globs (* any run of characters, ? one character),
# or the input lacks it: attaching the policy to a call is the declaration.
_matches(value, _) if value == null

_matches(value, globs) if {
	is_string(value)
	some pattern in globs
	glob.match(pattern, null, value)
}`,
  },
  {
    name: "_either",
    needs: [],
    text: `# The first of two input fields that is present and not null, else null.
_either(first, second) := input[first] if {
	input[first] != null
} else := object.get(input, second, null)`,
  },
  {
    name: "_user_id",
    needs: ["_either"],
    text: `# The user: userId, else user_id (a number stands for its decimal text).
_user_id := id if {
	id := _either("userId", "user_id")
	is_string(id)
}

_user_id := sprintf("%v", [id]) if {
	id := _either("userId", "user_id")
	is_number(id)
}`,
  },
  {
    name: "_owner_id",
    needs: ["_either"],
    text: `# The resource's owner, for "@self": ownerId, else owner_id.
_owner_id := id if {
	id := _either("ownerId", "owner_id")
	is_string(id)
}

_owner_id := sprintf("%v", [id]) if {
	id := _either("ownerId", "owner_id")
	is_number(id)
}`,
  },
  {
    name: "_roles",
    needs: ["_either"],
    text: `# The caller's roles, for "@role" entries: roles (a list), else role (a string).
_roles contains role if {
	role := _either("roles", "role")
	is_string(role)
}

_roles contains role if {
	roles := _either("roles", "role")
	is_array(roles)
	some role in roles
	is_string(role)
}`,
  },
  {
    name: "_non_negative",
    needs: [],
    text: `_non_negative(value) if {
	is_number(value)
	value >= 0
}`,
  },
  {
    name: "_describe",
    needs: [],
    text: `# A value as a reason shows it: "text", 42, true, null, a list, an object.
_describe(value) := json.marshal(value) if {
	is_string(value)
	count(value) <= 60
} else := json.marshal(concat("", [substring(value, 0, 60), "…"])) if {
	is_string(value)
} else := "a list" if {
	is_array(value)
} else := "an object" if {
	is_object(value)
} else := json.marshal(value)`,
  },
  {
    name: "_usd",
    needs: [],
    text: `# Micro-dollars as a reason shows them: $1.23, $0.00, $0.000025.
_usd(micros) := sprintf("$%d.%02d", [floor(cents / 100), cents % 100]) if {
	micros >= 10000
	cents := round(micros / 10000)
} else := "$0.00" if {
	micros == 0
} else := trim_right(sprintf("$0.%06d", [micros]), "0")`,
  },
  {
    name: "_zone_known",
    needs: ["_minute_of_day"],
    text: `# Whether OPA knows a time zone. A schedule in an unknown one fires: fail closed.
_zone_known(zone) if _minute_of_day(zone) >= 0`,
  },
  {
    name: "_minute_of_day",
    needs: [],
    text: `# The local time of day in a zone, in minutes since midnight.
_minute_of_day(zone) := (clock[0] * 60) + clock[1] if {
	clock := time.clock([time.now_ns(), zone])
}`,
  },
  {
    name: "_weekday",
    needs: ["_day_numbers"],
    text: `# The local weekday in a zone, 0 = Sunday.
_weekday(zone) := day if {
	day := _day_numbers[time.weekday([time.now_ns(), zone])]
}`,
  },
  {
    name: "_day_name",
    needs: [],
    text: `_day_name(zone) := name if {
	name := lower(time.weekday([time.now_ns(), zone]))
}`,
  },
  {
    name: "_day_numbers",
    needs: [],
    text: `_day_numbers := {
	"Sunday": 0,
	"Monday": 1,
	"Tuesday": 2,
	"Wednesday": 3,
	"Thursday": 4,
	"Friday": 5,
	"Saturday": 6,
}`,
  },
  {
    name: "_in_any_window",
    needs: ["_in_window"],
    text: `_in_any_window(minute, windows) if {
	some window in windows
	_in_window(minute, window)
}`,
  },
  {
    name: "_in_window",
    needs: [],
    text: `# Whether a minute of the day is in a window [start, end): a window whose end comes before
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

_in_window(_, window) if window[0] == window[1]`,
  },
];

/** The helpers the text calls, and those they call, in their fixed order. */
export function helpersFor(text: string): string[] {
  const needed = new Set<string>();
  const add = (name: string) => {
    if (needed.has(name)) return;
    needed.add(name);
    for (const n of HELPERS.find((h) => h.name === name)?.needs ?? []) add(n);
  };
  for (const h of HELPERS) if (new RegExp(`\\b${h.name}\\b`).test(text)) add(h.name);
  return HELPERS.filter((h) => needed.has(h.name)).map((h) => h.text);
}
