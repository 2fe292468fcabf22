/**
 * Fingerprints of guarded calls: what a confirmation token is bound to, so that a token
 * approved for deleting user 1 cannot delete user 2.
 *
 * @module
 */

import { createHash } from "node:crypto";

/** JSON with sorted keys; BigInts as strings; functions and symbols left out; cycles marked. */
function canonical(value: unknown, seen: Set<object>): string {
  if (value === null || value === undefined) return "null";
  switch (typeof value) {
    case "string":
    case "number":
    case "boolean":
      return JSON.stringify(value) ?? "null";
    case "bigint":
      return JSON.stringify(`${value}n`);
    case "function":
    case "symbol":
      return "null";
    default:
      break;
  }
  const obj = value as object;
  if (seen.has(obj)) return '"[cycle]"';
  seen.add(obj);
  try {
    if (obj instanceof Date) return JSON.stringify(obj.toISOString());
    if (Array.isArray(obj)) return `[${obj.map((v) => canonical(v, seen)).join(",")}]`;
    const keys = Object.keys(obj).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((obj as Record<string, unknown>)[k], seen)}`).join(",")}}`;
  } finally {
    seen.delete(obj);
  }
}

/**
 * The fingerprint of a call: SHA-256 (hex) over the policy id and a canonical encoding of
 * the arguments. Key order in objects does not matter; values do.
 *
 * @example
 * ```ts
 * fingerprintCall("safe_delete", ["user-1"]) !== fingerprintCall("safe_delete", ["user-2"]);
 * ```
 */
export function fingerprintCall(policyId: string, args: readonly unknown[]): string {
  return createHash("sha256")
    .update(policyId)
    .update("\u0000")
    .update(canonical(args, new Set()))
    .digest("hex");
}
