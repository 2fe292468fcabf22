/**
 * The hash chain that makes the audit log tamper-evident: each record's hash covers the
 * previous record's hash and every field of the record, in a fixed canonical encoding.
 * Editing a field changes the hash; deleting or reordering a row breaks the links.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { AuditRecord, ChainedRecord, Tombstone } from "./types.ts";

/** The `prevHash` of the first record of a log. */
export const GENESIS = "0".repeat(64);

/** JSON with object keys sorted, so equal contexts always encode the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const obj = value as Record<string, unknown>;
  return `{${Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`)
    .join(",")}}`;
}

/** The hash of a record chained after `prevHash`. */
export function recordHash(prevHash: string, r: AuditRecord): string {
  const fields = [
    prevHash,
    r.decisionId,
    r.timestamp,
    r.policyId,
    r.functionName,
    r.decision,
    r.action,
    r.reason,
    canonicalJson(r.context),
    r.userId,
    r.durationMs,
    canonicalJson(r.metadata),
    r.mode,
  ];
  return createHash("sha256").update(JSON.stringify(fields)).digest("hex");
}

/** What `verify()` answers. */
export interface VerifyResult {
  /** True when every link and hash checks out. */
  readonly ok: boolean;
  /** Records (and tombstones) checked. */
  readonly checked: number;
  /** The first record that does not check out. */
  readonly firstBadDecisionId?: string;
}

/** True for a stored record, false for a tombstone (a pruned record). */
export function isRecord(entry: ChainedRecord | Tombstone): entry is ChainedRecord {
  return "policyId" in entry;
}

/**
 * Checks one stretch of the chain. `prev` is the hash the first entry must link to;
 * returns the result so far and the hash to continue from.
 */
export function verifyStretch(
  entries: readonly (ChainedRecord | Tombstone)[],
  prev: string,
): { readonly bad?: string; readonly last: string } {
  let last = prev;
  for (const e of entries) {
    if (e.prevHash !== last) return { bad: e.decisionId, last };
    if (isRecord(e) && recordHash(e.prevHash, e) !== e.hash) return { bad: e.decisionId, last };
    last = e.hash;
  }
  return { last };
}
