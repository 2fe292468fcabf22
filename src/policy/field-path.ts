/**
 * Compiles dotted field paths with list indexes (`user.roles[0]`) into getter closures.
 *
 * @module
 */

import { GuardrailError } from "../kernel/errors.ts";

/** Reads a field of a decision context; `undefined` when any step is missing. */
export type FieldGetter = (context: Readonly<Record<string, unknown>>) => unknown;

const SEGMENT = /([^.[\]]+)|\[(\d+)\]/g;

/** Splits `a.b[0].c` into `["a", "b", 0, "c"]`. Returns `undefined` for a malformed path. */
export function parseFieldPath(path: string): (string | number)[] | undefined {
  if (path.length === 0 || /\.\.|^\.|\.$|\[(?!\d+\])/.test(path)) return undefined;
  const segments: (string | number)[] = [];
  let consumed = 0;
  for (const m of path.matchAll(SEGMENT)) {
    segments.push(m[2] !== undefined ? Number(m[2]) : (m[1] as string));
    consumed += m[0].length;
  }
  // Every character but the dots must belong to a segment.
  const dots = path.length - path.replaceAll(".", "").length;
  return consumed + dots === path.length ? segments : undefined;
}

function step(value: unknown, key: string | number): unknown {
  if (value === null || typeof value !== "object") return undefined;
  if (typeof key === "number") return Array.isArray(value) ? value[key] : undefined;
  return Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined;
}

/** Compiles a path into a getter. One-segment paths (the common case) get a direct read. */
export function compileFieldPath(path: string): FieldGetter {
  const segments = parseFieldPath(path);
  if (!segments)
    throw new GuardrailError(`malformed field path '${path}'`, { code: "field_path_malformed" });
  const [first, second] = segments;
  if (segments.length === 1 && typeof first === "string") {
    // Plain property read, unless the name is also inherited (toString, constructor…),
    // where only an own property may count.
    if (!(first in Object.prototype)) return (ctx) => ctx[first];
    return (ctx) => (Object.hasOwn(ctx, first) ? ctx[first] : undefined);
  }
  if (segments.length === 2 && first !== undefined && second !== undefined) {
    return (ctx) => step(step(ctx, first), second);
  }
  return (ctx) => {
    let value: unknown = ctx;
    for (const s of segments) {
      value = step(value, s);
      if (value === undefined) return undefined;
    }
    return value;
  };
}
