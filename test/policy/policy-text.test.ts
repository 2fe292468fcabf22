/**
 * The text of each loaded policy as written in its file (what `GET /policies` shows).
 */
import { describe, expect, it } from "vitest";
import { parsePolicies } from "../../src/index.ts";
// Internal: the policy-text lookup the server's GET /policies uses.
import { policyText } from "../../src/policy/policy-text.ts";

const FILE = `# budgets and limits
policies:
  # spending
  - id: spend
    description: per user
    rules:
      - daily_budget: 10 # dollars
        per: userId

  - id: deletes
    rules: [{ operation: delete, action: block }]
logging:
  enabled: false
`;

describe("policyText", () => {
  it("slices each policy's list item from the file, comments and layout kept", () => {
    const set = parsePolicies(FILE);
    expect(set.policies.map((p) => policyText(p))).toEqual([
      "- id: spend\n  description: per user\n  rules:\n    - daily_budget: 10 # dollars\n      per: userId",
      "- id: deletes\n  rules: [{ operation: delete, action: block }]",
    ]);
  });

  it("reads JSON text and policies given as an object; none for policies built in code", () => {
    const json = parsePolicies(
      '{"policies": [{"id": "a", "rules": []}, {"id": "b", "rules": []}]}',
    );
    expect(policyText(json.policies[1] as (typeof json.policies)[number])).toBe(
      '{"id": "b", "rules": []}',
    );
    const object = parsePolicies({ policies: [{ id: "o", rules: [{ requests_per_minute: 5 }] }] });
    expect(policyText(object.policies[0] as (typeof object.policies)[number])).toBe(
      "- id: o\n  rules:\n    - requests_per_minute: 5",
    );
    const copy = { ...(object.policies[0] as (typeof object.policies)[number]) };
    expect(policyText(copy)).toBeUndefined();
  });
});
