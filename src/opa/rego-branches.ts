/**
 * The ways a rule fires, as Rego branches — features, models, `requires`, `allowed_users`,
 * schedules, parameter bounds, per-call cost and token caps — and each branch's outcome term.
 *
 * @module
 */

import { matchDetail } from "../engine/rule-matchers.ts";
import { type DecisionAction, SEVERITY } from "../kernel/decision.ts";
import type { PolicyRule } from "../policy/types.ts";
import { formatUsd } from "../util/money.ts";
import { schedule } from "./rego-schedule.ts";
import { formatText, inputRef, regoString, regoValue, segment } from "./rego-syntax.ts";
import { type Branch, type Part, type RuleScope, setTerm } from "./rego-terms.ts";

const VERB: Readonly<Record<DecisionAction, string>> = {
  allow: "allowed the call",
  warn: "warning",
  require_confirmation: "requires confirmation",
  block: "blocked the call",
};

/** The outcome object of a branch, with its rank and reason (and the confirmed reason). */
export function outcomeTerm(policyId: string, rule: PolicyRule, b: Branch, label: string): string {
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

/** Every way the rule fires, in the order the engine checks them. */
export function ruleBranches(scope: RuleScope): Branch[] {
  const rule = scope.rule;
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
  if (rule.allowedUsers) allowedUsers(scope, rule.allowedUsers, fired);
  if (rule.schedule) schedule(rule, rule.schedule, fired);
  if (rule.parameter) parameter(rule.parameter, fired);
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

/** The branches of `allowed_users`: no user in the context, or one not in the list. */
function allowedUsers(
  scope: RuleScope,
  entries: readonly string[],
  fired: (body: readonly string[], detail: readonly Part[]) => void,
): void {
  const users = entries.filter((e) => !e.startsWith("@"));
  const roles = entries.filter((e) => e.startsWith("@") && e !== "@self").map((e) => e.slice(1));
  const self = entries.includes("@self");
  const name = `_users_ok_${scope.rule.index}`;
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
  if (bodies.length > 0) scope.extra.push(bodies.join("\n\n"));
  fired([...ok, "not _user_id"], ["no user id in the context; allowed_users applies"]);
  fired([...ok, "user := _user_id"], ["user '", { expr: "user", verb: "s" }, "' is not allowed"]);
}

/** The branches of a parameter's bounds, length and allowed values. */
function parameter(
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
