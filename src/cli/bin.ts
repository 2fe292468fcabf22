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
} catch {
  // Only a Node too old to load the check itself gets here (the bundled build puts it in
  // a chunk with the library's core, which names builtins older versions lack).
  problem = `hexarch-ctl needs Node.js 22.13 or later; this is Node.js ${process.versions.node}`;
}
if (problem !== undefined) {
  process.stderr.write(`${problem}\n`);
  process.exitCode = 1;
} else {
  // A reader that went away (`hexarch-ctl --help | head -1`) is no crash: without this
  // listener its EPIPE `error` event would end the process with a stack trace.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code !== "EPIPE" && err.code !== "ERR_STREAM_DESTROYED") throw err;
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
