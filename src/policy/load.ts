/**
 * Finding, reading and validating `hexarch.yaml`.
 *
 * @module
 */

import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import { PolicyFileError } from "../errors.ts";
import { type DocPath, IssueCollector } from "./issues.ts";
import { normalizePolicyFile } from "./normalize.ts";
import {
  DAY_WORDS,
  PolicyFileSchema,
  PolicySchema,
  type RawPolicyFile,
  RuleSchema,
} from "./schema.ts";
import { nearest } from "./suggest.ts";
import type { PolicySet } from "./types.ts";

/** File names looked for in each directory, in order. */
export const POLICY_FILE_NAMES = [
  "hexarch.yaml",
  "hexarch.yml",
  ".hexarch.yaml",
  ".hexarch.yml",
] as const;

/** Options for finding a policy file. */
export interface DiscoverOptions {
  /**
   * Directory the upward search starts from.
   * @default process.cwd()
   */
  readonly cwd?: string;
  /**
   * Environment to read `HEXARCH_POLICY_FILE` from.
   * @default process.env
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Finds the policy file: `explicit` if given, else `HEXARCH_POLICY_FILE`, else the first
 * `hexarch.yaml`, `hexarch.yml`, `.hexarch.yaml` or `.hexarch.yml` walking up from `cwd`.
 *
 * @throws PolicyFileError listing every place it looked.
 */
export function discoverPolicyFile(explicit?: string, options: DiscoverOptions = {}): string {
  const cwd = options.cwd ?? process.cwd();
  if (explicit !== undefined) {
    const path = resolve(cwd, explicit);
    if (isFile(path)) return path;
    throw new PolicyFileError(`policy file not found: ${path} (given as policyFile)`);
  }
  const fromEnv = (options.env ?? process.env).HEXARCH_POLICY_FILE;
  if (fromEnv) {
    const path = resolve(cwd, fromEnv);
    if (isFile(path)) return path;
    throw new PolicyFileError(`policy file not found: ${path} (from HEXARCH_POLICY_FILE)`);
  }
  const looked: string[] = [];
  let dir = resolve(cwd);
  for (;;) {
    for (const name of POLICY_FILE_NAMES) {
      const path = join(dir, name);
      looked.push(path);
      if (isFile(path)) return path;
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new PolicyFileError(
    `no policy file found. Create hexarch.yaml (hexarch-ctl init writes a starter), set HEXARCH_POLICY_FILE, or pass policyFile. Looked in:\n${looked
      .map((p) => `  ${p}`)
      .join("\n")}`,
  );
}

function isFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

/**
 * Loads and validates a policy file (see {@link discoverPolicyFile} for how it is found).
 *
 * @example
 * ```ts
 * const set = loadPolicyFile("./hexarch.yaml");
 * set.policies.map((p) => p.id); // ["api_budget", "rate_limit", "safe_delete"]
 * ```
 * @throws PolicyFileError naming file, line and column of every problem.
 */
export function loadPolicyFile(path?: string, options: DiscoverOptions = {}): PolicySet {
  const file = discoverPolicyFile(path, options);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new PolicyFileError(`cannot read policy file ${file}: ${(err as Error).message}`, [], {
      cause: err,
    });
  }
  return parsePolicies(text, { source: file });
}

/** Options of {@link parsePolicies}. */
export interface ParsePoliciesOptions {
  /**
   * Name used in error messages and {@link PolicySet.source}.
   * @default "<inline>"
   */
  readonly source?: string;
}

/**
 * Validates policies given as YAML (or JSON) text or as an already-parsed object.
 *
 * @example
 * ```ts
 * const set = parsePolicies(`
 * policies:
 *   - id: safe_delete
 *     rules:
 *       - operation: delete
 *         action: require_confirmation
 * `);
 * ```
 * @throws PolicyFileError naming line and column (for text) of every problem.
 */
export function parsePolicies(
  input: string | object,
  options: ParsePoliciesOptions = {},
): PolicySet {
  const source = options.source ?? "<inline>";
  let data: unknown = input;
  let issues: IssueCollector;
  if (typeof input === "string") {
    const lines = new LineCounter();
    // `merge: true` reads `<<: *defaults` merge keys, as PyYAML does for the Python package.
    const doc = parseDocument(input, {
      lineCounter: lines,
      prettyErrors: false,
      uniqueKeys: true,
      merge: true,
    });
    issues = new IssueCollector(source, doc, lines);
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const pos = lines.linePos(e.pos[0]);
        // The error points at the key's first character; the key runs to the colon.
        const key = /^["']?([^"':\n]+)/.exec(input.slice(e.pos[0], e.pos[0] + 200))?.[1]?.trim();
        const message =
          e.code === "DUPLICATE_KEY" && key
            ? `invalid YAML: duplicate key '${key}' (map keys must be unique)`
            : `invalid YAML: ${e.message.split("\n")[0]}`;
        issues.issues.push({ file: source, line: pos.line, column: pos.col, path: "", message });
      }
      issues.throwIfAny();
    }
    try {
      data = doc.toJS({ maxAliasCount: 10_000 });
    } catch (err) {
      throw PolicyFileError.fromIssues([
        {
          file: source,
          line: 1,
          column: 1,
          path: "",
          message: `invalid YAML: ${(err as Error).message}`,
        },
      ]);
    }
    if (isCyclic(data)) {
      throw PolicyFileError.fromIssues([
        {
          file: source,
          line: 1,
          column: 1,
          path: "",
          message: "invalid YAML: an alias refers to a node that contains it",
        },
      ]);
    }
  } else {
    issues = new IssueCollector(source);
  }
  if (data === null || data === undefined) {
    const line = typeof input === "string" ? 1 : 0;
    throw PolicyFileError.fromIssues([
      {
        file: source,
        line,
        column: line,
        path: "",
        message: "the file is empty; expected a 'policies:' list",
      },
    ]);
  }
  if (typeof data !== "object" || Array.isArray(data)) {
    issues.add([], "expected a mapping with a 'policies:' list at the top level");
    issues.throwIfAny();
  }
  const top = data as Record<string, unknown>;
  if (!("policies" in top)) {
    const hint = nearest(
      "policies",
      Object.keys(top).filter((k) => nearest(k, ["policies"]) !== undefined),
    );
    const message = `missing the 'policies:' list${hint ? ` (found '${hint}' — did you mean 'policies'?)` : ""}`;
    if (hint) issues.add([hint], message, "key", "");
    else issues.add([], message);
    issues.throwIfAny();
  }

  const parsed = PolicyFileSchema.safeParse(data, { reportInput: true });
  const skip = new Set<string>();
  let skipAll = false;
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
      if (path.includes("when")) continue; // conditions get their own, more precise messages
      reportZodIssue(issue, path, top, issues);
      // Problems in other top-level sections do not stop the policies from being checked.
      if ((path[0] === "policies" && path.length < 2) || path[0] === "timezone") skipAll = true;
      else if (path[0] !== "policies") continue;
      else if (path[2] === "rules" && path.length >= 4)
        skip.add(`policies.${path[1]}.rules.${path[3]}`);
      else skip.add(`policies.${path[1]}`);
    }
  }
  if (skipAll) issues.throwIfAny();
  const set = normalizePolicyFile(top as RawPolicyFile, source, issues, skip);
  issues.throwIfAny();
  return set;
}

/** True when a parsed document refers to itself through an alias. */
function isCyclic(root: unknown): boolean {
  const onPath = new Set<object>();
  const visit = (v: unknown): boolean => {
    if (v === null || typeof v !== "object") return false;
    if (onPath.has(v)) return true;
    onPath.add(v);
    const children = Array.isArray(v) ? v : Object.values(v);
    const found = children.some(visit);
    onPath.delete(v);
    return found;
  };
  return visit(root);
}

const RULE_KEYS = Object.keys(RuleSchema.shape);
const POLICY_KEYS = Object.keys(PolicySchema.shape);

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

function reportZodIssue(
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
      const known = isRule ? RULE_KEYS : isPolicy ? POLICY_KEYS : [];
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
          !hint && isPolicy && RULE_KEYS.includes(k)
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
