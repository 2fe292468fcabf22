/**
 * Issue #16: the audit log cannot lose a record silently. Each test is the attack: someone
 * who can write the database removes records with plain SQL (a real `node:sqlite`
 * connection, a real `pg` pool), then verification runs through the public API, the CLI
 * and `GET /audit-logs/verify`, and must fail naming the problem.
 */
import { randomUUID } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import pg from "pg";
import { describe, expect, it } from "vitest";
import {
  type AuditStore,
  appendCheckpointFile,
  CheckpointSigner,
  DecisionLogger,
  PostgresAuditStore,
  readCheckpointFile,
  SqliteAuditCheckpointStore,
  SqliteAuditStore,
  takeCheckpoint,
  verifyWithCheckpoints,
} from "../../src/audit/index.ts";
import { Guardian } from "../../src/index.ts";
import { createServer } from "../../src/server/index.ts";
// Internal: the prune statements, run by hand to forge a prune record.
import { pruneStatements } from "../../src/sql/prune.ts";
import { record } from "../contract/audit-store.contract.ts";
import { postgresSql, type Row, sqliteSql } from "../support/audit-db.ts";
import { closeAfterEach, tempDbs } from "../support/cleanup.ts";
import { ctl } from "../support/cli-fixtures.ts";
import { PG_URL, pgReachable } from "../support/pg.ts";

const KEY = "3f1c9a0b7d2e4f6a8b0c1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6f708";
const TOKEN = "test-token-0123456789abcdef";
const tempDb = tempDbs("hexarch-tamper");
const closers = closeAfterEach();

/** A store, a logger over it, raw SQL on its database, and the CLI flags that name it. */
interface Target {
  readonly store: AuditStore;
  readonly logger: DecisionLogger;
  /** Runs a statement with `?` parameters; table names as {@link Target.t} spells them. */
  sql(statement: string, params?: readonly (string | number | null)[]): Promise<Row[]>;
  /** A table's name as statements must spell it. */
  t(name: string): string;
  /** CLI flags naming the database. */
  readonly args: readonly string[];
  /** A second store and logger on the same database (a new process). */
  reopen(): { store: AuditStore; logger: DecisionLogger };
}

function sqliteTarget(): Target {
  const path = tempDb();
  const open = () => {
    const store = new SqliteAuditStore(path);
    const logger = new DecisionLogger(store, { exitHooks: false, onError: () => {} });
    closers.push(() => logger.close());
    return { store, logger };
  };
  return {
    ...open(),
    sql: sqliteSql(path),
    t: (name) => name,
    args: ["--db", path],
    reopen: open,
  };
}

function postgresTarget(): Target {
  const schema = `hexarch_tamper_${randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const pool = new pg.Pool({ connectionString: PG_URL, max: 4 });
  const open = () => {
    const store = new PostgresAuditStore(pool, { schema });
    const logger = new DecisionLogger(store, { exitHooks: false, onError: () => {} });
    closers.push(() => logger.close());
    return { store, logger };
  };
  const first = open();
  closers.push(async () => {
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  });
  return {
    ...first,
    sql: postgresSql(pool),
    t: (name) => `"${schema}".${name}`,
    args: ["--pg-url", PG_URL, "--pg-schema", schema],
    reopen: open,
  };
}

const backends: [string, () => Promise<Target | undefined>][] = [
  ["SQLite", async () => sqliteTarget()],
  [
    "PostgreSQL",
    async () => ((await pgReachable("audit tamper tests")) ? postgresTarget() : undefined),
  ],
];

/** Six records in the log; their hashes by seq. */
async function sixRecords(x: Target): Promise<Map<number, string>> {
  await x.store.append(Array.from({ length: 6 }, (_, i) => record({ reason: `r${i + 1}` })));
  const rows = await x.sql(`SELECT seq, hash FROM ${x.t("hexarch_decisions")} ORDER BY seq`);
  return new Map(rows.map((r) => [Number(r.seq), String(r.hash)]));
}

/**
 * Plain SQL: deletes the rows `from..to` and writes a pruned run for them that names the
 * prune record at `pruneSeq`, with the hashes before and at its ends from `hashes`.
 */
async function forgeRun(
  x: Target,
  from: number,
  to: number,
  pruneSeq: number,
  hashes: Map<number, string>,
): Promise<void> {
  await x.sql(`INSERT INTO ${x.t("hexarch_pruned_runs")} VALUES (?, ?, ?, ?, ?)`, [
    from,
    to,
    pruneSeq,
    hashes.get(from - 1) ?? "",
    hashes.get(to) ?? "",
  ]);
  await x.sql(`DELETE FROM ${x.t("hexarch_decisions")} WHERE seq BETWEEN ? AND ?`, [from, to]);
}

describe.each(backends)("audit tampering on %s", (name, make) => {
  it("copying rows into hexarch_tombstones and deleting them fails verify", async () => {
    const x = await make();
    if (!x) return;
    await sixRecords(x);
    expect(await x.logger.verify()).toEqual({ ok: true, checked: 6 });
    await x.sql(
      `INSERT INTO ${x.t("hexarch_tombstones")} SELECT seq, decision_id, prev_hash, hash FROM ${x.t("hexarch_decisions")} WHERE seq IN (2, 3)`,
    );
    await x.sql(`DELETE FROM ${x.t("hexarch_decisions")} WHERE seq IN (2, 3)`);
    const v = await x.logger.verify();
    expect(v).toMatchObject({ ok: false, checked: 1, problem: "unexplained_tombstone" });
    expect(v.message).toMatch(/tombstone stands at seq 2 .*removed outside retention/);

    const cli = await ctl(["audit", "verify", ...x.args]);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain("BROKEN");
    expect(cli.stdout).toContain("tombstone stands at seq 2");
  });

  it("a forged pruned run needs a chained prune record that lists it", async () => {
    const x = await make();
    if (!x) return;
    const hashes = await sixRecords(x);
    // A run naming a prune record that does not exist.
    await forgeRun(x, 2, 3, 99, hashes);
    expect(await x.logger.verify()).toMatchObject({
      ok: false,
      problem: "prune_mismatch",
      message: expect.stringMatching(/2\.\.3 names prune record 99, which is not in the chain/),
    });
    // A run slipped under a real prune record: its digest no longer matches.
    const y = await make();
    if (!y) return;
    const old = Date.now() - 40 * 86_400_000;
    await y.store.append([record({ timestamp: new Date(old).toISOString() })]);
    const later = await sixRecords(y); // seq 2..7
    expect(await y.logger.cleanupOldRecords({ days: 30 })).toBe(1); // prune record at seq 8
    expect(await y.logger.verify()).toMatchObject({ ok: true, checked: 7, prunes: 1, pruned: 1 });
    await forgeRun(y, 3, 4, 8, later);
    expect(await y.logger.verify()).toMatchObject({
      ok: false,
      problem: "prune_mismatch",
      message: expect.stringContaining("prune record at seq 8 lists 1 runs"),
    });
  });

  it("deleting the first rows and moving the chain start fails verify", async () => {
    const x = await make();
    if (!x) return;
    const hashes = await sixRecords(x);
    await x.sql(`DELETE FROM ${x.t("hexarch_decisions")} WHERE seq <= 2`);
    expect(await x.logger.verify()).toMatchObject({
      ok: false,
      problem: "unexplained_gap",
      message: expect.stringContaining("entries 1..2 are missing and no chained prune record"),
    });
    await x.sql(`UPDATE ${x.t("hexarch_chain")} SET start_seq = 2, start_hash = ?`, [
      hashes.get(2) ?? "",
    ]);
    const v = await x.logger.verify();
    expect(v).toMatchObject({ ok: false, problem: "start_moved" });
    expect(v.message).toContain("start was moved to seq 2");
    const cli = await ctl(["audit", "verify", "--format", "json", ...x.args]);
    expect(cli.code).toBe(1);
    expect(JSON.parse(cli.stdout)).toMatchObject({ ok: false, problem: "start_moved" });
  });

  it("deleting the last rows and moving the head back fails verify against a checkpoint file", async () => {
    const x = await make();
    if (!x) return;
    const hashes = await sixRecords(x);
    const signer = new CheckpointSigner({ key: KEY });
    const file = `${tempDb()}.checkpoints.jsonl`;
    const taken = await takeCheckpoint(x.logger, signer, { actor: "cron" });
    if (!taken.ok) throw new Error("no checkpoint");
    await appendCheckpointFile(file, taken.checkpoint);
    expect(taken.checkpoint).toMatchObject({ seq: 6, headHash: hashes.get(6) });

    await x.sql(`DELETE FROM ${x.t("hexarch_decisions")} WHERE seq > 4`);
    await x.sql(`UPDATE ${x.t("hexarch_chain")} SET head_seq = 4, head_hash = ?`, [
      hashes.get(4) ?? "",
    ]);
    // Inside the database alone this is undetectable (documented): the chain is intact.
    expect(await x.logger.verify()).toEqual({ ok: true, checked: 4 });
    // The checkpoint kept outside finds it.
    const { checkpoints } = await readCheckpointFile(file);
    const v = await verifyWithCheckpoints(x.logger, signer, checkpoints);
    expect(v.checkpoints).toMatchObject({ ok: false, problem: "truncated" });

    const env = { HEXARCH_AUDIT_HMAC_KEY: KEY };
    const cli = await ctl(["audit", "verify", "--checkpoints", file, ...x.args], { env });
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain(`checkpoint ${taken.checkpoint.id} (seq 6`);
    expect(cli.stdout).toContain("is past the chain's end (seq 4)");
    // Without the key the file cannot be checked: refused, not passed.
    const nokey = await ctl(["audit", "verify", "--checkpoints", file, ...x.args]);
    expect(nokey.code).toBe(2);
    expect(nokey.stderr).toContain("HEXARCH_AUDIT_HMAC_KEY");
    // An edited line fails too.
    const edited = readFileSync(file, "utf8").replace('"seq":6', '"seq":4');
    const forged = `${tempDb()}.forged.jsonl`;
    await import("node:fs").then((fs) => fs.writeFileSync(forged, edited));
    const bad = await ctl(["audit", "verify", "--checkpoints", forged, ...x.args], { env });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain("does not carry a valid signature");
  });

  it("a legitimate prune keeps checkpoints checkable and the CLI checkpoint command appends", async () => {
    const x = await make();
    if (!x) return;
    const old = Date.now() - 40 * 86_400_000;
    await x.store.append(
      Array.from({ length: 4 }, (_, i) => record({ timestamp: new Date(old + i).toISOString() })),
    );
    const file = `${tempDb()}.checkpoints.jsonl`;
    const env = { HEXARCH_AUDIT_HMAC_KEY: KEY };
    const made = await ctl(["audit", "checkpoint", "--checkpoint-file", file, ...x.args], { env });
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toMatch(/^checkpoint \S+: seq 4, hash [0-9a-f]{64}, appended to /);
    await sixRecords(x);
    expect(await x.logger.cleanupOldRecords({ days: 30 })).toBe(4);
    const ok = await ctl(["audit", "verify", "--checkpoints", file, ...x.args], { env });
    const lines = ok.stdout.split("\n");
    expect(lines[0]).toBe(
      "ok: 7 records checked, the chain is intact (1 prune records account for 4 removed)",
    );
    expect(lines[1]).toMatch(
      /^ {2}prune at seq 11, \S+Z by \S+@\S+: removed 1\.\.4 \(4 records\): "retention: /,
    );
    expect(lines.slice(2).join("\n")).toBe(`ok: 1 checkpoints from ${file} match the chain\n`);
    expect(ok.code).toBe(0);
  });

  it("reports a damaged chain table instead of throwing", async () => {
    const x = await make();
    if (!x) return;
    await sixRecords(x);
    await x.sql(`UPDATE ${x.t("hexarch_decisions")} SET hash = 'garbage' WHERE seq = 3`);
    expect(await x.logger.verify()).toMatchObject({
      ok: false,
      problem: "damaged",
      message: expect.stringContaining("at seq 3 has no valid hash (hash 'garbage'"),
    });
    await x.sql(`UPDATE ${x.t("hexarch_decisions")} SET hash = prev_hash WHERE seq = 3`);
    if (name === "PostgreSQL") {
      await x.sql(`ALTER TABLE ${x.t("hexarch_decisions")} ALTER COLUMN hash DROP NOT NULL`);
      await x.sql(`UPDATE ${x.t("hexarch_decisions")} SET hash = NULL WHERE seq = 3`);
      expect(await x.logger.verify()).toMatchObject({ ok: false, problem: "damaged" });
      await x.sql(`ALTER TABLE ${x.t("hexarch_chain")} ALTER COLUMN head_seq TYPE text`);
    }
    await x.sql(`UPDATE ${x.t("hexarch_chain")} SET head_seq = 'abc'`);
    expect(await x.logger.verify()).toMatchObject({
      ok: false,
      problem: "damaged",
      message: expect.stringContaining("head (hexarch_chain) is damaged"),
    });
    await x.sql(`DELETE FROM ${x.t("hexarch_chain")}`);
    const gone = await x.logger.verify();
    expect(gone).toMatchObject({ ok: false, problem: "damaged" });
    expect(gone.message).toContain("state row (hexarch_chain id 1) is missing");
    const cli = await ctl(["audit", "verify", ...x.args]);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain("hexarch_chain id 1) is missing");
    expect(cli.stderr).not.toContain("TypeError");
    // A dropped column: the chain cannot be read as one (SQLite cannot drop a primary key).
    const z = await make();
    if (!z) return;
    await sixRecords(z);
    const column = name === "SQLite" ? "hash" : "seq";
    await z.sql(`ALTER TABLE ${z.t("hexarch_decisions")} DROP COLUMN ${column}`);
    const dropped = await z.reopen().logger.verify();
    expect(dropped).toMatchObject({ ok: false, problem: "damaged" });
    expect(dropped.message).toMatch(
      name === "SQLite"
        ? /seq 1 has no valid hash \(hash 'undefined'/
        : /cannot be read after seq 0: .*seq/,
    );
  });

  it("adopts tombstones and a folded start left by earlier retention into one prune record", async () => {
    const x = await make();
    if (!x) return;
    const hashes = await sixRecords(x);
    // Back to the schema before chained prunes, and retention done the old way.
    expect((await x.store.rollback())[0]).toMatchObject({ version: 9, status: "rolled back" });
    await x.sql(`DELETE FROM ${x.t("hexarch_decisions")} WHERE seq <= 2`);
    await x.sql(`UPDATE ${x.t("hexarch_chain")} SET start_seq = 2, start_hash = ?`, [
      hashes.get(2) ?? "",
    ]);
    await x.sql(
      `INSERT INTO ${x.t("hexarch_tombstones")} SELECT seq, decision_id, prev_hash, hash FROM ${x.t("hexarch_decisions")} WHERE seq = 4`,
    );
    await x.sql(`DELETE FROM ${x.t("hexarch_decisions")} WHERE seq = 4`);
    const y = x.reopen();
    expect(await y.logger.verify()).toMatchObject({ ok: true, checked: 4, prunes: 1, pruned: 3 });
    const prune = (await y.store.chain(0, 100)).find((e) => "kind" in e && e.kind === "prune");
    expect(prune).toMatchObject({ seq: 7, actor: "audit migration 9", runs: 2, removed: 3 });
    expect(await x.sql(`SELECT * FROM ${x.t("hexarch_tombstones")}`)).toEqual([]);
  });
});

describe("GET /audit-logs/verify and serve api --checkpoint-file", () => {
  it("reports the attacks over HTTP; the checkpoint file outlives deleted database checkpoints", async () => {
    const path = tempDb();
    const file = `${path}.checkpoints.jsonl`;
    const store = new SqliteAuditStore(path);
    const logger = new DecisionLogger(store, { exitHooks: false, onError: () => {} });
    const checkpoints = new SqliteAuditCheckpointStore(path);
    const app = await createServer({
      guardian: new Guardian({ env: {}, policies: "policies: []", onWarn: () => {} }),
      auditLogger: logger,
      apiToken: TOKEN,
      logger: false,
      rateLimit: false,
      auditCheckpoints: { key: KEY, store: checkpoints, file },
    });
    closers.push(async () => {
      await app.close();
      await logger.close();
      await checkpoints.close();
    });
    const get = async (url: string, method: "GET" | "POST" = "GET") =>
      app.inject({ method, url, headers: { authorization: `Bearer ${TOKEN}` } });
    await store.append(Array.from({ length: 6 }, () => record()));
    const made = await get("/audit-checkpoints", "POST");
    expect(made.statusCode).toBe(201);
    const line = JSON.parse(readFileSync(file, "utf8").trim()) as Row;
    expect(line).toEqual(made.json());

    // Truncation with the database's own checkpoints deleted too.
    const db = new DatabaseSync(path);
    const h4 = (db.prepare("SELECT hash FROM hexarch_decisions WHERE seq = 4").get() as Row).hash;
    db.exec("DELETE FROM hexarch_decisions WHERE seq > 4; DELETE FROM hexarch_audit_checkpoints");
    db.prepare("UPDATE hexarch_chain SET head_seq = 4, head_hash = ?").run(String(h4));
    let v = (await get("/audit-logs/verify")).json();
    expect(v).toMatchObject({
      ok: false,
      checkpoints: { ok: false, problem: "truncated", firstBadCheckpointId: line.id },
    });

    // Tombstone forgery, reported with its problem and message.
    db.exec(
      "INSERT INTO hexarch_tombstones SELECT seq, decision_id, prev_hash, hash FROM hexarch_decisions WHERE seq = 2; DELETE FROM hexarch_decisions WHERE seq = 2",
    );
    db.close();
    v = (await get("/audit-logs/verify")).json();
    expect(v).toMatchObject({ ok: false, problem: "unexplained_tombstone" });
    expect(v.message).toContain("tombstone stands at seq 2");
  });

  it("a forged prune record appended at the head is shown with its actor and reason", async () => {
    const path = tempDb();
    const store = new SqliteAuditStore(path);
    const logger = new DecisionLogger(store, { exitHooks: false, onError: () => {} });
    const app = await createServer({
      guardian: new Guardian({ env: {}, policies: "policies: []", onWarn: () => {} }),
      auditLogger: logger,
      apiToken: TOKEN,
      logger: false,
      rateLimit: false,
    });
    closers.push(async () => {
      await app.close();
      await logger.close();
    });
    await store.append(Array.from({ length: 6 }, (_, i) => record({ reason: `r${i + 1}` })));
    // The attacker deletes records 4..5 and writes, by hand, the runs and prune record
    // retention would have written, chained at the head (plain SHA-256: no key needed).
    const db = new DatabaseSync(path);
    const hash = (seq: number) =>
      String((db.prepare("SELECT hash FROM hexarch_decisions WHERE seq = ?").get(seq) as Row).hash);
    const { statements } = pruneStatements(
      [{ from: 4, to: 5, prevHash: hash(3), lastHash: hash(5) }],
      { seq: 6, hash: hash(6) },
      { actor: "mallory@evil", reason: "retention 90d\u001b[2K", now: Date.UTC(2026, 11, 7) },
    );
    db.exec("BEGIN");
    db.prepare("DELETE FROM hexarch_decisions WHERE seq IN (4, 5)").run();
    for (const [sql, params] of statements) db.prepare(sql).run(...params);
    db.exec("COMMIT");
    db.close();
    await store.append([record(), record()]); // seq 8, 9: the forgery is buried

    // The stated limit: the chain accounts for the gap, so verify passes...
    const v = await logger.verify();
    expect(v).toMatchObject({ ok: true, checked: 7, prunes: 1, pruned: 2 });
    // ...but the prune is shown, never silent: where, when, by whom, why.
    const shown = {
      seq: 7,
      at: "2026-12-07T00:00:00.000Z",
      actor: "mallory@evil",
      reason: "retention 90d\u001b[2K",
      removed: 2,
      runs: 1,
      ranges: [{ from: 4, to: 5 }],
    };
    expect(v.pruneRecords).toEqual([shown]);
    expect(v.pruneRecordsOmitted).toBeUndefined();

    const cli = await ctl(["audit", "verify", "--db", path]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toBe(
      "ok: 7 records checked, the chain is intact (1 prune records account for 2 removed)\n" +
        '  prune at seq 7, 2026-12-07T00:00:00.000Z by mallory@evil: removed 4..5 (2 records): "retention 90d\\u001b[2K"\n',
    );
    const json = await ctl(["audit", "verify", "--db", path, "--format", "json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, pruneRecords: [shown] });

    const res = await app.inject({
      method: "GET",
      url: "/audit-logs/verify",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      ok: true,
      checked: 7,
      chain_id: "global",
      total: 7,
      verified: 7,
      unverified: 0,
      first_failure_id: null,
      prunes: 1,
      pruned: 2,
      pruneRecords: [shown],
    });
  });

  it("fails verify when a line of the checkpoint file is garbled, rather than skipping it", async () => {
    const path = tempDb();
    const file = `${path}.checkpoints.jsonl`;
    const store = new SqliteAuditStore(path);
    const logger = new DecisionLogger(store, { exitHooks: false, onError: () => {} });
    const app = await createServer({
      guardian: new Guardian({ env: {}, policies: "policies: []", onWarn: () => {} }),
      auditLogger: logger,
      apiToken: TOKEN,
      logger: false,
      rateLimit: false,
      auditCheckpoints: { key: KEY, file },
    });
    closers.push(async () => {
      await app.close();
      await logger.close();
    });
    const call = (url: string, method: "GET" | "POST" = "GET") =>
      app.inject({ method, url, headers: { authorization: `Bearer ${TOKEN}` } });
    await store.append(Array.from({ length: 4 }, () => record()));
    expect((await call("/audit-checkpoints", "POST")).statusCode).toBe(201);
    expect((await call("/audit-logs/verify")).json()).toMatchObject({ ok: true });
    // The attacker garbles the one line that covers the records, then cuts the log.
    writeFileSync(file, readFileSync(file, "utf8").replace(/"seq":\d+/, '"seq":"x"'));
    const v = (await call("/audit-logs/verify")).json();
    expect(v).toMatchObject({ ok: false, checkpoints: { ok: false, problem: "bad_line" } });
    expect(v.checkpoints.message).toMatch(/line 1 of the checkpoint file is not a checkpoint/);
  });
});
