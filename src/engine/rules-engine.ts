/**
 * `RulesEngine`: the programmatic face of the embedded engine (the Python
 * `SimpleRulesEngine`). Rules are plain objects instead of a file; they compile to the same
 * closures and are evaluated by the same code as `hexarch.yaml` policies.
 *
 * @module
 */

import type { Decision, DecisionAction } from "../kernel/decision.ts";
import { GuardrailError } from "../kernel/errors.ts";
import { MemoryStateStore } from "../memory/state-store.ts";
import { parseFieldPath } from "../policy/field-path.ts";
import type { PolicyRule, RuleAction } from "../policy/types.ts";
import {
  checkOptions,
  functionRule,
  invalidOption,
  type OptionRules,
  required,
} from "../util/check-options.ts";
import { compileRule } from "./compile-rule.ts";
import {
  type Condition,
  checkComparisonValue,
  type Operator,
  resolveOperator,
} from "./conditions.ts";
import { PolicyCheck } from "./policy-check.ts";

/** One condition of a {@link RuleDefinition}: all of a rule's conditions must hold. */
export interface RuleCondition {
  /** Dotted context path, e.g. `user.roles[0]`. */
  readonly field: string;
  /** An operator name or alias (`equals`, `gt`, `regex`, …). */
  readonly operator: Operator | (string & {});
  readonly value?: unknown;
}

/** A rule for {@link RulesEngine}. */
export interface RuleDefinition {
  readonly id: string;
  readonly name?: string;
  /** All must hold for the rule to match; none means it always matches. */
  readonly conditions: readonly RuleCondition[];
  /**
   * What a match does: `allow`, `log` (allow, recorded), `warn`, `alert`/`notify` (warn),
   * `block`/`deny`, `require_confirmation`/`require_approval`. The most severe one counts.
   */
  readonly actions: readonly string[];
  /**
   * Breaks ties between matches of equal severity; higher wins.
   * @default 0
   */
  readonly priority?: number;
}

/** Result of {@link RulesEngine.evaluate}. */
export interface RulesEngineResult {
  readonly allowed: boolean;
  readonly blocked: boolean;
  readonly action: DecisionAction;
  readonly reason: string;
  /** Ids of every rule whose conditions held. */
  readonly matchedRules: readonly string[];
  readonly decision: Decision;
}

const ACTIONS: Readonly<Record<string, RuleAction>> = {
  allow: "allow",
  log: "allow",
  warn: "warn",
  alert: "warn",
  notify: "warn",
  block: "block",
  deny: "block",
  require_confirmation: "require_confirmation",
  require_approval: "require_confirmation",
};
const RANK: Readonly<Record<RuleAction, number>> = {
  allow: 0,
  warn: 1,
  require_confirmation: 2,
  block: 3,
};

const OWNER = "RulesEngine";
const OPTION_RULES: OptionRules = {
  rules: required({ expected: "a list of rule definitions", test: Array.isArray }),
  clock: functionRule("a function returning the time in ms since the epoch"),
};

/**
 * Rules as code, evaluated synchronously without a policy file.
 *
 * @example
 * ```ts
 * const engine = new RulesEngine({
 *   rules: [
 *     { id: "block_deletes", conditions: [{ field: "operation", operator: "equals", value: "delete" }],
 *       actions: ["require_approval"], priority: 10 },
 *   ],
 * });
 * engine.evaluate({ operation: "delete" }).blocked; // true
 * ```
 */
export class RulesEngine {
  readonly #check: PolicyCheck;

  /** @throws GuardrailError for an unknown operator or action, or a value that does not fit its operator. */
  constructor(options: {
    readonly rules: readonly RuleDefinition[];
    readonly clock?: () => number;
  }) {
    const ids = new Set<string>();
    checkOptions(OWNER, options, OPTION_RULES);
    const compiled = options.rules.map((def, index) => {
      const at = `rules[${index}]`;
      if (def === null || typeof def !== "object")
        throw invalidOption(OWNER, at, "a rule ({ id, conditions, actions })", def);
      if (typeof def.id !== "string" || def.id === "")
        throw invalidOption(OWNER, `${at}.id`, "a non-empty string", def.id);
      if (!Array.isArray(def.conditions))
        throw invalidOption(
          OWNER,
          `${at}.conditions`,
          "a conditions list (may be empty)",
          def.conditions,
        );
      if (!Array.isArray(def.actions))
        throw invalidOption(OWNER, `${at}.actions`, "an actions list", def.actions);
      if (ids.has(def.id))
        throw new GuardrailError(`duplicate rule id '${def.id}'`, { code: "rule_invalid" });
      ids.add(def.id);
      const rule: PolicyRule = {
        id: def.id,
        index,
        ...(def.name !== undefined && { name: def.name }),
        priority: def.priority ?? 0,
        enabled: true,
        rateLimits: [],
        budgets: [],
        timezone: "UTC",
        refundOnError: true,
        action: toAction(def),
        line: 0,
        ...(def.conditions.length > 0 && {
          when: { all: def.conditions.map((c: RuleCondition) => toComparison(def.id, c)) },
        }),
      };
      return compileRule(rule, "rules");
    });
    this.#check = new PolicyCheck(
      "rules",
      compiled,
      {
        state: new MemoryStateStore(),
        clock: options.clock ?? Date.now,
        failOpen: false,
        timeoutMs: Number.POSITIVE_INFINITY,
      },
      "No rule blocked the call",
    );
  }

  /** Evaluates every rule against a context; the most severe matching action decides. */
  evaluate(context: Readonly<Record<string, unknown>>): RulesEngineResult {
    // No rule has counters, so the check never touches the store and answers synchronously.
    const decision = this.#check.decide(context) as Decision;
    return {
      allowed: decision.allowed,
      blocked: !decision.allowed,
      action: decision.action,
      reason: decision.reason,
      matchedRules: decision.matchedRules,
      decision,
    };
  }
}

function toAction(def: RuleDefinition): RuleAction {
  if (def.actions.length === 0)
    throw new GuardrailError(`rule '${def.id}' has no actions`, { code: "rule_invalid" });
  let best: RuleAction = "allow";
  for (const name of def.actions) {
    const action = ACTIONS[name.toLowerCase()];
    if (!action) {
      throw new GuardrailError(
        `rule '${def.id}': unknown action '${name}' (expected one of ${Object.keys(ACTIONS).join(", ")})`,
        { code: "rule_invalid" },
      );
    }
    if (RANK[action] > RANK[best]) best = action;
  }
  return best;
}

function toComparison(ruleId: string, c: RuleCondition): Condition {
  if (typeof c?.field !== "string" || !parseFieldPath(c.field)) {
    throw new GuardrailError(
      `rule '${ruleId}': malformed field path '${String(c?.field)}' (expected e.g. user.roles[0])`,
      { code: "rule_invalid" },
    );
  }
  const operator = resolveOperator(String(c.operator).trim().toLowerCase());
  if (!operator)
    throw new GuardrailError(`rule '${ruleId}': unknown operator '${c.operator}'`, {
      code: "rule_invalid",
    });
  const problem = checkComparisonValue(operator, c.value);
  if (problem)
    throw new GuardrailError(`rule '${ruleId}', field '${c.field}': ${problem}`, {
      code: "rule_invalid",
    });
  return c.value === undefined
    ? { field: c.field, operator }
    : { field: c.field, operator, value: c.value };
}
