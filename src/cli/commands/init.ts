/**
 * `hexarch-ctl init`: writes a commented starter `hexarch.yaml` whose first line points
 * editors at the JSON Schema (the installed package's copy when there is one).
 *
 * @module
 */

import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Command } from "commander";
import { CliError } from "../errors.ts";
import type { CliIo } from "../output.ts";
import { schemaReference, starterPolicyFile } from "../starter.ts";

/** Registers `init` on the program. */
export function initCommand(program: Command, io: CliIo): void {
  program
    .command("init")
    .description("write a commented starter hexarch.yaml (never overwrites)")
    .argument("[file]", "where to write it", "hexarch.yaml")
    .addHelpText(
      "after",
      "\nIts first line links the JSON Schema for editors (yaml-language-server): the copy in\n" +
        "node_modules/hexarch-guardrails when the package is installed beside the file, else the\n" +
        "published copy of this version.\n" +
        "\nExamples:\n  $ hexarch-ctl init\n  $ hexarch-ctl init config/hexarch.yaml",
    )
    .action((file: string) => {
      const target = resolve(io.cwd, file);
      try {
        // The help's own example writes into config/, which may not exist yet.
        mkdirSync(dirname(target), { recursive: true });
      } catch (err) {
        // EEXIST here means a file stands where a folder should be (not the target).
        const why =
          (err as NodeJS.ErrnoException).code === "EEXIST"
            ? "a file of that name stands in the way"
            : (err as Error).message;
        throw new CliError(`cannot create the folder of ${file}: ${why}`);
      }
      try {
        const text = starterPolicyFile(schemaReference(dirname(target)));
        // "wx": fail if it exists, atomically (no check-then-write race).
        writeFileSync(target, text, { flag: "wx" });
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
