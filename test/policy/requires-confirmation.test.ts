import { describe, expect, it } from "vitest";
import {
  LocalDecisionClient,
  PolicyFileError,
  type PolicyRule,
  parsePolicies,
} from "../../src/index.ts";

/** One policy `p` holding the given rule (YAML lines at rule indent). */
const file = (...ruleLines: string[]): string =>
  `policies:\n  - id: p\n    rules:\n      - ${ruleLines.join("\n        ")}\n`;

const onlyRule = (text: string): PolicyRule => {
  const rule = parsePolicies(text).policies[0]?.rules[0];
  if (!rule) throw new Error("no rule parsed");
  return rule;
};

function refusal(text: string): PolicyFileError {
  try {
    parsePolicies(text, { source: "hexarch.yaml" });
  } catch (err) {
    if (err instanceof PolicyFileError) return err;
    throw err;
  }
  throw new Error("expected the file to be refused");
}

describe("requires_confirmation (the Python spelling)", () => {
  it("true means action: require_confirmation", () => {
    const spelled = onlyRule(file("operation: delete", "requires_confirmation: true"));
    const canonical = onlyRule(file("operation: delete", "action: require_confirmation"));
    expect(spelled.action).toBe("require_confirmation");
    expect(spelled).toEqual(canonical);
  });

  it("true asks for confirmation and lets a confirmed call through", async () => {
    const client = new LocalDecisionClient({
      policies: parsePolicies(file("operation: delete", "requires_confirmation: true")),
    });
    const asked = await client.decide("p", { operation: "delete" });
    expect(asked).toMatchObject({ allowed: false, action: "require_confirmation" });
    const confirmed = await client.decide("p", { operation: "delete", confirm: true });
    expect(confirmed.allowed).toBe(true);
    expect((await client.decide("p", { operation: "read" })).allowed).toBe(true);
  });

  it("true on a rate limit asks for confirmation past the limit, as the action would", async () => {
    const client = new LocalDecisionClient({
      policies: parsePolicies(file("requests_per_minute: 1", "requires_confirmation: true")),
    });
    expect((await client.decide("p", {})).allowed).toBe(true);
    expect(await client.decide("p", {})).toMatchObject({
      allowed: false,
      action: "require_confirmation",
    });
  });

  it("true agrees with action: require_confirmation and its alias require_approval", () => {
    for (const action of ["require_confirmation", "require_approval"]) {
      const rule = onlyRule(
        file("operation: delete", "requires_confirmation: true", `action: ${action}`),
      );
      expect(rule.action, action).toBe("require_confirmation");
    }
  });

  it("false on a rule with nothing else to enforce allows, as allowed: true does", async () => {
    const set = parsePolicies(file("operation: read", "requires_confirmation: false"));
    expect(set.policies[0]?.rules[0]?.action).toBe("allow");
    const client = new LocalDecisionClient({ policies: set });
    expect(await client.decide("p", { operation: "read" })).toMatchObject({
      allowed: true,
      action: "allow",
    });
  });

  it("false leaves the action of a rule that enforces something as written, or block", () => {
    expect(onlyRule(file("requests_per_minute: 5", "requires_confirmation: false")).action).toBe(
      "block",
    );
    expect(
      onlyRule(file("requests_per_minute: 5", "requires_confirmation: false", "action: warn"))
        .action,
    ).toBe("warn");
    expect(
      onlyRule(file("operation: read", "requires_confirmation: false", "action: block")).action,
    ).toBe("block");
  });

  it("true with an action that does not ask for confirmation is refused, naming both", () => {
    const err = refusal(file("operation: delete", "requires_confirmation: true", "action: block"));
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]).toMatchObject({
      line: 5,
      path: "policies[0].rules[0].requires_confirmation",
    });
    expect(err.message).toContain(
      "requires_confirmation: true means action: require_confirmation, but the rule says action: block; keep one",
    );
    const warn = refusal(
      file("monthly_budget: 10", "requires_confirmation: true", "action: warn_at_80%"),
    );
    expect(warn.message).toContain("action: warn_at_80%");
  });

  it("false with action: require_confirmation is refused", () => {
    const err = refusal(
      file("operation: delete", "requires_confirmation: false", "action: require_confirmation"),
    );
    expect(err.message).toContain(
      "requires_confirmation: false contradicts action: require_confirmation; keep one",
    );
  });

  it("false with requires_approval: true (which asks for confirmation) is refused with a way out", () => {
    const err = refusal(
      file("operation: delete", "requires_approval: true", "requires_confirmation: false"),
    );
    expect(err.message).toContain("requires_confirmation: false, but requires_approval");
    expect(err.message).toContain("write action: block");
  });

  it("is not a boolean: a schema error, not a silent default", () => {
    const err = refusal(file("operation: delete", 'requires_confirmation: "yes"'));
    expect(err.issues[0]?.path).toBe("policies[0].rules[0].requires_confirmation");
  });
});
