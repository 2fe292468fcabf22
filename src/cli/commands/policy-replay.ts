/**
 * `hexarch-ctl policy replay`: the audit log's recorded calls of a period, re-decided by a
 * proposed policy file, and what would flip.
 *
 * @module
 */

import { type Command, Option } from "commander";
import { type ReplayReport, replayAuditLog } from "../../decision/replay.ts";
import { silentExit } from "../errors.ts";
import { wholeNumber } from "../flags.ts";
import { type CliIo, jsonText, outputWidth, painter, renderTable } from "../output.ts";
import { loadFile } from "../policy-file.ts";
import { openStore, type StoreFlags, storeError, withStoreOptions } from "../store-options.ts";
import { instant } from "./audit.ts";

interface ReplayFlags extends StoreFlags {
  readonly since?: string;
  readonly until?: string;
  readonly format: "table" | "json";
  readonly failOnBlock?: boolean;
  readonly examples: number;
}

/** Registers `replay` under the `policy` command. */
export function policyReplayCommand(policy: Command, io: CliIo): void {
  withStoreOptions(
    policy
      .command("replay")
      .description("re-decide the audit log's recorded calls with a proposed policy file")
      .argument("<proposed>", "the proposed policy file (YAML or JSON)")
      .option(
        "--since <when>",
        "from: an ISO date or a duration back from now (7d)",
        instant("--since"),
      )
      .option("--until <when>", "to (default: now)", instant("--until"))
      .addOption(
        new Option("--format <format>", "output format")
          .choices(["table", "json"])
          .default("table"),
      )
      .option(
        "--examples <n>",
        "examples shown per kind of flip and policy",
        wholeNumber("--examples", 0, 50),
        3,
      )
      .option("--fail-on-block", "exit 1 when any recorded call would now be blocked"),
  )
    .addHelpText(
      "after",
      `
Each recorded decision of the period is decided again, oldest first, at its recorded time,
with counters that start empty: rate limits and budgets count as they would have. Events
that are not decisions and policies the proposed file lacks are skipped and counted.
Confirmation tokens are never logged, so a call that ran confirmed replays as needing
confirmation; budgets count the recorded contexts' amounts, not costs settled later.

Examples:
  $ hexarch-ctl policy replay proposed.yaml --since 7d
  $ hexarch-ctl policy replay proposed.yaml --since 2026-12-01 --format json --fail-on-block`,
    )
    .action(async (file: string, flags: ReplayFlags) => {
      const proposed = loadFile(file, io);
      const store = await openStore(flags, io, { mustExist: true });
      let report: ReplayReport;
      try {
        report = await replayAuditLog(store, proposed.set, {
          since: flags.since,
          until: flags.until,
          examples: flags.examples,
        });
      } catch (err) {
        throw storeError(err, flags, io);
      } finally {
        await store.close?.().catch(() => {});
      }
      if (flags.format === "json") io.stdout.write(jsonText(report));
      else printReport(report, io);
      if (flags.failOnBlock && report.toBlocked > 0) throw silentExit(1);
    });
}

function printReport(report: ReplayReport, io: CliIo): void {
  const paint = painter(io.stdout, io.env);
  const width = outputWidth(io.stdout, io.env);
  const period = `${report.since ?? "the start of the log"} to ${report.until}`;
  io.stdout.write(
    `replayed ${report.replayed} decisions from ${period} (skipped: ${report.skipped.notDecisions} events that are not decisions, ${report.skipped.unknownPolicy} of policies not in the file)\n`,
  );
  io.stdout.write(
    `would flip: ${paint(report.toBlocked ? "red" : "green", `${report.toBlocked} to blocked`)}, ${report.toAllowed} to allowed, ${report.warnChanged} to or from warned\n\n`,
  );
  if (report.policies.length === 0) return;
  io.stdout.write(
    renderTable(
      report.policies,
      [
        { header: "policy", value: (p) => p.policyId, shrink: 1 },
        { header: "replayed", value: (p) => p.replayed, right: true },
        { header: "unchanged", value: (p) => p.unchanged, right: true },
        { header: "→ blocked", value: (p) => p.toBlocked, right: true },
        { header: "→ allowed", value: (p) => p.toAllowed, right: true },
        { header: "warn ±", value: (p) => p.warnChanged, right: true },
        {
          header: "by rule",
          value: (p) =>
            Object.entries(p.byRule)
              .map(([rule, n]) => `${rule} ${n}`)
              .join(", ") || null,
          shrink: 2,
        },
      ],
      width,
      paint,
    ),
  );
  const examples = report.policies.flatMap((p) => p.examples);
  if (examples.length === 0) return;
  io.stdout.write("\nexamples:\n");
  for (const f of examples) {
    io.stdout.write(
      `  ${f.timestamp} ${f.policyId} ${f.functionName ?? "-"} user ${f.userId ?? "-"}: ${f.before} → ${f.after}: ${f.reason}\n`,
    );
  }
}
