/**
 * `hexarch-ctl audit …`: read, export, clean up and verify the audit log.
 *
 * @module
 */

import { existsSync } from "node:fs";
import { type Command, Option } from "commander";
import {
  appendCheckpointFile,
  type CheckpointFile,
  checkpointFailureMessage,
  readCheckpointFile,
} from "../../audit/checkpoints/checkpoint-file.ts";
import { takeCheckpoint, verifyWithCheckpoints } from "../../audit/checkpoints/checkpoints.ts";
import { CheckpointSigner } from "../../audit/checkpoints/signing.ts";
import { parseDuration } from "../../audit/decision-logger.ts";
import type { VerifyResult } from "../../audit/hash-chain.ts";
import { defaultActor } from "../../audit/prune.ts";
import type { AuditOutcome, AuditQuery } from "../../audit/types.ts";
import { CliError, silentExit, usageError } from "../errors.ts";
import { type CliIo, jsonText, type ListFormat, painter } from "../output.ts";
import { type NamedStats, printRecords, printStats } from "../records.ts";
import { type StoreFlags, withLogger, withStoreOptions } from "../store-options.ts";
import { exportRecords, filterOf, progressBar } from "./audit-export.ts";

const OUTCOMES = ["allowed", "warned", "blocked"] as const;

const formatOption = () =>
  new Option("--format <format>", "output format")
    .choices(["table", "json", "csv"])
    .default("table");

/** A positive integer flag. */
function count(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0)
      throw usageError(`${name} must be a whole number, not '${value}'`);
    return n;
  };
}

/** A number of days (fractions allowed). */
function days(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0 || value.trim() === "")
      throw usageError(`${name} must be a number of days, not '${value}'`);
    return n;
  };
}

/** `--since`/`--until`: an ISO date or time, or a duration back from now (`24h`, `7d`). */
export function instant(name: string, now: () => number = Date.now) {
  return (value: string): string => {
    if (/^\d+(\.\d+)?\s*(ms|s|m|h|d|w)$/.test(value.trim()))
      return new Date(now() - parseDuration(value)).toISOString();
    const t = Date.parse(value);
    if (Number.isNaN(t))
      throw usageError(
        `${name} must be an ISO date (2026-11-25, 2026-11-25T12:00:00Z) or a duration such as 24h, not '${value}'`,
      );
    return new Date(t).toISOString();
  };
}

function timeframe(value: string): string {
  try {
    parseDuration(value);
    return value;
  } catch {
    throw usageError(`--timeframe must be a duration such as 24h, 7d or 30d, not '${value}'`);
  }
}

interface ListFlags extends StoreFlags {
  readonly policyId?: string;
  readonly userId?: string;
  readonly decision?: AuditOutcome;
  readonly since?: string;
  readonly until?: string;
  readonly limit: number;
  readonly offset?: number;
  readonly format: ListFormat;
}

/**
 * A stored string for the terminal: control characters (C0, DEL, C1) escaped, so a forged
 * actor or reason cannot rewrite the screen, and cut at `max` characters.
 */
function printable(s: string, max: number): string {
  const escaped = s.replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are the point
    /[\u0000-\u001f\u007f-\u009f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return escaped.length > max ? `${escaped.slice(0, max)}…` : escaped;
}

/**
 * One line per prune record `verify` walked (the last ones it lists): a prune is accounted
 * for by the chain, but anyone who can write the tables can forge one, so who and why show.
 */
function pruneLines(result: VerifyResult): string {
  const out: string[] = [];
  if (result.pruneRecordsOmitted)
    out.push(
      `  (${result.pruneRecordsOmitted.toLocaleString("en-US")} earlier prune records not listed)`,
    );
  for (const p of result.pruneRecords ?? []) {
    const ranges = p.ranges.map((r) => (r.from === r.to ? `${r.from}` : `${r.from}..${r.to}`));
    if (p.runs > ranges.length) ranges.push(`and ${p.runs - ranges.length} more runs`);
    out.push(
      `  prune at seq ${p.seq}, ${printable(p.at, 40)} by ${printable(p.actor, 120)}: removed ${ranges.join(", ")} (${p.removed.toLocaleString("en-US")} records): "${printable(p.reason, 200)}"`,
    );
  }
  return out.map((l) => `${l}\n`).join("");
}

/** Registers `audit` and its subcommands on the program. */
export function auditCommand(program: Command, io: CliIo): void {
  const audit = program
    .command("audit")
    .description("read, export, clean up and verify the audit log")
    .addHelpText(
      "after",
      `
The log is ./decisions.db (SQLite) unless --db, HEXARCH_AUDIT_DB, --pg-url or
HEXARCH_PG_URL says otherwise. Every listing takes --format table|json|csv.`,
    );

  withStoreOptions(
    audit
      .command("list")
      .description("recent decisions, newest first")
      .option("--policy-id <id>", "only this policy")
      .option("--user-id <id>", "only this user")
      .addOption(new Option("--decision <decision>", "only this outcome").choices(OUTCOMES))
      .option(
        "--since <when>",
        "from this ISO time, or this long ago (24h, 7d)",
        instant("--since"),
      )
      .option("--until <when>", "before this ISO time, or this long ago", instant("--until"))
      .option("--limit <n>", "at most this many", count("--limit"), 20)
      .option("--offset <n>", "skip this many", count("--offset"))
      .addOption(formatOption()),
  )
    .addHelpText(
      "after",
      `
Examples:
  $ hexarch-ctl audit list
  $ hexarch-ctl audit list --policy-id api_budget --decision blocked --since 24h
  $ hexarch-ctl audit list --user-id alice --format json | jq '.[].reason'`,
    )
    .action(async (flags: ListFlags) => {
      const filter: AuditQuery = {
        ...filterOf(flags),
        ...(flags.offset !== undefined && { offset: flags.offset }),
        limit: flags.limit,
      };
      const records = await withLogger(flags, io, { mustExist: true }, (l) =>
        l.getDecisionHistory(filter),
      );
      printRecords(records, flags.format, io);
    });

  withStoreOptions(
    audit
      .command("blocked")
      .description("blocked calls within a timeframe, newest first")
      .option(
        "--timeframe <duration>",
        "how far back: 24h, 7d, 30d or any duration",
        timeframe,
        "24h",
      )
      .option("--limit <n>", "at most this many", count("--limit"), 50)
      .addOption(formatOption()),
  )
    .addHelpText("after", "\nExamples:\n  $ hexarch-ctl audit blocked --timeframe 7d")
    .action(
      async (flags: StoreFlags & { timeframe: string; limit: number; format: ListFormat }) => {
        const records = await withLogger(flags, io, { mustExist: true }, (l) =>
          l.getBlockedOperations({ timeframe: flags.timeframe, limit: flags.limit }),
        );
        printRecords(records, flags.format, io);
      },
    );

  withStoreOptions(
    audit
      .command("stats")
      .description("decision counts, block rate and top block reasons per policy")
      .option("--policy-id <id>", "only this policy (default: every policy in the log)")
      .option("--top <n>", "block reasons to list per policy", count("--top"), 5)
      .addOption(formatOption()),
  )
    .addHelpText(
      "after",
      "\nExamples:\n  $ hexarch-ctl audit stats\n  $ hexarch-ctl audit stats --policy-id api_budget --format json",
    )
    .action(async (flags: StoreFlags & { policyId?: string; top: number; format: ListFormat }) => {
      const stats = await withLogger(flags, io, { mustExist: true }, async (l) => {
        const ids = flags.policyId !== undefined ? [flags.policyId] : await l.getPolicyIds();
        const out: NamedStats[] = [];
        for (const policyId of ids)
          out.push({ policyId, ...(await l.getPolicyStats(policyId, { topReasons: flags.top })) });
        return out;
      });
      if (flags.policyId !== undefined && flags.format === "json") {
        io.stdout.write(jsonText(stats[0]));
        return;
      }
      printStats(stats, flags.format, io);
      if (flags.format === "table" && flags.policyId !== undefined) {
        const reasons = stats[0]?.topBlockReasons ?? [];
        if (reasons.length > 0) {
          io.stdout.write("\nTop block reasons:\n");
          for (const r of reasons)
            io.stdout.write(`  ${r.count.toLocaleString("en-US").padStart(8)}  ${r.reason}\n`);
        }
      }
    });

  withStoreOptions(
    audit
      .command("trail")
      .description("every decision about one user, newest first")
      .requiredOption("--user-id <id>", "the user")
      .option("--limit <n>", "at most this many", count("--limit"), 50)
      .addOption(formatOption()),
  )
    .addHelpText("after", "\nExamples:\n  $ hexarch-ctl audit trail --user-id alice")
    .action(async (flags: StoreFlags & { userId: string; limit: number; format: ListFormat }) => {
      const records = await withLogger(flags, io, { mustExist: true }, (l) =>
        l.getUserAuditTrail(flags.userId, { limit: flags.limit }),
      );
      printRecords(records, flags.format, io);
    });

  withStoreOptions(
    audit
      .command("export")
      .description("write decisions to a file, oldest first, in bounded memory")
      .option("--output <file>", "where to write ('-' for standard output)", "-")
      .addOption(
        new Option("--format <format>", "file format")
          .choices(["csv", "json", "jsonl"])
          .default("jsonl"),
      )
      .option("--policy-id <id>", "only this policy")
      .option("--user-id <id>", "only this user")
      .addOption(new Option("--decision <decision>", "only this outcome").choices(OUTCOMES))
      .option(
        "--since <when>",
        "from this ISO time, or this long ago (24h, 7d)",
        instant("--since"),
      )
      .option("--until <when>", "before this ISO time, or this long ago", instant("--until")),
  )
    .addHelpText(
      "after",
      `
The file is written next to its name with a .partial suffix and renamed when complete,
so an interrupted export never looks finished. A progress bar shows on a terminal.

Examples:
  $ hexarch-ctl audit export --output decisions.csv --format csv --since 30d
  $ hexarch-ctl audit export --format jsonl --policy-id api_budget | gzip > budget.jsonl.gz`,
    )
    .action(async (flags: ListFlags & { output: string; format: "csv" | "json" | "jsonl" }) => {
      await exportRecords(flags, io);
    });

  withStoreOptions(
    audit
      .command("cleanup")
      .description("delete old records; the hash chain stays verifiable")
      .option("--days <n>", "delete every record older than this many days", days("--days"))
      .option("--allowed <days>", "delete allowed decisions older than this", days("--allowed"))
      .option("--warned <days>", "delete warned decisions older than this", days("--warned"))
      .option("--blocked <days>", "delete blocked decisions older than this", days("--blocked"))
      .option("--dry-run", "count what would be deleted, delete nothing"),
  )
    .addHelpText(
      "after",
      `
Examples:
  $ hexarch-ctl audit cleanup --days 90 --dry-run
  $ hexarch-ctl audit cleanup --allowed 30 --warned 90 --blocked 365`,
    )
    .action(
      async (
        flags: StoreFlags & {
          days?: number;
          allowed?: number;
          warned?: number;
          blocked?: number;
          dryRun?: boolean;
        },
      ) => {
        const bySeverity = OUTCOMES.filter((o) => flags[o] !== undefined);
        if (flags.days === undefined && bySeverity.length === 0) {
          throw usageError(
            "say what to delete: --days N, or --allowed/--warned/--blocked N",
            "add --dry-run to see how many records would go",
          );
        }
        if (flags.days !== undefined && bySeverity.length > 0) {
          throw usageError("give --days or the per-outcome flags, not both");
        }
        const dryRun = flags.dryRun === true;
        const n = await withLogger(flags, io, { mustExist: true }, (l) =>
          flags.days !== undefined
            ? l.cleanupOldRecords({ days: flags.days, dryRun })
            : l.cleanupBySeverity(
                Object.fromEntries(bySeverity.map((o) => [o, flags[o] as number])),
                { dryRun },
              ),
        );
        const what =
          flags.days !== undefined
            ? `older than ${flags.days} days`
            : bySeverity.map((o) => `${o} older than ${flags[o]} days`).join(", ");
        io.stdout.write(
          dryRun
            ? `would delete ${n.toLocaleString("en-US")} records ${what} (dry run: nothing deleted)\n`
            : `deleted ${n.toLocaleString("en-US")} records ${what}; the chain still verifies\n`,
        );
      },
    );

  withStoreOptions(
    audit
      .command("verify")
      .description(
        "walk the hash chain; exit 1 if any record was edited, deleted or reordered, or a checkpoint no longer matches",
      )
      .option(
        "--checkpoints <file>",
        "also check the log against the signed checkpoints in this JSONL file (needs HEXARCH_AUDIT_HMAC_KEY)",
      )
      .addOption(
        new Option("--format <format>", "output format")
          .choices(["table", "json"])
          .default("table"),
      ),
  )
    .addHelpText(
      "after",
      `
Gaps are accepted only where a chained prune record (written by audit cleanup) lists
them. Rows removed from the end, with the head moved back, are found only against a
checkpoint taken before: keep checkpoint files (serve api --checkpoint-file, audit
checkpoint --checkpoint-file) where the database's writers cannot reach.

Examples:
  $ hexarch-ctl audit verify && echo intact
  $ HEXARCH_AUDIT_HMAC_KEY=... hexarch-ctl audit verify --checkpoints /mnt/worm/checkpoints.jsonl`,
    )
    .action(async (flags: StoreFlags & { format: "table" | "json"; checkpoints?: string }) => {
      const against =
        flags.checkpoints === undefined ? undefined : await checkpointFile(flags.checkpoints, io);
      const progress = progressBar(io, "verifying");
      const outcome = await withLogger(flags, io, { mustExist: true }, async (l) => {
        if (against === undefined)
          return {
            chain: await l.verify({ onProgress: (done, total) => progress.update(done, total) }),
          };
        const v = await verifyWithCheckpoints(l, against.signer, against.file.checkpoints);
        return { chain: v.chain, checkpoints: v.checkpoints, v };
      });
      progress.done();
      const result = outcome.chain;
      const paint = painter(io.stdout, io.env);
      // With a file: its damaged lines, a failing checkpoint, or none checkable fail too.
      const problems: string[] = [];
      if (against !== undefined && outcome.v !== undefined) {
        for (const bad of against.file.badLines)
          problems.push(
            `${flags.checkpoints} line ${bad.line} is not a checkpoint: ${bad.message}`,
          );
        const failure = checkpointFailureMessage(outcome.v, against.file.checkpoints);
        if (failure !== undefined && result.ok) problems.push(failure);
        const { checked, skipped } = outcome.v.checkpoints;
        if (result.ok && checked === 0 && skipped > 0)
          problems.push(
            `none of the ${skipped} checkpoints in ${flags.checkpoints} is signed under key id ${against.signer.keyId}: set HEXARCH_AUDIT_HMAC_KEY (and HEXARCH_AUDIT_HMAC_KEY_ID) to the key that signed them`,
          );
      }
      const ok = result.ok && problems.length === 0;
      if (flags.format === "json")
        io.stdout.write(
          jsonText({
            ...result,
            ...(outcome.checkpoints && { ok, checkpoints: outcome.checkpoints }),
            ...(problems.length > 0 && { problems }),
          }),
        );
      else {
        if (result.ok)
          io.stdout.write(
            `${ok ? paint("green", "ok") : "chain"}: ${result.checked.toLocaleString("en-US")} records checked, the chain is intact${result.prunes ? ` (${result.prunes} prune records account for ${result.pruned} removed)` : ""}\n${pruneLines(result)}`,
          );
        else
          io.stdout.write(
            `${paint("red", "BROKEN")}: the chain breaks at ${result.firstBadDecisionId} (${result.checked.toLocaleString("en-US")} records before it check out)\n${result.message ? `  ${result.message}\n` : ""}`,
          );
        if (outcome.checkpoints && problems.length === 0 && result.ok)
          io.stdout.write(
            `ok: ${outcome.checkpoints.checked} checkpoints from ${flags.checkpoints} match the chain${outcome.checkpoints.skipped ? ` (${outcome.checkpoints.skipped} under other key ids skipped)` : ""}\n`,
          );
        for (const p of problems) io.stdout.write(`${paint("red", "BROKEN")}: ${p}\n`);
      }
      if (!ok) throw silentExit(1);
    });

  withStoreOptions(
    audit
      .command("checkpoint")
      .description(
        "verify the log and sign a checkpoint of its head (HEXARCH_AUDIT_HMAC_KEY), appended to a file",
      )
      .requiredOption(
        "--checkpoint-file <file>",
        "the append-only JSONL file to add the signed checkpoint to (its checkpoints are checked first)",
      )
      .option("--actor <name>", "who takes it (default: hexarch-ctl:user@host)"),
  )
    .addHelpText(
      "after",
      `
Keep the file where the database's writers cannot reach (another host, an append-only
mount); run this from cron. A log that does not verify gets no checkpoint (exit 1).

Examples:
  $ HEXARCH_AUDIT_HMAC_KEY=... hexarch-ctl audit checkpoint --checkpoint-file /mnt/worm/checkpoints.jsonl`,
    )
    .action(async (flags: StoreFlags & { checkpointFile: string; actor?: string }) => {
      const { signer, file } = await checkpointFile(flags.checkpointFile, io, {
        mayBeMissing: true,
      });
      const taken = await withLogger(flags, io, { mustExist: true }, (l) =>
        takeCheckpoint(l, signer, {
          actor: flags.actor ?? `hexarch-ctl:${defaultActor()}`,
          checkpoints: file.checkpoints,
        }),
      );
      if (!taken.ok) {
        const why = checkpointFailureMessage(taken.verification, file.checkpoints);
        throw new CliError(`no checkpoint signed: ${why ?? "the log does not verify"}`, {
          hint: "run hexarch-ctl audit verify to see what is wrong",
        });
      }
      await appendCheckpointFile(flags.checkpointFile, taken.checkpoint);
      io.stdout.write(
        `checkpoint ${taken.checkpoint.id}: seq ${taken.checkpoint.seq}, hash ${taken.checkpoint.headHash}, appended to ${flags.checkpointFile}\n`,
      );
    });
}

/** The signer from the environment and a checkpoint file's contents, or a clear CLI error. */
async function checkpointFile(
  path: string,
  io: CliIo,
  options: { readonly mayBeMissing?: boolean } = {},
): Promise<{ signer: CheckpointSigner; file: CheckpointFile }> {
  const key = io.env.HEXARCH_AUDIT_HMAC_KEY?.trim() || undefined;
  const keyId = io.env.HEXARCH_AUDIT_HMAC_KEY_ID?.trim() || undefined;
  if (key === undefined)
    throw usageError(
      "checkpoints are signed: set HEXARCH_AUDIT_HMAC_KEY (at least 32 bytes) to the key they are signed with",
      "and HEXARCH_AUDIT_HMAC_KEY_ID when they name another key id",
    );
  let signer: CheckpointSigner;
  try {
    signer = new CheckpointSigner({ key, ...(keyId !== undefined && { keyId }) });
  } catch (err) {
    throw usageError((err as Error).message);
  }
  if (options.mayBeMissing && !existsSync(path))
    return { signer, file: { checkpoints: [], badLines: [] } };
  try {
    return { signer, file: await readCheckpointFile(path) };
  } catch (err) {
    throw new CliError((err as Error).message, { hint: "check the path and its permissions" });
  }
}
