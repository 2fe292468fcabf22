/**
 * Matchers fail closed, written as the attack: a context that dresses the value a rule
 * matches in another type must not step around the rule.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Guardian } from "../../src/index.ts";
// Internal: glob matching alone, including its worst cases.
import { compileGlob } from "../../src/policy/glob.ts";

/** The matcher glob.ts used before: a backtracking `RegExp`, the reference semantics. */
function regexGlob(pattern: string): (value: string) => boolean {
  const source = [...pattern]
    .map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\/]/g, "\\$&")))
    .join("");
  const re = new RegExp(`^${source}$`, "su");
  return (value) => re.test(value);
}

describe("the linear glob matcher", () => {
  // Small alphabets make matches likely; the astral character and newline test code points.
  const chars = ["a", "b", ".", "\n", "😀", "\ud800", "\\", "["];
  const text = fc.array(fc.constantFrom(...chars), { maxLength: 12 }).map((a) => a.join(""));
  const glob = fc
    .array(fc.constantFrom(...chars, "*", "?", "*"), { maxLength: 8 })
    .map((a) => a.join(""));

  it("agrees with the regular-expression semantics it replaces", () => {
    fc.assert(
      fc.property(glob, text, (pattern, value) => {
        expect(compileGlob(pattern)(value)).toBe(regexGlob(pattern)(value));
      }),
      { numRuns: 20_000 },
    );
  });

  it("agrees on values built from the pattern itself", () => {
    const fill = fc.array(fc.constantFrom(...chars), { maxLength: 3 }).map((a) => a.join(""));
    fc.assert(
      fc.property(glob, fc.array(fill, { maxLength: 9 }), (pattern, fills) => {
        // Replace each wildcard by some text: a value the pattern usually matches.
        let k = 0;
        const value = [...pattern]
          .map((c) =>
            c === "*" ? (fills[k++] ?? "") : c === "?" ? ((fills[k++] ?? "a")[0] ?? "a") : c,
          )
          .join("");
        expect(compileGlob(pattern)(value)).toBe(regexGlob(pattern)(value));
      }),
      { numRuns: 20_000 },
    );
  });

  it("keeps ? as one code point and matching case-sensitive", () => {
    expect(compileGlob("a?b")("a😀b")).toBe(true);
    expect(compileGlob("a??b")("a😀b")).toBe(false);
    expect(compileGlob("db.*")("DB.users")).toBe(false);
    expect(compileGlob("*")("")).toBe(true);
    expect(compileGlob("a*")("a\nb")).toBe(true);
  });
});

const POLICIES = `
policies:
  - id: guard
    rules:
      - operation: delete
        action: block
      - resource: "db.*"
        operation: [drop, truncate]
        action: block
      - model: "gpt-4*"
        allowed: false
      - feature: beta_export
        enabled: false
      - resource_types: [secret]
        action: block
`;

const guardian = () => new Guardian({ env: {}, policies: POLICIES, onWarn: () => {} });

describe("escaping a matcher with a value of another type", () => {
  const disguises: readonly [string, unknown][] = [
    ["a list", ["delete"]],
    ["an object", { op: "delete" }],
    ["a number", 7],
    ["a boolean", true],
  ];

  for (const [what, value] of disguises) {
    it(`does not escape operation: delete with ${what}`, async () => {
      const d = await guardian().evaluate("guard", { operation: value });
      expect(d.allowed).toBe(false);
      expect(d.matchedRules).toContain("guard/rules[0]");
    });

    it(`does not escape resource/operation globs, model, feature and resource_types with ${what}`, async () => {
      const g = guardian();
      const glob = await g.evaluate("guard", { resource: value, operation: "drop" });
      expect(glob.matchedRules).toContain("guard/rules[1]");
      const model = await g.evaluate("guard", { operation: "read", model: value });
      expect(model.matchedRules).toContain("guard/rules[2]");
      expect(model.allowed).toBe(false);
      const feature = await g.evaluate("guard", { operation: "read", feature: value });
      expect(feature.matchedRules).toContain("guard/rules[3]");
      const type = await g.evaluate("guard", { operation: "read", resourceType: value });
      expect(type.matchedRules).toContain("guard/rules[4]");
    });
  }

  it("lets a well-typed value that differs through, and a missing field match", async () => {
    const g = guardian();
    const read = await g.evaluate("guard", {
      operation: "read",
      resource: "cache",
      model: "claude",
      feature: "search",
      resourceType: "doc",
    });
    expect(read.allowed).toBe(true);
    expect(read.matchedRules).toEqual([]);
    expect((await g.evaluate("guard", {})).allowed).toBe(false);
  });

  it("matches exactly: case and surrounding spaces are part of the value (documented)", async () => {
    const g = guardian();
    expect((await g.evaluate("guard", { operation: "delete" })).allowed).toBe(false);
    for (const operation of ["DELETE", " delete ", "Delete"]) {
      const d = await g.evaluate("guard", { operation, resource: "x", model: "m", feature: "f" });
      expect(d.matchedRules).not.toContain("guard/rules[0]");
    }
  });
});
