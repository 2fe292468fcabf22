/**
 * The digest of a request body that a confirmation token is bound to (through the
 * decision context), so a token approved for one body cannot send another.
 *
 * @module
 */

import { createHash, randomUUID } from "node:crypto";
import { fingerprintCall } from "../../confirm/fingerprint.ts";

/**
 * A hex SHA-256 digest of a request body, or `undefined` for no body (`undefined`, `null`,
 * an empty string or no bytes).
 *
 * - Raw bodies (a string, a `Buffer` or any byte view, an `ArrayBuffer`): over the bytes.
 * - A body a framework parsed (JSON): over a canonical encoding (`fingerprintCall`), so
 *   key order does not matter and values and their types do.
 * - A parsed body that cannot be encoded reliably (a class instance, a cycle): a random
 *   value, so nothing bound to it ever matches again (fail closed).
 */
export function bodyDigest(body: unknown): string | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === "string") {
    return body === "" ? undefined : createHash("sha256").update(body).digest("hex");
  }
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) {
    const bytes =
      body instanceof ArrayBuffer
        ? new Uint8Array(body)
        : new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
    return bytes.byteLength === 0 ? undefined : createHash("sha256").update(bytes).digest("hex");
  }
  try {
    return fingerprintCall("http-body", [body]);
  } catch {
    return `unbindable-${randomUUID()}`;
  }
}

/**
 * A digest of a query string (without `?`), the same for the same parameters in any order:
 * pairs are kept as sent and sorted. `undefined` for an empty query.
 */
export function queryDigest(query: string): string | undefined {
  const canonical = query
    .split("&")
    .filter((p) => p !== "")
    .sort()
    .join("&");
  return canonical === "" ? undefined : createHash("sha256").update(canonical).digest("hex");
}
