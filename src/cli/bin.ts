#!/usr/bin/env node
/**
 * `hexarch-ctl`: the command line for policies and the audit log.
 *
 * It imports nothing statically: the Node.js version is checked before the program
 * (commander, `node:sqlite`) is loaded, so an unsupported Node gets one line naming the
 * version needed rather than a stack trace from whichever import fails first.
 *
 * @module
 */

let problem: string | undefined;
try {
  const { nodeFloorProblem } = await import("../util/node-floor.ts");
  problem = nodeFloorProblem("hexarch-ctl");
} catch (err) {
  // A Node too old to load the check itself gets here (the bundled build puts it in a
  // chunk with the library's core, which names builtins older versions lack); so does a
  // broken install, which must not be blamed on the version.
  const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
  const old = major < 22 || (major === 22 && minor < 13) || (major === 23 && minor < 4);
  problem = old
    ? `hexarch-ctl needs Node.js 22.13 or later; this is Node.js ${process.versions.node}`
    : `hexarch-ctl cannot load its own files (${(err as Error).message}); reinstall hexarch-guardrails`;
}
if (problem !== undefined) {
  process.stderr.write(`${problem}\n`);
  process.exitCode = 1;
} else {
  // A reader that went away (`hexarch-ctl --help | head -1`) is no crash: without this
  // listener its EPIPE `error` event would end the process with a stack trace.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE" || err.code === "ERR_STREAM_DESTROYED") return;
    // Any other write failure (a full disk: ENOSPC) is one line, not a stack trace.
    process.stderr.write(`hexarch-ctl: cannot write the output: ${err.message}\n`);
    process.exit(1);
  });
  const { runCli } = await import("./program.ts");
  const code = await runCli(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
  });
  // Let streams drain instead of process.exit(), which could cut output short.
  process.exitCode = code;
}
