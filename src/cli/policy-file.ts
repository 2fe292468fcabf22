/**
 * The policy file as CLI commands read it: found like the library finds it, validated,
 * problems turned into one CLI error with a hint.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { PolicyFileError } from "../kernel/errors.ts";
import { discoverPolicyFile, parsePolicies } from "../policy/load.ts";
import type { PolicySet } from "../policy/types.ts";
import { CliError } from "./errors.ts";
import type { CliIo } from "./output.ts";

/** A policy file read and validated, with its text for `show`/`export`. */
export interface LoadedFile {
  readonly path: string;
  readonly text: string;
  readonly set: PolicySet;
}

/** How the CLI names a file: relative to the working directory when inside it. */
export function displayPath(path: string, io: CliIo): string {
  const rel = relative(io.cwd, path);
  return rel && !rel.startsWith("..") ? rel : path;
}

/** Finds, reads and validates a policy file; problems become one CLI error. */
export function loadFile(explicit: string | undefined, io: CliIo): LoadedFile {
  let path: string;
  try {
    path = discoverPolicyFile(explicit, { cwd: io.cwd, env: io.env });
  } catch (err) {
    throw new CliError((err as Error).message.split("\n")[0] as string, {
      hint: "pass --policy-file FILE, set HEXARCH_POLICY_FILE, or run `hexarch-ctl init`",
    });
  }
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new CliError(`cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return { path, text, set: parsePolicies(text, { source: displayPath(path, io) }) };
  } catch (err) {
    if (err instanceof PolicyFileError) {
      throw new CliError(err.message, {
        hint: `run \`hexarch-ctl policy validate ${displayPath(path, io)}\` to list every problem`,
      });
    }
    throw err;
  }
}
