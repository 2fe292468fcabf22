/**
 * Describes any value for a message, without ever throwing (BigInt, cycles, throwing
 * getters and null-prototype objects included).
 *
 * @module
 */

/** Text that JSON.stringify would only put in quotes. */
const SAFE = /^[\w .,:@/+=-]*$/;

/** A short description of a value: `"text"`, `42`, `NaN`, `5n`, `a list`, `an object`. */
export function describeValue(v: unknown): string {
  try {
    switch (typeof v) {
      case "string":
        // Ids and names (most counter keys) need no escaping: skip JSON.stringify.
        if (v.length <= 60 && SAFE.test(v)) return `"${v}"`;
        return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
      case "number":
      case "boolean":
        return String(v);
      case "bigint":
        return `${v}n`;
      case "undefined":
        return "undefined";
      case "symbol":
        return "a symbol";
      case "function":
        return "a function";
      default:
        return v === null ? "null" : Array.isArray(v) ? "a list" : "an object";
    }
  } catch {
    return "an unreadable value";
  }
}
