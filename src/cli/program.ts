/**
 * The `hexarch-ctl` program: every command, built on commander.
 *
 * @module
 */

import { Command, CommanderError } from "commander";
import { VERSION } from "../kernel/version.ts";
import { UnsupportedNodeVersionError } from "../util/node-floor.ts";
import { MissingPeerDependencyError } from "../util/optional-peer.ts";
import { auditCommand } from "./commands/audit.ts";
import { dbCommand } from "./commands/db.ts";
import { evalCommand } from "./commands/eval.ts";
import { healthCommand } from "./commands/health.ts";
import { initCommand } from "./commands/init.ts";
import { policyCommand } from "./commands/policy.ts";
import { serveCommand } from "./commands/serve.ts";
import { CliError, FAILURE, isInvalidArgument, USAGE } from "./errors.ts";
import type { CliIo } from "./output.ts";

/** Builds the program; `io` is where it reads and writes. */
export function createProgram(io: CliIo): Command {
  const program = new Command("hexarch-ctl")
    .description("hexarch-guardrails: policies and the audit log from the command line")
    .version(VERSION, "-v, --version", "print the version")
    .helpOption("-h, --help", "show help for a command")
    .option("--debug", "print stack traces of failures")
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
      // Usage errors are printed by the runner, as one line plus a hint.
      outputError: () => {},
    })
    .addHelpText(
      "after",
      `
Examples:
  $ npm run demo && hexarch-ctl audit list     the demo's decisions, from ./decisions.db
  $ hexarch-ctl policy validate                check hexarch.yaml, every problem with file:line:col
  $ hexarch-ctl audit stats --format json      counts per policy, for scripts
  $ hexarch-ctl audit verify                   exit 1 if the log was tampered with

Run hexarch-ctl <command> --help for a command's options and examples.`,
    );
  program
    .command("demo")
    .description("run the demo: guarded calls on embedded policies, logged to ./decisions.db")
    .option("--no-audit", "log nothing")
    .action(async (flags: { audit: boolean }) => {
      const { runDemo } = await import("../demo/main.ts");
      await runDemo(flags.audit ? {} : { auditDb: false });
    });
  initCommand(program, io);
  policyCommand(program, io);
  auditCommand(program, io);
  dbCommand(program, io);
  healthCommand(program, io);
  serveCommand(program, io);
  evalCommand(program, io);
  // Every subcommand reports its errors the same way.
  const configure = (cmd: Command) => {
    cmd.exitOverride().configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
      outputError: () => {},
    });
    cmd.showSuggestionAfterError(true);
    for (const sub of cmd.commands) configure(sub);
  };
  for (const sub of program.commands) configure(sub);
  return program;
}

/** The command path of a commander error's command, for the hint (`audit list`). */
function commandPath(program: Command, argv: readonly string[]): string {
  const names: string[] = [];
  let cmd: Command | undefined = program;
  for (const arg of argv) {
    const next: Command | undefined = cmd?.commands.find((c) => c.name() === arg);
    if (!next) break;
    names.push(arg);
    cmd = next;
  }
  return names.join(" ");
}

/**
 * Runs the CLI on `argv` (without the node and script paths) and returns the exit code:
 * 0, 1 for a failure, 2 for a usage error. Never throws; prints one line and a hint.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = createProgram(io);
  const debug = argv.includes("--debug");
  try {
    await program.parseAsync([...argv], { from: "user" });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version") return 0;
      if (err.code === "commander.help") return 0; // `help` with no command
      if (err.code === "commander.executeSubCommandAsync") return err.exitCode;
      const path = commandPath(program, argv);
      const message = err.message
        .replace(/^error: /, "")
        .replace(/\n\(Did you mean (.*)\)$/, " (did you mean $1)");
      io.stderr.write(
        `hexarch-ctl: ${message}\nhint: run hexarch-ctl ${path ? `${path} ` : ""}--help\n`,
      );
      return USAGE;
    }
    if (err instanceof CliError) {
      if (err.message) io.stderr.write(`hexarch-ctl: ${err.message}\n`);
      const path = commandPath(program, argv);
      const hint =
        err.hint ??
        (err.exitCode === USAGE ? `run hexarch-ctl ${path ? `${path} ` : ""}--help` : undefined);
      if (hint) io.stderr.write(`hint: ${hint}\n`);
      if (debug && err.message)
        io.stderr.write(`${(err.cause as Error | undefined)?.stack ?? err.stack}\n`);
      return err.exitCode;
    }
    if (err instanceof RangeError || isInvalidArgument(err)) {
      io.stderr.write(`hexarch-ctl: ${err.message}\n`);
      return USAGE;
    }
    // A setup problem, not a bug: its message already says what to install or upgrade.
    if (err instanceof MissingPeerDependencyError || err instanceof UnsupportedNodeVersionError) {
      io.stderr.write(`hexarch-ctl: ${err.message}\n`);
      if (debug) io.stderr.write(`${err.stack}\n`);
      return FAILURE;
    }
    const message = err instanceof Error ? err.message : String(err);
    io.stderr.write(`hexarch-ctl: ${message}\n`);
    io.stderr.write(
      debug && err instanceof Error
        ? `${err.stack}\n`
        : "hint: run again with --debug for the stack trace, and report it if it looks like a bug\n",
    );
    return 1;
  }
}
