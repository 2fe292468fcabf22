import { describe, expect, it } from "vitest";
import { parsePolicies } from "../../src/index.ts";
// Internal: policy diffs have no public name yet (hexarch-ctl policy diff uses them).
import { diffPolicies, formatChanges, type PolicyChange } from "../../src/policy/diff/index.ts";

/** Strips the common indentation of a template literal, so YAML can be written inline. */
function yaml(strings: TemplateStringsArray, ...values: unknown[]): string {
  const lines = String.raw({ raw: strings }, ...values)
    .replace(/^\n/, "")
    .replace(/\n[ ]*$/, "")
    .split("\n");
  const indent = Math.min(
    ...lines.filter((l) => l.trim() !== "").map((l) => /^ */.exec(l)?.[0].length ?? 0),
  );
  return `${lines.map((l) => l.slice(indent)).join("\n")}\n`;
}

/** Diffs two policy files given as YAML text. */
function diff(before: string, after: string): PolicyChange[] {
  return diffPolicies(parsePolicies(before), parsePolicies(after));
}

/** A file with one policy `p` whose rules are the given YAML list items (already indented by 6). */
function onePolicy(rules: string, extra = ""): string {
  return `policies:\n  - id: p\n${extra}    rules:\n${rules}`;
}

const messages = (changes: readonly PolicyChange[]) => changes.map((c) => c.message);

describe("diffPolicies: no change", () => {
  it("finds nothing between a file and itself", () => {
    const text = yaml`
      enforcement: strict
      policies:
        - id: api_budget
          rules:
            - resource: openai
              monthly_budget: 10
              action: warn_at_80%
        - id: safe_delete
          rules:
            - operation: delete
              action: require_confirmation
    `;
    expect(diff(text, text)).toEqual([]);
  });

  it("finds nothing between spellings that mean the same", () => {
    const before = yaml`
      policies:
        - id: p
          timezone: Europe/Berlin
          rules:
            - resource: [a, b]
              daily_limit: 100
              monthly_budget_usd: 10
              action: deny
            - operation: delete
              requires_approval: true
            - allowed_hours: "09:00-09:00"
              allowed_days: weekdays
    `;
    const after = yaml`
      enforcement: strict
      policies:
        - id: p
          timezone: Europe/Berlin
          rules:
            - resource: [b, a]
              requests_per_day: 100
              monthly_budget: 10.0
              action: block
            - operation: [delete]
              requires: confirmation
              action: require_confirmation
            - allowed_hours: ["00:00-24:00"]
              allowed_days: [fri, thu, wed, tue, mon]
    `;
    expect(diff(before, after)).toEqual([]);
  });
});

describe("diffPolicies: limits", () => {
  it("reports a rate limit raised as loosened, with the values as written", () => {
    const changes = diff(
      onePolicy("      - requests_per_minute: 100\n"),
      onePolicy("      - requests_per_minute: 200\n"),
    );
    expect(changes).toEqual([
      {
        policyId: "p",
        ruleId: "rules[0]",
        kind: "field_changed",
        field: "requests_per_minute",
        before: 100,
        after: 200,
        effect: "loosened",
        message: "p rules[0]: requests_per_minute raised from 100 to 200 (loosened)",
      },
    ]);
  });

  it("reports a rate limit lowered, added or removed as tightened or loosened", () => {
    const changes = diff(
      onePolicy("      - requests_per_hour: 1000\n        requests_per_second: 5\n"),
      onePolicy("      - requests_per_hour: 600\n        requests_per_minute: 30\n"),
    );
    expect(changes.map((c) => [c.field, c.before, c.after, c.effect])).toEqual([
      ["requests_per_second", 5, undefined, "loosened"],
      ["requests_per_minute", undefined, 30, "tightened"],
      ["requests_per_hour", 1000, 600, "tightened"],
    ]);
    expect(messages(changes)).toEqual([
      "p rules[0]: requests_per_second removed (was 5) (loosened)",
      "p rules[0]: requests_per_minute added: 30 (tightened)",
      "p rules[0]: requests_per_hour lowered from 1000 to 600 (tightened)",
    ]);
  });

  it("reports budgets in dollars and tokens", () => {
    const changes = diff(
      onePolicy(
        "      - monthly_budget: 10\n        max_tokens_per_day: 50000\n        max_cost_per_call: 0.5\n",
      ),
      onePolicy(
        "      - monthly_budget_usd: 25.5\n        daily_budget: 0.005\n        max_tokens_per_day: 40000\n        max_cost_per_call: 0.25\n",
      ),
    );
    expect(changes.map((c) => [c.field, c.before, c.after, c.effect])).toEqual([
      ["daily_budget", undefined, 0.005, "tightened"],
      ["monthly_budget_usd", 10, 25.5, "loosened"],
      ["max_tokens_per_day", 50000, 40000, "tightened"],
      ["max_cost_per_call", 0.5, 0.25, "tightened"],
    ]);
    expect(messages(changes)).toEqual([
      "p rules[0]: daily_budget added: $0.005 (tightened)",
      "p rules[0]: monthly_budget_usd raised from $10.00 to $25.50 (loosened)",
      "p rules[0]: max_tokens_per_day lowered from 50000 to 40000 (tightened)",
      "p rules[0]: max_cost_per_call lowered from $0.50 to $0.25 (tightened)",
    ]);
  });

  it("reports a counter key added as loosened (each user gets the whole limit)", () => {
    const changes = diff(
      onePolicy("      - requests_per_minute: 100\n"),
      onePolicy("      - requests_per_minute: 100\n        per: userId\n"),
    );
    expect(changes.map((c) => [c.field, c.after, c.effect])).toEqual([
      ["per", "userId", "loosened"],
    ]);
  });
});

describe("diffPolicies: actions", () => {
  const withAction = (action: string) =>
    onePolicy(`      - requests_per_minute: 10\n        action: ${action}\n`);

  it("calls block → warn loosened and warn → block tightened", () => {
    expect(diff(withAction("block"), withAction("warn"))).toEqual([
      {
        policyId: "p",
        ruleId: "rules[0]",
        kind: "field_changed",
        field: "action",
        before: "block",
        after: "warn",
        effect: "loosened",
        message: "p rules[0]: action changed from block to warn (loosened)",
      },
    ]);
    expect(diff(withAction("warn"), withAction("block"))[0]).toMatchObject({
      before: "warn",
      after: "block",
      effect: "tightened",
    });
  });

  it("orders allow < warn < require_confirmation < block, and a lower block_at_N% is stricter", () => {
    const effect = (from: string, to: string) => diff(withAction(from), withAction(to))[0]?.effect;
    expect(effect("allow", "warn")).toBe("tightened");
    expect(effect("require_confirmation", "warn")).toBe("loosened");
    expect(effect("require_confirmation", "deny")).toBe("tightened");
    expect(effect("block", "block_at_90%")).toBe("tightened");
    expect(effect("block_at_80%", "block_at_90%")).toBe("loosened");
    expect(diff(withAction("deny"), withAction("block"))).toEqual([]);
  });

  it("reports the warning threshold of warn_at_N% on its own", () => {
    const changes = diff(withAction("warn_at_80%"), withAction("warn_at_50%"));
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({
      field: "warn_at_percentage",
      before: 80,
      after: 50,
      effect: "tightened",
      message: "p rules[0]: warn_at_percentage lowered from 80% to 50% (tightened)",
    });
  });
});

describe("diffPolicies: rules", () => {
  it("reports a rule added with what it does", () => {
    const changes = diff(
      onePolicy("      - requests_per_minute: 10\n"),
      onePolicy(
        "      - requests_per_minute: 10\n      - operation: delete\n        action: require_confirmation\n",
      ),
    );
    expect(changes).toEqual([
      {
        policyId: "p",
        ruleId: "rules[1]",
        kind: "rule_added",
        after: { operation: ["delete"], action: "require_confirmation" },
        effect: "tightened",
        message:
          "p rules[1]: rule added: {operation: [delete], action: require_confirmation} (tightened)",
      },
    ]);
  });

  it("reports a removed rule once, not as a shift of every rule after it", () => {
    const changes = diff(
      onePolicy(
        "      - requests_per_minute: 1\n      - requests_per_minute: 2\n      - requests_per_minute: 3\n",
      ),
      onePolicy("      - requests_per_minute: 2\n      - requests_per_minute: 3\n"),
    );
    expect(changes).toEqual([
      {
        policyId: "p",
        ruleId: "rules[0]",
        kind: "rule_removed",
        before: { requests_per_minute: 1, action: "block" },
        effect: "loosened",
        message:
          "p rules[0]: rule removed (was {requests_per_minute: 1, action: block}) (loosened)",
      },
    ]);
  });

  it("says where a changed rule known by position was", () => {
    const changes = diff(
      onePolicy(
        "      - requests_per_minute: 1\n      - requests_per_minute: 2\n      - requests_per_minute: 3\n",
      ),
      onePolicy("      - requests_per_minute: 2\n      - requests_per_minute: 30\n"),
    );
    expect(changes.map((c) => [c.kind, c.ruleId])).toEqual([
      ["rule_removed", "rules[0]"],
      ["field_changed", "rules[1]"],
    ]);
    expect(changes[1]?.message).toBe(
      "p rules[1] (was rules[2]): requests_per_minute raised from 3 to 30 (loosened)",
    );
  });

  it("pairs changed rules known by position by their position", () => {
    const changes = diff(
      onePolicy("      - requests_per_minute: 1\n      - requests_per_minute: 2\n"),
      onePolicy("      - requests_per_minute: 5\n"),
    );
    expect(messages(changes)).toEqual([
      "p rules[0]: requests_per_minute raised from 1 to 5 (loosened)",
      "p rules[1]: rule removed (was {requests_per_minute: 2, action: block}) (loosened)",
    ]);
  });

  it("calls adding an allow rule neither looser nor tighter", () => {
    const changes = diff(
      onePolicy("      - requests_per_minute: 10\n"),
      onePolicy("      - requests_per_minute: 10\n      - model: gpt-4o\n        allowed: true\n"),
    );
    expect(changes.map((c) => [c.kind, c.effect, c.message])).toEqual([
      [
        "rule_added",
        "changed",
        "p rules[1]: rule added: {model: [gpt-4o], allowed: true, action: allow}",
      ],
    ]);
  });

  it("reports a rule disabled as loosened and enabled as tightened", () => {
    const on = onePolicy("      - operation: delete\n");
    const off = onePolicy("      - operation: delete\n        enabled: false\n");
    expect(diff(on, off)).toEqual([
      {
        policyId: "p",
        ruleId: "rules[0]",
        kind: "field_changed",
        field: "enabled",
        before: true,
        after: false,
        effect: "loosened",
        message: "p rules[0]: rule disabled (loosened)",
      },
    ]);
    expect(diff(off, on)[0]).toMatchObject({
      effect: "tightened",
      message: "p rules[0]: rule enabled (tightened)",
    });
  });

  it("reports changes inside a rule disabled on both sides as having no effect", () => {
    const changes = diff(
      onePolicy("      - requests_per_minute: 10\n        enabled: false\n"),
      onePolicy("      - requests_per_minute: 20\n        enabled: false\n"),
    );
    expect(changes.map((c) => [c.effect, c.message])).toEqual([
      [
        "changed",
        "p rules[0]: requests_per_minute raised from 10 to 20 (no effect: rule disabled)",
      ],
    ]);
  });

  it("treats a feature rule's enabled as the feature's state: false fires the rule", () => {
    const changes = diff(
      onePolicy("      - feature: beta\n        enabled: true\n        action: block\n"),
      onePolicy("      - feature: beta\n        enabled: false\n        action: block\n"),
    );
    expect(changes.map((c) => [c.field, c.before, c.after, c.effect])).toEqual([
      ["enabled", true, false, "tightened"],
    ]);
  });
});

describe("diffPolicies: rules with ids", () => {
  const before = yaml`
    policies:
      - id: p
        rules:
          - id: per_user
            requests_per_minute: 10
            per: userId
          - name: deletes
            operation: delete
            action: require_confirmation
          - requests_per_day: 1000
  `;

  it("matches rules by id or name, so reordering them is not a change", () => {
    const after = yaml`
      policies:
        - id: p
          rules:
            - name: deletes
              operation: delete
              action: require_confirmation
            - requests_per_day: 1000
            - id: per_user
              requests_per_minute: 10
              per: userId
    `;
    expect(diff(before, after)).toEqual([]);
  });

  it("labels a rule with its id in changes after reordering", () => {
    const after = yaml`
      policies:
        - id: p
          rules:
            - id: per_user
              requests_per_minute: 20
              per: userId
            - requests_per_day: 1000
            - name: deletes
              operation: [delete, drop]
              action: require_confirmation
    `;
    expect(messages(diff(before, after))).toEqual([
      "p per_user: requests_per_minute raised from 10 to 20 (loosened)",
      "p deletes: operation widened from [delete] to [delete, drop] (tightened)",
    ]);
  });

  it("reports a rule whose id appears on one side only as removed and added", () => {
    const after = yaml`
      policies:
        - id: p
          rules:
            - id: per_tenant
              requests_per_minute: 10
              per: tenantId
            - name: deletes
              operation: delete
              action: require_confirmation
            - requests_per_day: 1000
    `;
    const changes = diff(before, after);
    expect(changes.map((c) => [c.kind, c.ruleId, c.effect])).toEqual([
      ["rule_removed", "per_user", "loosened"],
      ["rule_added", "per_tenant", "tightened"],
    ]);
    expect(changes[0]?.before).toEqual({
      id: "per_user",
      requests_per_minute: 10,
      per: "userId",
      action: "block",
    });
  });
});

describe("diffPolicies: policies", () => {
  const before = yaml`
    policies:
      - id: a
        rules: [{ requests_per_minute: 1 }]
      - id: gone
        rules: [{ operation: delete }]
      - id: c
        rules: [{ requests_per_minute: 3 }]
  `;

  it("reports policies added and removed in the new file's order, removed ones where they were", () => {
    const after = yaml`
      policies:
        - id: c
          rules: [{ requests_per_minute: 3 }]
        - id: fresh
          rules: [{ requests_per_hour: 5 }, { operation: drop }]
        - id: a
          rules: [{ requests_per_minute: 1 }]
    `;
    const changes = diff(before, after);
    expect(changes).toEqual([
      {
        policyId: "fresh",
        kind: "policy_added",
        after: {
          id: "fresh",
          rules: [
            { requests_per_hour: 5, action: "block" },
            { operation: ["drop"], action: "block" },
          ],
        },
        effect: "tightened",
        message: "fresh: policy added with 2 rules (tightened)",
      },
      {
        policyId: "gone",
        kind: "policy_removed",
        before: { id: "gone", rules: [{ operation: ["delete"], action: "block" }] },
        effect: "loosened",
        message: "gone: policy removed (had 1 rule) (loosened)",
      },
    ]);
  });

  it("reports a policy disabled, fail_open and the file's enforcement", () => {
    const after = yaml`
      enforcement: warn
      policies:
        - id: a
          fail_open: true
          rules: [{ requests_per_minute: 1 }]
        - id: gone
          enabled: false
          rules: [{ operation: delete }]
        - id: c
          rules: [{ requests_per_minute: 3 }]
    `;
    expect(
      diff(before, after).map((c) => [c.policyId, c.field, c.before, c.after, c.effect]),
    ).toEqual([
      ["", "enforcement", "strict", "warn", "loosened"],
      ["a", "fail_open", false, true, "loosened"],
      ["gone", "enabled", true, false, "loosened"],
    ]);
    expect(messages(diff(after, before))).toEqual([
      "enforcement changed from warn to strict (tightened)",
      "a: fail_open changed from true to false (tightened)",
      "gone: policy enabled (tightened)",
    ]);
  });

  it("reports changes inside a disabled policy as having no effect", () => {
    const changes = diff(
      onePolicy("      - requests_per_minute: 1\n", "    enabled: false\n"),
      onePolicy("      - requests_per_minute: 2\n", "    enabled: false\n"),
    );
    expect(changes.map((c) => [c.effect, c.message])).toEqual([
      [
        "changed",
        "p rules[0]: requests_per_minute raised from 1 to 2 (no effect: policy disabled)",
      ],
    ]);
  });
});

describe("diffPolicies: schedules", () => {
  const rule = (lines: string) => onePolicy(`      - timezone: Europe/Berlin\n${lines}`);

  it("reports allowed hours widened as loosened and narrowed as tightened", () => {
    const nine = rule('        allowed_hours: "09:00-17:00"\n');
    const eight = rule('        allowed_hours: ["08:00-12:00", "12:00-18:00"]\n');
    expect(diff(nine, eight)).toEqual([
      {
        policyId: "p",
        ruleId: "rules[0]",
        kind: "field_changed",
        field: "allowed_hours",
        before: ["09:00-17:00"],
        after: ["08:00-12:00", "12:00-18:00"],
        effect: "loosened",
        message:
          "p rules[0]: allowed_hours widened from [09:00-17:00] to [08:00-12:00, 12:00-18:00] (loosened)",
      },
    ]);
    expect(diff(eight, nine)[0]).toMatchObject({ effect: "tightened" });
    // Overlapping but neither contains the other: no direction.
    const late = rule('        allowed_hours: "12:00-20:00"\n');
    expect(diff(nine, late)[0]).toMatchObject({
      effect: "changed",
      message: "p rules[0]: allowed_hours changed from [09:00-17:00] to [12:00-20:00]",
    });
  });

  it("reads windows across midnight and days as sets", () => {
    const changes = diff(
      rule('        forbidden_hours: "22:00-06:00"\n        allowed_days: weekdays\n'),
      rule('        forbidden_hours: "23:00-02:00"\n        allowed_days: [mon, tue, wed, thu]\n'),
    );
    expect(changes.map((c) => [c.field, c.after, c.effect])).toEqual([
      ["allowed_days", ["mon", "tue", "wed", "thu"], "tightened"],
      ["forbidden_hours", ["23:00-02:00"], "loosened"],
    ]);
  });

  it("compares denied windows by the time they cover", () => {
    const changes = diff(
      rule('        denied_windows: ["22:00-06:00"]\n'),
      rule(
        '        denied_windows:\n          - "22:00-06:00"\n          - { days: [sat], hours: "09:00-17:00" }\n          - { start: "2025-12-24", end: "2025-12-27" }\n',
      ),
    );
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({
      field: "denied_windows",
      effect: "tightened",
      after: [
        "22:00-06:00",
        { days: ["sat"], hours: "09:00-17:00" },
        { start: "2025-12-23T23:00:00.000Z", end: "2025-12-26T23:00:00.000Z" },
      ],
    });
  });

  it("puts the part of a window after midnight on the next day, as the engine does", () => {
    const across = rule('        denied_windows: [{ days: [fri], hours: "22:00-02:00" }]\n');
    const split = rule(
      '        denied_windows:\n          - { days: [fri], hours: "22:00-24:00" }\n          - { days: [sat], hours: "00:00-02:00" }\n',
    );
    expect(diff(across, split)).toEqual([]);
    const friday = rule(
      '        denied_windows:\n          - { days: [fri], hours: "22:00-24:00" }\n          - { days: [fri], hours: "00:00-02:00" }\n',
    );
    expect(diff(across, friday)[0]).toMatchObject({ field: "denied_windows", effect: "changed" });
  });

  it("reports a time zone only where it matters: schedules and calendar budgets", () => {
    const file = (zone: string) => yaml`
      timezone: ${zone}
      policies:
        - id: p
          rules:
            - requests_per_minute: 10
            - allowed_hours: "09:00-17:00"
    `;
    expect(messages(diff(file("UTC"), file("America/New_York")))).toEqual([
      "p rules[1]: timezone changed from UTC to America/New_York",
    ]);
  });
});

describe("diffPolicies: matchers, conditions and who may pass", () => {
  it("calls a restrictive rule applying to more calls tightened, to fewer loosened", () => {
    const changes = diff(
      onePolicy(
        "      - resource: openai\n        model: gpt-4*\n        requests_per_minute: 10\n",
      ),
      onePolicy(
        "      - resource: [openai, anthropic]\n        model: [gpt-4o]\n        operation: chat\n        requests_per_minute: 10\n",
      ),
    );
    expect(messages(changes)).toEqual([
      "p rules[0]: resource widened from [openai] to [openai, anthropic] (tightened)",
      "p rules[0]: operation narrowed from any to [chat] (loosened)",
      "p rules[0]: model narrowed from [gpt-4*] to [gpt-4o] (loosened)",
    ]);
    expect(changes[0]).toMatchObject({ before: ["openai"], after: ["openai", "anthropic"] });
    expect(changes[1]).not.toHaveProperty("before");
  });

  it("reports a matcher replaced by an unrelated one as changed", () => {
    const changes = diff(
      onePolicy("      - operation: delete\n"),
      onePolicy("      - operation: truncate\n"),
    );
    expect(changes.map((c) => [c.before, c.after, c.effect])).toEqual([
      [["delete"], ["truncate"], "changed"],
    ]);
  });

  it("says a condition changed, rendered on one line", () => {
    const changes = diff(
      onePolicy("      - operation: export\n        when: { environment: production }\n"),
      onePolicy(
        "      - operation: export\n        when:\n          - { field: user.tier, operator: in, value: [free, trial] }\n          - any:\n              - { field: amount, op: gt, value: 1000 }\n              - not: { field: user.verified, operator: equals, value: true }\n",
      ),
    );
    expect(changes).toEqual([
      {
        policyId: "p",
        ruleId: "rules[0]",
        kind: "field_changed",
        field: "when",
        before: 'environment == "production"',
        after: 'user.tier in ["free","trial"] and (amount > 1000 or not (user.verified == true))',
        effect: "changed",
        message:
          'p rules[0]: condition changed from environment == "production" to user.tier in ["free","trial"] and (amount > 1000 or not (user.verified == true))',
      },
    ]);
    const removed = diff(
      onePolicy("      - operation: export\n        when: { environment: production }\n"),
      onePolicy("      - operation: export\n"),
    );
    expect(removed[0]).toMatchObject({
      effect: "tightened",
      message: 'p rules[0]: condition removed (was environment == "production") (tightened)',
    });
  });

  it("compares requires, allowed_users and parameter bounds by what they let pass", () => {
    const changes = diff(
      onePolicy(
        "      - requires: [confirm]\n        allowed_users: [alice, bob]\n        parameter: amount\n        max: 100\n        allowed_values: [1, 2, 3]\n",
      ),
      onePolicy(
        "      - requires: [confirm, backup_verified]\n        allowed_users: [alice, bob, '@admin']\n        parameter: amount\n        min: 1\n        max: 500\n        allowed_values: [1, 2]\n",
      ),
    );
    expect(changes.map((c) => [c.field, c.effect])).toEqual([
      ["requires", "tightened"],
      ["allowed_users", "loosened"],
      ["min", "tightened"],
      ["max", "loosened"],
      ["allowed_values", "tightened"],
    ]);
    expect(changes[1]?.message).toBe(
      "p rules[0]: allowed_users widened from [alice, bob] to [alice, bob, @admin] (loosened)",
    );
  });

  it("reports refund_on_error off as tightened and a priority change as changed", () => {
    const changes = diff(
      onePolicy("      - daily_budget: 5\n"),
      onePolicy("      - daily_budget: 5\n        refund_on_error: false\n        priority: 2\n"),
    );
    expect(changes.map((c) => [c.field, c.before, c.after, c.effect])).toEqual([
      ["refund_on_error", true, false, "tightened"],
      ["priority", 0, 2, "changed"],
    ]);
  });
});

describe("formatChanges", () => {
  it("says so when there is nothing", () => {
    expect(formatChanges([])).toBe("no semantic changes");
  });

  it("groups a realistic diff by policy and ends with a summary", () => {
    const before = yaml`
      enforcement: strict
      policies:
        - id: api_budget
          rules:
            - resource: openai
              monthly_budget: 10
              action: warn_at_80%
        - id: rate_limit
          rules:
            - resource: "*"
              requests_per_minute: 100
              per: userId
              action: block
        - id: safe_delete
          rules:
            - operation: delete
              action: require_confirmation
    `;
    const after = yaml`
      enforcement: warn
      policies:
        - id: rate_limit
          rules:
            - resource: "*"
              requests_per_minute: 200
              per: userId
              action: block
            - id: night
              forbidden_hours: "00:00-06:00"
              action: warn
        - id: api_budget
          rules:
            - resource: openai
              monthly_budget: 5
              action: warn_at_80%
            - model: gpt-4*
              allowed: false
    `;
    expect(formatChanges(diff(before, after))).toBe(
      [
        "(file):",
        "  enforcement changed from strict to warn (loosened)",
        "rate_limit:",
        "  rules[0]: requests_per_minute raised from 100 to 200 (loosened)",
        "  night: rule added: {forbidden_hours: [00:00-06:00], timezone: UTC, action: warn} (tightened)",
        // Removed policies stay after the policy that preceded them in the old file.
        "safe_delete:",
        "  policy removed (had 1 rule) (loosened)",
        "api_budget:",
        "  rules[0]: monthly_budget lowered from $10.00 to $5.00 (tightened)",
        "  rules[1]: rule added: {model: [gpt-4*], allowed: false, action: block} (tightened)",
        "6 changes: 3 loosened, 3 tightened",
      ].join("\n"),
    );
  });

  it("counts changes without a direction, and keeps messages it cannot shorten", () => {
    const text = formatChanges([
      {
        policyId: "p",
        ruleId: "rules[0]",
        kind: "field_changed",
        field: "priority",
        before: 0,
        after: 1,
        effect: "changed",
        message: "priority changed from 0 to 1",
      },
    ]);
    expect(text).toBe("p:\n  priority changed from 0 to 1\n1 change: 1 changed");
  });
});
