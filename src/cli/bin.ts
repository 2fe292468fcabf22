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
  hexarch-ctl --version     print the version
  hexarch-ctl --help        print this help

Commands (policy, audit, serve, init, demo, health, db) are not available in this version.`;

const [arg] = process.argv.slice(2);
if (arg === "--version" || arg === "-v") {
  console.log(VERSION);
} else if (arg === undefined || arg === "--help" || arg === "-h" || arg === "help") {
  console.log(USAGE);
} else {
  console.error(`hexarch-ctl: unknown command '${arg}'\nhint: run hexarch-ctl --help`);
  process.exitCode = 2;
}
