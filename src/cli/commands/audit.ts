/**
 * `hexarch-ctl audit …`: read, export, clean up and verify the audit log.
 *
 * @module
 */

import { type Command, Option } from "commander";
import { parseDuration } from "../../audit/decision-logger.ts";
import type { AuditOutcome, AuditQuery } from "../../audit/types.ts";
import { budgetForecast } from "../../decision/budget-forecast.ts";
import { budgetPolicies, printBudgets } from "../budgets.ts";
import { usageError } from "../errors.ts";
import { type CliIo, jsonText, type ListFormat } from "../output.ts";
import { type NamedStats, printRecords, printStats } from "../records.ts";
import { type StoreFlags, withLogger, withStoreOptions } from "../store-options.ts";
import { exportRecords, filterOf } from "./audit-export.ts";
import { auditVerifyCommands } from "./audit-verify.ts";

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

/** A whole-number flag of at least 1. */
function positive(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1)
      throw usageError(`${name} must be a whole number of at least 1, not '${value}'`);
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
      .description(
        "decision counts, block rate and top block reasons per policy; with a policy file, every budget's spend this period and projected run-out",
      )
      .option("--policy-id <id>", "only this policy (default: every policy in the log)")
      .option("--top <n>", "block reasons to list per policy", count("--top"), 5)
      .option(
        "--policy-file <file>",
        "policy file whose budgets to show (default: HEXARCH_POLICY_FILE, else hexarch.yaml found upwards; none found: no budgets)",
      )
      .option(
        "--budget-limit <n>",
        "per-values (users…) listed per budget, biggest spenders first",
        positive("--budget-limit"),
        50,
      )
      .option("--at <time>", "forecast budgets as of this instant (default: now)", instant("--at"))
      .addOption(formatOption()),
  )
    .addHelpText(
      "after",
      `
Budgets: spend is counted from the audit log (recorded decisions re-decided at their
times, reported provider calls added as the server adds them), so the figures match
GET /audit/budgets. A projected run-out is when the budget reaches its limit at this
period's rate so far; "not this period" when that is after the period ends. With budgets,
--format json answers { policies, now, budgets, truncated } (one policy: its stats with
budgets and truncated added); CSV lists the stats only.

Examples:
  $ hexarch-ctl audit stats
  $ hexarch-ctl audit stats --policy-id api_budget --format json
  $ hexarch-ctl audit stats --policy-file ops/hexarch.yaml --budget-limit 10`,
    )
    .action(
      async (
        flags: StoreFlags & {
          policyId?: string;
          top: number;
          format: ListFormat;
          policyFile?: string;
          budgetLimit: number;
          at?: string;
        },
      ) => {
        const policies = flags.format === "csv" ? undefined : budgetPolicies(flags.policyFile, io);
        const { stats, forecast } = await withLogger(flags, io, { mustExist: true }, async (l) => {
          const ids = flags.policyId !== undefined ? [flags.policyId] : await l.getPolicyIds();
          const out: NamedStats[] = [];
          for (const policyId of ids)
            out.push({
              policyId,
              ...(await l.getPolicyStats(policyId, { topReasons: flags.top })),
            });
          const report =
            policies &&
            (await budgetForecast(l.store, policies, {
              maxPerBudget: flags.budgetLimit,
              ...(flags.at !== undefined && { now: flags.at }),
            }));
          return { stats: out, forecast: report };
        });
        const mine = (b: { readonly policyId: string }) =>
          flags.policyId === undefined || b.policyId === flags.policyId;
        const budgets = forecast?.budgets.filter(mine) ?? [];
        const truncated = forecast?.truncated.filter(mine) ?? [];
        if (flags.format === "json") {
          const one = flags.policyId !== undefined;
          io.stdout.write(
            jsonText(
              forecast === undefined
                ? one
                  ? stats[0]
                  : stats
                : one
                  ? { ...stats[0], budgets, truncated }
                  : { policies: stats, now: forecast.now, budgets, truncated },
            ),
          );
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
        if (flags.format === "table" && forecast !== undefined)
          printBudgets(budgets, truncated, io);
      },
    );

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
      .option("--until <when>", "before this ISO time, or this long ago", instant("--until"))
      .option(
        "--chain",
        "JSONL with the hash chain's edges and every entry between the records, so `audit verify --file` checks the file alone",
      ),
  )
    .addHelpText(
      "after",
      `
The file is written next to its name with a .partial suffix and renamed when complete,
so an interrupted export never looks finished. A progress bar shows on a terminal.

Examples:
  $ hexarch-ctl audit export --output decisions.csv --format csv --since 30d
  $ hexarch-ctl audit export --format jsonl --policy-id api_budget | gzip > budget.jsonl.gz
  $ hexarch-ctl audit export --chain --since 2026-11-01 --until 2026-12-01 --output 2026-11.jsonl
  $ hexarch-ctl audit verify --file 2026-11.jsonl`,
    )
    .action(
      async (
        flags: ListFlags & { output: string; format: "csv" | "json" | "jsonl"; chain?: boolean },
      ) => {
        await exportRecords(flags, io);
      },
    );

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

  auditVerifyCommands(audit, io);
}
