/**
 * The shape of API keys: `hxk_` and 32 random bytes in base64url, whose first characters
 * are the key's (non-secret) id; stored as an HMAC-SHA256 under a server secret.
 *
 * @module
 */

import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** What every key starts with. */
export const API_KEY_PREFIX = "hxk_";

/** How many characters after the prefix make the key id (72 bits; the other 186 stay secret). */
export const API_KEY_ID_LENGTH = 12;

const SHAPE = /^hxk_[A-Za-z0-9_-]{43}$/;

/** A new key and its id. */
export function generateApiKey(): { readonly id: string; readonly key: string } {
  const body = randomBytes(32).toString("base64url");
  return { id: body.slice(0, API_KEY_ID_LENGTH), key: `${API_KEY_PREFIX}${body}` };
}

/** The id of a string shaped like a key, else `undefined` (it need not exist). */
export function apiKeyIdOf(presented: string): string | undefined {
  return SHAPE.test(presented)
    ? presented.slice(API_KEY_PREFIX.length, API_KEY_PREFIX.length + API_KEY_ID_LENGTH)
    : undefined;
}

/** The stored form of a key: hex HMAC-SHA256 under `pepper`. */
export function hashApiKey(pepper: string, key: string): string {
  return createHmac("sha256", pepper).update(key, "utf8").digest("hex");
}

/** Whether `key` hashes to `storedHex`, compared in constant time. */
export function apiKeyMatches(pepper: string, key: string, storedHex: string): boolean {
  const expected = Buffer.from(storedHex, "hex");
  const actual = Buffer.from(hashApiKey(pepper, key), "hex");
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
