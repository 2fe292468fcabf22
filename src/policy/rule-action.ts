/**
 * A rule's action: the word it writes (`block`, `warn_at_80%`, `deny`, `require_approval`),
 * the one it implies when it writes none (`requires_approval: true` asks for confirmation,
 * `allowed: true` with nothing to enforce allows), and the Python spelling
 * `requires_confirmation`, refused when it contradicts the action.
 *
 * @module
 */

import type { DocPath, IssueCollector } from "./issues.ts";
import { ACTION_PATTERN, type RawRule } from "./schema.ts";
import type { RuleAction } from "./types.ts";

/** Flags in `requires:` that mean the call's confirmation (`confirm`). */
export const CONFIRM_FLAGS: readonly string[] = [
  "confirmation",
  "confirmed",
  "approval",
  "approved",
];

/**
 * The action of a rule that names none: `require_confirmation` when it requires
 * confirmation, `allow` for `allowed: true` / `enabled: true` / `requires_confirmation: false`
 * rules with nothing else to enforce (the flag says the call may go ahead), else `block`.
 */
function defaultAction(raw: RawRule): string {
  const requires = [raw.requires ?? []].flat();
  if (
    raw.requires_approval === true ||
    requires.some((r) => r === "confirm" || CONFIRM_FLAGS.includes(r))
  ) {
    return "require_confirmation";
  }
  const onlyMatcher =
    (raw.allowed === true && raw.model !== undefined) ||
    (raw.enabled === true && raw.feature !== undefined) ||
    raw.requires_confirmation === false;
  const enforces = Object.keys(raw).some((k) => TRIGGER_KEYS.has(k));
  return onlyMatcher && !enforces ? "allow" : "block";
}

const TRIGGER_KEYS = new Set([
  "requests_per_second",
  "requests_per_minute",
  "requests_per_hour",
  "requests_per_day",
  "daily_limit",
  "daily_budget",
  "monthly_budget",
  "daily_budget_usd",
  "monthly_budget_usd",
  "max_cost_per_call",
  "max_tokens_per_request",
  "max_tokens_per_hour",
  "max_tokens_per_day",
  "max_tokens_per_month",
  "allowed_hours",
  "allowed_days",
  "forbidden_hours",
  "forbidden_days",
  "denied_windows",
  "requires",
  "requires_approval",
  "allowed_users",
  "parameter",
]);

/** An action word as the engine reads it: the action, and a warn or block threshold in percent. */
export function parseAction(raw: string | undefined): {
  action: RuleAction;
  warnAt?: number;
  limitAt?: number;
} {
  const m = ACTION_PATTERN.exec(raw ?? "block");
  const word = m?.[1] ?? "block";
  if (m?.[2] === "warn") return { action: "block", warnAt: Number(m[3]) };
  if (m?.[2] === "block") return { action: "block", limitAt: Number(m[3]) };
  if (word === "deny") return { action: "block" };
  if (word === "require_approval") return { action: "require_confirmation" };
  return { action: word as RuleAction };
}

/**
 * The rule's action word. `requires_confirmation: true` is the Python spelling of
 * `action: require_confirmation`; `false` says the rule never asks for confirmation. When
 * it disagrees with the action (written, or the default that `requires_approval: true`
 * implies), neither is guessed: the author meant one of two different guards, so the
 * file is refused, as two disagreeing warn thresholds are.
 */
export function ruleAction(raw: RawRule, path: DocPath, issues: IssueCollector): string {
  const confirm = raw.requires_confirmation;
  const word = raw.action ?? (confirm === true ? "require_confirmation" : defaultAction(raw));
  if (confirm === undefined) return word;
  const asks = parseAction(word).action === "require_confirmation";
  if (asks === confirm) return word;
  const at: DocPath = [...path, "requires_confirmation"];
  if (confirm) {
    issues.add(
      at,
      `requires_confirmation: true means action: require_confirmation, but the rule says action: ${word}; keep one`,
    );
  } else if (raw.action !== undefined) {
    issues.add(at, `requires_confirmation: false contradicts action: ${word}; keep one`);
  } else {
    issues.add(
      at,
      "requires_confirmation: false, but requires_approval / requires: confirmation ask for confirmation; to block unconfirmed calls instead write action: block",
    );
  }
  return word;
}
