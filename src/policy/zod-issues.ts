/**
 * Turning zod's validation issues into policy-file messages a person can act on: the
 * key and the value, what was expected, and the nearest known word for a typo.
 *
 * @module
 */

import type { z } from "zod";
import { nearest } from "../util/suggest.ts";
import type { DocPath, IssueCollector } from "./issues.ts";
import { DAY_WORDS, policySchemas } from "./schema.ts";

/** The keys a rule and a policy take. */
function knownKeys(): { readonly rule: string[]; readonly policy: string[] } {
  const { RuleSchema, PolicySchema } = policySchemas();
  return { rule: Object.keys(RuleSchema.shape), policy: Object.keys(PolicySchema.shape) };
}

/** Keys seen in files written for the Python package that this implementation does not enforce. */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  concurrent_limit: "concurrency limits are not supported; use requests_per_second",
  max_iterations: "iteration limits are not enforced by a guard; count them in your own loop",
  timeout_seconds: "timeouts are not enforced by a guard; set them on the call itself",
};

const ITEM_EXPECTED: Readonly<Record<string, string>> = {
  denied_windows: '"HH:MM-HH:MM", {days, hours} or {start, end}',
};

const EXPECTED: Readonly<Record<string, string>> = {
  resource: "a string or a list of strings",
  operation: "a string or a list of strings",
  resource_types: "a string or a list of strings",
  model: "a string or a list of strings",
  requires: "a string or a list of strings",
  allowed_users: "a user id, @role or @self, or a list of them",
  allowed_hours: '"HH:MM-HH:MM" (24-hour clock) or a list of them',
  forbidden_hours: '"HH:MM-HH:MM" (24-hour clock) or a list of them',
  allowed_days: "a day name (monday, mon, weekdays, weekends) or a list of them",
  forbidden_days: "a day name (monday, mon, weekdays, weekends) or a list of them",
  days: "a day name (monday, mon, weekdays, weekends) or a list of them",
  hours: '"HH:MM-HH:MM" (24-hour clock)',
  denied_windows: 'a list of "HH:MM-HH:MM", {days, hours} or {start, end}',
  action:
    "one of allow, warn, block, require_confirmation, warn_at_N% (warn from N% of the limit, block past it) or block_at_N%",
};

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") return `"${value.length > 40 ? `${value.slice(0, 40)}…` : value}"`;
  return `${typeof value} ${String(value)}`;
}

function valueAt(root: unknown, path: DocPath): unknown {
  let v = root;
  for (const seg of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

/**
 * Turns one zod issue, at `path` from the document's root, into a message in `issues`
 * positioned there: the key (`rules[0]` for an item of a list), what it expected and what
 * `root` has there, the nearest known key, action or day name for a typo, and a note when
 * a key belongs inside a rule or is not supported.
 */
export function reportZodIssue(
  issue: z.core.$ZodIssue,
  path: DocPath,
  root: unknown,
  issues: IssueCollector,
): void {
  const last = path[path.length - 1];
  const parent = path[path.length - 2];
  // Name the item, not the list: 'rules[0]' expected a mapping.
  const key =
    typeof last === "string"
      ? last
      : typeof parent === "string"
        ? `${parent}[${String(last)}]`
        : String(last ?? "");
  const listKey = typeof last === "number" && typeof parent === "string" ? parent : key;
  const lookup = (k: string) => (Object.hasOwn(EXPECTED, k) ? EXPECTED[k] : undefined);
  const expected = (fallback: string): string => {
    const text = lookup(listKey) ?? lookup(key) ?? fallback;
    // For one item of a list, say what one item should be.
    if (typeof last !== "number") return text;
    return ITEM_EXPECTED[listKey] ?? text.replace(/ or a list of them$/, "");
  };
  const input = valueAt(root, path);
  const inRule = path.length >= 4 && path[0] === "policies" && path[2] === "rules";
  switch (issue.code) {
    case "unrecognized_keys": {
      const isRule = path.length === 4 && path[2] === "rules";
      const isPolicy = path.length === 2 && path[0] === "policies";
      const keys = knownKeys();
      const known = isRule ? keys.rule : isPolicy ? keys.policy : [];
      const where = isRule ? "rule" : isPolicy ? "policy" : "this section";
      for (const k of issue.keys) {
        const why = Object.hasOwn(UNSUPPORTED, k) ? UNSUPPORTED[k] : undefined;
        if (why) {
          issues.add([...path, k], `'${k}' is not supported: ${why}`, "key");
          continue;
        }
        const hint = nearest(k, known);
        const suggestion = hint ? ` — did you mean '${hint}'?` : "";
        const moved =
          !hint && isPolicy && keys.rule.includes(k)
            ? " (it belongs inside a rule, under 'rules:')"
            : "";
        issues.add([...path, k], `unknown key '${k}' in ${where}${suggestion}${moved}`, "key");
      }
      return;
    }
    case "invalid_type":
      if (input === undefined) {
        issues.add(path.slice(0, -1), `missing required key '${key}'`);
      } else {
        const typeName =
          issue.expected === "int"
            ? "a whole number"
            : issue.expected === "array"
              ? "a list"
              : issue.expected === "object"
                ? "a mapping"
                : `a ${issue.expected}`;
        const finite =
          typeof input === "number" && !Number.isFinite(input) ? "a finite number" : undefined;
        issues.add(
          path,
          `'${key}' expected ${finite ?? lookup(key) ?? typeName}, got ${describe(input)}`,
        );
      }
      return;
    case "invalid_format":
      if (key === "action") {
        const text = String(input).trim().replace(/\s+/g, "_");
        const pct = /^(\w+?)_?at_?(\d+(?:\.\d+)?)(%?)$/.exec(text);
        const word = pct ? nearest(pct[1] as string, ["warn", "block"]) : undefined;
        const fix = pct
          ? word && `${word}_at_${pct[2]}%`
          : text === "queue"
            ? undefined
            : nearest(text, [
                "allow",
                "warn",
                "block",
                "require_confirmation",
                "deny",
                "require_approval",
              ]);
        const why =
          text === "queue" ? " (queueing is not supported: block and retry, or warn)" : "";
        issues.add(
          path,
          `invalid action ${describe(input)}${why}; expected ${EXPECTED.action}${fix ? ` — did you mean '${fix}'?` : ""}`,
        );
      } else {
        issues.add(
          path,
          `'${key}' expected ${expected("a different format")}, got ${describe(input)}`,
        );
      }
      return;
    case "invalid_union":
      issues.add(
        path,
        `'${key}' expected ${expected("a different shape")}, got ${describe(input)}`,
      );
      return;
    case "invalid_value": {
      const values = issue.values.map(String);
      const hint = typeof input === "string" ? nearest(input, values) : undefined;
      issues.add(
        path,
        `'${key}' expected one of ${values.join(", ")}, got ${describe(input)}${hint ? ` — did you mean '${hint}'?` : ""}`,
      );
      return;
    }
    case "too_small":
    case "too_big": {
      const bound = issue.code === "too_small" ? issue.minimum : issue.maximum;
      const what =
        issue.origin === "array"
          ? `a list with ${issue.code === "too_small" ? "at least" : "at most"} ${bound} item(s)`
          : issue.origin === "string"
            ? "a non-empty string"
            : `a number ${issue.code === "too_small" ? (issue.inclusive ? "≥" : ">") : issue.inclusive ? "≤" : "<"} ${bound}`;
      issues.add(path, `'${key}' expected ${what}, got ${describe(input)}`);
      return;
    }
    case "not_multiple_of":
      issues.add(path, `'${key}' expected a whole number, got ${describe(input)}`);
      return;
    case "custom": {
      const hint = typeof input === "string" ? nearest(input.toLowerCase(), DAY_WORDS) : undefined;
      issues.add(
        path,
        `'${key}' expected ${expected("a valid value")}, got ${describe(input)}${hint ? ` — did you mean '${hint}'?` : ""}`,
      );
      return;
    }
    default:
      issues.add(path, `${inRule ? "rule " : ""}'${key}': ${issue.message}`);
  }
}
