/**
 * The hash chain that makes the audit log tamper-evident: each record's hash covers the
 * previous record's hash and every field of the record, in a fixed canonical encoding.
 * Editing a field changes the hash; deleting or reordering a row breaks the links.
 *
 * @module
 */

import { hash } from "node:crypto";
import type { AuditRecord, ChainedRecord, Tombstone } from "./types.ts";

/** The `prevHash` of the first record of a log. */
export const GENESIS = "0".repeat(64);

/**
 * JSON with object keys sorted, so equal contexts always encode the same. Never throws:
 * BigInts become strings, functions and symbols are left out, cycles become `"[cycle]"`.
 */
export function canonicalJson(value: unknown): string {
  return encode(value, new Set());
}

function encode(value: unknown, seen: Set<object>): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
      return Number.isFinite(value) ? String(value) : "null";
    case "boolean":
      return value ? "true" : "false";
    case "bigint":
      return JSON.stringify(value.toString());
    case "undefined":
    case "function":
    case "symbol":
      return "null";
    default:
      break;
  }
  if (value === null) return "null";
  const obj = value as object;
  if (seen.has(obj)) return '"[cycle]"';
  seen.add(obj);
  try {
    if (Array.isArray(obj)) return `[${obj.map((v) => encode(v, seen)).join(",")}]`;
    if (obj instanceof Date)
      return JSON.stringify(Number.isNaN(obj.getTime()) ? null : obj.toISOString());
    const rec = obj as Record<string, unknown>;
    const parts: string[] = [];
    for (const k of Object.keys(rec).sort()) {
      const v = rec[k];
      if (v === undefined || typeof v === "function" || typeof v === "symbol") continue;
      parts.push(`${JSON.stringify(k)}:${encode(v, seen)}`);
    }
    return `{${parts.join(",")}}`;
  } catch {
    return '"[unreadable]"';
  } finally {
    seen.delete(obj);
  }
}

/** The stored JSON of a record's context and metadata (computed once, hashed and stored as is). */
export function encodedFields(r: AuditRecord): {
  readonly context: string;
  readonly metadata: string | null;
} {
  return {
    context: r.contextJson ?? canonicalJson(r.context),
    metadata: r.metadata === null ? null : (r.metadataJson ?? canonicalJson(r.metadata)),
  };
}

/** A record's stored and hashed values, in column order (the hash covers them after `prevHash`). */
export type RecordFields = [
  decisionId: string,
  timestamp: string,
  policyId: string,
  functionName: string | null,
  decision: string,
  action: string,
  reason: string,
  context: string,
  userId: string | null,
  durationMs: number,
  metadata: string | null,
  mode: string,
];

/**
 * The values of a record that are stored and hashed, in column order, with its context and
 * metadata as their canonical JSON.
 */
export function recordFields(r: AuditRecord, encoded = encodedFields(r)): RecordFields {
  return [
    r.decisionId,
    r.timestamp,
    r.policyId,
    r.functionName,
    r.decision,
    r.action,
    r.reason,
    encoded.context,
    r.userId,
    r.durationMs,
    encoded.metadata,
    r.mode,
  ];
}

/** The hash of a record's {@link recordFields} chained after `prevHash`. */
export function fieldsHash(prevHash: string, fields: RecordFields): string {
  return hash("sha256", JSON.stringify([prevHash, ...fields]), "hex");
}

/** The hash of a record chained after `prevHash`. */
export function recordHash(prevHash: string, r: AuditRecord, encoded = encodedFields(r)): string {
  return fieldsHash(prevHash, recordFields(r, encoded));
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
