/**
 * `toRego`: one policy of a `hexarch.yaml` as a Rego module for Open Policy Agent.
 *
 * The module is package `hexarch.<policyId>` (the path `OpaDecisionClient` asks by default),
 * and `POST /v1/data/hexarch/<policyId>` with `{"input": context}` answers
 * `{"allowed", "action", "reason"}` (plus helper rules whose names start with `_`). It decides
 * the stateless parts of the policy exactly as the embedded engine does — matchers, `when`
 * conditions, schedules in the rule's time zone, `requires`, `allowed_users`, parameter
 * bounds, per-call cost and token caps, confirmation — with the same severity order and the
 * same reasons. Rate limits and budgets need counters: they stay in the application's
 * `StateStore`, and the module says so in a comment where they were.
 *
 * Each rule becomes a chain of `else` branches ordered by severity, then by the order the
 * engine checks its triggers, so the first branch that holds is the outcome the engine would
 * pick for that rule; the decision then sorts the rules' outcomes by
 * `[3 - severity, -priority, rule index]`.
 *
 * @module
 */

import { formatUsd } from "../engine/compile-rule.ts";
import type { Comparison, Condition } from "../engine/conditions.ts";
import { type DecisionAction, SEVERITY } from "../engine/decision.ts";
import { UnknownPolicyError } from "../errors.ts";
import { isPolicySet } from "../guardian/outcomes.ts";
import { parsePolicies } from "../policy/load.ts";
import type { Policy, PolicyRule, PolicySet, Schedule, TimeWindow } from "../policy/types.ts";
import {
  formatText,
  globPattern,
  inputPathArray,
  inputRef,
  packagePath,
  RegoTranslationError,
  re2Pattern,
  regoString,
  regoValue,
  segment,
} from "./rego-syntax.ts";

/** Options of {@link toRego}. */
export interface ToRegoOptions {
  /**
   * The package path the policy goes under, with slashes or dots: the policy's package is
   * `<path>.<policyId>`. Give `OpaDecisionClient` the same `path`.
   * @default "hexarch"
   */
  readonly path?: string;
}

/** A piece of a reason: literal text, or a Rego expression formatted with `%s`, `%d` or `%v`. */
type Part = string | { readonly expr: string; readonly verb: "s" | "d" | "v" };

/** One way a rule fires: the conditions (besides the rule's matchers) and the outcome. */
interface Branch {
  readonly action: DecisionAction;
  readonly body: readonly string[];
  readonly detail: readonly Part[];
}

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

const VERB: Readonly<Record<DecisionAction, string>> = {
  allow: "allowed the call",
  warn: "warning",
  require_confirmation: "requires confirmation",
  block: "blocked the call",
};

const DAY_LABEL = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];

const hhmm = (m: number) =>
  `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
const formatWindow = (w: TimeWindow) => `${hhmm(w.startMinute)}-${hhmm(w.endMinute)}`;
const windowTerm = (w: TimeWindow) => `[${w.startMinute}, ${w.endMinute}]`;
const setTerm = (items: readonly (string | number)[]) =>
  items.length === 0 ? "set()" : `{${items.map((i) => regoValue(i)).join(", ")}}`;
const listTerm = (items: readonly string[]) => `[${items.join(", ")}]`;
/** A literal string as a glob that matches only itself. */
const literalGlob = (s: string) => globPattern(s).replace(/[*?]/g, "\\$&");

/** The rule's name within its policy: `rules[0]` or its own id. */
const labelOf = (rule: PolicyRule, policyId: string): string =>
  rule.id.startsWith(`${policyId}/`) ? rule.id.slice(policyId.length + 1) : rule.id;

/** The zone name OPA should load: Intl's spelling when it only differs in case. */
function zoneForOpa(zone: string): string {
  if (zone === "UTC") return zone;
  try {
    const resolved = new Intl.DateTimeFormat("en-US", { timeZone: zone }).resolvedOptions()
      .timeZone;
    return resolved.toLowerCase() === zone.toLowerCase() ? resolved : zone;
  } catch {
    return zone;
  }
}

/** What the engine says a matcher-only rule matched (its reason when it fires). */
function matchDetail(rule: PolicyRule): string {
  const parts: string[] = [];
  if (rule.operation) parts.push(`operation ${rule.operation.join(" or ")}`);
  if (rule.resource) parts.push(`resource ${rule.resource.join(" or ")}`);
  if (rule.resourceTypes) parts.push(`resource type ${rule.resourceTypes.join(" or ")}`);
  if (rule.model) parts.push(`model ${rule.model.patterns.join(" or ")}`);
  if (rule.feature) parts.push(`feature ${rule.feature.name}`);
  const matched = parts.length ? `matched ${parts.join(", ")}` : "";
  if (rule.when) return matched ? `${matched}, and its conditions held` : "its conditions held";
  return matched || "applies to every call";
}

/** Writes the Rego of one policy. */
class PolicyWriter {
  readonly #policy: Policy;
  #rule: PolicyRule | undefined;
  #subrules = 0;
  /** Sub-rules of the rule being written (`any`, `not`, `allowed_users`). */
  #extra: string[] = [];

  constructor(policy: Policy) {
    this.#policy = policy;
  }

  write(pkg: string, urlPath: string): string {
    const p = this.#policy;
    const about = (p.description ?? p.name)?.replace(/\s+/g, " ").trim();
    const head = [
      `# Policy '${p.id}' for Open Policy Agent${about ? `: ${about}` : ""}`,
      "# Written by hexarch-guardrails from the policy file. Change the file and export the",
      `# policy again rather than edit this module: hexarch-ctl policy export ${p.id} --format rego`,
      "#",
      `# POST ${urlPath} with {"input": <context>} answers`,
      '#   {"allowed": true|false, "action": "allow"|"warn"|"require_confirmation"|"block", "reason": "…"}',
      '# (and this package\'s helper rules, whose names start with "_").',
      "#",
      "# Rate limits and budgets are not here: they need counters, which the application's",
      "# StateStore keeps.",
      `package ${pkg}`,
      "",
      "import rego.v1",
    ];
    const rules: string[] = [];
    let outcomes = 0;
    if (!p.enabled) {
      rules.push(`# The policy is disabled (enabled: false): every call is allowed.`);
    } else {
      for (const rule of p.rules) {
        const text = this.#writeRule(rule);
        if (text.outcome) outcomes++;
        rules.push(text.text);
      }
    }
    const allow = p.enabled
      ? `Policy '${p.id}' allowed the call`
      : `Policy '${p.id}' is disabled; the call is allowed`;
    const decision = [
      "# The decision: the most severe outcome of the rules that fired (block >",
      "# require_confirmation > warn > allow), ties going to the higher priority, then to the",
      "# earlier rule; allow when none fired.",
      `default decision := {"allowed": true, "action": "allow", "reason": ${regoString(allow)}}`,
    ];
    if (outcomes > 0) {
      decision.push(
        "",
        'decision := {"allowed": _allows[top.action], "action": top.action, "reason": top.reason} if {',
        "\tranked := sort([[outcome.rank, outcome] | some outcome in _outcomes])",
        "\ttop := ranked[0][1]",
        "}",
      );
    }
    decision.push("", "allowed := decision.allowed", "", "action := decision.action", "");
    decision.push("reason := decision.reason");
    if (outcomes > 0) {
      decision.push(
        "",
        '_allows := {"allow": true, "warn": true, "require_confirmation": false, "block": false}',
      );
    }
    const helpers = this.#helpers(rules.join("\n"));
    return `${[head.join("\n"), decision.join("\n"), ...rules, ...helpers].join("\n\n")}\n`;
  }

  /** The helpers the text calls, and those they call, in their fixed order. */
  #helpers(text: string): string[] {
    const needed = new Set<string>();
    const add = (name: string) => {
      if (needed.has(name)) return;
      needed.add(name);
      for (const n of HELPERS.find((h) => h.name === name)?.needs ?? []) add(n);
    };
    for (const h of HELPERS) if (new RegExp(`\\b${h.name}\\b`).test(text)) add(h.name);
    return HELPERS.filter((h) => needed.has(h.name)).map((h) => h.text);
  }

  #fail(message: string): never {
    const rule = this.#rule;
    throw new RegoTranslationError(
      this.#policy.id,
      rule?.id,
      `cannot translate policy '${this.#policy.id}'${rule ? ` rule ${labelOf(rule, this.#policy.id)}` : ""} to Rego: ${message}`,
    );
  }

  #writeRule(rule: PolicyRule): { text: string; outcome: boolean } {
    this.#rule = rule;
    this.#subrules = 0;
    this.#extra = [];
    const policyId = this.#policy.id;
    const label = labelOf(rule, policyId);
    if (!rule.enabled) {
      return {
        text: `# Rule ${label} is disabled (enabled: false): not evaluated.`,
        outcome: false,
      };
    }
    const n = rule.index;
    const notes = this.#statefulNotes(rule);
    const summary = [
      `# Rule ${label}: action ${rule.action}`,
      rule.warnAtPercent !== undefined ? `, warn at ${rule.warnAtPercent}%` : "",
      rule.limitAtPercent !== undefined ? `, limit at ${rule.limitAtPercent}%` : "",
      rule.priority !== 0 ? `, priority ${rule.priority}` : "",
      ".",
    ].join("");
    const branches = this.#branches(rule);
    if (branches.length === 0) {
      return {
        text: [summary, ...notes, "# Nothing else to decide: in OPA this rule never fires."].join(
          "\n",
        ),
        outcome: false,
      };
    }
    const applies = this.#matchers(rule);
    const appliesName = `_applies_${n}`;
    const confirmable = branches.some((b) => b.action === "require_confirmation");
    const lines: string[] = [summary, ...notes];
    lines.push(
      `_outcomes contains outcome if {`,
      `\toutcome := ${confirmable ? `_confirmed(_rule_${n})` : `_rule_${n}`}`,
      "}",
      "",
    );
    // Most severe first; within a severity, the order the engine checks the triggers in.
    const ordered = [...branches].sort((a, b) => SEVERITY[b.action] - SEVERITY[a.action]);
    ordered.forEach((b, i) => {
      const head = this.#outcomeTerm(rule, b, label);
      const body = [...(applies.length > 0 ? [appliesName] : []), ...b.body];
      const opener = i === 0 ? `_rule_${n} := ` : "} else := ";
      lines.push(`${opener}${head} if {`, ...(body.length ? body : ["true"]).map((l) => `\t${l}`));
    });
    lines.push("}");
    if (applies.length > 0) {
      lines.push("", `${appliesName} if {`, ...applies.map((l) => `\t${l}`), "}");
    }
    for (const extra of this.#extra) lines.push("", extra);
    return { text: lines.join("\n"), outcome: true };
  }

  /** The outcome object of a branch, with its rank and reason (and the confirmed reason). */
  #outcomeTerm(rule: PolicyRule, b: Branch, label: string): string {
    const policyId = this.#policy.id;
    const reason = (action: DecisionAction, detail: readonly Part[]): string => {
      const head = `Policy '${policyId}' ${VERB[action]}: `;
      const tail = ` (rule ${label})`;
      const parts: readonly Part[] = rule.message !== undefined ? [rule.message] : detail;
      const args = parts.filter((p): p is Exclude<Part, string> => typeof p !== "string");
      if (args.length === 0) return regoString(head + parts.join("") + tail);
      const format =
        formatText(head) +
        parts.map((p) => (typeof p === "string" ? formatText(p) : `%${p.verb}`)).join("") +
        formatText(tail);
      return `sprintf(${regoString(format)}, [${args.map((a) => a.expr).join(", ")}])`;
    };
    const fields = [
      `"action": ${regoString(b.action)}`,
      `"rank": [${3 - SEVERITY[b.action]}, ${-rule.priority || 0}, ${rule.index}]`,
      `"reason": ${reason(b.action, b.detail)}`,
    ];
    if (b.action === "require_confirmation")
      fields.push(`"confirmed": ${reason("allow", ["confirmed"])}`);
    return `{\n${fields.map((f) => `\t${f},`).join("\n")}\n}`;
  }

  /** Comments for what stays out of OPA. */
  #statefulNotes(rule: PolicyRule): string[] {
    const items: string[] = [];
    const per = rule.per !== undefined ? ` per ${rule.per}` : "";
    for (const r of rule.rateLimits) items.push(`${r.key}: ${r.limit}${per}`);
    for (const b of rule.budgets) {
      items.push(`${b.key}: ${b.unit === "usd" ? formatUsd(b.limit) : `${b.limit} tokens`}${per}`);
    }
    const notes: string[] = [];
    if (items.length > 0) {
      notes.push(
        `# Not translated: ${items.join(", ")} — counters, kept by the application's StateStore.`,
      );
    }
    if (rule.parameter) {
      notes.push(
        `# The parameter is read from the input field '${rule.parameter.name}' only: the call's arguments are not sent to OPA.`,
      );
    }
    return notes;
  }

  /** The rule's matchers as body lines (empty: it applies to every call). */
  #matchers(rule: PolicyRule): string[] {
    const lines: string[] = [];
    const matches = (value: string, globs: readonly string[]) =>
      `_matches(${value}, ${listTerm(globs.map((g) => regoString(g)))})`;
    const field = (name: string, patterns: readonly string[] | undefined) => {
      if (!patterns || patterns.includes("*")) return;
      lines.push(
        matches(`object.get(input, ${regoString(name)}, null)`, patterns.map(globPattern)),
      );
    };
    field("resource", rule.resource);
    field("operation", rule.operation);
    if (rule.resourceTypes && !rule.resourceTypes.includes("*")) {
      lines.push(
        matches(`_either("resourceType", "resource_type")`, rule.resourceTypes.map(globPattern)),
      );
    }
    if (rule.feature) {
      lines.push(matches(`object.get(input, "feature", null)`, [literalGlob(rule.feature.name)]));
    }
    field("model", rule.model?.patterns);
    if (rule.when) lines.push(...this.#condition(rule.when));
    return lines;
  }

  /** A new sub-rule of the current rule, with one body per entry (an `or`). */
  #subrule(bodies: readonly (readonly string[])[]): string {
    const name = `_when_${this.#rule?.index ?? 0}_${this.#subrules++}`;
    this.#extra.push(
      bodies
        .map(
          (body) =>
            `${name} if {\n${(body.length ? body : ["true"]).map((l) => `\t${l}`).join("\n")}\n}`,
        )
        .join("\n\n"),
    );
    return name;
  }

  /** A condition as body lines (all of which must hold). */
  #condition(c: Condition): string[] {
    if ("all" in c) return c.all.flatMap((x) => this.#condition(x));
    if ("any" in c) {
      if (c.any.length === 0) return ["false"];
      const bodies = c.any.map((x) => this.#condition(x));
      return [this.#subrule(bodies)];
    }
    if ("not" in c) return [`not ${this.#subrule([this.#condition(c.not)])}`];
    return this.#comparison(c);
  }

  #comparison(c: Comparison): string[] {
    const ref = inputRef(c.field);
    let x: string;
    try {
      x = c.operator === "exists" || c.operator === "not_exists" ? "null" : regoValue(c.value);
    } catch (err) {
      this.#fail(`the value of '${c.field}' ${c.operator}: ${(err as Error).message}`);
    }
    const typed = (v: unknown) =>
      typeof v === "number" ? `is_number(${ref})` : `is_string(${ref})`;
    switch (c.operator) {
      case "equals":
        return c.value === null ? ["false"] : [`${ref} == ${x}`];
      case "not_equals":
        return [`${ref} != null`, `${ref} != ${x}`];
      case "in":
        return [`${ref} != null`, `${ref} in ${x}`];
      case "not_in":
        return [`${ref} != null`, `not ${ref} in ${x}`];
      case "contains":
        if (typeof c.value !== "string") return [`is_array(${ref})`, `${x} in ${ref}`];
        return [
          this.#subrule([
            [`is_string(${ref})`, `contains(${ref}, ${x})`],
            [`is_array(${ref})`, `${x} in ${ref}`],
          ]),
        ];
      case "not_contains":
        return [
          this.#subrule([
            typeof c.value === "string"
              ? [`is_string(${ref})`, `not contains(${ref}, ${x})`]
              : [`is_string(${ref})`],
            [`is_array(${ref})`, `not ${x} in ${ref}`],
          ]),
        ];
      case "starts_with":
        return [`is_string(${ref})`, `startswith(${ref}, ${x})`];
      case "ends_with":
        return [`is_string(${ref})`, `endswith(${ref}, ${x})`];
      case "matches": {
        const re2 = re2Pattern(c.value as string);
        if (typeof re2 !== "string") {
          this.#fail(
            `the regular expression ${JSON.stringify(c.value)} ('${c.field}' matches) uses ${re2.problem}, which OPA's regular expressions (RE2) lack; rewrite it, or keep this policy on the embedded engine`,
          );
        }
        return [`is_string(${ref})`, `regex.match(${regoString(re2)}, ${ref})`];
      }
      case "between": {
        const [low, high] = c.value as readonly [unknown, unknown];
        return [typed(low), `${ref} >= ${regoValue(low)}`, `${ref} <= ${regoValue(high)}`];
      }
      case "greater_than":
        return [typed(c.value), `${ref} > ${x}`];
      case "greater_or_equal":
        return [typed(c.value), `${ref} >= ${x}`];
      case "less_than":
        return [typed(c.value), `${ref} < ${x}`];
      case "less_or_equal":
        return [typed(c.value), `${ref} <= ${x}`];
      case "exists":
        return [`${ref} != null`];
      case "not_exists":
        return [`object.get(input, ${inputPathArray(c.field)}, null) == null`];
    }
  }

  /** Every way the rule fires, in the order the engine checks them. */
  #branches(rule: PolicyRule): Branch[] {
    const out: Branch[] = [];
    const fired = (body: readonly string[], detail: readonly Part[]) =>
      out.push({ action: rule.action, body, detail });
    const s = (expr: string): Part => ({ expr, verb: "s" });
    if (rule.feature && !rule.feature.enabled) {
      fired([], [`feature '${rule.feature.name}' is disabled`]);
    }
    if (rule.model && !rule.model.allowed) {
      fired(["is_string(input.model)"], ["model '", s("input.model"), "' is not allowed"]);
      fired(
        ["not is_string(input.model)"],
        [`model (${rule.model.patterns.join(", ")}) is not allowed`],
      );
    }
    for (const flag of rule.requires ?? []) {
      const body = [`not input${segment(flag)} == true`];
      const detail = [`requires ${flag} to be true in the context`];
      // As in the engine: confirming a call does not stand in for another precondition.
      if (flag !== "confirm" && rule.action === "require_confirmation")
        out.push({ action: "block", body, detail });
      else fired(body, detail);
    }
    if (rule.allowedUsers) this.#allowedUsers(rule, rule.allowedUsers, fired);
    if (rule.schedule) this.#schedule(rule, rule.schedule, fired);
    if (rule.parameter) this.#parameter(rule.parameter, fired);
    const limitPct = rule.limitAtPercent ?? 100;
    const quantity = (
      field: "cost" | "tokens",
      max: number,
      scale: number,
      noun: string,
      amount: (expr: string) => readonly Part[],
      limit: (n: number) => string,
    ) => {
      const hard = Math.floor((max * limitPct) / 100);
      const value = `value := input.${field}`;
      const scaled = `amount := round(${scale === 1 ? "value" : `value * ${scale}`})`;
      out.push({
        action: "block",
        body: [value, "value != null", `not _non_negative(value)`],
        detail: [`${field} must be a non-negative number, got `, s(`_describe(value)`)],
      });
      fired(
        [value, "_non_negative(value)", scaled, `amount > ${hard}`],
        [`${noun} `, ...amount("amount"), ` exceeds the limit of ${limit(hard)}`],
      );
      if (rule.warnAtPercent !== undefined) {
        const soft = (max * rule.warnAtPercent) / 100;
        out.push({
          action: "warn",
          body: [
            value,
            "_non_negative(value)",
            scaled,
            `amount >= ${regoValue(soft)}`,
            `amount <= ${hard}`,
          ],
          detail: [
            `${noun} `,
            ...amount("amount"),
            " is at ",
            { expr: `floor((amount * 100) / ${max})`, verb: "d" },
            `% of the limit of ${limit(max)}`,
          ],
        });
      }
    };
    if (rule.maxCostPerCallMicros !== undefined) {
      quantity(
        "cost",
        rule.maxCostPerCallMicros,
        1_000_000,
        "cost per call",
        (e) => [s(`_usd(${e})`)],
        formatUsd,
      );
    }
    if (rule.maxTokensPerRequest !== undefined) {
      quantity(
        "tokens",
        rule.maxTokensPerRequest,
        1,
        "tokens per request",
        (e) => [{ expr: e, verb: "d" }, " tokens"],
        (n) => `${n} tokens`,
      );
    }
    if (out.length === 0 && rule.rateLimits.length === 0 && rule.budgets.length === 0) {
      fired([], [matchDetail(rule)]);
    }
    return out;
  }

  #allowedUsers(
    rule: PolicyRule,
    entries: readonly string[],
    fired: (body: readonly string[], detail: readonly Part[]) => void,
  ): void {
    const users = entries.filter((e) => !e.startsWith("@"));
    const roles = entries.filter((e) => e.startsWith("@") && e !== "@self").map((e) => e.slice(1));
    const self = entries.includes("@self");
    const name = `_users_ok_${rule.index}`;
    const bodies: string[] = [];
    if (users.length > 0) {
      bodies.push(`${name} if _user_id in ${setTerm(users)}`);
    }
    if (self) {
      bodies.push(`${name} if _user_id == _owner_id`);
    }
    if (roles.length > 0) {
      bodies.push(`${name} if {\n\tsome role in _roles\n\trole in ${setTerm(roles)}\n}`);
    }
    const ok = bodies.length > 0 ? [`not ${name}`] : [];
    if (bodies.length > 0) this.#extra.push(bodies.join("\n\n"));
    fired([...ok, "not _user_id"], ["no user id in the context; allowed_users applies"]);
    fired([...ok, "user := _user_id"], ["user '", { expr: "user", verb: "s" }, "' is not allowed"]);
  }

  #schedule(
    rule: PolicyRule,
    s: Schedule,
    fired: (body: readonly string[], detail: readonly Part[]) => void,
  ): void {
    const label = rule.timezone;
    const zone = regoString(zoneForOpa(rule.timezone));
    const minute = () => `_minute_of_day(${zone})`;
    const weekday = () => `_weekday(${zone})`;
    const dayName = (): Part => ({
      expr: `_day_name(${zone})`,
      verb: "s",
    });
    if (rule.timezone !== "UTC") {
      fired([`not _zone_known(${zone})`], [`time zone '${label}' is unknown to OPA`]);
    }
    if (s.allowedHours) {
      fired(
        [`not _in_any_window(${minute()}, ${listTerm(s.allowedHours.map(windowTerm))})`],
        [`outside allowed hours ${s.allowedHours.map(formatWindow).join(", ")} (${label})`],
      );
    }
    if (s.allowedDays) {
      fired(
        [`not ${weekday()} in ${setTerm(s.allowedDays)}`],
        [dayName(), ` is not an allowed day (${label})`],
      );
    }
    for (const w of s.forbiddenHours ?? []) {
      fired(
        [`_in_window(${minute()}, ${windowTerm(w)})`],
        [`inside forbidden hours ${formatWindow(w)} (${label})`],
      );
    }
    if (s.forbiddenDays) {
      fired(
        [`${weekday()} in ${setTerm(s.forbiddenDays)}`],
        [dayName(), ` is a forbidden day (${label})`],
      );
    }
    for (const w of s.deniedWindows ?? []) {
      if (w.kind === "range") {
        const ns = (ms: number) => (BigInt(ms) * 1_000_000n).toString();
        fired(
          [`time.now_ns() >= ${ns(w.startMs)}`, `time.now_ns() < ${ns(w.endMs)}`],
          [
            `inside denied window ${new Date(w.startMs).toISOString()} to ${new Date(w.endMs).toISOString()}`,
          ],
        );
        continue;
      }
      const detail = [
        `inside denied window${w.days ? ` on ${w.days.map((d) => DAY_LABEL[d]).join(", ")}` : ""}${w.hours ? ` ${formatWindow(w.hours)}` : ""} (${label})`,
      ];
      const onDays = (days: readonly number[] | undefined) =>
        days ? [`${weekday()} in ${setTerm(days)}`] : [];
      const h = w.hours;
      if (!h) fired(onDays(w.days), detail);
      else if (h.startMinute <= h.endMinute) {
        fired([...onDays(w.days), `_in_window(${minute()}, ${windowTerm(h)})`], detail);
      } else {
        // A window that crosses midnight belongs to the day it starts on.
        fired([`${minute()} >= ${h.startMinute}`, ...onDays(w.days)], detail);
        fired(
          [`${minute()} < ${h.endMinute}`, ...onDays(w.days?.map((d) => (d + 1) % 7).sort())],
          detail,
        );
      }
    }
  }

  #parameter(
    p: NonNullable<PolicyRule["parameter"]>,
    fired: (body: readonly string[], detail: readonly Part[]) => void,
  ): void {
    const value = `value := ${inputRef(p.name)}`;
    const name = `parameter '${p.name}'`;
    const describe = (): Part => ({
      expr: `_describe(value)`,
      verb: "s",
    });
    const v: Part = { expr: "value", verb: "v" };
    if (p.min !== undefined || p.max !== undefined) {
      fired([value, "not is_number(value)"], [`${name} must be a number, got `, describe()]);
      if (p.min !== undefined) {
        fired(
          [value, "is_number(value)", `value < ${regoValue(p.min)}`],
          [`${name} = `, v, ` is below the minimum ${p.min}`],
        );
      }
      if (p.max !== undefined) {
        fired(
          [value, "is_number(value)", `value > ${regoValue(p.max)}`],
          [`${name} = `, v, ` is above the maximum ${p.max}`],
        );
      }
    }
    if (p.maxLength !== undefined) {
      fired(
        [value, "not is_string(value)", "not is_array(value)"],
        [`${name} must be a string or a list to have a length`],
      );
      fired(
        [value, `count(value) > ${p.maxLength}`],
        [
          `${name} is `,
          { expr: "count(value)", verb: "d" },
          ` long, over the maximum of ${p.maxLength}`,
        ],
      );
    }
    if (p.allowedValues) {
      fired(
        [value, `not value in ${regoValue(p.allowedValues)}`],
        [`${name} = `, describe(), " is not one of the allowed values"],
      );
    }
  }
}

/**
 * Translates one policy into a Rego v1 module (it also loads on OPA 0.59 and later, through
 * `import rego.v1`). The output is deterministic: the same policy gives the same text.
 *
 * @param source the policy file's YAML text, its parsed object, or a loaded `PolicySet`.
 * @param policyId the policy to translate.
 * @example
 * ```ts
 * import { toRego } from "hexarch-guardrails/opa";
 * import { loadPolicyFile } from "hexarch-guardrails";
 *
 * writeFileSync("safe_delete.rego", toRego(loadPolicyFile(), "safe_delete"));
 * ```
 * @throws UnknownPolicyError when the policy is not in `source`.
 * @throws RegoTranslationError when the policy uses something Rego cannot express the same
 *   way (a regular expression with lookahead or backreferences).
 * @throws PolicyFileError when `source` is not a valid policy file.
 */
export function toRego(
  source: string | Readonly<Record<string, unknown>> | PolicySet,
  policyId: string,
  options: ToRegoOptions = {},
): string {
  const set = isPolicySet(source) ? source : parsePolicies(source);
  const policy = set.policies.find((p) => p.id === policyId);
  if (!policy)
    throw new UnknownPolicyError(
      policyId,
      set.policies.map((p) => p.id),
    );
  const parts = [...(options.path ?? "hexarch").split(/[/.]/).filter((s) => s !== ""), policyId];
  const urlPath = `/v1/data/${parts.map(encodeURIComponent).join("/")}`;
  return new PolicyWriter(policy).write(packagePath(parts), urlPath);
}
