/**
 * `hexarch-ctl policy test`: runs policy test cases and reports each.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { type Command, Option } from "commander";
import { runPolicyTests } from "../../decision/run-policy-tests.ts";
import { formatIssue, PolicyFileError } from "../../kernel/errors.ts";
import {
  type PolicyTestFile,
  type PolicyTestResult,
  parsePolicyTests,
} from "../../policy/test-cases/index.ts";
import { CliError, silentExit } from "../errors.ts";
import { type CliIo, jsonText, painter } from "../output.ts";
import { displayPath, loadFile } from "../policy-file.ts";

/** Registers `test` under the `policy` command. */
export function policyTestCommand(policy: Command, io: CliIo): void {
  policy
    .command("test")
    .description("run policy test cases (context → expected decision) and report each")
    .argument("<cases>", "test file (YAML or JSON)")
    .addOption(
      new Option(
        "--policy-file <file>",
        "policy file (default: HEXARCH_POLICY_FILE, else hexarch.yaml found upwards)",
      ),
    )
    .addOption(
      new Option("--format <format>", "output format").choices(["text", "json"]).default("text"),
    )
    .addHelpText(
      "after",
      `
Each test decides a context against fresh counters under its own clock and checks the
decision; the format is in docs/policy-language.md ("Testing policies"). Exit 1 when a
test fails or the file is invalid.

Examples:
  $ hexarch-ctl policy test hexarch.test.yaml
  $ hexarch-ctl policy export rate_limit --format test > rate_limit.test.yaml
  $ hexarch-ctl policy test examples/policy-tests/hexarch.test.yaml --policy-file examples/policy-tests/hexarch.yaml`,
    )
    .action(async (casesFile: string, flags: { policyFile?: string; format: "text" | "json" }) => {
      const policies = loadFile(flags.policyFile, io);
      const results = await runPolicyTests(policies.set, readTests(casesFile, io));
      const failed = results.filter((r) => !r.passed).length;
      if (flags.format === "json") {
        io.stdout.write(jsonText({ passed: results.length - failed, failed, results }));
      } else {
        printTestResults(results, displayPath(resolve(io.cwd, casesFile), io), io);
      }
      if (failed > 0) throw silentExit(1);
    });
}

/** Reads and validates a test file; problems go to standard error, then one CLI error. */
function readTests(casesFile: string, io: CliIo): PolicyTestFile {
  const path = resolve(io.cwd, casesFile);
  const shown = displayPath(path, io);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new CliError(`cannot read ${shown}: ${(err as Error).message}`, {
      hint: "`hexarch-ctl policy export ID --format test` writes a starter",
    });
  }
  try {
    return parsePolicyTests(text, { source: shown });
  } catch (err) {
    if (!(err instanceof PolicyFileError)) throw err;
    for (const issue of err.issues) io.stderr.write(`${formatIssue(issue)}\n`);
    if (err.issues.length === 0) io.stderr.write(`${err.message}\n`);
    throw new CliError(`${shown} is not a valid test file`, {
      hint: 'see "Testing policies" in docs/policy-language.md',
    });
  }
}

/** PASS/FAIL per test, what was expected and what came, then a count. */
function printTestResults(results: readonly PolicyTestResult[], shown: string, io: CliIo): void {
  const paint = painter(io.stdout, io.env);
  for (const r of results) {
    if (r.passed) {
      io.stdout.write(`${paint("green", "PASS")}  ${r.name}\n`);
      continue;
    }
    const step = r.step === undefined ? "" : ` (steps[${r.step}])`;
    io.stdout.write(`${paint("red", "FAIL")}  ${r.name}${step}  ${shown}:${r.line}\n`);
    if (r.error) io.stdout.write(`      ${r.error}\n`);
    else {
      io.stdout.write(`      expected: ${r.expected}\n      actual:   ${r.actual}\n`);
      if (r.reason) io.stdout.write(`      reason:   ${r.reason}\n`);
    }
  }
  const failed = results.filter((r) => !r.passed).length;
  const summary = `${results.length - failed} passed, ${failed} failed`;
  io.stdout.write(`\n${paint(failed ? "red" : "green", summary)}\n`);
}
