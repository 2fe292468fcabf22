/**
 * Audit records as the CLI prints them: table columns, CSV columns and the JSON shape
 * scripts rely on (documented in docs/cli.md).
 *
 * @module
 */

import type { PolicyStats } from "../audit/decision-logger.ts";
import { RECORD_CSV_HEADER, recordCsv, recordJson } from "../audit/record-format.ts";
import type { ChainedRecord } from "../audit/types.ts";
import {
  type CliIo,
  type Column,
  csvLine,
  jsonText,
  type ListFormat,
  outputWidth,
  painter,
  renderTable,
  type Tone,
} from "./output.ts";

export { RECORD_CSV_HEADER, recordCsv, recordJson } from "../audit/record-format.ts";

const DECISION_TONE: Record<string, Tone> = { allowed: "green", warned: "yellow", blocked: "red" };

/** `2026-11-25 12:00:01` (UTC, to the second). */
const shortTime = (iso: string): string => iso.slice(0, 19).replace("T", " ");

/**
 * A reason without what the other columns say: "Policy 'x' blocked the call: why" is
 * "why" next to POLICY x and DECISION blocked.
 */
const withoutPolicy = (reason: string, policyId: string): string => {
  const prefix = `Policy '${policyId}' `;
  if (!reason.startsWith(prefix)) return reason;
  const rest = reason.slice(prefix.length);
  const detail = /^(?:blocked the call|allowed the call|warning|requires confirmation): /.exec(
    rest,
  );
  return detail ? rest.slice(detail[0].length) : rest;
};

const RECORD_COLUMNS: readonly Column<ChainedRecord>[] = [
  { header: "TIME (UTC)", value: (r) => shortTime(r.timestamp) },
  { header: "POLICY", value: (r) => r.policyId, shrink: 1, min: 12 },
  {
    header: "DECISION",
    value: (r) => (r.mode === "monitor" && r.action !== "allow" ? `${r.decision}*` : r.decision),
    tone: (r) => DECISION_TONE[r.decision],
  },
  { header: "USER", value: (r) => r.userId, shrink: 1, min: 8 },
  { header: "FUNCTION", value: (r) => r.functionName, shrink: 1, min: 8, hideBelow: 100 },
  // The policy has its own column: "Policy 'x' blocked the call: why" reads "blocked the call: why".
  { header: "REASON", value: (r) => withoutPolicy(r.reason, r.policyId), shrink: 2, min: 20 },
];

/** Prints records in a listing format. */
export function printRecords(
  records: readonly ChainedRecord[],
  format: ListFormat,
  io: CliIo,
): void {
  if (format === "json") {
    io.stdout.write(jsonText(records.map(recordJson)));
  } else if (format === "csv") {
    io.stdout.write(csvLine(RECORD_CSV_HEADER) + records.map(recordCsv).join(""));
  } else if (records.length === 0) {
    io.stdout.write("no decisions match\n");
  } else {
    const width = outputWidth(io.stdout, io.env);
    io.stdout.write(renderTable(records, RECORD_COLUMNS, width, painter(io.stdout, io.env)));
    if (records.some((r) => r.mode === "monitor" && r.action !== "allow"))
      io.stdout.write("* monitor mode: the call ran; enforce mode would have refused it\n");
  }
}

/** Stats of one policy, with its id. */
export type NamedStats = PolicyStats & { readonly policyId: string };

const STATS_COLUMNS: readonly Column<NamedStats>[] = [
  { header: "POLICY", value: (s) => s.policyId, shrink: 1, min: 10 },
  { header: "TOTAL", value: (s) => s.totalDecisions, right: true },
  { header: "ALLOWED", value: (s) => s.allowed, right: true },
  { header: "WARNED", value: (s) => s.warned, right: true },
  { header: "BLOCKED", value: (s) => s.blocked, right: true },
  { header: "BLOCK RATE", value: (s) => `${s.blockRate.toFixed(2)}%`, right: true },
  {
    header: "TOP BLOCK REASON",
    value: (s) => {
      const top = s.topBlockReasons[0];
      return top
        ? `${withoutPolicy(top.reason, s.policyId)} (${top.count.toLocaleString("en-US")})`
        : null;
    },
    shrink: 2,
  },
];

/** Prints policy stats. */
export function printStats(stats: readonly NamedStats[], format: ListFormat, io: CliIo): void {
  if (format === "json") {
    io.stdout.write(jsonText(stats));
  } else if (format === "csv") {
    io.stdout.write(
      csvLine([
        "policy_id",
        "total",
        "allowed",
        "warned",
        "blocked",
        "block_rate",
        "top_block_reason",
      ]) +
        stats
          .map((s) =>
            csvLine([
              s.policyId,
              s.totalDecisions,
              s.allowed,
              s.warned,
              s.blocked,
              s.blockRate,
              s.topBlockReasons[0]?.reason,
            ]),
          )
          .join(""),
    );
  } else if (stats.length === 0) {
    io.stdout.write("no decisions recorded yet\n");
  } else {
    const width = outputWidth(io.stdout, io.env);
    io.stdout.write(renderTable(stats, STATS_COLUMNS, width, painter(io.stdout, io.env)));
  }
}
