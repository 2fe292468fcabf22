/**
 * The plain-text report of a diff, as `hexarch-ctl policy diff` prints it.
 *
 * @module
 */

import { plural } from "./render.ts";
import type { ChangeEffect, PolicyChange } from "./types.ts";

/**
 * Renders changes as a plain-text report: one heading per policy (`(file)` for top-level
 * settings), one indented line per change, then a summary line such as
 * `3 changes: 1 loosened, 2 tightened`; `no semantic changes` when there are none. No
 * colours, no trailing newline.
 *
 * @example
 * ```
 * rate_limit:
 *   rules[0]: requests_per_minute raised from 100 to 200 (loosened)
 * 1 change: 1 loosened
 * ```
 */
export function formatChanges(changes: readonly PolicyChange[]): string {
  if (changes.length === 0) return "no semantic changes";
  const lines: string[] = [];
  let current: string | undefined;
  for (const c of changes) {
    if (c.policyId !== current) {
      current = c.policyId;
      lines.push(c.policyId === "" ? "(file):" : `${c.policyId}:`);
    }
    let text = c.message;
    for (const prefix of [`${c.policyId}: `, `${c.policyId} `]) {
      if (c.policyId !== "" && text.startsWith(prefix)) {
        text = text.slice(prefix.length);
        break;
      }
    }
    lines.push(`  ${text}`);
  }
  const count = (e: ChangeEffect) => changes.filter((c) => c.effect === e).length;
  const parts = (["loosened", "tightened", "changed"] as const)
    .filter((e) => count(e) > 0)
    .map((e) => `${count(e)} ${e}`);
  lines.push(`${plural(changes.length, "change")}: ${parts.join(", ")}`);
  return lines.join("\n");
}
