/**
 * Signing checkpoints: HMAC-SHA256 under a key kept outside the database
 * (`HEXARCH_AUDIT_HMAC_KEY`), over a canonical encoding of the checkpoint's fields.
 *
 * @module
 */

import { createHmac, hash, timingSafeEqual } from "node:crypto";
import { InvalidOptionError } from "../../kernel/errors.ts";
import { describeValue } from "../../util/describe.ts";
import { canonicalJson } from "../hash-chain.ts";
import type { AuditCheckpoint, UnsignedCheckpoint } from "./types.ts";

/** The shortest signing key accepted, in bytes (UTF-8): 256 bits. */
export const AUDIT_HMAC_MIN_BYTES = 32;

/** Key ids: 1 to 64 letters, digits or `._:-`. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

/** What every signed message starts with, so a checkpoint signature means nothing elsewhere. */
const DOMAIN = "hexarch-audit-checkpoint/v1\n";

/**
 * The default key id: the first 8 hex digits of the key's SHA-256 (`printf %s "$KEY" |
 * sha256sum | cut -c1-8`). It names the key without revealing it.
 */
export function defaultKeyId(key: string): string {
  return hash("sha256", key, "hex").slice(0, 8);
}

/**
 * The bytes a checkpoint's signature covers: `hexarch-audit-checkpoint/v1`, a newline,
 * then the JSON of `{ actor, createdAt, headHash, id, keyId, records, seq }` with keys
 * sorted and no spaces.
 */
export function checkpointMessage(c: UnsignedCheckpoint): string {
  return `${DOMAIN}${canonicalJson({
    actor: c.actor,
    createdAt: c.createdAt,
    headHash: c.headHash,
    id: c.id,
    keyId: c.keyId,
    records: c.records,
    seq: c.seq,
  })}`;
}

/** Options of {@link CheckpointSigner}. */
export interface CheckpointSignerOptions {
  /** The HMAC key (`HEXARCH_AUDIT_HMAC_KEY`), at least 32 bytes. */
  readonly key: string;
  /** Its id (`HEXARCH_AUDIT_HMAC_KEY_ID`). @default {@link defaultKeyId} of the key */
  readonly keyId?: string;
}

/**
 * Signs checkpoints and checks their signatures, in constant time. The key is held in a
 * private field and never appears in messages or errors.
 *
 * @example
 * ```ts
 * const signer = new CheckpointSigner({ key: process.env.HEXARCH_AUDIT_HMAC_KEY ?? "" });
 * const checkpoint = signer.sign({ id, seq, headHash, records, createdAt, actor, keyId: signer.keyId });
 * signer.verify(checkpoint); // true
 * ```
 */
export class CheckpointSigner {
  /** The id of the key, stored with every checkpoint it signs. */
  readonly keyId: string;
  readonly #key: string;

  /** @throws InvalidOptionError for a key under 32 bytes or a key id that is not 1–64 of `A-Za-z0-9._:-`. */
  constructor(options: CheckpointSignerOptions) {
    const bytes = typeof options.key === "string" ? Buffer.byteLength(options.key, "utf8") : 0;
    if (bytes < AUDIT_HMAC_MIN_BYTES)
      // The key is a secret: the message gives its length only.
      throw new InvalidOptionError(
        `CheckpointSigner: key must be a string of at least ${AUDIT_HMAC_MIN_BYTES} bytes, got ${typeof options.key === "string" ? `${bytes} bytes` : describeValue(options.key)}`,
        { option: "key", owner: "CheckpointSigner" },
      );
    if (options.keyId !== undefined && !KEY_ID_PATTERN.test(options.keyId))
      throw new InvalidOptionError(
        `CheckpointSigner: keyId must be 1 to 64 of A-Z a-z 0-9 . _ : -, got ${describeValue(options.keyId)}`,
        { option: "keyId", owner: "CheckpointSigner" },
      );
    this.#key = options.key;
    this.keyId = options.keyId ?? defaultKeyId(options.key);
  }

  /** The hex HMAC-SHA256 of a checkpoint's fields. */
  signature(c: UnsignedCheckpoint): string {
    return createHmac("sha256", this.#key).update(checkpointMessage(c), "utf8").digest("hex");
  }

  /** The checkpoint with its signature, under this signer's key id. */
  sign(c: Omit<UnsignedCheckpoint, "keyId">): AuditCheckpoint {
    const unsigned: UnsignedCheckpoint = { ...c, keyId: this.keyId };
    return { ...unsigned, signature: this.signature(unsigned) };
  }

  /**
   * Whether a checkpoint carries this key's signature of its fields (compared with
   * `crypto.timingSafeEqual`). False for another key id.
   */
  verify(c: AuditCheckpoint): boolean {
    if (c.keyId !== this.keyId || !/^[0-9a-f]{64}$/.test(c.signature)) return false;
    const expected = Buffer.from(this.signature(c), "hex");
    return timingSafeEqual(expected, Buffer.from(c.signature, "hex"));
  }
}
