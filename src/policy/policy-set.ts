/**
 * Telling a loaded {@link PolicySet} from raw policies: the Guardian (which accepts either)
 * and the Rego export (which takes either) both need it, and neither should import the
 * other for it.
 *
 * @module
 */

import { isPlainObject } from "../util/values.ts";
import type { PolicySet } from "./types.ts";

/** True for a `PolicySet` (as `loadPolicyFile` returns), not raw policies. */
export function isPolicySet(v: unknown): v is PolicySet {
  return (
    isPlainObject(v) &&
    typeof v.source === "string" &&
    Array.isArray(v.policies) &&
    v.policies.every(
      (p) => isPlainObject(p) && Array.isArray(p.rules) && typeof p.enabled === "boolean",
    )
  );
}
