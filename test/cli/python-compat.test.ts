/**
 * What users of the Python package reach for on the command line: `policy validate` on a
 * Rego file, `health --summary` (the Python healthcheck's totals), and `audit export`
 * piped into `head`.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AuditRecord, SqliteAuditStore } from "../../src/audit/index.ts";
import { BIN, ctl, fixtureRecords } from "../support/cli-fixtures.ts";

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "hexarch-cli-py-"));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const POLICY = `policies:
  - id: api_budget
    rules: [{ resource: openai, monthly_budget: 10, action: block }]
`;

/** The Python package's own default.rego, shortened. */
const REGO = `package policy

import future.keywords.if

default allow = false

allow if {
  input.path == "/health"
}
`;

describe("policy validate on a Rego module", () => {
  it("says what it checks and how to check Rego, with exit 2 and no YAML errors", async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, "policy.rego"), REGO);
    const res = await ctl(["policy", "validate", "policy.rego"], { cwd });
    expect(res.code).toBe(2);
    expect(res.stdout).toBe("");
    expect(res.stderr).toBe(
      "hexarch-ctl: policy.rego is a Rego module (Open Policy Agent), not a policy file: policy validate checks hexarch.yaml files (YAML, or JSON)\n" +
        "hint: check Rego with `opa check policy.rego`, or PUT it to a test OPA, which answers its errors by line: `curl -X PUT --data-binary @policy.rego $OPA_URL/v1/policies/<name>` (`hexarch-ctl policy export <id> --format rego` writes Rego from a policy file)\n",
    );
  });

  it("knows Rego by its package line whatever the file is called, and in JSON", async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, "guard.txt"), `# exported from OPA\n\n${REGO}`);
    const res = await ctl(["policy", "validate", "guard.txt", "--format", "json"], { cwd });
    expect(res.code).toBe(2);
    const out = JSON.parse(res.stdout);
    expect(out).toMatchObject({ valid: false, file: "guard.txt", kind: "rego" });
    expect(out.issues).toHaveLength(1);
    expect(out.issues[0].message).toContain("not a policy file");
    expect(out.hint).toContain("opa check guard.txt");
    // Behind a byte order mark, as editors on Windows save it.
    writeFileSync(join(cwd, "bom.txt"), `\uFEFF${REGO}`);
    const bom = await ctl(["policy", "validate", "bom.txt", "--format", "json"], { cwd });
    expect(bom.code).toBe(2);
    expect(JSON.parse(bom.stdout)).toMatchObject({ valid: false, kind: "rego" });
  });

  it("still validates YAML and JSON policy files, and notes an odd file name on a failure", async () => {
    const cwd = tempDir();
    writeFileSync(
      join(cwd, "hexarch.json"),
      JSON.stringify({ policies: [{ id: "p", rules: [] }] }),
    );
    const json = await ctl(["policy", "validate", "hexarch.json"], { cwd });
    expect(json).toMatchObject({ code: 0, stderr: "" });
    expect(json.stdout).toMatch(/^valid: hexarch\.json: 1 policy/);
    // A YAML file whose first key happens to be `package` is not Rego.
    writeFileSync(join(cwd, "hexarch.yaml"), `package: x\n${POLICY}`);
    const yaml = await ctl(["policy", "validate", "hexarch.yaml"], { cwd });
    expect(yaml.stderr).not.toContain("Rego");
    writeFileSync(join(cwd, "guard.py"), "import os\nprint('hi')\n");
    const py = await ctl(["policy", "validate", "guard.py"], { cwd });
    expect(py.code).toBe(1);
    expect(py.stdout).toMatch(/^guard\.py:1:1: /);
    expect(py.stderr).toBe(
      "note: guard.py is not named like a policy file: policy validate checks hexarch.yaml files (YAML, or JSON)\n",
    );
  });
});

/** A fake OPA: `/health` answers 200; `/v1/policies` answers `policies` (or a status). */
async function fakeOpa(
  policies: readonly string[] | number,
): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    if (req.url === "/health") {
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    } else if (req.url === "/v1/policies" && typeof policies === "number") {
      res.writeHead(policies, { "content-type": "application/json" }).end("{}");
    } else if (req.url === "/v1/policies") {
      const result = (policies as string[]).map((id) => ({ id, raw: "package x", ast: {} }));
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ result }));
    } else res.writeHead(404).end();
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe("health --summary", () => {
  let cwd: string;
  const records = fixtureRecords();
  const count = (policyId: string | undefined, decision?: string) =>
    records.filter(
      (r) =>
        (policyId === undefined || r.policyId === policyId) &&
        (decision === undefined || r.decision === decision),
    ).length;
  const pct = (part: number, whole: number) => Math.round((part / whole) * 10_000) / 100;

  beforeAll(async () => {
    cwd = tempDir();
    writeFileSync(join(cwd, "hexarch.yaml"), POLICY);
    const store = new SqliteAuditStore(join(cwd, "decisions.db"));
    try {
      await store.append(records);
    } finally {
      await store.close();
    }
  });

  it("prints the decision totals, per policy, and the policies OPA has loaded", async () => {
    const opa = await fakeOpa(["hexarch/safe_delete", "hexarch/api_budget", "hexarch/rate_limit"]);
    try {
      const res = await ctl(["health", "--summary", "--opa-url", opa.url], {
        cwd,
        env: { COLUMNS: "200" },
      });
      expect(res.code).toBe(0);
      const total = records.length;
      const blocked = count(undefined, "blocked");
      const warned = count(undefined, "warned");
      expect(res.stdout).toContain(
        `decisions     ok      ${total} total decisions (${blocked} blocked, ${pct(total - blocked, total).toFixed(1)}% allowed, ${warned} of them warned)`,
      );
      expect(res.stdout).toMatch(
        /^opa policies\s+ok\s+3 policies loaded \(hexarch\/api_budget, hexarch\/rate_limit, hexarch\/safe_delete\)$/m,
      );
      expect(res.stdout).toMatch(/^POLICY\s+TOTAL\s+ALLOWED\s+WARNED\s+BLOCKED\s+ALLOWED %$/m);
      for (const id of new Set(records.map((r) => r.policyId))) {
        const t = count(id);
        const row = [t, count(id, "allowed"), count(id, "warned"), count(id, "blocked")];
        const allowedPct = pct(t - count(id, "blocked"), t).toFixed(1);
        expect(res.stdout).toMatch(
          new RegExp(`^${id}\\s+${row.join("\\s+")}\\s+${allowedPct}%$`, "m"),
        );
      }
    } finally {
      opa.server.close();
    }
  });

  it("reaches an OPA behind a path prefix with credentials in its URL, and never prints them", async () => {
    const seen: { url: string | undefined; authorization: string | undefined }[] = [];
    const server = createServer((req, res) => {
      seen.push({ url: req.url, authorization: req.headers.authorization });
      if (req.headers.authorization !== `Basic ${Buffer.from("ops:s3cr@t").toString("base64")}`) {
        res.writeHead(401).end();
      } else if (req.url === "/opa/health") {
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      } else if (req.url === "/opa/v1/policies") {
        res
          .writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify({ result: [{ id: "hexarch/p" }] }));
      } else res.writeHead(404).end();
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    try {
      const port = (server.address() as AddressInfo).port;
      const url = `http://ops:s3cr%40t@127.0.0.1:${port}/opa/`;
      const res = await ctl(["health", "--summary", "--opa-url", url], { cwd });
      expect(res.stdout).toMatch(/^opa policies\s+ok\s+1 policy loaded \(hexarch\/p\)$/m);
      expect(seen.map((r) => r.url)).toEqual(["/opa/health", "/opa/v1/policies"]);
      expect(`${res.stdout}${res.stderr}`).not.toContain("s3cr");
    } finally {
      server.close();
    }
  });

  it("answers { checks, decisions, opaPolicies } with --json", async () => {
    const opa = await fakeOpa(["b", "a"]);
    try {
      const res = await ctl(["health", "--summary", "--json", "--opa-url", opa.url], { cwd });
      expect(res.code).toBe(0);
      const out = JSON.parse(res.stdout);
      expect(out.opaPolicies).toEqual(["a", "b"]);
      expect(out.checks.map((c: { check: string }) => c.check)).toEqual([
        "policy file",
        "audit store",
        "opa",
        "decisions",
        "opa policies",
      ]);
      const blocked = count(undefined, "blocked");
      expect(out.decisions).toMatchObject({
        total: records.length,
        blocked,
        warned: count(undefined, "warned"),
        allowed: count(undefined, "allowed"),
        allowedPct: pct(records.length - blocked, records.length),
      });
      expect(out.decisions.policies).toContainEqual({
        policyId: "api_budget",
        total: count("api_budget"),
        allowed: count("api_budget", "allowed"),
        warned: count("api_budget", "warned"),
        blocked: count("api_budget", "blocked"),
        allowedPct: pct(count("api_budget") - count("api_budget", "blocked"), count("api_budget")),
      });
      // Without --summary, --json is --format json: the list of checks, as before.
      const plain = JSON.parse((await ctl(["health", "--json"], { cwd })).stdout);
      expect(Array.isArray(plain)).toBe(true);
    } finally {
      opa.server.close();
    }
  });

  it("warns when OPA has no policies and fails when it will not list them", async () => {
    const empty = await fakeOpa([]);
    const broken = await fakeOpa(401);
    try {
      const none = await ctl(["health", "--summary", "--opa-url", empty.url], { cwd });
      expect(none.code).toBe(0);
      expect(none.stdout).toMatch(
        /^opa policies\s+warn\s+http:\/\/127\.0\.0\.1:\d+\/: no policies loaded$/m,
      );
      const refused = await ctl(["health", "--summary", "--opa-url", broken.url], { cwd });
      expect(refused.code).toBe(1);
      expect(refused.stdout).toMatch(/^opa policies\s+fail\s+.*GET \/v1\/policies answered 401$/m);
    } finally {
      empty.server.close();
      broken.server.close();
    }
  });

  it("counts zero decisions when the SQLite file does not exist yet", async () => {
    const fresh = tempDir();
    writeFileSync(join(fresh, "hexarch.yaml"), POLICY);
    const res = await ctl(["health", "--summary", "--json"], { cwd: fresh });
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout);
    expect(out.decisions).toEqual({
      total: 0,
      allowed: 0,
      warned: 0,
      blocked: 0,
      allowedPct: 0,
      policies: [],
    });
    expect(out.opaPolicies).toBeNull();
    expect(out.checks).toContainEqual({
      check: "decisions",
      status: "ok",
      detail: "no decisions recorded yet",
    });
  });
});

// Two exports of 6,000 records, each its own process: generous on a loaded machine.
describe("audit export into a reader that stops early (| head)", { timeout: 60_000 }, () => {
  it("ends quietly with exit 0 when standard output closes mid-export", async () => {
    const cwd = tempDir();
    const db = join(cwd, "decisions.db");
    const store = new SqliteAuditStore(db);
    // About 6 MB of JSON lines: far more than a pipe buffers, so the export is still
    // writing when the reader goes.
    const pad = "x".repeat(1000);
    const rows: AuditRecord[] = [];
    for (let i = 0; i < 6000; i++) {
      const base = fixtureRecords()[i % 12] as AuditRecord;
      rows.push({
        ...base,
        decisionId: `019bc0c4-6a00-7000-9000-${String(i).padStart(12, "0")}`,
        timestamp: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
        context: { pad },
      });
    }
    try {
      await store.append(rows);
    } finally {
      await store.close();
    }
    for (const format of ["jsonl", "csv"]) {
      const child = spawn(
        process.execPath,
        [BIN, "audit", "export", "--db", db, "--format", format],
        {
          cwd,
          env: { ...process.env, NO_COLOR: "1" },
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let stderr = "";
      child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
      // Like `head -1`: read up to the first line, then close the pipe.
      const first = await new Promise<string>((done, fail) => {
        let got = "";
        child.stdout.setEncoding("utf8").on("data", (s: string) => {
          got += s;
          const end = got.indexOf("\n");
          if (end >= 0) {
            child.stdout.destroy();
            done(got.slice(0, end));
          }
        });
        child.on("error", fail);
      });
      const code = await new Promise<number | null>((done) => child.on("close", done));
      expect(first, format).toMatch(format === "csv" ? /^seq,decision_id,/ : /^\{"seq":1,/);
      expect(stderr, format).toBe("");
      expect(code, format).toBe(0);
    }
  });
});
