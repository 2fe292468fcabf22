/**
 * Reading a cases file for `hexarch-ctl eval run`: a steps file (the Python harness's
 * `{ name, steps: [{ id, type, request, expect }] }`, whose `authorize` bodies may be the
 * native `{ policyId, context }` or the Python `{ action, resource, context }`), or a
 * `tests:` file of `hexarch-ctl policy test`. Every problem is placed at its line and column.
 *
 * @module
 */

import type { DocPath, IssueCollector } from "../../policy/issues.ts";
import { parsePolicyTests } from "../../policy/test-cases/index.ts";
import { readYamlSource } from "../../policy/yaml-source.ts";
import { nearest } from "../../util/suggest.ts";
import { CliError } from "../errors.ts";
import {
  type EvalStep,
  type EvalSuite,
  type JsonObject,
  STEP_TYPES,
  type StepType,
} from "./types.ts";

/** The expectation keys that hold a regular expression (compare.ts reads the same ones). */
const PATTERN_KEYS = ["reason_pattern", "reasonPattern", "reason_matches"] as const;

const STEP_KEYS = ["id", "type", "request", "expect", "description"] as const;

const isObject = (v: unknown): v is JsonObject =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** The file's base name without its extension, for a suite without `name`. */
function baseName(source: string): string {
  const last = source.split(/[\\/]/).pop() ?? source;
  return last.replace(/\.(ya?ml|json)$/i, "");
}

/** Checks one step and records its problems. */
function readStep(
  raw: unknown,
  index: number,
  out: IssueCollector,
  seen: Set<string>,
): EvalStep | undefined {
  const path: DocPath = ["steps", index];
  if (!isObject(raw)) {
    out.add(path, "a step must be a mapping with 'id', 'type' and 'request'");
    return undefined;
  }
  let ok = true;
  for (const key of Object.keys(raw)) {
    if ((STEP_KEYS as readonly string[]).includes(key)) continue;
    const hint = nearest(key, STEP_KEYS);
    out.add(
      [...path, key],
      `unknown step key '${key}'${hint ? ` — did you mean '${hint}'?` : ""}`,
      "key",
    );
    ok = false;
  }
  const { id, type, request, expect } = raw;
  if (typeof id !== "string" || id === "") {
    out.add(path, "a step needs an 'id' (a non-empty string)");
    ok = false;
  } else if (seen.has(id)) {
    out.add([...path, "id"], `step id '${id}' is used twice`);
    ok = false;
  } else seen.add(id);
  if (typeof type !== "string" || !(STEP_TYPES as readonly string[]).includes(type)) {
    const shown = typeof type === "string" ? `'${type}'` : "missing";
    const hint = typeof type === "string" ? nearest(type, STEP_TYPES) : undefined;
    out.add(
      typeof type === "string" ? [...path, "type"] : path,
      `unknown step type ${shown}${hint ? ` — did you mean '${hint}'?` : ""} (known: ${STEP_TYPES.join(", ")})`,
    );
    ok = false;
  }
  if (request !== undefined && !isObject(request)) {
    out.add([...path, "request"], "'request' must be a mapping (the JSON body sent)");
    ok = false;
  }
  if (expect !== undefined && expect !== null && !isObject(expect)) {
    out.add([...path, "expect"], "'expect' must be a mapping of the answer's fields");
    ok = false;
  }
  if (isObject(expect)) {
    for (const key of PATTERN_KEYS) {
      const pattern = expect[key];
      if (typeof pattern !== "string") continue;
      try {
        new RegExp(pattern);
      } catch (err) {
        out.add(
          [...path, "expect", key],
          `step '${typeof id === "string" ? id : index}': '${key}' is not a valid regular expression (${(err as Error).message})`,
        );
        ok = false;
      }
    }
  }
  if (!ok) return undefined;
  return {
    id: id as string,
    type: type as StepType,
    request: (request as JsonObject | undefined) ?? {},
    ...(isObject(expect) && { expect }),
    index,
  };
}

/**
 * Reads a cases file's text. `source` names it in messages.
 *
 * @throws PolicyFileError listing every problem (`file:line:col: message (at steps[2].type)`).
 */
export function readEvalSuite(text: string, source: string): EvalSuite {
  const { data, issues } = readYamlSource(text, source, "a 'steps:' or 'tests:' list");
  if (isObject(data) && "tests" in data) {
    const file = parsePolicyTests(text, { source });
    return { kind: "tests", name: baseName(source), source, file };
  }
  const top: JsonObject | undefined = Array.isArray(data)
    ? { steps: data }
    : isObject(data)
      ? data
      : undefined;
  if (!top || !Array.isArray(top.steps)) {
    issues.add(
      [],
      "expected a mapping with a 'steps:' list (cases of the Python harness) or a 'tests:' list (policy test cases)",
    );
    issues.throwIfAny();
    throw new CliError("unreachable");
  }
  for (const key of Object.keys(top)) {
    if (key !== "steps" && key !== "name" && key !== "description") {
      issues.add(
        [key],
        `unknown top-level key '${key}' (expected name, description, steps)`,
        "key",
      );
    }
  }
  if (top.name !== undefined && typeof top.name !== "string")
    issues.add(["name"], "'name' must be a string");
  if (top.steps.length === 0) issues.add(["steps"], "'steps' is empty: there is nothing to run");
  const seen = new Set<string>();
  const steps = top.steps.map((s, i) => readStep(s, i, issues, seen));
  issues.throwIfAny();
  return {
    kind: "steps",
    name: typeof top.name === "string" ? top.name : baseName(source),
    source,
    steps: steps as EvalStep[],
  };
}
