/**
 * Collects policy-file problems with their line and column, found by walking the YAML
 * document along the problem's path.
 *
 * @module
 */

import type { Document, LineCounter, Node } from "yaml";
import { PolicyFileError, type PolicyFileIssue } from "../kernel/errors.ts";
import { loadYaml } from "../util/lazy-module.ts";
import { type FastYaml, unpackPosition } from "./fast-yaml.ts";

/** A path into the document: keys and list indexes. */
export type DocPath = readonly (string | number)[];

/** Formats a path as `policies[1].rules[0].action`. */
export function formatPath(path: DocPath): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out ? `.${seg}` : seg;
  }
  return out;
}

/** Gathers issues for one source; throws them all at once with {@link IssueCollector.throwIfAny}. */
export class IssueCollector {
  readonly file: string;
  #doc: Document | undefined;
  #lines: LineCounter | undefined;
  /** For text read by the fast reader: its collections' starts, and how to build `#doc`. */
  #fast: { readonly read: FastYaml; readonly full: () => [Document, LineCounter] } | undefined;
  readonly issues: PolicyFileIssue[] = [];

  constructor(file: string, doc?: Document, lines?: LineCounter) {
    this.file = file;
    this.#doc = doc;
    this.#lines = lines;
  }

  /**
   * A collector for text the fast reader read: collections are placed from its table and
   * anything else (keys, scalars, missing entries) from the full `yaml` document, built on
   * first need, so a valid file is never parsed twice.
   */
  static lazy(file: string, read: FastYaml, full: () => [Document, LineCounter]): IssueCollector {
    const out = new IssueCollector(file);
    out.#fast = { read, full };
    return out;
  }

  /**
   * Records a problem. `at: "key"` points at the last path segment's key (for unknown or
   * misplaced keys); the default points at the value.
   */
  add(
    path: DocPath,
    message: string,
    at: "key" | "value" = "value",
    shownPath = formatPath(path),
  ): void {
    const { line, column } = this.position(path, at);
    this.issues.push({ file: this.file, line, column, path: shownPath, message });
  }

  /** Line and column (1-based) of a path; 0/0 when there is no document to look in. */
  position(path: DocPath, at: "key" | "value" = "value"): { line: number; column: number } {
    const fast = this.#fast;
    if (fast && !this.#doc) {
      const packed = at === "value" ? fastStart(fast.read, path) : undefined;
      if (packed !== undefined) return unpackPosition(packed);
      [this.#doc, this.#lines] = fast.full();
    }
    const doc = this.#doc;
    const lines = this.#lines;
    if (!doc || !lines) return { line: 0, column: 0 };
    // A document exists, so `yaml` is loaded already.
    const { isMap, isScalar, isSeq } = loadYaml();
    let node: unknown = doc.contents;
    let offset = (doc.contents as Node | null)?.range?.[0] ?? 0;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i];
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && p.key.value === seg);
        if (!pair) break;
        const keyNode = pair.key as Node;
        if (last && at === "key") {
          offset = keyNode.range?.[0] ?? offset;
          break;
        }
        node = pair.value;
        offset = (pair.value as Node | null)?.range?.[0] ?? keyNode.range?.[0] ?? offset;
      } else if (isSeq(node) && typeof seg === "number") {
        node = node.items[seg];
        if (node === undefined) break;
        offset = (node as Node).range?.[0] ?? offset;
      } else {
        break;
      }
    }
    const pos = lines.linePos(offset);
    return { line: pos.line, column: pos.col };
  }

  /** Throws a {@link PolicyFileError} listing every issue, sorted by position. */
  throwIfAny(): void {
    if (this.issues.length === 0) return;
    const sorted = [...this.issues].sort((a, b) => a.line - b.line || a.column - b.column);
    throw PolicyFileError.fromIssues(sorted);
  }
}

/** Where the collection at `path` starts, when the fast reader recorded it. */
function fastStart(read: FastYaml, path: DocPath): number | undefined {
  let node: unknown = read.data;
  for (const seg of path) {
    if (node === null || typeof node !== "object") return undefined;
    if (Array.isArray(node) ? typeof seg !== "number" : !Object.hasOwn(node, seg)) return undefined;
    node = (node as Record<string | number, unknown>)[seg];
  }
  return node !== null && typeof node === "object" ? read.starts.get(node) : undefined;
}
