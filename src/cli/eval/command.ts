/**
 * What `hexarch-ctl eval run` does once its flags are checked: read the cases, pick the
 * target, run, write the report, print the summary and the failures.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { formatIssue, PolicyFileError } from "../../kernel/errors.ts";
import { VERSION } from "../../kernel/version.ts";
import type { EvalRunFlags } from "../commands/eval.ts";
import { CliError, silentExit, USAGE } from "../errors.ts";
import { type CliIo, jsonText, painter } from "../output.ts";
import { displayPath, type LoadedFile, loadFile } from "../policy-file.ts";
import { readEvalSuite } from "./load.ts";
import {
  coverageOf,
  isTokenKey,
  makeRunDir,
  REDACTED,
  redactTokens,
  ruleKeysByPolicy,
  utcStamp,
  writeReport,
} from "./report.ts";
import { type EvalTarget, runSuite } from "./run.ts";
import { startServer } from "./server.ts";
import type { CaseResult, EvalReport, EvalSuite } from "./types.ts";

/** Reads the cases file; a missing or invalid one is a usage error (exit 2) with every problem placed. */
function readCases(casesFile: string, io: CliIo): EvalSuite {
  const path = resolve(io.cwd, casesFile);
  const shown = displayPath(path, io);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new CliError(`cannot read ${shown}: ${(err as Error).message}`, {
      exitCode: USAGE,
      hint: "see docs/evals.md for the cases formats",
    });
  }
  try {
    return readEvalSuite(text, shown);
  } catch (err) {
    if (!(err instanceof PolicyFileError)) throw err;
    for (const issue of err.issues) io.stderr.write(`${formatIssue(issue)}\n`);
    if (err.issues.length === 0) io.stderr.write(`${err.message}\n`);
    throw new CliError(`${shown} is not a valid cases file`, {
      exitCode: USAGE,
      hint: "see docs/evals.md for the cases formats",
    });
  }
}

/** Loads the policy file; one that is missing or invalid is a usage error. */
function readPolicies(file: string, io: CliIo): LoadedFile {
  try {
    return loadFile(file, io);
  } catch (err) {
    if (err instanceof CliError)
      throw new CliError(err.message, {
        exitCode: USAGE,
        ...(err.hint !== undefined && { hint: err.hint }),
      });
    throw err;
  }
}

/** A value in one line of JSON; `(missing)` for a field the answer lacks. */
const shown = (v: unknown): string => (v === undefined ? "(missing)" : JSON.stringify(v));

/** The exit code of a process stopped by a signal: 128 + its number. */
const SIGNAL_EXIT: Readonly<Record<string, number>> = { SIGINT: 130, SIGTERM: 143 };

/** Runs `eval run`. */
export async function runEval(casesFile: string, flags: EvalRunFlags, io: CliIo): Promise<void> {
  const suite = readCases(casesFile, io);
  const policies = flags.policyFile !== undefined ? readPolicies(flags.policyFile, io) : undefined;
  const now = new Date();
  const stamp = utcStamp(now);
  const runDir = makeRunDir(resolve(io.cwd, flags.out), stamp);
  const mode = flags.url !== undefined ? "url" : flags.startServer ? "start-server" : "in-process";
  const keys = policies
    ? ruleKeysByPolicy(policies.text, displayPath(policies.path, io))
    : undefined;
  let target: EvalTarget | undefined;
  const results: CaseResult[] = [];

  /** The report of the results so far. */
  const reportOf = (interrupted?: string, count = results.length): EvalReport => {
    const done = results.slice(0, count);
    const failed = done.filter((r) => r.status === "fail").length;
    const skipped = done.filter((r) => r.status === "skip").length;
    return {
      meta: {
        timestampUtc: stamp,
        cases: suite.source,
        casesName: suite.name,
        format: suite.kind,
        mode,
        baseUrl: target?.kind === "server" ? target.baseUrl : (flags.url ?? null),
        policyFile: policies ? displayPath(policies.path, io) : null,
        version: VERSION,
        ...(interrupted !== undefined && { interrupted }),
      },
      summary: {
        total: done.length,
        passed: done.length - failed - skipped,
        failed,
        skipped,
      },
      results: done,
      coverage: keys ? coverageOf(done, keys) : null,
    };
  };

  // A signal stops the server this run started, removes its folder, writes what report
  // exists and exits 130 (SIGINT) or 143 (SIGTERM): no server is left running.
  let stopServer: (() => Promise<void>) | undefined;
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    // The cases finished before the signal (one cut short by the server stopping is not).
    const count = results.length;
    void (async () => {
      try {
        await stopServer?.();
      } finally {
        try {
          writeReport(runDir, reportOf(signal, count));
          io.stderr.write(
            `hexarch-ctl: eval run stopped by ${signal} after ${count} case(s); partial report in ${join(displayPath(runDir, io), "report.md")}\n`,
          );
        } finally {
          process.exit(SIGNAL_EXIT[signal] ?? 1);
        }
      }
    })();
  };
  const signals = mode === "start-server" ? (["SIGINT", "SIGTERM"] as const) : [];
  for (const s of signals) process.on(s, onSignal);
  try {
    if (mode === "url") {
      target = {
        kind: "server",
        baseUrl: flags.url as string,
        token: flags.token ?? io.env.HEXARCH_API_TOKEN,
      };
    } else if (mode === "start-server") {
      const server = await startServer(
        policies?.path,
        join(runDir, "server.log"),
        io.env,
        (stop) => {
          stopServer = stop;
        },
      );
      target = { kind: "server", baseUrl: server.baseUrl, token: server.token };
    } else {
      target = { kind: "local", policies: (policies as LoadedFile).set };
    }
    await runSuite(suite, target, results);
  } finally {
    // Stopped on any failure too (idempotent: a second call waits for the first).
    if (!stopping) await stopServer?.();
    if (!stopping) for (const s of signals) process.off(s, onSignal);
  }
  if (stopping) await new Promise<never>(() => {}); // the signal handler exits
  const report = reportOf();
  const { failed, skipped, passed } = report.summary;
  writeReport(runDir, report);
  const shownDir = displayPath(runDir, io);
  if (flags.format === "json") {
    io.stdout.write(jsonText({ reportDir: shownDir, ...(redactTokens(report) as EvalReport) }));
  } else {
    const paint = painter(io.stdout, io.env);
    for (const r of results) {
      const tag =
        r.status === "pass"
          ? paint("green", "PASS")
          : r.status === "fail"
            ? paint("red", "FAIL")
            : paint("yellow", "SKIP");
      io.stdout.write(`${tag}  ${r.id}${r.status === "skip" ? `  ${r.message}` : ""}\n`);
    }
    const line = `${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`;
    io.stdout.write(
      `\n${paint(failed || passed === 0 ? "red" : "green", line)}\nreport: ${join(shownDir, "report.md")}\n`,
    );
  }
  if (failed > 0) {
    io.stderr.write(`${failed} of ${results.length} cases failed:\n`);
    for (const r of results) {
      if (r.status !== "fail") continue;
      const server = r.diffs.length ? /\(server: .*\)$/.exec(r.message)?.[0] : undefined;
      io.stderr.write(
        `FAIL ${r.id}${r.diffs.length ? (server ? ` ${server}` : "") : `: ${r.message}`}\n`,
      );
      for (const d of r.diffs) {
        const secret = isTokenKey(d.field);
        const value = (v: unknown) => (secret && v !== undefined ? shown(REDACTED) : shown(v));
        io.stderr.write(`  ${d.field}: expected ${value(d.expected)}, actual ${value(d.actual)}\n`);
      }
    }
    throw silentExit(1);
  }
  if (passed === 0) {
    // Every case skipped: nothing was checked, which is no success.
    io.stderr.write(
      `hexarch-ctl: nothing was checked: all ${results.length} case(s) were skipped (see the report for why)\n`,
    );
    throw silentExit(1);
  }
}
