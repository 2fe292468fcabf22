import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { OPERATOR_ALIASES, OPERATORS, parsePolicies } from "../../src/index.ts";
// Internal: the generator of the editor's JSON Schema, compared with the file it writes.
import {
  editorJsonSchema,
  type JsonSchema,
  policyJsonSchemaText,
} from "../../src/policy/json-schema.ts";

const schema = editorJsonSchema();
const policy = (schema.properties as JsonSchema).policies as JsonSchema;
const policyProps = (policy.items as JsonSchema).properties as Record<string, JsonSchema>;
const rule = (policyProps.rules as JsonSchema).items as JsonSchema;
const ruleProps = rule.properties as Record<string, JsonSchema>;
const defs = schema.$defs as Record<string, JsonSchema>;

/** The values a choice lists for completion (its first alternative's enum). */
const listedBy = (node: JsonSchema | undefined): string[] =>
  (((node?.anyOf ?? []) as JsonSchema[])[0]?.enum ?? []) as string[];

/** Every key an editor shows (`properties` entries, not the `if`/`then` selectors), with its path. */
function allProperties(): [string, JsonSchema][] {
  const found: [string, JsonSchema][] = [];
  const walk = (node: unknown, path: string): void => {
    if (Array.isArray(node)) {
      for (const [i, n] of node.entries()) walk(n, `${path}[${i}]`);
      return;
    }
    if (node === null || typeof node !== "object") return;
    for (const [k, v] of Object.entries(node)) {
      if (k === "if" || k === "then") continue;
      if (k === "properties" && v && typeof v === "object" && !Array.isArray(v)) {
        for (const [name, sub] of Object.entries(v)) {
          found.push([`${path}.${name}`, sub as JsonSchema]);
          walk(sub, `${path}.${name}`);
        }
      } else {
        walk(v, `${path}.${k}`);
      }
    }
  };
  walk(schema, "");
  return found;
}

/** Every node with a `pattern`, with its path. */
function patterned(): [string, JsonSchema][] {
  const found: [string, JsonSchema][] = [];
  const walk = (node: unknown, path: string, inIf: boolean): void => {
    if (Array.isArray(node)) {
      for (const [i, n] of node.entries()) walk(n, `${path}[${i}]`, inIf);
      return;
    }
    if (node === null || typeof node !== "object") return;
    const n = node as JsonSchema;
    // Patterns inside `if` only select a branch; they never produce a message.
    if (typeof n.pattern === "string" && !inIf) found.push([path, n]);
    for (const [k, v] of Object.entries(n)) walk(v, `${path}.${k}`, inIf || k === "if");
  };
  walk(schema, "", false);
  return found;
}

/** A file with one policy `p` holding one rule (YAML lines at rule indent). */
const oneRule = (...lines: string[]): string =>
  `policies:\n  - id: p\n    rules:\n      - ${lines.join("\n        ")}\n`;

describe("schema/hexarch.schema.json", () => {
  it("is generated from the current schema (run `npm run schema` if this fails)", () => {
    const checkedIn = readFileSync(
      new URL("../../schema/hexarch.schema.json", import.meta.url),
      "utf8",
    );
    expect(checkedIn).toBe(policyJsonSchemaText());
  });

  it("describes rule keys editors should complete, and refuses unknown ones", () => {
    expect(Object.keys(ruleProps)).toEqual(
      expect.arrayContaining([
        "requests_per_minute",
        "monthly_budget",
        "action",
        "allowed_hours",
        "when",
        "per",
        "requires_confirmation",
      ]),
    );
    expect(rule.additionalProperties).toBe(false);
  });

  it("writes every pattern so that Unicode-mode validators (Ajv's default) compile it", () => {
    const patterns: string[] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node !== null && typeof node === "object") {
        for (const [k, v] of Object.entries(node)) {
          if (k === "pattern" && typeof v === "string") patterns.push(v);
          else walk(v);
        }
      }
    };
    walk(schema);
    expect(patterns.length).toBeGreaterThan(5);
    for (const p of patterns) expect(() => new RegExp(p, "u"), p).not.toThrow();
  });

  it("describes every key", () => {
    const undescribed = allProperties()
      .filter(([, s]) => typeof s.description !== "string" || s.description.length < 8)
      .map(([path]) => path);
    expect(undescribed).toEqual([]);
  });

  it("gives every pattern a human message, so no raw regular expression reaches a user", () => {
    const list = patterned();
    expect(list.length).toBeGreaterThan(5);
    for (const [path, node] of list) {
      expect(node.patternErrorMessage, path).toEqual(expect.any(String));
      expect(node.patternErrorMessage as string, path).not.toMatch(/[\\^$]/);
    }
  });

  it("gives scalar keys a message naming the key and what it takes", () => {
    expect(ruleProps.requests_per_minute?.errorMessage).toBe(
      "requests_per_minute: expected a whole number greater than 0",
    );
    expect(ruleProps.monthly_budget?.errorMessage).toBe(
      "monthly_budget: expected a number greater than 0",
    );
    expect(ruleProps.alert_at_percentage?.errorMessage).toBe(
      "alert_at_percentage: expected a number greater than 0 and at most 100",
    );
    expect(ruleProps.requires_confirmation?.errorMessage).toBe(
      "requires_confirmation: expected true or false",
    );
  });

  it("lists the actions, and every action listed loads", () => {
    const listed = listedBy(ruleProps.action);
    expect(listed).toEqual(
      expect.arrayContaining([
        "block",
        "warn",
        "allow",
        "require_confirmation",
        "deny",
        "require_approval",
      ]),
    );
    for (const action of listed) {
      expect(
        () => parsePolicies(oneRule("operation: x", `action: ${action}`)),
        action,
      ).not.toThrow();
    }
  });

  it("lists every operator and alias, and every one listed loads", () => {
    const comparison = defs.Comparison?.properties as Record<string, JsonSchema>;
    for (const key of ["operator", "op"]) {
      const listed = listedBy(comparison[key]);
      expect(listed.sort()).toEqual([...OPERATORS, ...Object.keys(OPERATOR_ALIASES)].sort());
    }
    const listed = listedBy(comparison.operator);
    for (const op of listed) {
      const value = op.includes("between") ? "[1, 2]" : op.endsWith("in") ? "[1]" : "'1'";
      expect(
        () =>
          parsePolicies(
            oneRule("operation: x", `when: { field: a, operator: "${op}", value: ${value} }`),
          ),
        op,
      ).not.toThrow();
    }
  });

  it("states the defaults the loader applies", () => {
    const base = ["operation: x", "requests_per_minute: 5"];
    const load = (lines: string[]) => parsePolicies(oneRule(...lines)).policies[0];
    const without = load(base);
    for (const [key, s] of Object.entries(ruleProps)) {
      if (!("default" in s)) continue;
      const written = load([...base, `${key}: ${JSON.stringify(s.default)}`]);
      expect(written, `rule key ${key}`).toEqual(without);
    }
    for (const [key, s] of Object.entries(policyProps)) {
      if (!("default" in s)) continue;
      const text = `policies:\n  - id: p\n    ${key}: ${JSON.stringify(s.default)}\n    rules: []\n`;
      expect(parsePolicies(text).policies[0], `policy key ${key}`).toEqual(
        parsePolicies("policies:\n  - id: p\n    rules: []\n").policies[0],
      );
    }
    const top = schema.properties as Record<string, JsonSchema>;
    expect(top.timezone?.default).toBe("UTC");
    expect(parsePolicies("policies:\n  - id: p\n    rules: []\n").policies[0]?.timezone).toBe(
      "UTC",
    );
    expect(top.enforcement?.default).toBe("strict");
    expect(parsePolicies("enforcement: strict\npolicies: []\n").mode).toBe("enforce");
  });

  it("describes the shapes of a when: condition", () => {
    expect(ruleProps.when?.$ref).toBe("#/$defs/Condition");
    expect(defs.Condition?.then).toEqual({ minItems: 1, items: { $ref: "#/$defs/Condition" } });
    expect(Object.keys(defs.Comparison?.properties as object)).toEqual([
      "field",
      "operator",
      "op",
      "value",
    ]);
    for (const [name, key] of [
      ["AllOf", "all"],
      ["AnyOf", "any"],
      ["Not", "not"],
    ] as const) {
      expect(defs[name]?.required).toEqual([key]);
    }
  });
});
