/**
 * `hexarch-ctl db migrate|status|rollback`: the audit schema's migrations.
 *
 * @module
 */

import type { Command } from "commander";
import type { MigrationResult } from "../../audit/types.ts";
import { silentExit } from "../errors.ts";
import { type CliIo, jsonText, outputWidth, painter, renderTable } from "../output.ts";
import { openStore, type StoreFlags, storeError, withStoreOptions } from "../store-options.ts";

type Flags = StoreFlags & { format: "table" | "json" };

/** Registers `db` and its subcommands on the program. */
export function dbCommand(program: Command, io: CliIo): void {
  const db = program
    .command("db")
    .description("apply, inspect or roll back the audit schema's migrations");
  const run = async <T>(
    flags: Flags,
    mustExist: boolean,
    fn: (store: Awaited<ReturnType<typeof openStore>>) => Promise<T>,
  ) => {
    const store = await openStore(flags, io, { mustExist });
    try {
      return await fn(store);
    } catch (err) {
      throw storeError(err, flags, io);
    } finally {
      await store.close().catch(() => {});
    }
  };
  const format = (cmd: Command) =>
    cmd.option(
      "--format <format>",
      "table or json",
      (v: string) => (v === "json" ? "json" : "table"),
      "table",
    );

  const printResults = (results: readonly MigrationResult[], flags: Flags, none: string) => {
    if (flags.format === "json") io.stdout.write(jsonText(results));
    else if (results.length === 0) io.stdout.write(`${none}\n`);
    else
      for (const r of results)
        io.stdout.write(
          `${String(r.version).padStart(3)}  ${r.name}: ${r.status}${r.error ? ` (${r.error})` : ""}\n`,
        );
    if (results.some((r) => r.status === "failed")) throw silentExit(1);
  };

  withStoreOptions(format(db.command("migrate").description("apply every pending migration")))
    .addHelpText(
      "after",
      "\nExamples:\n  $ hexarch-ctl db migrate\n  $ hexarch-ctl db migrate --pg-url postgres://app@db/audit",
    )
    .action(async (flags: Flags) => {
      const results = await run(flags, false, (s) => s.migrate());
      printResults(results, flags, "nothing to migrate");
    });

  withStoreOptions(format(db.command("status").description("list migrations, applied or pending")))
    .addHelpText("after", "\nExamples:\n  $ hexarch-ctl db status --format json")
    .action(async (flags: Flags) => {
      const status = await run(flags, true, (s) => s.migrationStatus());
      if (flags.format === "json") {
        io.stdout.write(jsonText(status));
        return;
      }
      const paint = painter(io.stdout, io.env);
      io.stdout.write(
        renderTable(
          status,
          [
            { header: "VERSION", value: (m) => m.version, right: true },
            { header: "NAME", value: (m) => m.name, shrink: 1 },
            {
              header: "APPLIED (UTC)",
              value: (m) => (m.appliedAt ? m.appliedAt.slice(0, 19).replace("T", " ") : "pending"),
              tone: (m) => (m.appliedAt ? undefined : "yellow"),
            },
          ],
          outputWidth(io.stdout, io.env),
          paint,
        ),
      );
    });

  withStoreOptions(format(db.command("rollback").description("roll the latest migration back")))
    .addHelpText(
      "after",
      "\nRolling back drops what that migration created; records in dropped tables are lost.\n\nExamples:\n  $ hexarch-ctl db rollback",
    )
    .action(async (flags: Flags) => {
      const results = await run(flags, true, (s) => s.rollback());
      printResults(results, flags, "no migration to roll back");
    });
}
