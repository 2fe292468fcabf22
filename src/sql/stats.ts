/**
 * The stats both SQL stores read from `hexarch_policy_counts`, shaped into the public
 * counts. Pure: each store runs its own SQL and hands the rows here.
 *
 * @module
 */

import type { PolicyCounts } from "../audit/types.ts";
import type { Row } from "./rows.ts";

/**
 * One policy's counts from its sums per outcome (rows of `decision`, `n`) and its most
 * frequent block reasons (rows of `reason`, `n`, in order). An outcome without a row is 0.
 */
export function policyCounts(sums: readonly Row[], reasons: readonly Row[]): PolicyCounts {
  const by = new Map<string, number>();
  for (const r of sums) by.set(String(r.decision), Number(r.n));
  return {
    allowed: by.get("allowed") ?? 0,
    warned: by.get("warned") ?? 0,
    blocked: by.get("blocked") ?? 0,
    topBlockReasons: reasons.map((r) => ({ reason: String(r.reason), count: Number(r.n) })),
  };
}
