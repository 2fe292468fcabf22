/**
 * `hexarch-ctl eval run`: golden cases against a decision server or in this process, with
 * a dated report (`report.md`, `results.json`, `server.log`).
 *
 * @module
 */

import { type Command, Option } from "commander";
import { CliError, USAGE, usageError } from "../errors.ts";
import type { CliIo } from "../output.ts";

/** The flags of `eval run`. */
export interface EvalRunFlags {
  readonly url?: string;
  readonly token?: string;
  readonly startServer?: boolean;
  readonly policyFile?: string;
  readonly out: string;
  readonly format: "table" | "json";
}

/** Registers `eval` and `eval run` on the program. */
export function evalCommand(program: Command, io: CliIo): void {
  const evalCmd = program.command("eval").description("golden cases: run them, keep the evidence");
  evalCmd
    .command("run")
    .description(
      "run a cases file against a decision server or in-process and write a dated report",
    )
    .argument(
      "<cases>",
      "cases file: JSON or YAML, a 'steps:' list (the Python harness's format) or a 'tests:' list (policy test cases)",
    )
    .option("--url <url>", "a running decision server (with --token or HEXARCH_API_TOKEN)")
    .option("--token <token>", "bearer token for --url (default: HEXARCH_API_TOKEN)")
    .option(
      "--start-server",
      "start `hexarch-ctl serve api` on a temporary SQLite file for the run (with --policy-file, on those policies)",
    )
    .option(
      "--policy-file <file>",
      "policy file: decided in-process without --url/--start-server; the started server's with --start-server; for the coverage section with --url",
    )
    .option("--out <dir>", "where the dated report folder goes", "./eval-reports")
    .addOption(
      new Option("--format <format>", "output format").choices(["table", "json"]).default("table"),
    )
    .addHelpText(
      "after",
      `
Writes DIR/<UTC time>/report.md, results.json and, with --start-server, server.log.
Exit 0 when every case passes, 1 when one fails (the failing cases and the fields that
differ go to standard error), 2 for a usage error or a cases file that is not valid.
The formats, modes and report are in docs/evals.md.

Examples:
  $ hexarch-ctl eval run evals/policy-tests.yaml --policy-file evals/hexarch.yaml
  $ hexarch-ctl eval run evals/policy-tests.yaml --policy-file evals/hexarch.yaml --start-server
  $ hexarch-ctl eval run policy_cases.json --start-server
  $ HEXARCH_API_TOKEN=… hexarch-ctl eval run policy_cases.json --url http://127.0.0.1:8099`,
    )
    .action(async (cases: string, flags: EvalRunFlags) => {
      if (flags.url !== undefined && flags.startServer) {
        throw usageError(
          "--url and --start-server cannot be used together",
          "pick one: a server that runs, or one started for the run",
        );
      }
      if (flags.url === undefined && !flags.startServer && flags.policyFile === undefined) {
        throw usageError(
          "say where the cases are decided: --url URL, --start-server or --policy-file FILE",
          "--policy-file alone decides in this process, without a server",
        );
      }
      if (flags.url !== undefined && !/^https?:\/\/[^/]/.test(flags.url)) {
        throw new CliError(`--url must be an http(s) URL, got '${flags.url}'`, { exitCode: USAGE });
      }
      const { runEval } = await import("../eval/command.ts");
      await runEval(cases, flags, io);
    });
}
