/**
 * Confirmation tokens for the SQL stores, issued and checked exactly as
 * `MemoryConfirmationStore` does: `<uuid>.<43 base64url characters of 32 random bytes>`.
 * Only the SHA-256 digest of the secret is ever stored.
 *
 * @module
 */

import { createHash, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { invalidOption, type OptionRule, positiveFiniteMsRule } from "../util/check-options.ts";

/** A token's id part: a UUID as `randomUUID` spells it. */
const ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A token's secret part: exactly the 43 base64url characters of 32 bytes. */
const SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** A token just issued: give `token` out, store `id` and `secretHash`. */
export interface IssuedToken {
  readonly id: string;
  readonly token: string;
  /** Hex SHA-256 of the 32 secret bytes. */
  readonly secretHash: string;
}

/** A well-formed token, split: the id to look up and the digest of its secret. */
export interface ParsedToken {
  readonly id: string;
  /** Hex SHA-256 of the 32 secret bytes. */
  readonly secretHash: string;
}

const digest = (secret: Buffer): string => createHash("sha256").update(secret).digest("hex");

/** Issues a new token: a random UUID and 256 random bits. */
export function issueToken(): IssuedToken {
  const id = randomUUID();
  const secret = randomBytes(32);
  return { id, token: `${id}.${secret.toString("base64url")}`, secretHash: digest(secret) };
}

/**
 * Splits a token into its id and the digest of its secret; `undefined` for anything that
 * is not a token this library could have issued (so no query is made for it).
 */
export function parseToken(token: unknown): ParsedToken | undefined {
  if (typeof token !== "string") return undefined;
  const dot = token.indexOf(".");
  if (dot < 0) return undefined;
  const id = token.slice(0, dot);
  const secret = token.slice(dot + 1);
  // Exactly the 43 base64url characters issued: a decoder would skip stray characters.
  if (!ID_PATTERN.test(id) || !SECRET_PATTERN.test(secret)) return undefined;
  const bytes = Buffer.from(secret, "base64url");
  // The last character carries two unused bits: only the one canonical spelling counts.
  if (bytes.toString("base64url") !== secret) return undefined;
  return { id, secretHash: digest(bytes) };
}

/** True when a stored digest equals the given one, compared in constant time. */
export function digestMatches(stored: unknown, given: string): boolean {
  if (typeof stored !== "string" || stored.length !== 64) return false;
  const a = Buffer.from(stored, "hex");
  const b = Buffer.from(given, "hex");
  return a.length === 32 && b.length === 32 && timingSafeEqual(a, b);
}

/** A token lifetime, as every confirmation store's `ttlMs` takes it. */
export const ttlRule: OptionRule = {
  expected: "a positive number of milliseconds",
  test: positiveFiniteMsRule.test,
};

/**
 * Checks a token lifetime (every store's rule and message).
 * @param owner the store the option was given to, named in the message.
 * @throws InvalidOptionError unless a positive, finite number of ms.
 */
export function checkTtl(ttlMs: number, owner?: string): number {
  if (!ttlRule.test(ttlMs)) throw invalidOption(owner, "ttlMs", ttlRule.expected, ttlMs);
  return ttlMs;
}
