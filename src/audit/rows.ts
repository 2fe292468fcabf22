/**
 * Rows of the audit tables as both SQL stores read them.
 *
 * @module
 */

import type { AuditOutcome, ChainedRecord, Tombstone } from "./types.ts";

/** A row as a driver returns it. */
export type Row = Record<string, unknown>;

/** A timestamp filter as stored: ISO 8601 UTC. */
export const isoTimestamp = (v: string | Date): string =>
  v instanceof Date ? v.toISOString() : new Date(v).toISOString();

/** A `hexarch_decisions` row as a record. */
export function rowToRecord(r: Row): ChainedRecord {
  return {
    seq: Number(r.seq),
    decisionId: String(r.decision_id),
    timestamp: String(r.timestamp),
    policyId: String(r.policy_id),
    functionName: r.function_name === null ? null : String(r.function_name),
    decision: r.decision as AuditOutcome,
    action: String(r.action),
    reason: String(r.reason),
    context: JSON.parse(String(r.context)) as Record<string, unknown>,
    userId: r.user_id === null ? null : String(r.user_id),
    durationMs: Number(r.duration_ms),
    metadata:
      r.metadata === null ? null : (JSON.parse(String(r.metadata)) as Record<string, unknown>),
    mode: r.mode === "monitor" ? "monitor" : "enforce",
    prevHash: String(r.prev_hash),
    hash: String(r.hash),
  };
}

/** A `hexarch_tombstones` row. */
export function rowToTombstone(r: Row): Tombstone {
  return {
    seq: Number(r.seq),
    decisionId: String(r.decision_id),
    prevHash: String(r.prev_hash),
    hash: String(r.hash),
  };
}

/** Records and tombstones merged in chain order, at most `limit`. */
export function mergeChain(
  records: readonly ChainedRecord[],
  tombstones: readonly Tombstone[],
  limit: number,
): (ChainedRecord | Tombstone)[] {
  return [...records, ...tombstones].sort((a, b) => a.seq - b.seq).slice(0, limit);
}
