/**
 * The text a loaded policy was written as: its entry of the file's `policies:` list,
 * sliced from the file (comments and layout kept), for consoles and `GET /policies`.
 *
 * Loading only remembers where each policy came from (one weak-map entry per policy); the
 * file is parsed again for positions when a policy's text is first asked for.
 *
 * @module
 */

import { loadYaml } from "../util/lazy-module.ts";
import type { Policy, PolicySet } from "./types.ts";
import { YAML_PARSE_OPTIONS } from "./yaml-source.ts";

/** Where one policy came from: the input it was loaded from and its index in `policies:`. */
interface Origin {
  readonly input: string | object;
  readonly index: number;
  text?: string | undefined;
}

const origins = new WeakMap<Policy, Origin>();

/**
 * Remembers, for each policy of `set`, the input it was loaded from (called by
 * `parsePolicies`). A policy is found in the input's `policies:` list by its `id`.
 *
 * @internal
 */
export function rememberPolicyOrigins(set: PolicySet, input: string | object, raw: unknown): void {
  const list = (raw as { policies?: unknown } | null)?.policies;
  const ids = Array.isArray(list)
    ? list.map((p) =>
        p !== null && typeof p === "object" ? (p as { id?: unknown }).id : undefined,
      )
    : [];
  set.policies.forEach((policy, i) => {
    const index = ids.indexOf(policy.id);
    origins.set(policy, { input, index: index === -1 ? i : index });
  });
}

/**
 * The policy's entry in the file it was loaded from, as written (a `- id: …` list item,
 * dedented), or for policies given as an object that object as YAML. `undefined` for a
 * policy not loaded by `parsePolicies`/`loadPolicyFile` (built in code).
 *
 * @example
 * ```ts
 * const set = loadPolicyFile("hexarch.yaml");
 * console.log(policyText(set.policies[0]!));
 * ```
 */
export function policyText(policy: Policy): string | undefined {
  const origin = origins.get(policy);
  if (origin === undefined) return undefined;
  origin.text ??= sliceText(origin);
  return origin.text;
}

function sliceText(origin: Origin): string | undefined {
  const yaml = loadYaml();
  if (typeof origin.input !== "string") {
    const list = (origin.input as { policies?: unknown }).policies;
    const entry = Array.isArray(list) ? list[origin.index] : undefined;
    return entry === undefined ? undefined : yaml.stringify([entry]).trimEnd();
  }
  const text = origin.input;
  const doc = yaml.parseDocument(text, YAML_PARSE_OPTIONS);
  const policies = doc.get("policies", true);
  if (!yaml.isSeq(policies)) return undefined;
  const node = policies.items[origin.index];
  if (!yaml.isNode(node) || node.range === undefined || node.range === null) return undefined;
  const [start, , end] = node.range;
  // A block list item: from the start of its line (its `- ` included) to the node's end;
  // an item of a flow list (`[{…}, {…}]`, JSON): the node alone.
  const lineStart = text.lastIndexOf("\n", start - 1) + 1;
  const block = /^[ \t]*-[ \t]+$/.test(text.slice(lineStart, start));
  const lines = text
    .slice(block ? lineStart : start, end)
    .trimEnd()
    .split("\n");
  const indent = Math.min(
    ...lines
      .filter((l) => l.trim() !== "")
      .map((l) => (/^ */.exec(l) as RegExpExecArray)[0].length),
  );
  return lines
    .map((l) => l.slice(Math.min(indent, (/^ */.exec(l) as RegExpExecArray)[0].length)))
    .join("\n");
}
