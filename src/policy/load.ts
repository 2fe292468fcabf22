/**
 * Finding, reading and validating `hexarch.yaml`.
 *
 * @module
 */

import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { PolicyFileError } from "../kernel/errors.ts";
import { nearest } from "../util/suggest.ts";
import { normalizePolicyFile } from "./normalize.ts";
import { rememberPolicyOrigins } from "./policy-text.ts";
import { policySchemas, type RawPolicyFile } from "./schema.ts";
import type { PolicySet } from "./types.ts";
import { readYamlSource } from "./yaml-source.ts";
import { reportZodIssue } from "./zod-issues.ts";

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
  const { data, issues } = readYamlSource(input, source, "a 'policies:' list");
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

  const parsed = policySchemas().PolicyFileSchema.safeParse(data, { reportInput: true });
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
  rememberPolicyOrigins(set, input, top);
  return set;
}
