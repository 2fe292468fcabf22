#!/usr/bin/env node
/**
 * `hexarch-ctl`: the command line for policies and the audit log.
 *
 * @module
 */

import { runCli } from "./program.ts";

const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
});
// Let streams drain instead of process.exit(), which could cut output short.
process.exitCode = code;
