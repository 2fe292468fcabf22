/**
 * The budgets section of `hexarch-ctl audit stats`: every budget of the policy file, spent
 * this period (counted from the audit log by `budgetForecast`, as `GET /audit/budgets`
 * counts it), its limit and the projected run-out.
 *
 * @module
 */

import type { BudgetForecast } from "../decision/budget-forecast.ts";
import { PolicyFileError } from "../kernel/errors.ts";
import { discoverPolicyFile } from "../policy/load.ts";
import type { PolicySet } from "../policy/types.ts";
import { formatUsd } from "../util/money.ts";
import { CliError } from "./errors.ts";
import { type CliIo, type Column, outputWidth, painter, renderTable } from "./output.ts";
import { loadFile } from "./policy-file.ts";

/**
 * The policy file whose budgets `audit stats` shows: `--policy-file`, else the one the
 * library would load (`HEXARCH_POLICY_FILE`, `hexarch.yaml` upwards). `undefined` when none
 * is found; a found file that is not valid is skipped with a warning on stderr (the stats
 * still print), an explicit one is an error.
 */
export function budgetPolicies(explicit: string | undefined, io: CliIo): PolicySet | undefined {
  if (explicit !== undefined) return loadFile(explicit, io).set;
  try {
    discoverPolicyFile(undefined, { cwd: io.cwd, env: io.env });
  } catch (err) {
    if (err instanceof PolicyFileError) return undefined;
    throw err;
  }
  try {
    return loadFile(undefined, io).set;
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    io.stderr.write(`hexarch-ctl: budgets left out: ${err.message.split("\n")[0]}\n`);
    return undefined;
  }
}

/** An amount of a budget's unit as text: `$3.00`, `400 tokens`. */
const amount = (b: BudgetForecast, n: number): string =>
  b.unit === "usd" ? formatUsd(Math.round(n * 1_000_000)) : `${n.toLocaleString("en-US")} tokens`;

/** An instant to the minute, in UTC: `2026-12-02 20:00Z`. */
const minute = (iso: string): string => `${iso.slice(0, 10)} ${iso.slice(11, 16)}Z`;

const BUDGET_COLUMNS: readonly Column<BudgetForecast>[] = [
  { header: "POLICY", value: (b) => b.policyId, shrink: 1, min: 10 },
  { header: "RULE", value: (b) => b.ruleName, shrink: 2, min: 8 },
  { header: "PER", value: (b) => (b.per === null ? "(shared)" : b.per || "(none)"), shrink: 3 },
  { header: "SPENT", value: (b) => amount(b, b.spent), right: true },
  { header: "LIMIT", value: (b) => `${amount(b, b.limit)}/${b.period}`, right: true },
  {
    header: "PROJECTED RUN-OUT",
    value: (b) =>
      b.exhausted
        ? "exhausted"
        : b.projectedRunOut === null
          ? "not this period"
          : minute(b.projectedRunOut),
    tone: (b) => (b.exhausted ? "red" : b.projectedRunOut !== null ? "yellow" : undefined),
  },
];

/**
 * Prints the budgets section under the stats table: a heading and one row per budget and
 * `per` value, and a line per budget whose smallest spenders were left out.
 */
export function printBudgets(
  budgets: readonly BudgetForecast[],
  truncated: readonly {
    readonly policyId: string;
    readonly key: string;
    readonly omitted: number;
  }[],
  io: CliIo,
): void {
  io.stdout.write("\nBudgets (this period, counted from the audit log):\n");
  if (budgets.length === 0) {
    io.stdout.write("  no budget has spent anything this period\n");
    return;
  }
  const width = outputWidth(io.stdout, io.env);
  io.stdout.write(renderTable(budgets, BUDGET_COLUMNS, width, painter(io.stdout, io.env)));
  for (const t of truncated)
    io.stdout.write(
      `  … and ${t.omitted.toLocaleString("en-US")} more of ${t.policyId} ${t.key} (--budget-limit N lists more)\n`,
    );
}
