/**
 * Problems in a policy test file as positioned messages a person can act on: the key and
 * the value, what was expected, and the nearest known key for a typo.
 *
 * @module
 */

import type { z } from "zod";
import { describeValue } from "../../util/describe.ts";
import { nearest } from "../../util/suggest.ts";
import type { DocPath, IssueCollector } from "../issues.ts";
import { EXPECT_KEYS, expectedFor, STEP_KEYS, TEST_KEYS, TOP_KEYS } from "./schema.ts";

/** A value in words, a mapping as `a mapping`. */
function describe(value: unknown): string {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) return "a mapping";
  return describeValue(value);
}

/** The value at `path` in `root`, or `undefined`. */
function valueAt(root: unknown, path: DocPath): unknown {
  let v = root;
  for (const seg of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

/** The keys known where an unknown key was found, and what to call that place. */
function section(path: DocPath): { known: readonly string[]; where: string } {
  const last = path[path.length - 1];
  if (path.length === 0) return { known: TOP_KEYS, where: "the test file" };
  if (last === "expect") return { known: EXPECT_KEYS, where: "'expect'" };
  if (path.length === 4 && path[2] === "steps") return { known: STEP_KEYS, where: "a step" };
  if (path.length === 2 && path[0] === "tests") return { known: TEST_KEYS, where: "a test" };
  return { known: [], where: "this section" };
}

/** A zod type name in words: `a whole number`, `a list`… */
function typeName(expected: string): string {
  switch (expected) {
    case "int":
      return "a whole number";
    case "array":
      return "a list";
    case "object":
    case "record":
      return "a mapping";
    case "boolean":
      return "true or false";
    default:
      return `a ${expected}`;
  }
}

/** Turns one zod issue (with `path` from the document's root) into a positioned message. */
function report(issue: z.core.$ZodIssue, path: DocPath, root: unknown, out: IssueCollector): void {
  const last = path[path.length - 1];
  const parent = path[path.length - 2];
  const key =
    typeof last === "string"
      ? last
      : typeof parent === "string"
        ? `${parent}[${String(last)}]`
        : String(last ?? "");
  const input = valueAt(root, path);
  const got = `got ${describe(input)}`;
  switch (issue.code) {
    case "unrecognized_keys": {
      const { known, where } = section(path);
      for (const k of issue.keys) {
        const hint = nearest(k, known);
        const moved =
          !hint && where === "a test" && STEP_KEYS.includes(k)
            ? " (it belongs in a step, under 'steps:')"
            : "";
        const suggestion = hint ? ` — did you mean '${hint}'?` : "";
        out.add([...path, k], `unknown key '${k}' in ${where}${suggestion}${moved}`, "key");
      }
      return;
    }
    case "invalid_type":
      if (input === undefined) out.add(path.slice(0, -1), `missing required key '${key}'`);
      else
        out.add(path, `'${key}' expected ${expectedFor(key) ?? typeName(issue.expected)}, ${got}`);
      return;
    case "invalid_value": {
      const values = issue.values.map(String);
      const hint = typeof input === "string" ? nearest(input, values) : undefined;
      out.add(
        path,
        `'${key}' expected one of ${values.join(", ")}, ${got}${hint ? ` — did you mean '${hint}'?` : ""}`,
      );
      return;
    }
    case "invalid_union": {
      // Report the branch that matches the value's type (a string, a list, a mapping).
      const isObject = input !== null && typeof input === "object";
      const branch = issue.errors.find(
        (errs) =>
          !errs.some(
            (e) =>
              e.path.length === 0 &&
              (e.code === "invalid_type" || (e.code === "invalid_value" && isObject)),
          ),
      );
      if (branch) {
        for (const e of branch) report(e, [...path, ...propertyPath(e.path)], root, out);
      } else {
        out.add(path, `'${key}' expected ${expectedFor(key) ?? "a different shape"}, ${got}`);
      }
      return;
    }
    case "too_small":
    case "too_big": {
      if (issue.code === "too_small" && issue.origin === "array") {
        out.add(path, `'${key}' is empty; expected at least ${String(issue.minimum)} item(s)`);
        return;
      }
      const what =
        issue.origin === "string"
          ? "a non-empty string"
          : (expectedFor(key) ?? "a number in range");
      out.add(path, `'${key}' expected ${what}, ${got}`);
      return;
    }
    case "custom":
      out.add(path, `'${key}' expected ${issue.message}, ${got}`);
      return;
    default:
      out.add(path, `'${key}': ${issue.message}`);
  }
}

/** A zod path without symbol keys. */
function propertyPath(path: readonly PropertyKey[]): (string | number)[] {
  return path.filter((p): p is string | number => typeof p !== "symbol");
}

/** Reports every issue of a failed parse, `base` being where the parsed value sits. */
export function reportAll(
  error: z.ZodError,
  base: DocPath,
  root: unknown,
  out: IssueCollector,
): void {
  for (const issue of error.issues)
    report(issue, [...base, ...propertyPath(issue.path)], root, out);
}
