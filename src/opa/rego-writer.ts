/**
 * The writer behind `toRego`: the module's head, its decision, and each rule as a chain
 * of `else` branches ordered by severity.
 *
 * @module
 */

import { SEVERITY } from "../kernel/decision.ts";
import type { Policy, PolicyRule } from "../policy/types.ts";
import { formatUsd } from "../util/money.ts";
import { outcomeTerm, ruleBranches } from "./rego-branches.ts";
import { matchers } from "./rego-conditions.ts";
import { helpersFor } from "./rego-helpers.ts";
import { RegoTranslationError, regoString } from "./rego-syntax.ts";
import { labelOf, type RuleScope } from "./rego-terms.ts";

/** Writes the Rego of one policy. */
export class PolicyWriter {
  readonly #policy: Policy;
  #rule: PolicyRule | undefined;

  /** A writer for `policy`. */
  constructor(policy: Policy) {
    this.#policy = policy;
  }

  /** The module: package `pkg`, answering at `urlPath` (for its comments). */
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
    const helpers = helpersFor(rules.join("\n"));
    return `${[head.join("\n"), decision.join("\n"), ...rules, ...helpers].join("\n\n")}\n`;
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
    const scope: RuleScope = {
      rule,
      extra: [],
      subrules: 0,
      fail: (message: string) => this.#fail(message),
    };
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
    const branches = ruleBranches(scope);
    if (branches.length === 0) {
      return {
        text: [summary, ...notes, "# Nothing else to decide: in OPA this rule never fires."].join(
          "\n",
        ),
        outcome: false,
      };
    }
    const applies = matchers(scope, rule);
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
      const head = outcomeTerm(policyId, rule, b, label);
      const body = [...(applies.length > 0 ? [appliesName] : []), ...b.body];
      const opener = i === 0 ? `_rule_${n} := ` : "} else := ";
      lines.push(`${opener}${head} if {`, ...(body.length ? body : ["true"]).map((l) => `\t${l}`));
    });
    lines.push("}");
    if (applies.length > 0) {
      lines.push("", `${appliesName} if {`, ...applies.map((l) => `\t${l}`), "}");
    }
    for (const extra of scope.extra) lines.push("", extra);
    return { text: lines.join("\n"), outcome: true };
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
}
