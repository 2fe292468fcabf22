/**
 * The hash chain that makes the audit log tamper-evident: each record's hash covers the
 * previous record's hash and every field of the record, in a fixed canonical encoding.
 * Editing a field changes the hash; deleting or reordering a row breaks the links.
 *
 * @module
 */

import { createHash, hash } from "node:crypto";
import type { AuditRecord, ChainedRecord, PrunedRun, PruneRecord, Tombstone } from "./types.ts";

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

/** Why `verify()` fails. */
export type ChainProblem =
  /** A record's or prune record's stored fields no longer give its stored hash. */
  | "hash_mismatch"
  /** An entry does not follow the hash before it (an entry deleted, inserted or moved). */
  | "broken_link"
  /** Positions are missing and no chained prune record lists them. */
  | "unexplained_gap"
  /** A prune record's runs were edited, added or removed. */
  | "prune_mismatch"
  /** A legacy tombstone (rows removed outside retention since migration 9). */
  | "unexplained_tombstone"
  /** The chain's start moved off the genesis hash. */
  | "start_moved"
  /** The chain ends elsewhere than its recorded head, or an entry lies past the head. */
  | "head_mismatch"
  /** The chain's tables cannot be read as a chain (a missing row, a dropped column…). */
  | "damaged";

/** What `verify()` answers. */
export interface VerifyResult {
  /** True when every link and hash checks out. */
  readonly ok: boolean;
  /** Entries whose hash was recomputed and linked: records and prune records. */
  readonly checked: number;
  /** The first entry that does not check out (a decision id, `prune@<seq>`, or a description). */
  readonly firstBadDecisionId?: string;
  /** Why it fails. */
  readonly problem?: ChainProblem;
  /** What is wrong, in a sentence naming the positions. */
  readonly message?: string;
  /** Chained prune records walked (only when there are any). */
  readonly prunes?: number;
  /** Entries those prune records removed (only when there are any). */
  readonly pruned?: number;
  /**
   * The last {@link PRUNE_RECORDS_SHOWN} prune records walked, oldest first (only when there
   * are any): a prune is accounted for by the chain but shown here with its actor and
   * reason, since anyone who can write the tables can also forge one.
   */
  readonly pruneRecords?: readonly PruneRecordSummary[];
  /** Prune records walked but not in `pruneRecords` (the oldest; only when there are any). */
  readonly pruneRecordsOmitted?: number;
}

/** How many prune records `verify()` lists (the last ones): years of daily retention stay readable. */
export const PRUNE_RECORDS_SHOWN = 100;

/** How many runs of one prune record `verify()` lists (the first ones). */
export const PRUNE_RANGES_SHOWN = 20;

/** A prune record as `verify()` shows it: who removed what, when and why. */
export interface PruneRecordSummary {
  /** Its position in the chain. */
  readonly seq: number;
  /** When it was written (its stored timestamp, ISO 8601). */
  readonly at: string;
  /** Who it says pruned (`user@host`, `api-key:<id>`…): as stored, not authenticated. */
  readonly actor: string;
  /** Why, as stored. */
  readonly reason: string;
  /** Entries it removed. */
  readonly removed: number;
  /** Runs of consecutive removed entries it lists. */
  readonly runs: number;
  /** The first `PRUNE_RANGES_SHOWN` (20) runs, by first and last seq. */
  readonly ranges: readonly { readonly from: number; readonly to: number }[];
}

/** What every prune record's hash starts with, so it can never pass for a record's. */
const PRUNE_DOMAIN = "hexarch-prune/v1";

/** The hash of a prune record: SHA-256 over its `prevHash` and every other field. */
export function pruneHash(p: Omit<PruneRecord, "kind" | "hash" | "decisionId">): string {
  return hash(
    "sha256",
    JSON.stringify([
      p.prevHash,
      PRUNE_DOMAIN,
      p.seq,
      p.timestamp,
      p.actor,
      p.reason,
      p.fromSeq,
      p.toSeq,
      p.removed,
      p.runs,
      p.runsDigest,
    ]),
    "hex",
  );
}

/**
 * Digests the runs of one prune record, in `seq` order, incrementally: SHA-256 over one
 * JSON line `[from, to, prevHash, lastHash]` per run.
 */
export class RunsDigest {
  readonly #h = createHash("sha256");
  /** Runs added. */
  count = 0;
  /** Entries the runs cover. */
  removed = 0;
  /** Adds the next run. */
  add(run: Pick<PrunedRun, "seq" | "toSeq" | "prevHash" | "hash">): void {
    this.#h.update(`${JSON.stringify([run.seq, run.toSeq, run.prevHash, run.hash])}\n`);
    this.count++;
    this.removed += run.toSeq - run.seq + 1;
  }
  /** The hex digest (once). */
  digest(): string {
    return this.#h.digest("hex");
  }
}

/** True for a stored record, false for a tombstone, a prune record or a pruned run. */
export function isRecord(
  entry: ChainedRecord | Tombstone | PruneRecord | PrunedRun,
): entry is ChainedRecord {
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
