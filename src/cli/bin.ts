#!/usr/bin/env node
/**
 * `hexarch-ctl`: the command line. For now it prints its version and usage; the commands
 * arrive with their issues.
 *
 * @module
 */

import { VERSION } from "../version.ts";

const USAGE = `hexarch-ctl ${VERSION} — policy guardrails for Node.js

Usage:
  hexarch-ctl demo          run the demo: guarded calls on embedded policies
  hexarch-ctl --version     print the version
  hexarch-ctl --help        print this help

Commands policy, audit, serve, init, health and db are not available in this version.`;

const [arg] = process.argv.slice(2);
if (arg === "--version" || arg === "-v") {
  console.log(VERSION);
} else if (arg === "demo") {
  const { runDemo } = await import("../demo/main.ts");
  await runDemo().catch((err: unknown) => {
    console.error(
      `hexarch-ctl: the demo failed: ${err instanceof Error ? err.message : String(err)}`,
    );
    process.exitCode = 1;
  });
} else if (arg === undefined || arg === "--help" || arg === "-h" || arg === "help") {
  console.log(USAGE);
} else {
  console.error(`hexarch-ctl: unknown command '${arg}'\nhint: run hexarch-ctl --help`);
  process.exitCode = 2;
}
