/**
 * Rego text for values, references and regular expressions: the small pieces `toRego`
 * assembles. Everything here is deterministic and escapes what Rego would misread.
 *
 * @module
 */

import { defineErrorCode, GuardrailError } from "../kernel/errors.ts";
import { parseFieldPath } from "../policy/field-path.ts";

/**
 * A policy uses something Rego cannot express the same way (a regular expression with
 * lookahead, say). The message names the policy, the rule and the construct.
 */
export class RegoTranslationError extends GuardrailError {
  /** The policy being translated. */
  readonly policyId: string;
  /** The rule that could not be translated (`policy/rules[i]` or `policy/name`). */
  readonly ruleId: string | undefined;

  constructor(policyId: string, ruleId: string | undefined, message: string) {
    super(message);
    this.policyId = policyId;
    this.ruleId = ruleId;
  }
}

defineErrorCode(RegoTranslationError, "rego_translation_failed");

/** Words that cannot stand as a bare reference segment or package name part. */
const KEYWORDS = new Set([
  "as",
  "contains",
  "data",
  "default",
  "else",
  "every",
  "false",
  "if",
  "import",
  "in",
  "input",
  "not",
  "null",
  "package",
  "some",
  "true",
  "with",
]);

/** Whether a name can follow a dot in a reference. */
export const isIdentifier = (name: string): boolean =>
  /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !KEYWORDS.has(name);

/** A string literal (JSON's escapes are Rego's). */
export const regoString = (s: string): string => JSON.stringify(s);

/** A reference segment: `.name`, `["odd-name"]` or `[0]`. */
export const segment = (key: string | number): string =>
  typeof key === "number" ? `[${key}]` : isIdentifier(key) ? `.${key}` : `[${regoString(key)}]`;

/** A package path (`hexarch.safe_delete`, `hexarch["my-policy"]`). */
export function packagePath(parts: readonly string[]): string {
  const [first, ...rest] = parts;
  if (first === undefined || !isIdentifier(first)) {
    throw new GuardrailError(
      `a Rego package must start with a plain name, got '${String(first)}' (path ${parts.join("/")})`,
      { code: "rego_package_invalid" },
    );
  }
  return first + rest.map((p) => segment(p)).join("");
}

/** A reference into the input for a dotted field path with list indexes (`user.roles[0]`). */
export function inputRef(path: string): string {
  const parts = parseFieldPath(path);
  if (!parts)
    throw new GuardrailError(`malformed field path '${path}'`, { code: "field_path_malformed" });
  return `input${parts.map(segment).join("")}`;
}

/** The path array of a field path, for `object.get(input, [...], null)`. */
export function inputPathArray(path: string): string {
  const parts = parseFieldPath(path);
  if (!parts)
    throw new GuardrailError(`malformed field path '${path}'`, { code: "field_path_malformed" });
  return `[${parts.map((p) => (typeof p === "number" ? String(p) : regoString(p))).join(", ")}]`;
}

/**
 * A JSON-like value as a Rego term. Only what JSON can carry: `undefined`, functions,
 * non-finite numbers and the like are refused.
 */
export function regoValue(v: unknown): string {
  if (v === null) return "null";
  switch (typeof v) {
    case "string":
      return regoString(v);
    case "boolean":
      return String(v);
    case "number":
      if (!Number.isFinite(v))
        throw new GuardrailError(`${v} has no Rego equivalent`, { code: "rego_value_unsupported" });
      return JSON.stringify(v);
    case "object":
      if (Array.isArray(v)) return `[${v.map(regoValue).join(", ")}]`;
      return `{${Object.entries(v)
        .map(([k, x]) => `${regoString(k)}: ${regoValue(x)}`)
        .join(", ")}}`;
    default:
      throw new GuardrailError(`a ${typeof v} has no Rego equivalent`, {
        code: "rego_value_unsupported",
      });
  }
}

/** Escapes text for a `sprintf` format. */
export const formatText = (s: string): string => s.replaceAll("%", "%%");

/**
 * A glob (`*` any run of characters, `?` one character, everything else literal) for
 * `glob.match(pattern, null, value)`: the characters OPA's glob syntax would read
 * specially are escaped.
 */
export const globPattern = (glob: string): string => glob.replace(/[\\[\]{},]/g, "\\$&");

const hex = (n: number) => n.toString(16).toUpperCase();

/**
 * Rewrites a JavaScript regular expression (as `matches` conditions use it, `u` flag) for
 * OPA's RE2, or explains why it cannot be.
 *
 * @returns the RE2 pattern, or `{ problem }` naming the construct RE2 lacks.
 */
export function re2Pattern(source: string): string | { readonly problem: string } {
  let out = "";
  let inClass = false;
  const chars = [...source];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    const next = chars[i + 1];
    if (c === "\\") {
      if (next === undefined) return { problem: "a trailing backslash" };
      i++;
      if (/[1-9]/.test(next)) return { problem: `the backreference \\${next}` };
      if (next === "0") return { problem: "the escape \\0" };
      if (next === "k" && chars[i + 1] === "<") return { problem: "a named backreference \\k<…>" };
      if (next === "b" && inClass) return { problem: "[\\b] (backspace in a class)" };
      if (next === "u") {
        const rest = chars.slice(i + 1).join("");
        const braced = /^\{([0-9A-Fa-f]{1,6})\}/.exec(rest);
        const four = /^([0-9A-Fa-f]{4})/.exec(rest);
        const m = braced ?? four;
        if (!m) return { problem: "a malformed \\u escape" };
        const code = Number.parseInt(m[1] as string, 16);
        if (!braced && code >= 0xd800 && code <= 0xdfff) {
          return { problem: "a \\u escape of a surrogate half (write the character itself)" };
        }
        out += `\\x{${hex(code)}}`;
        i += (m[0] as string).length;
        continue;
      }
      if (next === "c") {
        const letter = chars[i + 1];
        if (letter === undefined || !/[A-Za-z]/.test(letter))
          return { problem: "a malformed \\c escape" };
        out += `\\x{${hex(letter.toUpperCase().charCodeAt(0) - 64)}}`;
        i++;
        continue;
      }
      if (next === "p" || next === "P") {
        const rest = chars.slice(i + 1).join("");
        const m = /^\{([^}]*)\}/.exec(rest);
        if (!m) return { problem: `a malformed \\${next} escape` };
        const name = m[1] as string;
        const script = /^(?:Script|sc|Script_Extensions|scx)=([A-Za-z_]+)$/.exec(name);
        const category = /^(?:General_Category|gc)=([A-Z][a-z]?)$/.exec(name);
        const short = /^[A-Z][a-z]?$/.test(name) ? name : undefined;
        const re2 = script?.[1] ?? category?.[1] ?? short;
        if (re2 === undefined || (script && name.startsWith("Script_Extensions"))) {
          return { problem: `the property escape \\${next}{${name}}` };
        }
        out += `\\${next}{${re2}}`;
        i += (m[0] as string).length;
        continue;
      }
      out += `\\${next}`;
      continue;
    }
    if (inClass) {
      if (c === "]") inClass = false;
      else if (c === "[" && next === ":") return { problem: "'[:' inside a character class" };
      out += c;
      continue;
    }
    if (c === "[") {
      if (next === "]") return { problem: "the empty class []" };
      if (next === "^" && chars[i + 2] === "]") return { problem: "the class [^]" };
      inClass = true;
      out += c;
      continue;
    }
    if (c === "(" && next === "?") {
      const a = chars[i + 2];
      const b = chars[i + 3];
      if (a === "=" || a === "!") return { problem: "lookahead (?= or (?!" };
      if (a === "<" && (b === "=" || b === "!")) return { problem: "lookbehind (?<= or (?<!" };
    }
    if (c === "{") {
      const m = /^\{(\d+)(?:,(\d*))?\}/.exec(chars.slice(i).join(""));
      if (m && (Number(m[1]) > 1000 || Number(m[2] || 0) > 1000)) {
        return { problem: `the repetition ${m[0]} (RE2 allows at most 1000)` };
      }
    }
    out += c;
  }
  return out;
}
