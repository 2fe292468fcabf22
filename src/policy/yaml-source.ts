/**
 * Reading a YAML (or JSON) source into data, with every syntax problem placed at its line
 * and column: shared by policy files and policy test files.
 *
 * @module
 */

import type { Document, LineCounter } from "yaml";
import { loadYaml } from "../util/lazy-module.ts";
import { readFastYaml } from "./fast-yaml.ts";
import { IssueCollector } from "./issues.ts";

/** Parsed data and the collector that places later problems in the same text. */
export interface YamlSource {
  readonly data: unknown;
  readonly issues: IssueCollector;
}

/**
 * Parses `input` (text, or data already parsed) named `source` in messages. Merge keys
 * (`<<: *defaults`) are read, as PyYAML does; duplicate keys, syntax errors and aliases
 * that contain themselves are problems.
 *
 * @param expected what the top level should hold, for the message about an empty file
 *   (`a 'policies:' list`).
 * @throws PolicyFileError listing every problem found.
 */
export function readYamlSource(
  input: string | object,
  source: string,
  expected: string,
): YamlSource {
  if (typeof input !== "string") {
    return { data: input, issues: new IssueCollector(source) };
  }
  // Plain files (nearly all) take the fast reader; the full parser places problems later,
  // only if there are any. Anything else is read by `yaml` as before.
  const fast = readFastYaml(input);
  if (fast)
    return { data: fast.data, issues: IssueCollector.lazy(source, fast, () => parse(input)) };
  const [doc, lines] = parse(input);
  const issues = new IssueCollector(source, doc, lines);
  const fail = (message: string, line = 1, column = 1): never => {
    issues.issues.push({ file: source, line, column, path: "", message });
    return issues.throwIfAny() as never;
  };
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
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 10_000 });
  } catch (err) {
    fail(`invalid YAML: ${(err as Error).message}`);
  }
  if (isCyclic(data)) fail("invalid YAML: an alias refers to a node that contains it");
  if (data === null || data === undefined) fail(`the file is empty; expected ${expected}`);
  return { data, issues };
}

/** The options the full `yaml` parser reads policy files with (a line counter aside). */
export const YAML_PARSE_OPTIONS = { prettyErrors: false, uniqueKeys: true, merge: true } as const;

/** The full `yaml` document of `text`, with the line counter that places its nodes. */
function parse(text: string): [Document, LineCounter] {
  // `yaml` loads here, on first need: plain files are read by the fast reader without it.
  const { LineCounter, parseDocument } = loadYaml();
  const lines = new LineCounter();
  const doc = parseDocument(text, { ...YAML_PARSE_OPTIONS, lineCounter: lines });
  return [doc, lines];
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
