/**
 * Small value tests shared across modules.
 *
 * @module
 */

/** True for promises and other thenables. */
export function isThenable<T>(v: T | PromiseLike<T>): v is PromiseLike<T> {
  return (
    v !== null && typeof v === "object" && typeof (v as { then?: unknown }).then === "function"
  );
}

/** Whether `v` is an object that is not `null` and not an array (a parsed JSON object, say). */
export const isRecord = (v: unknown): v is Readonly<Record<string, unknown>> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** True for `{...}` objects (prototype `Object.prototype` or `null`), not class instances or arrays. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}
