/**
 * `hexarch-ctl audit verify` and `audit checkpoint`: walk the hash chain (and check it
 * against signed checkpoints in a file), and sign a checkpoint of a log that verifies.
 *
 * @module
 */

import { createReadStream, existsSync } from "node:fs";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { type Command, Option } from "commander";
import {
  appendCheckpointFile,
  type CheckpointFile,
  checkpointFailureMessage,
  readCheckpointFile,
} from "../../audit/checkpoints/checkpoint-file.ts";
import { takeCheckpoint, verifyWithCheckpoints } from "../../audit/checkpoints/checkpoints.ts";
import { CheckpointSigner } from "../../audit/checkpoints/signing.ts";
import { type ExportVerifyResult, verifyExportLines } from "../../audit/export-slice.ts";
import type { VerifyResult } from "../../audit/hash-chain.ts";
import { GENESIS } from "../../audit/hash-chain.ts";
import { defaultActor } from "../../sql/prune.ts";
import { CliError, silentExit, usageError } from "../errors.ts";
import { type CliIo, jsonText, painter } from "../output.ts";
import { type StoreFlags, withLogger, withStoreOptions } from "../store-options.ts";
import { progressBar } from "./audit-export.ts";

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

/** The flags `audit verify` reads. */
type VerifyFlags = StoreFlags & { format: "table" | "json"; checkpoints?: string; file?: string };

/** Registers `audit verify` and `audit checkpoint` on the `audit` command. */
export function auditVerifyCommands(audit: Command, io: CliIo): void {
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
      .option(
        "--file <export>",
        "check an export written with `audit export --chain` on its own, without the database",
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
  $ HEXARCH_AUDIT_HMAC_KEY=... hexarch-ctl audit verify --checkpoints /mnt/worm/checkpoints.jsonl
  $ hexarch-ctl audit verify --file cold/2026-11.jsonl`,
    )
    .action(async (flags: VerifyFlags) => {
      if (flags.file !== undefined) {
        if (flags.checkpoints !== undefined)
          throw usageError(
            "--file checks an export on its own: check the live log against --checkpoints without --file",
          );
        await verifyExportFile(flags.file, flags.format, io);
        return;
      }
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

/** `audit verify --file`: an export made with `--chain`, checked with no database. */
async function verifyExportFile(path: string, format: "table" | "json", io: CliIo): Promise<void> {
  const full = resolve(io.cwd, path);
  if (!existsSync(full))
    throw new CliError(`cannot read ${path}: no such file`, { hint: "check the path" });
  const input = createReadStream(full, { encoding: "utf8" });
  let result: ExportVerifyResult;
  try {
    result = await verifyExportLines(
      createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY }),
    );
  } catch (err) {
    throw new CliError(`cannot read ${path}: ${(err as Error).message}`, {
      hint: "check the path and its permissions",
    });
  } finally {
    input.destroy();
  }
  if (format === "json") io.stdout.write(jsonText({ file: path, ...result }));
  else {
    const paint = painter(io.stdout, io.env);
    if (result.ok) {
      const span =
        result.firstSeq === null ? "no entries" : `seq ${result.firstSeq}..${result.lastSeq}`;
      io.stdout.write(
        `${paint("green", "ok")}: export ${path}: ${result.records.toLocaleString("en-US")} records (${result.checked.toLocaleString("en-US")} entries, ${span}) check out\n` +
          (result.prevHash === null
            ? ""
            : `  starts after ${result.prevHash}${result.prevHash === GENESIS ? " (the log's start)" : ""}\n  ends on      ${result.lastHash}\n`),
      );
    } else
      io.stdout.write(
        `${paint("red", "BROKEN")}: export ${path}: ${result.message ?? result.problem}\n`,
      );
  }
  if (!result.ok) throw silentExit(1);
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
