import { createHash, createHmac, randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import pg from "pg";
import { describe, expect, it } from "vitest";
import {
  type AuditCheckpointStore,
  type AuditStore,
  type ChainedRecord,
  CheckpointSigner,
  DecisionLogger,
  GENESIS,
  PostgresAuditCheckpointStore,
  PostgresAuditStore,
  recordHash,
  SqliteApiKeyStore,
  SqliteAuditCheckpointStore,
  SqliteAuditStore,
} from "../../src/audit/index.ts";
import { Guardian, GuardrailError } from "../../src/index.ts";
import { createServer, ServerConfigError, type ServerOptions } from "../../src/server/index.ts";
import { postgresSql, type Row, sqliteSql, wrapStore } from "../support/audit-db.ts";
import { closeAfterEach, tempDbs } from "../support/cleanup.ts";
import { ctl } from "../support/cli-fixtures.ts";
import { PG_URL, pgReachable } from "../support/pg.ts";
import { killAfterEach, serveApi } from "../support/serve-process.ts";

const TOKEN = "test-token-0123456789abcdef";
const AUTH = { authorization: `Bearer ${TOKEN}` };
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
/** 64 hex characters: 64 bytes of key material as text. */
const KEY = "3f1c9a0b7d2e4f6a8b0c1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6f708";
/** The documented default key id: the first 8 hex digits of the key's SHA-256. */
const KEY_ID = createHash("sha256").update(KEY).digest("hex").slice(0, 8);

const YAML = `
policies:
  - id: open
    rules: [{ resource: "*", action: allow }]
`;

const tempDb = tempDbs("hexarch-checkpoints");
const closers = closeAfterEach();

type Method = "GET" | "POST";

/** A database the server keeps its audit log and checkpoints in, and raw SQL on it. */
interface Db {
  readonly audit: AuditStore;
  readonly checkpoints: AuditCheckpointStore;
  /** Runs a statement with `?` parameters. */
  sql(statement: string, params?: readonly (string | number | null)[]): Promise<Row[]>;
  /** A table's name as statements must spell it. */
  table(name: string): string;
  close(): Promise<void>;
}

function sqliteDb(path = tempDb()): Db & { readonly path: string } {
  const audit = new SqliteAuditStore(path);
  const checkpoints = new SqliteAuditCheckpointStore(path);
  return {
    path,
    audit,
    checkpoints,
    sql: sqliteSql(path),
    table: (name) => name,
    close: async () => {
      await checkpoints.close();
    },
  };
}

function postgresDb(): Db {
  const schema = `hexarch_test_${randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const pool = new pg.Pool({ connectionString: PG_URL, max: 4 });
  const audit = new PostgresAuditStore(pool, { schema });
  const checkpoints = new PostgresAuditCheckpointStore(pool, { schema });
  return {
    audit,
    checkpoints,
    sql: postgresSql(pool),
    table: (name) => `"${schema}".${name}`,
    close: async () => {
      await checkpoints.close();
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    },
  };
}

interface Harness {
  readonly app: FastifyInstance;
  readonly logger: DecisionLogger;
  readonly db: Db;
  req(
    method: Method,
    url: string,
    headers?: Record<string, string>,
    payload?: unknown,
  ): Promise<LightMyRequestResponse>;
  /** Decisions through `POST /authorize`; their ids, oldest first. */
  decide(n: number): Promise<string[]>;
  verify(): Promise<Row>;
}

async function serve(
  db: Db,
  options: Partial<ServerOptions> & { withKey?: boolean; keyId?: string } = {},
): Promise<Harness> {
  const { withKey = true, keyId, ...rest } = options;
  const logger = new DecisionLogger(db.audit, { exitHooks: false, onError: () => {} });
  const guardian = new Guardian({ env: {}, policies: YAML, onWarn: () => {} });
  const app = await createServer({
    guardian,
    auditLogger: logger,
    apiToken: TOKEN,
    logger: false,
    rateLimit: false,
    ...(withKey && {
      auditCheckpoints: {
        key: KEY,
        ...(keyId !== undefined && { keyId }),
        store: db.checkpoints,
      },
    }),
    ...rest,
  });
  closers.push(async () => {
    await app.close();
    await logger.close();
    await db.close();
  });
  const req: Harness["req"] = (method, url, headers = AUTH, payload) =>
    app.inject({
      method,
      url,
      headers: { ...headers },
      ...(payload !== undefined && { payload: payload as object }),
    });
  return {
    app,
    logger,
    db,
    req,
    decide: async (n) => {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const res = await req("POST", "/authorize", AUTH, {
          policyId: "open",
          context: { userId: `user-${i}`, functionName: "send_email", n: i },
        });
        expect(res.statusCode).toBe(200);
        ids.push(res.json().decisionId as string);
      }
      await logger.flush();
      return ids;
    },
    verify: async () => {
      const res = await req("GET", "/audit-logs/verify");
      expect(res.statusCode).toBe(200);
      // The Python server's fields (server-provider-calls.test.ts covers them) agree with
      // ours; the tests below read ours.
      const { chain_id, total, verified, unverified, first_failure_id, ...ours } =
        res.json() as Row;
      expect({ chain_id, verified, unverified }).toEqual({
        chain_id: "global",
        verified: ours.checked,
        unverified: 0,
      });
      expect(total).toBeGreaterThanOrEqual(verified as number);
      expect(first_failure_id === null).toBe(ours.ok === true);
      return ours;
    },
  };
}

/** The documented signature, computed here without the library. */
function expectedSignature(c: Row, key = KEY): string {
  const fields = {
    actor: c.actor,
    createdAt: c.createdAt,
    headHash: c.headHash,
    id: c.id,
    keyId: c.keyId,
    records: c.records,
    seq: c.seq,
  };
  return createHmac("sha256", key)
    .update(`hexarch-audit-checkpoint/v1\n${JSON.stringify(fields)}`)
    .digest("hex");
}

/** Every chain entry as stored, oldest first. */
async function chainOf(h: Harness): Promise<ChainedRecord[]> {
  return (await h.db.audit.chain(0, 10_000)) as ChainedRecord[];
}

describe("signed checkpoints", () => {
  it("signs the head without storing it, then stores one, lists it and checks it in verify", async () => {
    const h = await serve(sqliteDb());
    const ids = await h.decide(3);

    const now = await h.req("GET", "/audit-logs/checkpoint");
    expect(now.statusCode).toBe(200);
    const c = now.json() as Row;
    const head = (await chainOf(h)).at(-1) as ChainedRecord;
    expect(head.decisionId).toBe(ids[2]);
    expect(c).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      seq: 3,
      headHash: head.hash,
      records: 3,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      actor: "api-token",
      keyId: KEY_ID,
      signature: expectedSignature(c),
    });
    expect(new CheckpointSigner({ key: KEY }).verify(c as never)).toBe(true);
    // Not stored.
    const none = await h.req("GET", "/audit-checkpoints/latest");
    expect(none.statusCode).toBe(404);
    expect(none.json().code).toBe("no_checkpoint");

    const made = await h.req("POST", "/audit-checkpoints");
    expect(made.statusCode).toBe(201);
    const stored = made.json() as Row;
    expect(stored).toMatchObject({ seq: 3, headHash: head.hash, records: 3, keyId: KEY_ID });
    expect(stored.signature).toBe(expectedSignature(stored));
    expect((await h.req("GET", "/audit-checkpoints/latest")).json()).toEqual(stored);
    expect((await h.req("GET", "/audit-checkpoints")).json()).toEqual({
      checkpoints: [stored],
      limit: 50,
      offset: 0,
      nextOffset: null,
    });
    expect(await h.verify()).toEqual({
      ok: true,
      checked: 3,
      checkpoints: { ok: true, checked: 1, skipped: 0 },
    });

    // The Python server's body and query (one chain, `global`) are accepted; others are not.
    await h.decide(1);
    const python = await h.req("POST", "/audit-checkpoints", AUTH, { chain_id: "global" });
    expect(python.statusCode).toBe(201);
    expect(python.json()).toMatchObject({ seq: 4, records: 4 });
    expect(
      (await h.req("POST", "/audit-checkpoints", AUTH, { chain_id: "tenant-a" })).statusCode,
    ).toBe(400);
    expect((await h.req("GET", "/audit-checkpoints/latest?chain_id=global")).json().seq).toBe(4);
    expect((await h.req("GET", "/audit-logs/checkpoint?chain_id=x")).statusCode).toBe(400);
    expect(await h.verify()).toMatchObject({ ok: true, checkpoints: { ok: true, checked: 2 } });
  });

  it("pages the list newest first", async () => {
    const h = await serve(sqliteDb());
    const made: Row[] = [];
    for (let i = 0; i < 3; i++) {
      await h.decide(1);
      made.push((await h.req("POST", "/audit-checkpoints")).json() as Row);
    }
    const first = (await h.req("GET", "/audit-checkpoints?limit=2")).json();
    expect(first.checkpoints.map((c: Row) => c.seq)).toEqual([3, 2]);
    expect(first.nextOffset).toBe(2);
    const rest = (await h.req("GET", "/audit-checkpoints?limit=2&offset=2")).json();
    expect(rest.checkpoints).toEqual([made[0]]);
    expect(rest.nextOffset).toBeNull();
    expect((await h.req("GET", "/audit-checkpoints?limit=0")).statusCode).toBe(400);
  });

  it("checkpoints an empty log at the genesis hash", async () => {
    const h = await serve(sqliteDb());
    const made = await h.req("POST", "/audit-checkpoints");
    expect(made.json()).toMatchObject({ seq: 0, headHash: GENESIS, records: 0 });
    await h.decide(2);
    expect(await h.verify()).toEqual({
      ok: true,
      checked: 2,
      checkpoints: { ok: true, checked: 1, skipped: 0 },
    });
  });

  it.each([
    ["signature", "signature = ?", "0".repeat(64)],
    ["actor", "actor = ?", "someone-else"],
    ["records", "records = ?", 99],
    ["created_at", "created_at = ?", "2020-01-01T00:00:00.000Z"],
    ["head_hash and seq together", "seq = 1, head_hash = ?", "f".repeat(64)],
  ])("detects a stored checkpoint whose %s was edited", async (_what, set, value) => {
    const h = await serve(sqliteDb());
    await h.decide(2);
    const c = (await h.req("POST", "/audit-checkpoints")).json() as Row;
    await h.db.sql(`UPDATE ${h.db.table("hexarch_audit_checkpoints")} SET ${set}`, [value]);
    expect(await h.verify()).toEqual({
      ok: false,
      checked: 2,
      checkpoints: {
        ok: false,
        checked: 1,
        skipped: 0,
        firstBadCheckpointId: c.id,
        problem: "bad_signature",
      },
    });
    // No new checkpoint vouches for a log whose checkpoints fail.
    const refused = await h.req("POST", "/audit-checkpoints");
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ code: "checkpoint_mismatch" });
    expect(refused.json().message).toContain(String(c.id));
  });

  it("detects a chain rewritten with every hash recomputed, which the walk alone cannot", async () => {
    const h = await serve(sqliteDb());
    const ids = await h.decide(4);
    const c = (await h.req("POST", "/audit-checkpoints")).json() as Row;
    await h.decide(2);

    // Rewrite record 2 and re-chain every record after it, head included.
    const entries = await chainOf(h);
    let prev = (entries[0] as ChainedRecord).hash;
    for (const e of entries.slice(1)) {
      const rewritten = e.decisionId === ids[1] ? { ...e, reason: "nothing to see here" } : e;
      const hash = recordHash(prev, rewritten);
      await h.db.sql(
        `UPDATE ${h.db.table("hexarch_decisions")} SET reason = ?, prev_hash = ?, hash = ? WHERE seq = ?`,
        [rewritten.reason, prev, hash, e.seq],
      );
      prev = hash;
    }
    await h.db.sql(`UPDATE ${h.db.table("hexarch_chain")} SET head_hash = ?`, [prev]);

    // The walk alone finds nothing: every link and hash is consistent.
    expect(await h.logger.verify()).toEqual({ ok: true, checked: 6 });
    expect(await h.verify()).toEqual({
      ok: false,
      checked: 6,
      checkpoints: {
        ok: false,
        checked: 1,
        skipped: 0,
        firstBadCheckpointId: c.id,
        problem: "hash_mismatch",
      },
    });
    const refused = await h.req("GET", "/audit-logs/checkpoint");
    expect(refused.statusCode).toBe(409);
    expect(refused.json().code).toBe("checkpoint_mismatch");
  });

  it("detects the newest records removed with the head moved back (truncation)", async () => {
    const h = await serve(sqliteDb());
    await h.decide(4);
    const c = (await h.req("POST", "/audit-checkpoints")).json() as Row;
    const entries = await chainOf(h);
    const keep = entries[1] as ChainedRecord;
    await h.db.sql(`DELETE FROM ${h.db.table("hexarch_decisions")} WHERE seq > ?`, [keep.seq]);
    await h.db.sql(`UPDATE ${h.db.table("hexarch_chain")} SET head_seq = ?, head_hash = ?`, [
      keep.seq,
      keep.hash,
    ]);
    expect(await h.logger.verify()).toEqual({ ok: true, checked: 2 });
    expect(await h.verify()).toMatchObject({
      ok: false,
      checkpoints: { ok: false, firstBadCheckpointId: c.id, problem: "truncated" },
    });
  });

  it("refuses to sign a broken chain (409 chain_broken)", async () => {
    const h = await serve(sqliteDb());
    const ids = await h.decide(3);
    await h.db.sql(`UPDATE ${h.db.table("hexarch_decisions")} SET reason = 'x' WHERE seq = 2`);
    for (const [method, url] of [
      ["GET", "/audit-logs/checkpoint"],
      ["POST", "/audit-checkpoints"],
    ] as const) {
      const res = await h.req(method, url);
      expect(res.statusCode, url).toBe(409);
      expect(res.json().code).toBe("chain_broken");
      expect(res.json().message).toContain(ids[1]);
    }
    expect((await h.req("GET", "/audit-checkpoints")).json().checkpoints).toEqual([]);
  });

  it("skips checkpoints under another key id (a rotated key), checks those retention removed", async () => {
    const db = sqliteDb();
    const a = await serve(db);
    await a.decide(2);
    expect((await a.req("POST", "/audit-checkpoints")).statusCode).toBe(201);
    const b = await serve(sqliteDb(db.path), { keyId: "k-2027" });
    expect(await b.verify()).toEqual({
      ok: true,
      checked: 2,
      checkpoints: { ok: true, checked: 0, skipped: 1 },
    });
    const made = (await b.req("POST", "/audit-checkpoints")).json() as Row;
    expect(made.keyId).toBe("k-2027");
    expect(made.signature).toBe(expectedSignature(made));

    // Retention removes records 1..3 with a chained prune record, its runs cut at the
    // stored checkpoint (seq 2): the checkpoint is still compared, with the run's last hash.
    await b.decide(2);
    await b.db.sql(`UPDATE ${b.db.table("hexarch_decisions")} SET timestamp = ? WHERE seq <= 3`, [
      "2001-01-01T00:00:00.000Z",
    ]);
    // The edit broke the hashes of 1..3; pruning them keeps only their stored hashes.
    expect(await b.logger.cleanupOldRecords({ days: 1 })).toBe(3);
    expect(await b.verify()).toMatchObject({
      ok: true,
      checked: 2,
      prunes: 1,
      pruned: 3,
      checkpoints: { ok: true, checked: 1, skipped: 1 },
    });
  });
});

describe("who takes a checkpoint", () => {
  it("is the authenticated caller: an API key's X-Actor-Id is ignored", async () => {
    const db = sqliteDb();
    const keys = new SqliteApiKeyStore(db.path);
    closers.push(() => keys.close());
    const h = await serve(db, { apiKeys: keys, apiKeyAdmin: true });
    await h.decide(1);
    const writer = (
      await h.req("POST", "/api-keys", AUTH, { name: "w", scopes: ["read", "write"] })
    ).json() as { id: string; key: string };
    const reader = (
      await h.req("POST", "/api-keys", AUTH, { name: "r", scopes: ["read"] })
    ).json() as {
      id: string;
      key: string;
    };

    const byKey = await h.req("POST", "/audit-checkpoints", {
      ...bearer(writer.key),
      "x-actor-id": "mallory",
      "x-user-id": "mallory",
    });
    expect(byKey.statusCode).toBe(201);
    expect(byKey.json().actor).toBe(`api-key:${writer.id}`);
    const now = await h.req("GET", "/audit-logs/checkpoint", {
      ...bearer(reader.key),
      "x-actor-id": "mallory",
    });
    expect(now.statusCode).toBe(200);
    expect(now.json().actor).toBe(`api-key:${reader.id}`);
    expect(now.json().signature).toBe(expectedSignature(now.json()));

    // Storing one needs the policy scope (which the legacy write scope grants).
    const readOnly = await h.req("POST", "/audit-checkpoints", bearer(reader.key));
    expect(readOnly.statusCode).toBe(403);
    expect(readOnly.json()).toMatchObject({ code: "insufficient_scope", requiredScope: "policy" });
    expect((await h.req("GET", "/audit-checkpoints/latest", bearer(reader.key))).statusCode).toBe(
      200,
    );

    // The static token is the server's admin credential: without a header it is `api-token`.
    expect((await h.req("POST", "/audit-checkpoints")).json().actor).toBe("api-token");
  });

  it("needs credentials on every checkpoint route (401 without, 403 with a wrong token)", async () => {
    const h = await serve(sqliteDb());
    for (const [method, url] of [
      ["GET", "/audit-logs/checkpoint"],
      ["POST", "/audit-checkpoints"],
      ["GET", "/audit-checkpoints"],
      ["GET", "/audit-checkpoints/latest"],
      ["GET", "/audit-logs/verify"],
    ] as const) {
      const none = await h.req(method, url, {});
      expect(none.statusCode, url).toBe(401);
      expect(none.json().code).toBe("unauthenticated");
      const wrong = await h.req(method, url, bearer("not-the-token"));
      expect(wrong.statusCode, url).toBe(403);
    }
    expect((await h.req("GET", "/audit-checkpoints")).json().checkpoints).toEqual([]);
  });
});

describe("configuration", () => {
  it("without a key: the checkpoint routes answer 404 checkpoints_disabled, verify walks the chain only", async () => {
    const h = await serve(sqliteDb(), { withKey: false });
    await h.decide(1);
    for (const [method, url] of [
      ["GET", "/audit-logs/checkpoint"],
      ["POST", "/audit-checkpoints"],
      ["GET", "/audit-checkpoints"],
      ["GET", "/audit-checkpoints/latest"],
    ] as const) {
      const res = await h.req(method, url);
      expect(res.statusCode, url).toBe(404);
      expect(res.json().code).toBe("checkpoints_disabled");
      expect(res.json().message).toContain("HEXARCH_AUDIT_HMAC_KEY");
    }
    expect(await h.verify()).toEqual({ ok: true, checked: 1 });
  });

  it("with a key but no store: signs on demand, stores nothing", async () => {
    const db = sqliteDb();
    const logger = new DecisionLogger(db.audit, { exitHooks: false });
    const app = await createServer({
      guardian: new Guardian({ env: {}, policies: YAML }),
      auditLogger: logger,
      apiToken: TOKEN,
      logger: false,
      auditCheckpoints: { key: KEY },
    });
    closers.push(async () => {
      await app.close();
      await logger.close();
      await db.close();
    });
    const now = await app.inject({ method: "GET", url: "/audit-logs/checkpoint", headers: AUTH });
    expect(now.statusCode).toBe(200);
    expect(now.json()).toMatchObject({ seq: 0, keyId: KEY_ID });
    const post = await app.inject({ method: "POST", url: "/audit-checkpoints", headers: AUTH });
    expect(post.statusCode).toBe(404);
    expect(post.json().code).toBe("checkpoints_disabled");
    const verify = await app.inject({ method: "GET", url: "/audit-logs/verify", headers: AUTH });
    expect(verify.json()).toEqual({
      ok: true,
      checked: 0,
      chain_id: "global",
      total: 0,
      verified: 0,
      unverified: 0,
      first_failure_id: null,
      checkpoints: { ok: true, checked: 0, skipped: 0 },
    });
  });

  it("refuses a key under 32 bytes, a bad key id, or checkpoints without an audit log", async () => {
    const guardian = new Guardian({ env: {}, policies: YAML });
    const logger = new DecisionLogger(new SqliteAuditStore(":memory:"), { exitHooks: false });
    closers.push(() => logger.close());
    const base = { guardian, auditLogger: logger, apiToken: TOKEN, logger: false as const };
    const short = "k".repeat(31);
    const refusal = await createServer({ ...base, auditCheckpoints: { key: short } }).catch(
      (e: unknown) => e as Error,
    );
    expect(refusal).toBeInstanceOf(ServerConfigError);
    expect((refusal as Error).message).toBe(
      "HEXARCH_AUDIT_HMAC_KEY must be at least 32 bytes, got 31: make one with 'openssl rand -hex 32'",
    );
    expect((refusal as Error).message).not.toContain(short);
    await expect(createServer({ ...base, auditCheckpoints: { key: "" } })).rejects.toThrow(
      ServerConfigError,
    );
    await expect(
      createServer({ ...base, auditCheckpoints: { key: KEY, keyId: "has space" } }),
    ).rejects.toThrow(/HEXARCH_AUDIT_HMAC_KEY_ID/);
    await expect(
      createServer({ guardian, apiToken: TOKEN, logger: false, auditCheckpoints: { key: KEY } }),
    ).rejects.toThrow(/need an audit log/);
    // 32 bytes, counted in UTF-8: 16 two-byte characters are enough.
    const app = await createServer({ ...base, auditCheckpoints: { key: "é".repeat(16) } });
    await app.close();
    // The signer itself refuses the same keys, for library users.
    expect(() => new CheckpointSigner({ key: short })).toThrow(GuardrailError);
    expect(new CheckpointSigner({ key: KEY }).keyId).toBe(KEY_ID);
  });

  it("lists the routes and the verify answer's checkpoints in the OpenAPI document", async () => {
    const h = await serve(sqliteDb(), { docs: true });
    const doc = (await h.req("GET", "/openapi.json", {})).json();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/audit-logs/checkpoint",
        "/audit-checkpoints",
        "/audit-checkpoints/latest",
      ]),
    );
    expect(doc.paths["/audit-checkpoints"].post.responses["201"]).toBeDefined();
    const verify = doc.paths["/audit-logs/verify"].get.responses["200"].content["application/json"];
    expect(verify.schema.properties.checkpoints.properties.problem.enum).toEqual([
      "bad_signature",
      "hash_mismatch",
      "truncated",
      "bad_line",
    ]);
  });
});

describe("verify walks the chain the head had when it began", () => {
  it("is not confused by records appended during the walk, and finds rows written past the head", async () => {
    const db = sqliteDb();
    const inner = db.audit;
    let appendDuringWalk = true;
    const racing = wrapStore(inner, {
      chain: async (after, limit) => {
        const page = await inner.chain(after, limit);
        if (appendDuringWalk) {
          appendDuringWalk = false;
          const [first] = await inner.query({ limit: 1 });
          await inner.append([{ ...(first as ChainedRecord), decisionId: randomUUID() }]);
        }
        return page;
      },
    });
    const h = await serve({ ...db, audit: racing });
    await h.decide(3);
    expect(await h.verify()).toEqual({
      ok: true,
      checked: 3,
      checkpoints: { ok: true, checked: 0, skipped: 0 },
    });
    expect(await h.verify()).toMatchObject({ ok: true, checked: 4 });
  });
});

describe("hexarch-ctl serve api", () => {
  const children = killAfterEach();

  it("refuses a short HEXARCH_AUDIT_HMAC_KEY with exit code 2, without printing it", async () => {
    const path = tempDb();
    writeFileSync(join(dirname(path), "hexarch.yaml"), YAML);
    const short = "short-but-secret-key";
    const run = await ctl(["serve", "api", "--port", "0", "--db", path], {
      cwd: dirname(path),
      env: { HEXARCH_API_TOKEN: TOKEN, HEXARCH_AUDIT_HMAC_KEY: short },
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("HEXARCH_AUDIT_HMAC_KEY must be at least 32 bytes, got 20");
    expect(run.stdout + run.stderr).not.toContain(short);
  });

  it("signs and stores checkpoints in the audit database with the key and key id it is given", async () => {
    const path = tempDb();
    const dir = dirname(path);
    writeFileSync(join(dir, "hexarch.yaml"), YAML);
    const { proc, out, exited, url } = await serveApi(["--db", path], {
      cwd: dir,
      env: {
        HEXARCH_API_TOKEN: TOKEN,
        HEXARCH_AUDIT_HMAC_KEY: KEY,
        HEXARCH_AUDIT_HMAC_KEY_ID: "ops-2026",
      },
      children,
    });
    const call = (method: string, route: string) =>
      fetch(`${url}${route}`, { method, headers: AUTH });
    const made = await call("POST", "/audit-checkpoints");
    expect(made.status).toBe(201);
    const c = (await made.json()) as Row;
    expect(c).toMatchObject({ seq: 0, keyId: "ops-2026", actor: "api-token" });
    expect(c.signature).toBe(expectedSignature(c));
    expect(await (await call("GET", "/audit-logs/verify")).json()).toEqual({
      ok: true,
      checked: 0,
      chain_id: "global",
      total: 0,
      verified: 0,
      unverified: 0,
      first_failure_id: null,
      checkpoints: { ok: true, checked: 1, skipped: 0 },
    });
    proc.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(out.stdout).not.toContain(KEY);
    // Stored in the audit database itself.
    const db = new DatabaseSync(path);
    try {
      expect(db.prepare("SELECT id, key_id FROM hexarch_audit_checkpoints").all()).toEqual([
        { id: c.id, key_id: "ops-2026" },
      ]);
    } finally {
      db.close();
    }
  });
});

// ---- every stored column is checked against what was hashed, on SQLite and PostgreSQL ----

const pgAvailable = await pgReachable("the checkpoint tests on PostgreSQL").catch(
  (err: unknown) => {
    describe("PostgreSQL", () => {
      it("is reachable (CI needs it for the checkpoint tests)", () => {
        throw err;
      });
    });
    return false;
  },
);
if (!pgAvailable && !process.env.CI) {
  describe("checkpoints on PostgreSQL", () => {
    it.skip(`needs PostgreSQL at ${PG_URL}, which is not reachable`, () => {});
  });
}

const backends: [string, () => Db][] = [["SQLite", () => sqliteDb()]];
if (pgAvailable) backends.push(["PostgreSQL", postgresDb]);

/** An edit of the second of three records: the column and its new value. */
const EDITS: readonly [column: string, value: string | number | null][] = [
  ["reason", "edited"],
  ["context", '{"functionName":"send_email","n":1,"userId":"mallory"}'],
  ["context", "not json at all"],
  ["user_id", "mallory"],
  ["user_id", null],
  ["decision", "blocked"],
  ["timestamp", "2020-01-01T00:00:00.000Z"],
  ["metadata", '{"via":"forged"}'],
  ["metadata", null],
  ["function_name", "other"],
  ["policy_id", "other"],
  ["action", "block"],
  ["mode", "monitor"],
  ["mode", "no-such-mode"],
  ["duration_ms", 12345],
  ["prev_hash", "0".repeat(64)],
  ["hash", "f".repeat(64)],
];

describe.each(backends)("GET /audit-logs/verify on %s", (_name, makeDb) => {
  it.each(EDITS)("finds the record whose %s was edited to %j", async (column, value) => {
    const h = await serve(makeDb());
    const ids = await h.decide(3);
    expect(await h.verify()).toMatchObject({ ok: true, checked: 3 });
    const changed = await h.db.sql(
      `UPDATE ${h.db.table("hexarch_decisions")} SET ${column} = ? WHERE decision_id = ? RETURNING seq`,
      [value, ids[1] as string],
    );
    expect(changed).toHaveLength(1);
    expect(await h.verify()).toMatchObject({ ok: false, checked: 1, firstBadDecisionId: ids[1] });
    // The log still lists (an unreadable column is shown, not a 5xx).
    expect((await h.req("GET", "/audit-logs")).statusCode).toBe(200);
  });

  it("finds an edited decision id, and an edited seq", async () => {
    const h = await serve(makeDb());
    const ids = await h.decide(3);
    const decisions = h.db.table("hexarch_decisions");
    await h.db.sql(`UPDATE ${decisions} SET decision_id = ? WHERE decision_id = ?`, [
      "forged-id",
      ids[1] as string,
    ]);
    expect(await h.verify()).toMatchObject({ ok: false, firstBadDecisionId: "forged-id" });
    await h.db.sql(`UPDATE ${decisions} SET decision_id = ? WHERE decision_id = ?`, [
      ids[1] as string,
      "forged-id",
    ]);
    expect(await h.verify()).toMatchObject({ ok: true });
    // The newest record moved past the head: the head's record is missing.
    await h.db.sql(`UPDATE ${decisions} SET seq = 99 WHERE seq = 3`);
    expect(await h.verify()).toMatchObject({
      ok: false,
      firstBadDecisionId: "(records after seq 2 are missing)",
    });
  });

  it("finds a well-linked record written past the head without moving it", async () => {
    const h = await serve(makeDb());
    await h.decide(2);
    const head = (await chainOf(h)).at(-1) as ChainedRecord;
    const forged: ChainedRecord = {
      ...head,
      decisionId: "forged",
      seq: head.seq + 1,
      prevHash: head.hash,
    };
    const hash = recordHash(head.hash, forged);
    await h.db.sql(
      `INSERT INTO ${h.db.table("hexarch_decisions")} (seq, decision_id, timestamp, policy_id, function_name, decision, action, reason, context, user_id, duration_ms, metadata, mode, prev_hash, hash)
       SELECT CAST(? AS BIGINT), CAST(? AS TEXT), timestamp, policy_id, function_name, decision, action, reason, context, user_id, duration_ms, metadata, mode, CAST(? AS TEXT), CAST(? AS TEXT) FROM ${h.db.table("hexarch_decisions")} WHERE seq = ?`,
      [forged.seq, "forged", head.hash, hash, head.seq],
    );
    expect(await h.verify()).toMatchObject({ ok: false, checked: 2, firstBadDecisionId: "forged" });
  });

  it("checks stored checkpoints against a rewritten chain", async () => {
    const h = await serve(makeDb());
    const ids = await h.decide(3);
    const c = (await h.req("POST", "/audit-checkpoints")).json() as Row;
    let prev = GENESIS;
    for (const e of await chainOf(h)) {
      const rewritten = e.decisionId === ids[0] ? { ...e, userId: "mallory" } : e;
      const hash = recordHash(prev, rewritten);
      await h.db.sql(
        `UPDATE ${h.db.table("hexarch_decisions")} SET user_id = ?, prev_hash = ?, hash = ? WHERE seq = ?`,
        [rewritten.userId, prev, hash, e.seq],
      );
      prev = hash;
    }
    await h.db.sql(`UPDATE ${h.db.table("hexarch_chain")} SET head_hash = ?`, [prev]);
    expect(await h.logger.verify()).toEqual({ ok: true, checked: 3 });
    expect(await h.verify()).toMatchObject({
      ok: false,
      checkpoints: { ok: false, firstBadCheckpointId: c.id, problem: "hash_mismatch" },
    });
  });
});
