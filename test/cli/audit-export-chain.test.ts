/**
 * `hexarch-ctl audit export --chain` and `audit verify --file`: an export of a time window
 * carries the hash at its edges and every chain entry between its records, so the file
 * verifies on its own (no database), consecutive windows join edge to edge, and an edit,
 * a removed line or a truncated file is caught. Run as the real binary on real SQLite.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { type AuditRecord, PostgresAuditStore, SqliteAuditStore } from "../../src/audit/index.ts";
import { ctl, fixtureRecords } from "../support/cli-fixtures.ts";
import { PG_URL, pgReachable } from "../support/pg.ts";

const GENESIS = "0".repeat(64);
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A SQLite log holding the twelve fixture records (2026-01-15 09:30Z + 7 min each), then `more`. */
async function log(more: AuditRecord[] = []): Promise<{ dir: string; db: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), "hexarch-export-chain-"));
  dirs.push(dir);
  const file = join(dir, "audit.db");
  const store = new SqliteAuditStore(file);
  await store.append(fixtureRecords());
  if (more.length > 0) await store.append(more);
  await store.close();
  return { dir, db: ["--db", file] };
}

const lines = (path: string) =>
  readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);

async function exportTo(
  path: string,
  db: string[],
  ...window: string[]
): Promise<Record<string, unknown>[]> {
  const run = await ctl(["audit", "export", "--chain", "--output", path, ...window, ...db]);
  expect(run.stderr).toMatch(/^exported \d+ records to /);
  expect(run.code).toBe(0);
  return lines(path);
}

async function verifyFile(path: string) {
  const run = await ctl(["audit", "verify", "--file", path, "--format", "json"]);
  return { code: run.code, result: JSON.parse(run.stdout) as Record<string, unknown>, run };
}

describe("audit export --chain", () => {
  it("writes the edges around the records and verifies on its own, with no database", async () => {
    const { dir, db } = await log();
    const path = join(dir, "all.jsonl");
    const out = await exportTo(path, db);
    expect(out).toHaveLength(14);
    const [head, ...rest] = out;
    const tail = rest.pop();
    expect(head).toMatchObject({
      format: "hexarch-audit-export/v1",
      edge: "start",
      firstSeq: 1,
      prevHash: GENESIS,
      since: null,
      until: null,
    });
    expect(rest.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(rest.every((r, i) => r.prevHash === (i === 0 ? GENESIS : rest[i - 1]?.hash))).toBe(true);
    expect(tail).toMatchObject({ edge: "end", records: 12, entries: 12, lastSeq: 12 });
    expect(tail?.lastHash).toBe(rest[11]?.hash);

    // The database is gone: the file still verifies.
    rmSync(join(dir, "audit.db"));
    const text = await ctl(["audit", "verify", "--file", path]);
    expect(text.code).toBe(0);
    expect(text.stdout).toBe(
      `ok: export ${path}: 12 records (12 entries, seq 1..12) check out\n  starts after ${GENESIS} (the log's start)\n  ends on      ${String(tail?.lastHash)}\n`,
    );
  });

  it("splits the log into windows that join edge to edge: one export's last hash is the next one's prevHash", async () => {
    const { dir, db } = await log();
    const cut = "2026-01-15T10:12:00.000Z"; // the seventh record's time
    const first = await exportTo(join(dir, "a.jsonl"), db, "--until", cut);
    const second = await exportTo(join(dir, "b.jsonl"), db, "--since", cut);
    expect(first[0]).toMatchObject({ until: cut, firstSeq: 1, prevHash: GENESIS });
    expect(first.at(-1)).toMatchObject({ records: 6, lastSeq: 6 });
    expect(second[0]).toMatchObject({ since: cut, firstSeq: 7 });
    expect(second[0]?.prevHash).toBe(first.at(-1)?.lastHash);
    for (const f of ["a.jsonl", "b.jsonl"]) {
      const { code, result } = await verifyFile(join(dir, f));
      expect(code).toBe(0);
      expect(result).toMatchObject({ ok: true, records: 6, checked: 6 });
    }
    const b = (await verifyFile(join(dir, "b.jsonl"))).result;
    expect(b.prevHash).toBe(first.at(-1)?.lastHash);
    expect(b.lastHash).toBe(second.at(-1)?.lastHash);
  });

  it("carries the entries between the window's records: a late record outside the window, a retention prune", async () => {
    // A record logged late with an old timestamp lands between the window's records in the
    // chain; then retention removes allowed records, leaving gaps and a prune record.
    const late: AuditRecord = {
      ...(fixtureRecords()[0] as AuditRecord),
      decisionId: "019bc0c4-6a00-7000-8000-00000000f001",
      timestamp: "2026-01-01T00:00:00.000Z",
    };
    const recent: AuditRecord = {
      ...(fixtureRecords()[4] as AuditRecord),
      decisionId: "019bc0c4-6a00-7000-8000-00000000f002",
      timestamp: "2026-01-15T11:00:00.000Z",
    };
    const { dir, db } = await log([late, recent]);
    const cleanup = await ctl(["audit", "cleanup", "--allowed", "30", ...db]);
    expect(cleanup.code).toBe(0);
    // One more record after the prune record (seq 15): the prune lies inside the window.
    const store = new SqliteAuditStore(join(dir, "audit.db"));
    await store.append([
      {
        ...(fixtureRecords()[2] as AuditRecord),
        decisionId: "019bc0c4-6a00-7000-8000-00000000f005",
        timestamp: "2026-01-15T11:30:00.000Z",
      },
    ]);
    await store.close();
    const path = join(dir, "window.jsonl");
    const out = await exportTo(path, db, "--since", "2026-01-15T09:00:00Z");
    const entries = out.slice(1, -1);
    // Allowed records (and the late one, allowed too) were removed: runs 4, 7 and 11..13
    // lie between the window's records, and the prune record (seq 15) before the last one.
    expect(entries.map((e) => [e.seq, e.entry ?? "in-window"])).toEqual([
      [3, "in-window"],
      [4, "pruned"],
      [5, "in-window"],
      [6, "in-window"],
      [7, "pruned"],
      [8, "in-window"],
      [9, "in-window"],
      [10, "in-window"],
      [11, "pruned"],
      [14, "in-window"],
      [15, "prune"],
      [16, "in-window"],
    ]);
    const { code, result } = await verifyFile(path);
    expect(result).toMatchObject({ ok: true, records: 8, checked: 12, firstSeq: 3, lastSeq: 16 });
    expect(code).toBe(0);
    // The prune record's fields are covered by its hash.
    const forged = join(dir, "forged.jsonl");
    writeFileSync(
      forged,
      readFileSync(path, "utf8").replace(/"actor":"[^"]*"/, '"actor":"nobody"'),
    );
    expect((await verifyFile(forged)).result).toMatchObject({
      ok: false,
      problem: "hash_mismatch",
    });
  });

  it("keeps records outside the window that lie between its records, tagged, so the links hold", async () => {
    const late: AuditRecord = {
      ...(fixtureRecords()[4] as AuditRecord),
      decisionId: "019bc0c4-6a00-7000-8000-00000000f003",
      timestamp: "2025-06-01T00:00:00.000Z",
    };
    const after: AuditRecord = {
      ...(fixtureRecords()[5] as AuditRecord),
      decisionId: "019bc0c4-6a00-7000-8000-00000000f004",
      timestamp: "2026-01-15T12:00:00.000Z",
    };
    const { dir, db } = await log([late, after]);
    const path = join(dir, "w.jsonl");
    const out = await exportTo(path, db, "--since", "2026-01-15T11:00:00Z");
    const entries = out.slice(1, -1);
    // seq 13 (2025) is outside both windows; the narrow one starts after it.
    expect(entries.map((e) => [e.seq, e.entry ?? "in-window"])).toEqual([[14, "in-window"]]);
    const wide = join(dir, "wide.jsonl");
    const all = (await exportTo(wide, db, "--since", "2026-01-15T10:00:00Z")).slice(1, -1);
    expect(all.map((e) => [e.seq, e.entry ?? "in-window"])).toEqual([
      [6, "in-window"],
      [7, "in-window"],
      [8, "in-window"],
      [9, "in-window"],
      [10, "in-window"],
      [11, "in-window"],
      [12, "in-window"],
      [13, "record"],
      [14, "in-window"],
    ]);
    expect((await verifyFile(wide)).result).toMatchObject({ ok: true, records: 8, checked: 9 });
  });

  it("catches an edited record, a removed line, a truncated file and a plain export", async () => {
    const { dir, db } = await log();
    const path = join(dir, "all.jsonl");
    await exportTo(path, db);
    const original = readFileSync(path, "utf8").split("\n");

    const edited = join(dir, "edited.jsonl");
    writeFileSync(
      edited,
      original.map((l, i) => (i === 5 ? l.replace("carol", "mallory") : l)).join("\n"),
    );
    const e = await verifyFile(edited);
    expect(e.code).toBe(1);
    expect(e.result).toMatchObject({ ok: false, problem: "hash_mismatch", checked: 4 });
    const text = await ctl(["audit", "verify", "--file", edited]);
    expect(text.stdout).toMatch(
      /^BROKEN: export .*edited\.jsonl: line 6: record \S+ \(seq 5\) was edited/,
    );
    expect(text.code).toBe(1);

    const removed = join(dir, "removed.jsonl");
    writeFileSync(removed, original.filter((_, i) => i !== 3).join("\n"));
    expect((await verifyFile(removed)).result).toMatchObject({ ok: false, problem: "broken_link" });

    const truncated = join(dir, "truncated.jsonl");
    writeFileSync(truncated, original.slice(0, -2).join("\n"));
    const t = await verifyFile(truncated);
    expect(t.result).toMatchObject({ ok: false, problem: "damaged" });
    expect(t.result.message).toMatch(/no end line/);

    const plain = join(dir, "plain.jsonl");
    expect((await ctl(["audit", "export", "--output", plain, ...db])).code).toBe(0);
    const p = await verifyFile(plain);
    expect(p.code).toBe(1);
    expect(p.result).toMatchObject({ ok: false, problem: "not_an_export" });
  });

  it("refuses what cannot make a verifiable file (exit 2)", async () => {
    const { db } = await log();
    const filtered = await ctl(["audit", "export", "--chain", "--policy-id", "api_budget", ...db]);
    expect(filtered.code).toBe(2);
    expect(filtered.stderr).toMatch(/filter it by time only/);
    const csv = await ctl(["audit", "export", "--chain", "--format", "csv", ...db]);
    expect(csv.code).toBe(2);
    const both = await ctl(["audit", "verify", "--file", "x.jsonl", "--checkpoints", "c.jsonl"]);
    expect(both.code).toBe(2);
    const missing = await ctl(["audit", "verify", "--file", "/nonexistent/x.jsonl"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read/);
  });

  it("writes an empty window as edges only, which verifies", async () => {
    const { dir, db } = await log();
    const path = join(dir, "empty.jsonl");
    const out = await exportTo(path, db, "--since", "2030-01-01");
    expect(out).toEqual([
      expect.objectContaining({ edge: "start", firstSeq: null, prevHash: null }),
      expect.objectContaining({ edge: "end", records: 0, entries: 0, lastHash: null }),
    ]);
    expect((await verifyFile(path)).result).toMatchObject({ ok: true, records: 0 });
  });
});

describe("audit export --chain on PostgreSQL", () => {
  it("exports windows around a retention prune that verify on their own and join", async () => {
    if (!(await pgReachable("audit export --chain against PostgreSQL"))) return;
    const schema = `chain_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
    const db = ["--pg-url", PG_URL, "--pg-schema", schema];
    const dir = mkdtempSync(join(tmpdir(), "hexarch-export-chain-pg-"));
    dirs.push(dir);
    try {
      const store = new PostgresAuditStore(PG_URL, { schema });
      await store.append(fixtureRecords());
      await store.close();
      expect((await ctl(["audit", "cleanup", "--allowed", "30", ...db])).code).toBe(0);
      const later = new PostgresAuditStore(PG_URL, { schema });
      await later.append([
        {
          ...(fixtureRecords()[2] as AuditRecord),
          decisionId: "019bc0c4-6a00-7000-8000-00000000f006",
          timestamp: "2026-01-15T11:30:00.000Z",
        },
      ]);
      await later.close();
      const cut = "2026-01-15T10:12:00.000Z";
      const a = await exportTo(join(dir, "a.jsonl"), db, "--until", cut);
      const b = await exportTo(join(dir, "b.jsonl"), db, "--since", cut);
      expect(b[0]?.prevHash).not.toBe(a.at(-1)?.lastHash); // record 7 was pruned: the run 7 lies between
      const kinds = b.slice(1, -1).map((e) => [e.seq, e.entry ?? "in-window"]);
      expect(kinds).toEqual([
        [8, "in-window"],
        [9, "in-window"],
        [10, "in-window"],
        [11, "pruned"],
        [13, "prune"],
        [14, "in-window"],
      ]);
      for (const f of ["a.jsonl", "b.jsonl"])
        expect((await verifyFile(join(dir, f))).result).toMatchObject({ ok: true });
    } finally {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
    }
  });
});
