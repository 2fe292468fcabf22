/**
 * Audit records as exports write them: the JSON shape (fields in a fixed order) and the
 * CSV columns, shared by `hexarch-ctl audit export` / `audit list` and the server's
 * `GET /audit-logs/export`, so both give the same file.
 *
 * @module
 */

import { csvLine } from "../util/csv.ts";
import type { ChainedRecord } from "./types.ts";

/** The JSON of one record, fields in a fixed order (the CLI's and the API's shape). */
export function recordJson(r: ChainedRecord): Record<string, unknown> {
  return {
    seq: r.seq,
    decisionId: r.decisionId,
    timestamp: r.timestamp,
    policyId: r.policyId,
    functionName: r.functionName,
    decision: r.decision,
    action: r.action,
    reason: r.reason,
    userId: r.userId,
    durationMs: r.durationMs,
    mode: r.mode,
    context: r.context,
    metadata: r.metadata,
    hash: r.hash,
  };
}

/** CSV header of records. */
export const RECORD_CSV_HEADER = [
  "seq",
  "decision_id",
  "timestamp",
  "policy_id",
  "function_name",
  "decision",
  "action",
  "reason",
  "user_id",
  "duration_ms",
  "mode",
  "context",
  "metadata",
  "hash",
] as const;

/**
 * One record as a CSV line (RFC 4180, CRLF-terminated): `context` and `metadata` as JSON
 * text, text a spreadsheet would run as a formula prefixed with `'`.
 */
export const recordCsv = (r: ChainedRecord): string =>
  csvLine([
    r.seq,
    r.decisionId,
    r.timestamp,
    r.policyId,
    r.functionName,
    r.decision,
    r.action,
    r.reason,
    r.userId,
    r.durationMs,
    r.mode,
    JSON.stringify(r.context),
    r.metadata === null ? null : JSON.stringify(r.metadata),
    r.hash,
  ]);
