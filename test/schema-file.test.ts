import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { policyJsonSchemaText } from "../src/policy/json-schema.ts";

describe("schema/hexarch.schema.json", () => {
  it("is generated from the current zod schema (run `npm run schema` if this fails)", () => {
    const checkedIn = readFileSync(
      new URL("../schema/hexarch.schema.json", import.meta.url),
      "utf8",
    );
    expect(checkedIn).toBe(policyJsonSchemaText());
  });

  it("describes rule keys editors should complete", () => {
    const schema = JSON.parse(policyJsonSchemaText());
    const rule = schema.properties.policies.items.properties.rules.items;
    expect(Object.keys(rule.properties)).toEqual(
      expect.arrayContaining([
        "requests_per_minute",
        "monthly_budget",
        "action",
        "allowed_hours",
        "when",
        "per",
      ]),
    );
    expect(rule.additionalProperties).toBe(false);
  });
});
