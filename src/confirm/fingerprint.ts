/**
 * Fingerprints of guarded calls: what a confirmation token is bound to, so that a token
 * approved for deleting user 1 cannot delete user 2.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { GuardrailError } from "../kernel/errors.ts";

const MAX_DEPTH = 64;

/**
 * A canonical, type-tagged encoding: object keys sorted; Maps and Sets by their entries;
 * numbers that JSON cannot hold, BigInts, `undefined`, Dates, URLs and byte arrays tagged so
 * they never collide with strings or with each other. Anything else that is not a plain
 * object (a class instance whose state may be private) cannot be fingerprinted.
 */
function canonical(value: unknown, seen: Set<object>, depth: number): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "number":
      return Number.isFinite(value) ? JSON.stringify(value) : `{"$number":"${String(value)}"}`;
    case "bigint":
      return `{"$bigint":"${value.toString()}"}`;
    case "undefined":
      return '{"$undefined":true}';
    case "function":
    case "symbol":
      throw new GuardrailError(`cannot fingerprint a ${typeof value} argument`, {
        code: "arguments_not_fingerprintable",
      });
    default:
      break;
  }
  if (value === null) return "null";
  const obj = value as object;
  if (seen.has(obj))
    throw new GuardrailError("cannot fingerprint arguments that refer to themselves", {
      code: "arguments_not_fingerprintable",
    });
  if (depth > MAX_DEPTH)
    throw new GuardrailError(`cannot fingerprint arguments nested deeper than ${MAX_DEPTH}`, {
      code: "arguments_not_fingerprintable",
    });
  seen.add(obj);
  try {
    const next = (v: unknown) => canonical(v, seen, depth + 1);
    if (Array.isArray(obj)) return `[${obj.map(next).join(",")}]`;
    if (obj instanceof Date)
      return `{"$date":${JSON.stringify(Number.isNaN(obj.getTime()) ? "invalid" : obj.toISOString())}}`;
    if (obj instanceof URL) return `{"$url":${JSON.stringify(obj.href)}}`;
    if (ArrayBuffer.isView(obj)) {
      const bytes = Buffer.from(obj.buffer, obj.byteOffset, obj.byteLength);
      return `{"$bytes":"${bytes.toString("hex")}"}`;
    }
    if (obj instanceof Map) {
      const entries = [...obj.entries()].map(([k, v]) => `[${next(k)},${next(v)}]`).sort();
      return `{"$map":[${entries.join(",")}]}`;
    }
    if (obj instanceof Set) return `{"$set":[${[...obj].map(next).sort().join(",")}]}`;
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) {
      const name = (proto as { constructor?: { name?: string } }).constructor?.name ?? "an object";
      throw new GuardrailError(`cannot fingerprint an instance of ${name}: pass plain data`, {
        code: "arguments_not_fingerprintable",
      });
    }
    const keys = Object.keys(obj).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${next((obj as Record<string, unknown>)[k])}`).join(",")}}`;
  } finally {
    seen.delete(obj);
  }
}

/**
 * The fingerprint of a call: SHA-256 (hex) over the policy id and a canonical encoding of
 * the arguments. Key order in objects and entry order in Maps and Sets do not matter;
 * values and their types do.
 *
 * @example
 * ```ts
 * fingerprintCall("safe_delete", ["user-1"]) !== fingerprintCall("safe_delete", ["user-2"]);
 * ```
 * @throws GuardrailError for arguments that cannot be told apart reliably: functions,
 * symbols, cycles, and class instances other than Date, URL, Map, Set and byte arrays.
 */
export function fingerprintCall(policyId: string, args: readonly unknown[]): string {
  return createHash("sha256")
    .update(policyId)
    .update("\u0000")
    .update(canonical(args, new Set(), 0))
    .digest("hex");
}
