/**
 * `hexarch-ctl audit export` and the progress line it (and `audit verify`) shows: records
 * streamed oldest first, a page at a time, into a file renamed only when complete. On
 * standard output, a reader that stops early (`| head`) ends the export quietly: exit 0,
 * no message, as `cat` or `git log` do.
 *
 * @module
 */

import { once } from "node:events";
import { createWriteStream, renameSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import type { DecisionLogger } from "../../audit/decision-logger.ts";
import { exportEntryLine, exportHeadLine, exportTailLine } from "../../audit/export-slice.ts";
import type { AuditOutcome, AuditQuery, ChainedRecord } from "../../audit/types.ts";
import { CliError, usageError } from "../errors.ts";
import { type CliIo, csvLine } from "../output.ts";
import { RECORD_CSV_HEADER, recordCsv, recordJson } from "../records.ts";
import { type StoreFlags, withLogger } from "../store-options.ts";

/** The filter flags of `audit list` and `audit export`. */
export interface FilterFlags {
  readonly policyId?: string;
  readonly userId?: string;
  readonly decision?: AuditOutcome;
  readonly since?: string;
  readonly until?: string;
}

/** The record filter the flags ask for (only the flags given). */
export function filterOf(flags: FilterFlags): AuditQuery {
  return {
    ...(flags.policyId !== undefined && { policyId: flags.policyId }),
    ...(flags.userId !== undefined && { userId: flags.userId }),
    ...(flags.decision !== undefined && { decision: flags.decision }),
    ...(flags.since !== undefined && { since: flags.since }),
    ...(flags.until !== undefined && { until: flags.until }),
  };
}

/** The flags `audit export` reads. */
export interface ExportFlags extends StoreFlags, FilterFlags {
  readonly output: string;
  readonly format: "csv" | "json" | "jsonl";
  /** Write the chain around the records, with its edges (`audit verify --file` checks it alone). */
  readonly chain?: boolean;
}

/** A progress line on standard error, only on a terminal. */
export function progressBar(io: CliIo, label: string) {
  const tty = io.stderr.isTTY === true;
  let last = 0;
  return {
    update(done: number, total?: number) {
      if (!tty) return;
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      const pct = total ? ` ${Math.min(100, Math.floor((done / total) * 100))}%` : "";
      const width = 30;
      const bar = total
        ? ` [${"#".repeat(Math.round((Math.min(done, total) / total) * width)).padEnd(width, ".")}]`
        : "";
      io.stderr.write(
        `\r${label}${bar}${pct} ${done.toLocaleString("en-US")}${total ? ` / ${total.toLocaleString("en-US")}` : ""} records`,
      );
    },
    done() {
      if (tty && last > 0) io.stderr.write("\r\x1b[K");
    },
  };
}

/** Thrown inside the export when standard output's reader has gone (`| head`). */
class OutputClosed extends Error {}

/** Errors a write to a pipe whose reader has gone gives (Node ignores SIGPIPE). */
const isClosedPipe = (err: unknown): boolean => {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "EPIPE" || code === "ERR_STREAM_DESTROYED";
};

/**
 * Writes to standard output that notice its reader going: an `EPIPE` is an `error` event
 * on the stream, a tick after the write, and with no listener it would end the process
 * with a stack trace. The listener stays for the life of the process, since writes still
 * queued can report it after the export returned.
 */
function stdoutWriter(io: CliIo): (chunk: string) => Promise<void> {
  const out = io.stdout as CliIo["stdout"] &
    Partial<Pick<NodeJS.WritableStream, "on">> & { readonly destroyed?: boolean };
  let closed = false;
  let failed: unknown;
  out.on?.("error", (err: unknown) => {
    if (isClosedPipe(err)) closed = true;
    else failed ??= err;
  });
  return async (chunk) => {
    if (failed !== undefined) throw failed;
    if (closed || out.destroyed === true) throw new OutputClosed("standard output was closed");
    let flowing: boolean;
    try {
      flowing = out.write(chunk);
    } catch (err) {
      throw isClosedPipe(err) ? new OutputClosed("standard output was closed") : err;
    }
    if (!flowing && out.on)
      await once(out as unknown as NodeJS.EventEmitter, "drain").catch((err: unknown) => {
        throw isClosedPipe(err) ? new OutputClosed("standard output was closed") : err;
      });
  };
}

/** Streams the matching records to the output, a page at a time, with backpressure. */
export async function exportRecords(flags: ExportFlags, io: CliIo): Promise<void> {
  if (flags.chain) {
    if (flags.format !== "jsonl")
      throw usageError("--chain writes JSONL: drop --format or use --format jsonl");
    if (flags.policyId !== undefined || flags.userId !== undefined || flags.decision !== undefined)
      throw usageError(
        "--chain exports a stretch of the log: filter it by time only (--since, --until)",
        "a policy, user or outcome filter leaves holes no file can link across",
      );
  }
  const toStdout = flags.output === "-";
  const target = toStdout ? "" : resolve(io.cwd, flags.output);
  const partial = `${target}.partial`;
  const file = toStdout ? undefined : createWriteStream(partial);
  if (file) {
    await Promise.race([
      once(file, "open"),
      once(file, "error").then(([err]) => {
        throw new CliError(`cannot write ${target}: ${(err as Error).message}`, {
          hint: "check that the directory exists and is writable",
        });
      }),
    ]);
  }
  const toOut = file ? undefined : stdoutWriter(io);
  const write = async (chunk: string) => {
    if (file) {
      if (!file.write(chunk)) await once(file, "drain");
    } else await toOut?.(chunk);
  };
  const filter = filterOf(flags);
  const progress = progressBar(io, "exporting");
  let n = 0;
  try {
    await withLogger(flags, io, { mustExist: true }, async (l) => {
      const unfiltered = Object.keys(filter).length === 0;
      const ends = unfiltered ? await l.store.ends() : undefined;
      const total = ends ? ends.headSeq - ends.startSeq : undefined;
      try {
        if (flags.chain) {
          n = await writeChained(l, filter, flags, write, (done) => progress.update(done, total));
          return;
        }
        if (flags.format === "csv") await write(csvLine(RECORD_CSV_HEADER));
        if (flags.format === "json") await write("[");
        for await (const r of l.exportDecisions(filter)) {
          await write(line(r, flags.format, n));
          n++;
          if (n % 1000 === 0) progress.update(n, total);
        }
        if (flags.format === "json") await write(n === 0 ? "]\n" : "\n]\n");
      } catch (err) {
        // The reader took what it wanted (`| head`): not a failure of the store or the export.
        // Only the writer says so: a store's own stream error is a failure, never a quiet end.
        if (!file && err instanceof OutputClosed) return;
        throw err;
      }
    });
  } catch (err) {
    file?.destroy();
    if (file) rmSync(partial, { force: true });
    throw err;
  } finally {
    progress.done();
  }
  if (file) {
    file.end();
    await once(file, "finish");
    renameSync(partial, target);
    io.stderr.write(`exported ${n.toLocaleString("en-US")} records to ${flags.output}\n`);
  }
}

/**
 * The chained export: the start line (the hash before the first record), every entry of
 * the log from the first record of the window to its last (the window's records, and any
 * record outside it, prune record or pruned run between them), and the end line (the hash
 * of the last). Returns how many records of the window it wrote.
 */
async function writeChained(
  l: DecisionLogger,
  filter: AuditQuery,
  flags: ExportFlags,
  write: (chunk: string) => Promise<void>,
  tick: (done: number) => void,
): Promise<number> {
  let records = 0;
  let entries = 0;
  let last: { seq: number; hash: string } | undefined;
  for await (const r of l.exportDecisions(filter)) {
    if (last === undefined) await write(exportHeadLine(r, flags));
    else if (r.prevHash !== last.hash || r.seq !== last.seq + 1) {
      // Entries between two records of the window: write them, so every link is in the file.
      let at = last.seq;
      fill: for (;;) {
        const page = await l.store.chain(at, 1000);
        if (page.length === 0) break;
        for (const e of page) {
          if (e.seq >= r.seq) break fill;
          await write(exportEntryLine(e, false));
          entries++;
          at = "kind" in e && e.kind === "pruned" ? e.toSeq : e.seq;
          last = { seq: at, hash: e.hash };
        }
      }
    }
    await write(exportEntryLine(r, true));
    records++;
    entries++;
    last = { seq: r.seq, hash: r.hash };
    if (records % 1000 === 0) tick(records);
  }
  if (last === undefined) await write(exportHeadLine(undefined, flags));
  await write(exportTailLine(records, entries, last));
  return records;
}

function line(r: ChainedRecord, format: "csv" | "json" | "jsonl", index: number): string {
  if (format === "csv") return recordCsv(r);
  const json = JSON.stringify(recordJson(r));
  return format === "jsonl" ? `${json}\n` : `${index === 0 ? "\n" : ",\n"}  ${json}`;
}
