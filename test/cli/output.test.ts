/**
 * The CLI's terminal behaviour, in-process with fake streams: color only on a terminal
 * without NO_COLOR, a progress bar on a terminal, tables that fit the width.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AuditRecord, SqliteAuditStore } from "../../src/audit/index.ts";
// Internal: hexarch-ctl's table and CSV rendering.
import { type CliIo, type Column, csvField, renderTable } from "../../src/cli/output.ts";
// Internal: hexarch-ctl run in process, with its output captured.
import { runCli } from "../../src/cli/program.ts";
// Internal: decision ids, made for fixed instants.
import { uuidv7 } from "../../src/kernel/uuid.ts";
import { fixtureRecords } from "../support/cli-fixtures.ts";

/** A stream that keeps what is written. */
const sink = (tty: boolean, columns?: number) => {
  const chunks: string[] = [];
  return {
    stream: { write: (s: string) => chunks.push(s) > 0, isTTY: tty, ...(columns && { columns }) },
    text: () => chunks.join(""),
  };
};

let dir = "";
let db = "";
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "hexarch-cli-out-"));
  db = join(dir, "audit.db");
  const store = new SqliteAuditStore(db);
  await store.append(fixtureRecords());
  const more: AuditRecord[] = Array.from({ length: 3000 }, (_, i) => ({
    ...(fixtureRecords()[0] as AuditRecord),
    decisionId: uuidv7(Date.UTC(2026, 1, 1) + i),
    timestamp: new Date(Date.UTC(2026, 1, 1) + i).toISOString(),
  }));
  await store.append(more);
  await store.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = async (args: string[], opts: { tty: boolean; env?: Record<string, string> }) => {
  const out = sink(opts.tty, 120);
  const err = sink(opts.tty);
  const io: CliIo = { stdout: out.stream, stderr: err.stream, env: opts.env ?? {}, cwd: dir };
  const code = await runCli([...args, "--db", db], io);
  return { code, stdout: out.text(), stderr: err.text() };
};

describe("hexarch-ctl on a terminal", () => {
  it("colors decisions on a terminal, and not with NO_COLOR or when piped", async () => {
    const tty = await run(["audit", "list", "--decision", "blocked"], { tty: true });
    expect(tty.stdout).toContain("\x1b[31mblocked");
    expect(tty.stdout).toContain("\x1b[1mTIME (UTC)");
    const noColor = await run(["audit", "list"], { tty: true, env: { NO_COLOR: "1" } });
    expect(noColor.stdout).not.toContain("\x1b[");
    const piped = await run(["audit", "list"], { tty: false });
    expect(piped.stdout).not.toContain("\x1b[");
    const forced = await run(["audit", "list"], { tty: false, env: { FORCE_COLOR: "1" } });
    expect(forced.stdout).toContain("\x1b[");
  });

  it("uses the terminal's width, showing FUNCTION when there is room", async () => {
    const wide = await run(["audit", "list"], { tty: true, env: { NO_COLOR: "1" } });
    expect(wide.stdout.split("\n")[0]).toContain("FUNCTION");
    for (const line of wide.stdout.trimEnd().split("\n"))
      expect([...line].length).toBeLessThanOrEqual(120);
  });

  it("shows export progress on a terminal's standard error, and clears it", async () => {
    const out = join(dir, "all.jsonl");
    const r = await run(["audit", "export", "--output", out], { tty: true });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/\rexporting \[#*\.*\] \d+% 1,000 \/ 3,012 records/);
    expect(r.stderr).toContain("\r\x1b[K");
    expect(r.stderr).toMatch(/exported 3,012 records to .*all\.jsonl\n$/);
    const piped = await run(["audit", "export", "--output", out], { tty: false });
    expect(piped.stderr).not.toContain("\r");
  });
});

describe("renderTable", () => {
  const cols: Column<{ a: string; b: string; n: number }>[] = [
    { header: "A", value: (r) => r.a, shrink: 1, min: 4 },
    { header: "B", value: (r) => r.b, shrink: 2, min: 5 },
    { header: "N", value: (r) => r.n, right: true },
  ];
  const rows = [{ a: "alpha-beta-gamma", b: "a long reason that goes on and on", n: 12345 }];

  it("shrinks the most willing column first, then the others, never below their minimum", () => {
    expect(renderTable(rows, cols, 80)).toBe(
      "A                 B                                       N\nalpha-beta-gamma  a long reason that goes on and on  12,345\n",
    );
    expect(renderTable(rows, cols, 40)).toBe(
      "A                 B                    N\nalpha-beta-gamma  a long reason…  12,345\n",
    );
    expect(renderTable(rows, cols, 20)).toBe("A      B           N\nalph…  a lo…  12,345\n");
  });

  it("quotes CSV fields that need it (RFC 4180)", () => {
    expect(csvField('say "hi", then\nleave')).toBe('"say ""hi"", then\nleave"');
    expect(csvField(null)).toBe("");
    expect(csvField(1.5)).toBe("1.5");
  });
});
