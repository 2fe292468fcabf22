/**
 * Audit exports that verify on their own (`hexarch-ctl audit export --chain`): a JSONL file
 * holding a stretch of the hash chain, with its edges. The first line says which hash the
 * stretch follows (the `prevHash` of its first entry), the last line the hash it ends on;
 * between them every entry of the chain from the first exported record to the last, in
 * order: the exported records (each with its `prevHash`), and whatever else lies between
 * them in the log (records outside the time window, prune records, pruned runs), so each
 * link can be followed without the database.
 *
 * A file that verifies is internally consistent: no record in it was edited, removed or
 * reordered since the export. That it is the log's own stretch shows at its edges: its
 * first `prevHash` is the previous export's last hash (files of consecutive windows join),
 * and its hashes match the live log and its signed checkpoints.
 *
 * @module
 */

import type { ChainProblem } from "./hash-chain.ts";
import { pruneHash, RunsDigest, recordHash } from "./hash-chain.ts";
import { recordJson } from "./record-format.ts";
import type { AuditRecord, ChainEntry, ChainedRecord, PrunedRun, PruneRecord } from "./types.ts";

/** The format name in the first line of a chained export. */
export const EXPORT_FORMAT = "hexarch-audit-export/v1";

/** The first line of a chained export. */
export interface ExportHead {
  readonly format: typeof EXPORT_FORMAT;
  readonly edge: "start";
  /** The window asked for (ISO times), when one was. */
  readonly since: string | null;
  readonly until: string | null;
  /** When the export ran. */
  readonly exportedAt: string;
  /** The position of the first entry (null for an empty export). */
  readonly firstSeq: number | null;
  /** The hash the first entry follows (null for an empty export). */
  readonly prevHash: string | null;
}

/** The last line of a chained export. */
export interface ExportTail {
  readonly format: typeof EXPORT_FORMAT;
  readonly edge: "end";
  /** Records of the window in the file. */
  readonly records: number;
  /** Every entry in the file (records of the window and the entries between them). */
  readonly entries: number;
  /** The position and hash of the last entry (null for an empty export). */
  readonly lastSeq: number | null;
  readonly lastHash: string | null;
}

/** The first line of a chained export, once its first record is known. */
export function exportHeadLine(
  first: ChainedRecord | undefined,
  window: { readonly since?: string; readonly until?: string },
  now = new Date(),
): string {
  const head: ExportHead = {
    format: EXPORT_FORMAT,
    edge: "start",
    since: window.since ?? null,
    until: window.until ?? null,
    exportedAt: now.toISOString(),
    firstSeq: first?.seq ?? null,
    prevHash: first?.prevHash ?? null,
  };
  return `${JSON.stringify(head)}\n`;
}

/** The last line of a chained export. */
export function exportTailLine(
  records: number,
  entries: number,
  last: { seq: number; hash: string } | undefined,
): string {
  const tail: ExportTail = {
    format: EXPORT_FORMAT,
    edge: "end",
    records,
    entries,
    lastSeq: last?.seq ?? null,
    lastHash: last?.hash ?? null,
  };
  return `${JSON.stringify(tail)}\n`;
}

/**
 * One entry of a chained export as a line: a record of the window as `audit export` writes
 * it plus its `prevHash`; any other entry tagged with `entry` (`record` for one outside the
 * window, `prune`, `pruned`, `tombstone`) and every field its hash covers.
 */
export function exportEntryLine(e: ChainEntry, inWindow: boolean): string {
  if ("policyId" in e) {
    const json = { ...recordJson(e), prevHash: e.prevHash };
    return `${JSON.stringify(inWindow ? json : { entry: "record", ...json })}\n`;
  }
  if ("kind" in e) return `${JSON.stringify({ entry: e.kind, ...e })}\n`;
  return `${JSON.stringify({ entry: "tombstone", ...e })}\n`;
}

/** What {@link verifyExportLines} answers. */
export interface ExportVerifyResult {
  readonly ok: boolean;
  /** Entries whose hash was recomputed or linked. */
  readonly checked: number;
  /** Records of the window in the file. */
  readonly records: number;
  readonly firstSeq: number | null;
  readonly lastSeq: number | null;
  /** The hash the file's first entry follows, and the hash of its last: its edges. */
  readonly prevHash: string | null;
  readonly lastHash: string | null;
  readonly since: string | null;
  readonly until: string | null;
  /** The first entry that does not check out. */
  readonly firstBadDecisionId?: string;
  readonly problem?: ChainProblem | "not_an_export";
  /** What is wrong, in a sentence naming the line. */
  readonly message?: string;
}

const HEX64 = /^[0-9a-f]{64}$/;

type Json = Record<string, unknown>;

/**
 * Checks a chained export line by line, with no database: the first line is an export's
 * start, the last its end, every record's hash recomputes from its fields, every entry
 * links to the one before (the first to the start's `prevHash`), the prune records' hashes
 * and, where all of a prune's runs are in the file, their digest; the end's counts and
 * last hash match what was walked.
 */
export async function verifyExportLines(
  lines: AsyncIterable<string> | Iterable<string>,
): Promise<ExportVerifyResult> {
  let head: ExportHead | undefined;
  let tail: ExportTail | undefined;
  let lineNo = 0;
  let checked = 0;
  let records = 0;
  let entries = 0;
  let expected: string | null = null;
  let last: { seq: number; hash: string } | undefined;
  const runs = new Map<number, RunsDigest>();
  const base = () => ({
    checked,
    records,
    firstSeq: head?.firstSeq ?? null,
    lastSeq: last?.seq ?? null,
    prevHash: head?.prevHash ?? null,
    lastHash: last?.hash ?? null,
    since: head?.since ?? null,
    until: head?.until ?? null,
  });
  const fail = (
    problem: NonNullable<ExportVerifyResult["problem"]>,
    message: string,
    bad?: string,
  ): ExportVerifyResult => ({
    ok: false,
    ...base(),
    problem,
    message,
    firstBadDecisionId: bad ?? `(line ${lineNo})`,
  });

  for await (const raw of lines) {
    lineNo++;
    if (raw.trim() === "") continue;
    if (tail) return fail("damaged", `line ${lineNo} follows the export's end line`);
    let o: Json;
    try {
      o = JSON.parse(raw) as Json;
    } catch {
      return fail("damaged", `line ${lineNo} is not JSON`);
    }
    if (head === undefined) {
      if (o.format !== EXPORT_FORMAT || o.edge !== "start")
        return fail(
          "not_an_export",
          `line 1 is not the start of a chained export (${EXPORT_FORMAT}): export with --chain`,
        );
      head = o as unknown as ExportHead;
      if (head.prevHash !== null && !HEX64.test(String(head.prevHash)))
        return fail("damaged", "the start line's prevHash is not a SHA-256 hash");
      expected = head.prevHash;
      continue;
    }
    if (o.format === EXPORT_FORMAT) {
      if (o.edge !== "end") return fail("damaged", `line ${lineNo} is a second start line`);
      tail = o as unknown as ExportTail;
      continue;
    }
    entries++;
    const seq = o.seq;
    const hash = o.hash;
    const prevHash = o.prevHash;
    const label =
      typeof o.decisionId === "string" ? o.decisionId : `line ${lineNo} (seq ${String(seq)})`;
    if (typeof seq !== "number" || typeof hash !== "string" || typeof prevHash !== "string")
      return fail("damaged", `line ${lineNo} has no seq, hash and prevHash`, label);
    if (last !== undefined && seq <= last.seq)
      return fail(
        "broken_link",
        `line ${lineNo} (seq ${seq}) does not come after seq ${last.seq}: entries were reordered`,
        label,
      );
    if (prevHash !== expected)
      return fail(
        "broken_link",
        `line ${lineNo} (seq ${seq}) does not follow the entry before it${last ? ` (seq ${last.seq})` : " (the start line's prevHash)"}: an entry was removed, inserted or moved`,
        label,
      );
    const kind = o.entry;
    if (kind === undefined || kind === "record") {
      if (recordHash(prevHash, o as unknown as AuditRecord) !== hash)
        return fail(
          "hash_mismatch",
          `line ${lineNo}: record ${label} (seq ${seq}) was edited: its fields no longer give its hash`,
          label,
        );
      if (kind === undefined) records++;
    } else if (kind === "prune") {
      const p = o as unknown as PruneRecord;
      if (pruneHash(p) !== hash)
        return fail(
          "hash_mismatch",
          `line ${lineNo}: the prune record at seq ${seq} was edited`,
          `prune@${seq}`,
        );
      const digest = runs.get(p.seq);
      if (digest !== undefined && digest.count === p.runs && digest.digest() !== p.runsDigest)
        return fail(
          "prune_mismatch",
          `line ${lineNo}: the runs before the prune record at seq ${seq} are not the ones it lists`,
          `prune@${seq}`,
        );
      runs.delete(p.seq);
    } else if (kind === "pruned") {
      const run = o as unknown as PrunedRun;
      const digest = runs.get(run.pruneSeq) ?? new RunsDigest();
      runs.set(run.pruneSeq, digest);
      digest.add(run);
    } else if (kind === "tombstone") {
      return fail(
        "unexplained_tombstone",
        `line ${lineNo}: a legacy tombstone at seq ${seq} (rows removed outside retention)`,
        label,
      );
    } else return fail("damaged", `line ${lineNo} is an entry of unknown kind ${String(kind)}`);
    checked++;
    expected = hash;
    last = { seq: kind === "pruned" ? (o.toSeq as number) : seq, hash };
  }

  if (head === undefined) return fail("not_an_export", "the file is empty: not a chained export");
  if (tail === undefined)
    return fail("damaged", "the file has no end line: the export was cut short or truncated");
  if (tail.entries !== entries || tail.records !== records)
    return fail(
      "damaged",
      `the end line counts ${tail.records} records in ${tail.entries} entries; the file has ${records} in ${entries}`,
    );
  if (
    (tail.lastHash ?? null) !== (last?.hash ?? null) ||
    (tail.lastSeq ?? null) !== (last?.seq ?? null)
  )
    return fail(
      "head_mismatch",
      `the end line says the export ends at seq ${tail.lastSeq} with hash ${tail.lastHash}; its last entry is seq ${last?.seq ?? "none"} with hash ${last?.hash ?? "none"}`,
    );
  return { ok: true, ...base() };
}
