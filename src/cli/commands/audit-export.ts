/**
 * `hexarch-ctl audit export` and the progress line it (and `audit verify`) shows: records
 * streamed oldest first, a page at a time, into a file renamed only when complete.
 *
 * @module
 */

import { once } from "node:events";
import { createWriteStream, renameSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import type { AuditOutcome, AuditQuery, ChainedRecord } from "../../audit/types.ts";
import { CliError } from "../errors.ts";
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

/** Streams the matching records to the output, a page at a time, with backpressure. */
export async function exportRecords(flags: ExportFlags, io: CliIo): Promise<void> {
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
  const write = async (chunk: string) => {
    if (file) {
      if (!file.write(chunk)) await once(file, "drain");
    } else if (!io.stdout.write(chunk) && "once" in io.stdout) {
      await once(io.stdout as unknown as NodeJS.EventEmitter, "drain");
    }
  };
  const filter = filterOf(flags);
  const progress = progressBar(io, "exporting");
  let n = 0;
  try {
    await withLogger(flags, io, { mustExist: true }, async (l) => {
      const unfiltered = Object.keys(filter).length === 0;
      const ends = unfiltered ? await l.store.ends() : undefined;
      const total = ends ? ends.headSeq - ends.startSeq : undefined;
      if (flags.format === "csv") await write(csvLine(RECORD_CSV_HEADER));
      if (flags.format === "json") await write("[");
      for await (const r of l.exportDecisions(filter)) {
        await write(line(r, flags.format, n));
        n++;
        if (n % 1000 === 0) progress.update(n, total);
      }
      if (flags.format === "json") await write(n === 0 ? "]\n" : "\n]\n");
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

function line(r: ChainedRecord, format: "csv" | "json" | "jsonl", index: number): string {
  if (format === "csv") return recordCsv(r);
  const json = JSON.stringify(recordJson(r));
  return format === "jsonl" ? `${json}\n` : `${index === 0 ? "\n" : ",\n"}  ${json}`;
}
