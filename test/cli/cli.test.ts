/**
 * hexarch-ctl, run as a subprocess: golden output for tables, JSON and CSV, against
 * SQLite and PostgreSQL (the same golden files for both).
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresAuditStore, SqliteAuditStore } from "../../src/audit/index.ts";
import { parsePolicies, VERSION } from "../../src/index.ts";
// Internal: the SQLite schema, to build a database as an older version left it.
import { SQLITE_MIGRATIONS } from "../../src/sqlite/migrations.ts";
import { ctl, expectGolden, fixtureRecords } from "../support/cli-fixtures.ts";
import { PG_URL, pgReachable } from "../support/pg.ts";

/** True when Redis answers on 127.0.0.1:6379; in CI it must. */
async function redisReachable(): Promise<boolean> {
  const up = await new Promise<boolean>((done) => {
    const socket = connect({ host: "127.0.0.1", port: 6379 }, () => {
      socket.end();
      done(true);
    });
    socket.on("error", () => done(false));
  });
  if (!up && process.env.CI)
    throw new Error("Redis is not reachable at 127.0.0.1:6379 (CI needs it)");
  if (!up)
    console.warn("[skip] Redis is not reachable at 127.0.0.1:6379: health's Redis check skipped");
  return up;
}

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "hexarch-cli-"));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("hexarch-ctl", () => {
  it("prints its version and help", async () => {
    const v = await ctl(["--version"]);
    expect(v).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
    const help = await ctl(["--help"]);
    expect(help.code).toBe(0);
    for (const cmd of ["demo", "init", "policy", "audit", "db", "health"])
      expect(help.stdout).toMatch(new RegExp(`^  ${cmd}\\b`, "m"));
    const sub = await ctl(["audit", "export", "--help"]);
    expect(sub.stdout).toContain("Examples:");
    expect(sub.stdout).toContain("--format <format>");
  });

  it("answers usage errors with one line, a hint and exit code 2, never a stack trace", async () => {
    const cases = [
      [["frobnicate"], "unknown command 'frobnicate'", "hint: run hexarch-ctl --help"],
      [
        ["audit", "lst"],
        "unknown command 'lst' (did you mean list?)",
        "hint: run hexarch-ctl audit --help",
      ],
      [
        ["audit", "list", "--decision", "maybe"],
        "Allowed choices are allowed, warned, blocked",
        "hint: run hexarch-ctl audit list --help",
      ],
      [
        ["audit", "list", "--since", "yesterday"],
        "--since must be an ISO date",
        "hint: run hexarch-ctl audit list --help",
      ],
      [
        ["audit", "list", "--limit", "-3"],
        "--limit must be a whole number",
        "hint: run hexarch-ctl audit list --help",
      ],
      [["audit", "cleanup"], "say what to delete: --days N", "hint: add --dry-run"],
      [["audit", "trail"], "required option '--user-id <id>' not specified", ""],
      [
        ["serve", "api", "--api-policy-max-age", "-1"],
        "--api-policy-max-age must be a whole number",
        "hint: run hexarch-ctl serve api --help",
      ],
    ] as const;
    for (const [args, message, hint] of cases) {
      const r = await ctl(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toContain(`hexarch-ctl: `);
      expect(r.stderr).toContain(message);
      expect(r.stderr).toContain(hint);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stderr.trim().split("\n").length).toBeLessThanOrEqual(2);
    }
  }, 60_000); // seven processes in turn: seconds each on a loaded machine

  it("says where it looked when there is no audit log, and exits 1", async () => {
    const cwd = tempDir();
    const r = await ctl(["audit", "list"], { cwd });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `hexarch-ctl: no audit log at ${join(cwd, "decisions.db")}\nhint: run \`npm run demo\` to make one, or point --db / HEXARCH_AUDIT_DB at your log\n`,
    );
  });

  it("reports a PostgreSQL server that is down in one line, without the password", async () => {
    const r = await ctl(["audit", "stats", "--pg-url", "postgres://app:s3cret@127.0.0.1:1/audit"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^hexarch-ctl: the audit store at postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/audit failed: /,
    );
    expect(r.stderr).toContain("hint: is PostgreSQL running");
    expect(r.stderr).not.toContain("s3cret");
    const debug = await ctl(["audit", "stats", "--debug", "--pg-url", "postgres://127.0.0.1:1/x"]);
    expect(debug.stderr).toMatch(/\n\s+at /);
  });
});

describe("after the demo", () => {
  it("audit list and audit stats show the demo's own decisions (the README's two commands)", async () => {
    const cwd = tempDir();
    const demo = await ctl(["demo"], { cwd });
    expect(demo.code).toBe(0);
    expect(demo.stdout).toMatch(/\d+ decisions written to decisions\.db/);
    const list = await ctl(["audit", "list", "--limit", "100", "--format", "json"], { cwd });
    const records = JSON.parse(list.stdout) as { policyId: string; decision: string }[];
    const written = Number(/(\d+) decisions written/.exec(demo.stdout)?.[1]);
    expect(records).toHaveLength(written);
    expect(records.some((r) => r.policyId === "safe_delete" && r.decision === "blocked")).toBe(
      true,
    );
    const stats = await ctl(["audit", "stats"], { cwd });
    expect(stats.stdout.split("\n")[0]).toMatch(/^POLICY\s+TOTAL\s+ALLOWED\s+WARNED\s+BLOCKED/);
    for (const id of ["api_budget", "business_hours", "safe_delete", "webhook_throttle"])
      expect(stats.stdout).toMatch(new RegExp(`^${id}\\s+\\d+`, "m"));
    expect((await ctl(["audit", "verify"], { cwd })).code).toBe(0);
  });
});

/** A store filled with the fixture, and the flags that point the CLI at it. */
interface Target {
  readonly args: string[];
  /** Edits one stored reason behind the store's back. */
  readonly tamper: (decisionId: string) => Promise<void>;
  readonly cleanup: () => Promise<void>;
}

const targets: [string, () => Promise<Target | undefined>][] = [
  [
    "SQLite",
    async () => {
      const file = join(tempDir(), "audit.db");
      const store = new SqliteAuditStore(file);
      await store.append(fixtureRecords());
      await store.close();
      return {
        args: ["--db", file],
        tamper: async (id) => {
          const db = new DatabaseSync(file);
          db.prepare(
            "UPDATE hexarch_decisions SET reason = 'nothing to see' WHERE decision_id = ?",
          ).run(id);
          db.close();
        },
        cleanup: async () => {},
      };
    },
  ],
  [
    "PostgreSQL",
    async () => {
      if (!(await pgReachable("CLI tests against PostgreSQL"))) return undefined;
      const schema = `cli_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
      const store = new PostgresAuditStore(PG_URL, { schema });
      await store.append(fixtureRecords());
      await store.close();
      const sql = async (text: string, values: unknown[] = []) => {
        const c = new pg.Client({ connectionString: PG_URL });
        await c.connect();
        try {
          await c.query(text, values);
        } finally {
          await c.end();
        }
      };
      return {
        args: ["--pg-url", PG_URL, "--pg-schema", schema],
        tamper: (id) =>
          sql(
            `UPDATE "${schema}".hexarch_decisions SET reason = 'nothing to see' WHERE decision_id = $1`,
            [id],
          ),
        cleanup: () => sql(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`),
      };
    },
  ],
];

describe.each(targets)("audit commands on %s", (_name, make) => {
  let t: Target | undefined;
  beforeAll(async () => {
    t = await make();
  });
  afterAll(async () => {
    await t?.cleanup();
  });
  const run = async (...args: string[]) => {
    if (!t) return undefined;
    const r = await ctl([...args, ...t.args]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    return r.stdout;
  };
  const golden = async (name: string, ...args: string[]) => {
    const out = await run(...args);
    if (out !== undefined) expectGolden(name, out);
  };

  it("lists decisions as a table that fits 80 columns, as JSON and as CSV", async () => {
    await golden("audit-list.txt", "audit", "list");
    await golden("audit-list.json", "audit", "list", "--format", "json", "--limit", "3");
    await golden("audit-list.csv", "audit", "list", "--format", "csv");
    const table = await run("audit", "list", "--limit", "100");
    if (table)
      for (const line of table.split("\n")) expect([...line].length).toBeLessThanOrEqual(80);
  });

  it("filters by policy, user, decision and time", async () => {
    await golden(
      "audit-list-filtered.txt",
      "audit",
      "list",
      "--policy-id",
      "rate_limit",
      "--decision",
      "blocked",
    );
    const since = await run(
      "audit",
      "list",
      "--since",
      "2026-01-15T10:30:00Z",
      "--until",
      "2026-01-15T10:41:00Z",
      "--format",
      "json",
    );
    if (since) expect((JSON.parse(since) as { seq: number }[]).map((r) => r.seq)).toEqual([11, 10]);
    await golden("audit-trail.txt", "audit", "trail", "--user-id", "carol");
    await golden("audit-blocked.txt", "audit", "blocked", "--timeframe", "36500d");
    const recent = await run("audit", "blocked");
    if (recent) expect(recent).toBe("no decisions match\n");
  });

  it("shows stats for every policy, or one", async () => {
    await golden("audit-stats.txt", "audit", "stats");
    await golden("audit-stats.json", "audit", "stats", "--format", "json");
    await golden("audit-stats-one.txt", "audit", "stats", "--policy-id", "rate_limit");
    if (t?.args[0] === "--pg-url") {
      // The same store by parts: host, database and user (the password would come from PGPASSWORD).
      const u = new URL(PG_URL);
      const byParts = await ctl([
        "audit",
        "stats",
        "--pg-host",
        u.hostname,
        "--pg-port",
        u.port || "5432",
        "--pg-database",
        u.pathname.slice(1),
        "--pg-user",
        decodeURIComponent(u.username),
        ...t.args.slice(2),
      ]);
      expect(byParts.stderr).toBe("");
      expectGolden("audit-stats.txt", byParts.stdout);
    }
    await golden(
      "audit-stats-one.json",
      "audit",
      "stats",
      "--policy-id",
      "rate_limit",
      "--format",
      "json",
    );
    await golden("audit-stats.csv", "audit", "stats", "--format", "csv");
  });

  it("exports to a file in each format, oldest first, with filters", async () => {
    if (!t) return;
    const dir = tempDir();
    for (const format of ["jsonl", "json", "csv"]) {
      const out = join(dir, `all.${format}`);
      const r = await ctl(["audit", "export", "--output", out, "--format", format, ...t.args]);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe(`exported 12 records to ${out}\n`);
      expectGolden(`audit-export.${format}`, readFileSync(out, "utf8"));
    }
    const json = JSON.parse(readFileSync(join(dir, "all.json"), "utf8")) as unknown[];
    expect(json).toHaveLength(12);
    await golden(
      "audit-export-filtered.jsonl",
      "audit",
      "export",
      "--policy-id",
      "safe_delete",
      "--since",
      "2026-01-15T10:00:00Z",
    );
    const none = await run("audit", "export", "--format", "json", "--policy-id", "nothing");
    expect(none).toBe(t ? "[]\n" : undefined);
  });

  it("verifies the chain, cleans up by age and severity, and exits 1 on tampering", async () => {
    if (!t) return;
    expect(await run("audit", "verify")).toBe("ok: 12 records checked, the chain is intact\n");
    expect(await run("audit", "cleanup", "--days", "0", "--dry-run")).toBe(
      "would delete 12 records older than 0 days (dry run: nothing deleted)\n",
    );
    expect(await run("audit", "cleanup", "--warned", "0", "--dry-run")).toBe(
      "would delete 1 records warned older than 0 days (dry run: nothing deleted)\n",
    );
    expect(await run("audit", "cleanup", "--days", "36500")).toBe(
      "deleted 0 records older than 36500 days; the chain still verifies\n",
    );
    expect(await run("audit", "verify", "--format", "json")).toBe(
      '{\n  "ok": true,\n  "checked": 12\n}\n',
    );
    await t.tamper("019bc0c4-6a00-7000-8000-000000000005");
    const broken = await ctl(["audit", "verify", ...t.args]);
    expect(broken.code).toBe(1);
    expectGolden("audit-verify-broken.txt", broken.stdout);
    expect((await ctl(["audit", "cleanup", "--blocked", "0", ...t.args])).stdout).toBe(
      "deleted 5 records blocked older than 0 days; the chain still verifies\n",
    );
  });

  it("reports the schema's migrations", async () => {
    const out = await run("db", "status");
    if (out === undefined) return;
    expectGolden("db-status.txt", out.replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/g, "<applied at>"));
    expect(await run("db", "migrate")).toBe(
      SQLITE_MIGRATIONS.map((m) => `  ${m.version}  ${m.name}: already applied\n`).join(""),
    );
  });
});

describe("db commands on a new SQLite file", () => {
  it("migrates, reports status, and rolls back", async () => {
    const db = join(tempDir(), "new.db");
    expect((await ctl(["db", "status", "--db", db])).code).toBe(1); // nothing there yet
    const up = await ctl(["db", "migrate", "--db", db, "--format", "json"]);
    expect(up.code).toBe(0);
    const latest = SQLITE_MIGRATIONS.length;
    expect((JSON.parse(up.stdout) as { status: string }[]).map((m) => m.status)).toEqual(
      Array.from({ length: latest }, () => "applied"),
    );
    const back = await ctl(["db", "rollback", "--db", db]);
    expect(back.stdout).toMatch(new RegExp(`^ {2}${latest} {2}.*: rolled back\n$`));
    const status = await ctl(["db", "status", "--db", db]);
    expect(status.stdout).toMatch(new RegExp(`\n\\s+${latest} .* pending\n$`));
  });
});

describe("policy commands", () => {
  let cwd = "";
  beforeAll(async () => {
    cwd = tempDir();
    const init = await ctl(["init"], { cwd });
    expect(init.code).toBe(0);
    expectGolden("init.txt", init.stdout);
  });
  const run = (...args: string[]) => ctl(args, { cwd });

  it("writes a starter that loads, and never overwrites a file", async () => {
    const text = readFileSync(join(cwd, "hexarch.yaml"), "utf8");
    expect(parsePolicies(text).policies.map((p) => p.id)).toEqual([
      "api_budget",
      "rate_limit",
      "safe_delete",
      "business_hours",
    ]);
    writeFileSync(join(cwd, "mine.yaml"), "policies: []\n");
    const again = await run("init", "mine.yaml");
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("hexarch-ctl: mine.yaml already exists; not overwriting it");
    expect(readFileSync(join(cwd, "mine.yaml"), "utf8")).toBe("policies: []\n");
  });

  it("lists, shows and exports policies", async () => {
    expectGolden("policy-list.txt", (await run("policy", "list")).stdout);
    expectGolden("policy-list.json", (await run("policy", "list", "--format", "json")).stdout);
    expectGolden("policy-show.txt", (await run("policy", "show", "rate_limit")).stdout);
    expectGolden(
      "policy-export.json",
      (await run("policy", "export", "api_budget", "--format", "json")).stdout,
    );
    const yaml = (await run("policy", "export", "safe_delete")).stdout;
    expect(parsePolicies(yaml).policies.map((p) => p.id)).toEqual(["safe_delete"]);
    expectGolden(
      "policy-export.rego",
      (await run("policy", "export", "business_hours", "--format", "rego")).stdout,
    );
    const missing = await run("policy", "show", "nope");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      "hexarch-ctl: no policy 'nope' in hexarch.yaml\nhint: policies in the file: api_budget, rate_limit, safe_delete, business_hours\n",
    );
  });

  it("exports Rego, and says why when a policy cannot be translated", async () => {
    const out = await run(
      "policy",
      "export",
      "safe_delete",
      "--format",
      "rego",
      "--output",
      "sd.rego",
    );
    expect(out).toMatchObject({ code: 0, stderr: "wrote policy 'safe_delete' to sd.rego\n" });
    expect(readFileSync(join(cwd, "sd.rego"), "utf8")).toContain("\npackage hexarch.safe_delete\n");
    writeFileSync(
      join(cwd, "lookahead.yaml"),
      'policies:\n  - id: p\n    rules:\n      - when: { field: s, operator: matches, value: "^(?!x)" }\n',
    );
    const bad = await run(
      "policy",
      "export",
      "p",
      "--format",
      "rego",
      "--policy-file",
      "lookahead.yaml",
    );
    // The embedded engine runs RE2 too: the pattern is refused where the file loads.
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("lookahead.yaml:4:");
    expect(bad.stderr).toContain("lookahead and lookbehind are not supported");
    const missing = await run("policy", "export", "nope", "--format", "rego");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no policy 'nope' in hexarch.yaml");
  });

  it("validates: every problem with file:line:col and exit code 1", async () => {
    const ok = await run("policy", "validate");
    expect(ok).toMatchObject({ code: 0, stdout: "valid: hexarch.yaml: 4 policies, 4 rules\n" });
    writeFileSync(
      join(cwd, "bad.yaml"),
      "policies:\n  - id: a\n    rules:\n      - requests_per_minut: 10\n  - id: b\n    rules:\n      - action: explode\n",
    );
    const bad = await run("policy", "validate", "bad.yaml");
    expect(bad.code).toBe(1);
    expectGolden("policy-validate-bad.txt", bad.stdout);
    const json = await run("policy", "validate", "bad.yaml", "--format", "json");
    expect(JSON.parse(json.stdout)).toMatchObject({ valid: false, file: "bad.yaml" });
    const loading = await run("policy", "list", "--policy-file", "bad.yaml");
    expect(loading.code).toBe(1);
    expect(loading.stderr).toContain("hint: run `hexarch-ctl policy validate bad.yaml`");
  });

  it("diffs two policy files by meaning, with --exit-code for scripts", async () => {
    const starter = readFileSync(join(cwd, "hexarch.yaml"), "utf8");
    writeFileSync(
      join(cwd, "new.yaml"),
      starter
        .replace("requests_per_minute: 100", "requests_per_minute: 200")
        .replace("monthly_budget: 10 ", "monthly_budget: 5 ")
        .replace("action: require_confirmation", "action: warn"),
    );
    const diff = await run("policy", "diff", "hexarch.yaml", "new.yaml");
    expect(diff.code).toBe(0);
    expectGolden("policy-diff.txt", diff.stdout);
    const json = await run("policy", "diff", "hexarch.yaml", "new.yaml", "--format", "json");
    expect(
      (JSON.parse(json.stdout) as { policyId: string; field: string; effect: string }[]).map(
        (c) => [c.policyId, c.field, c.effect],
      ),
    ).toEqual([
      ["api_budget", "monthly_budget", "tightened"],
      ["rate_limit", "requests_per_minute", "loosened"],
      ["safe_delete", "action", "loosened"],
    ]);
    expect((await run("policy", "diff", "hexarch.yaml", "new.yaml", "--exit-code")).code).toBe(1);
    const same = await run("policy", "diff", "hexarch.yaml", "hexarch.yaml", "--exit-code");
    expect(same).toMatchObject({ code: 0, stdout: "no semantic changes\n" });
  });

  it("runs policy test cases: PASS/FAIL per case, exit 1 on a failure or a bad file", async () => {
    const examples = fileURLToPath(new URL("../../examples/policy-tests/", import.meta.url));
    const ok = await ctl(["policy", "test", "hexarch.test.yaml", "--policy-file", "hexarch.yaml"], {
      cwd: examples,
    });
    expect(ok.code).toBe(0);
    expectGolden("policy-test.txt", ok.stdout);
    writeFileSync(
      join(cwd, "wrong.test.yaml"),
      "tests:\n  - name: deletes are fine\n    policy: safe_delete\n    context: { operation: delete }\n    expect: allow\n  - name: typo\n    policy: safe_delet\n    expect: allow\n",
    );
    const failing = await run("policy", "test", "wrong.test.yaml");
    expect(failing.code).toBe(1);
    expectGolden("policy-test-failing.txt", failing.stdout);
    writeFileSync(join(cwd, "broken.test.yaml"), "tests:\n  - name: x\n    expect: maybe\n");
    const broken = await run("policy", "test", "broken.test.yaml");
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/^broken\.test\.yaml:3:\d+: /);
    expect(broken.stderr).toContain("hexarch-ctl: broken.test.yaml is not a valid test file");
  });

  it("exports a starter test file for each policy, and its cases pass", async () => {
    for (const id of ["api_budget", "rate_limit", "safe_delete", "business_hours"]) {
      const out = `${id}.test.yaml`;
      const exported = await run("policy", "export", id, "--format", "test", "--output", out);
      expect(exported.code, id).toBe(0);
      const result = await run("policy", "test", out);
      expect(result.code, `${id}: ${result.stdout}`).toBe(0);
      expect(result.stdout).toMatch(/\n[1-9]\d* passed, 0 failed\n$/);
    }
    expectGolden(
      "policy-export-test.yaml",
      readFileSync(join(cwd, "rate_limit.test.yaml"), "utf8"),
    );
  });

  it("checks health: exit 0 when all is well, 1 when a check fails", async () => {
    const good = await run("health", "--format", "json");
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout)).toEqual([
      { check: "policy file", status: "ok", detail: "hexarch.yaml: 4 policies" },
      {
        check: "audit store",
        status: "warn",
        detail: `${join(cwd, "decisions.db")} does not exist yet (made on first write)`,
      },
    ]);
    const opa = createServer((req, res) => {
      res.writeHead(req.url === "/health" ? 200 : 404, { "content-type": "application/json" });
      res.end("{}");
    });
    await new Promise<void>((done) => opa.listen(0, "127.0.0.1", done));
    const { port } = opa.address() as AddressInfo;
    try {
      const withOpa = await run("health", "--opa-url", `http://127.0.0.1:${port}`);
      expect(withOpa.code).toBe(0);
      expect(withOpa.stdout).toMatch(
        /^opa\s+ok\s+http:\/\/127\.0\.0\.1:\d+\/: GET \/health answered 200/m,
      );
    } finally {
      opa.close();
    }
    if (await redisReachable()) {
      const redis = await run("health", "--redis-url", "redis://127.0.0.1:6379");
      expect(redis.code).toBe(0);
      expect(redis.stdout).toMatch(/^redis\s+ok\s+redis:\/\/127\.0\.0\.1:6379 answered PING/m);
    }
    const redisDown = await run("health", "--redis-url", "redis://127.0.0.1:1");
    expect(redisDown.code).toBe(1);
    expect(redisDown.stdout).toMatch(/^redis\s+fail\s+redis:\/\/127\.0\.0\.1:1/m);
    const badFile = await run("health", "--policy-file", "bad.yaml");
    expect(badFile.code).toBe(1);
    expect(badFile.stdout).toMatch(/^policy file\s+fail/m);
  });
});
