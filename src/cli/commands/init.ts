/**
 * `hexarch-ctl init`: writes a commented starter `hexarch.yaml`.
 *
 * @module
 */

import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import { CliError } from "../errors.ts";
import type { CliIo } from "../output.ts";
import { STARTER_POLICY_FILE } from "../starter.ts";

/** Registers `init` on the program. */
export function initCommand(program: Command, io: CliIo): void {
  program
    .command("init")
    .description("write a commented starter hexarch.yaml (never overwrites)")
    .argument("[file]", "where to write it", "hexarch.yaml")
    .addHelpText(
      "after",
      "\nExamples:\n  $ hexarch-ctl init\n  $ hexarch-ctl init config/hexarch.yaml",
    )
    .action((file: string) => {
      const target = resolve(io.cwd, file);
      try {
        // "wx": fail if it exists, atomically (no check-then-write race).
        writeFileSync(target, STARTER_POLICY_FILE, { flag: "wx" });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "EEXIST") {
          throw new CliError(`${file} already exists; not overwriting it`, {
            hint: "edit it, or pass another file name: hexarch-ctl init other.yaml",
          });
        }
        throw new CliError(`cannot write ${file}: ${(err as Error).message}`);
      }
      io.stdout.write(
        `wrote ${file}: 4 starter policies (api_budget, rate_limit, safe_delete, business_hours)\nnext: edit it, then run hexarch-ctl policy validate${file === "hexarch.yaml" ? "" : ` ${file}`}\n`,
      );
    });
}
