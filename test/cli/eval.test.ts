/**
 * `hexarch-ctl eval run`: the three case formats (the Python harness's steps, native
 * `/authorize` bodies, policy test files), ids of created rules threaded into later steps,
 * the three modes (a running server, one started for the run, in-process), the report
 * files, exit codes and what a bad file says. Every server here is a real `serve api`.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BIN, ctl } from "../support/cli-fixtures.ts";
import { killAfterEach, serveApi } from "../support/serve-process.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const children = killAfterEach();

/** A fresh folder with the given files. */
function workspace(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "hexarch-eval-test-"));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** The one run folder under `out`, and its files. */
function runFolder(out: string): { dir: string; files: string[] } {
  const runs = readdirSync(out);
  expect(runs).toHaveLength(1);
  expect(runs[0]).toMatch(/^\d{8}T\d{6}Z$/);
  const dir = join(out, runs[0] as string);
  return { dir, files: readdirSync(dir).sort() };
}

interface Results {
  meta: { mode: string; format: string; casesName: string };
  summary: { total: number; passed: number; failed: number; skipped: number };
  results: { id: string; status: string; message: string; diffs: { field: string }[] }[];
  coverage: { key: string; allow: string[]; warn: string[]; deny: string[] }[] | null;
}
const readResults = (dir: string): Results =>
  JSON.parse(readFileSync(join(dir, "results.json"), "utf8")) as Results;

const POLICIES = `policies:
  - id: safe_delete
    rules:
      - { operation: delete, action: require_confirmation }
  - id: rate_limit
    rules:
      - { requests_per_minute: 2, per: userId, action: block }
  - id: office_hours
    rules:
      - { allowed_hours: "09:00-17:00", action: block }
`;

const TESTS = `tests:
  - name: reads run
    policy: safe_delete
    context: { operation: read }
    expect: allow
  - name: deletes need confirmation
    policy: safe_delete
    context: { operation: delete }
    expect: { allowed: false, action: require_confirmation }
  - name: third call is blocked
    policy: rate_limit
    context: { userId: carol }
    repeat: 3
    expect: { action: block, reason: "2 requests per minute" }
`;

/** Steps in the Python harness's format: API-defined rules and policies, then decisions. */
const STEPS = {
  name: "api-policies",
  steps: [
    {
      id: "nothing_defined",
      type: "authorize",
      request: { action: "read", resource: { type: "doc", id: "1" }, context: {} },
      expect: { allowed: false, decision: "DENY", reason: "no_applicable_policies" },
    },
    {
      id: "small_amounts",
      type: "create_rule",
      request: {
        name: "small",
        rule_type: "CONDITION",
        condition: { field: "input.context.amount", op: "lte", value: 100 },
      },
    },
    {
      id: "gate",
      type: "create_policy",
      // A bare step id in rule_ids, and a template, both become the created rule's id.
      request: {
        name: "gate",
        ruleIds: ["small_amounts"],
        description: "for {{small_amounts.name}}",
      },
      expect: { rule_ids: ["{{small_amounts.id}}"], description: "for small" },
    },
    {
      id: "small_allowed",
      type: "authorize",
      request: { action: "pay", context: { amount: 20 } },
      expect: { allowed: true, decision: "ALLOW" },
    },
    {
      id: "large_denied",
      type: "authorize",
      request: { action: "pay", context: { amount: 5000 } },
      expect: {
        allowed: false,
        reason_pattern: "^policy_denied:",
        matched_rules: ["{{small_amounts}}"],
      },
    },
  ],
};

/** Native /authorize bodies in the same steps format. */
const NATIVE = {
  name: "native",
  steps: [
    {
      id: "read_runs",
      type: "authorize",
      request: { policyId: "safe_delete", context: { operation: "read" } },
      expect: { allowed: true, action: "allow" },
    },
    {
      id: "delete_asks",
      type: "authorize",
      request: { policyId: "safe_delete", context: { operation: "delete" } },
      expect: { decision: "DENY", action: "require_confirmation" },
    },
    {
      id: "unknown_policy",
      type: "authorize",
      request: { policyId: "nope", context: {} },
      expect: { status_code: 404, code: "unknown_policy" },
    },
  ],
};

describe("eval run: policy test files (YAML)", () => {
  it("runs in-process with --policy-file, writes report.md and results.json, exit 0", async () => {
    const dir = workspace({ "hexarch.yaml": POLICIES, "cases.yaml": TESTS });
    const r = await ctl(
      ["eval", "run", "cases.yaml", "--policy-file", "hexarch.yaml", "--out", "out"],
      { cwd: dir },
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("PASS  deletes need confirmation");
    expect(r.stdout).toContain("3 passed, 0 failed");
    const run = runFolder(join(dir, "out"));
    expect(run.files).toEqual(["report.md", "results.json"]);
    const results = readResults(run.dir);
    expect(results.meta).toMatchObject({ mode: "in-process", format: "tests", casesName: "cases" });
    expect(results.summary).toEqual({ total: 3, passed: 3, failed: 0, skipped: 0 });
    const cov = Object.fromEntries((results.coverage ?? []).map((c) => [c.key, c]));
    expect(cov.operation).toMatchObject({
      allow: ["reads run"],
      deny: ["deletes need confirmation"],
    });
    expect(cov.requests_per_minute?.deny).toEqual(["third call is blocked"]);
    expect(cov.requests_per_minute?.allow).toEqual([]);
    expect(cov.allowed_hours).toMatchObject({ allow: [], deny: [] });
    const md = readFileSync(join(run.dir, "report.md"), "utf8");
    expect(md).toContain("# Eval report: cases");
    expect(md).toContain("**PASS**: 3 cases, 3 passed, 0 failed, 0 skipped");
    expect(md).toContain("| PASS | reads run | test |");
    expect(md).toContain("## Coverage of the policy language");
    expect(md).toMatch(/\| `operation` \| 1 \| 0 \| 1 \| covered \|/);
    expect(md).toMatch(/\| `allowed_hours` \| 0 \| 0 \| 0 \| \*\*incomplete\*\* \|/);
  });

  it("a failing case: exit 1, the case and its differing fields on stderr and in the report", async () => {
    const failing = `${TESTS}  - name: reads are blocked (wrong)
    policy: safe_delete
    context: { operation: read }
    expect: block
`;
    const dir = workspace({ "hexarch.yaml": POLICIES, "cases.yaml": failing });
    const r = await ctl(
      ["eval", "run", "cases.yaml", "--policy-file", "hexarch.yaml", "--out", "out"],
      { cwd: dir },
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("FAIL  reads are blocked (wrong)");
    expect(r.stdout).toContain("3 passed, 1 failed");
    expect(r.stderr).toContain("1 of 4 cases failed:");
    expect(r.stderr).toContain("FAIL reads are blocked (wrong)");
    expect(r.stderr).toContain('decision: expected "block", actual "allow"');
    const run = runFolder(join(dir, "out"));
    const results = readResults(run.dir);
    expect(results.summary.failed).toBe(1);
    expect(results.results[3]).toMatchObject({ status: "fail", diffs: [{ field: "decision" }] });
    const md = readFileSync(join(run.dir, "report.md"), "utf8");
    expect(md).toContain("**FAIL**");
    expect(md).toContain("## Failures");
    expect(md).toContain('| decision | "block" | "allow" |');
  });

  it("against a server: tests run over POST /authorize; a test that sets the clock is skipped", async () => {
    const withClock = `${TESTS}  - name: evening is blocked
    policy: office_hours
    at: "2026-01-01T20:00:00Z"
    expect: block
`;
    const dir = workspace({ "hexarch.yaml": POLICIES, "cases.yaml": withClock });
    const r = await ctl(
      [
        "eval",
        "run",
        "cases.yaml",
        "--policy-file",
        "hexarch.yaml",
        "--start-server",
        "--out",
        "out",
        "--format",
        "json",
      ],
      { cwd: dir },
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.stdout) as Results & { reportDir: string };
    expect(printed.summary).toEqual({ total: 4, passed: 3, failed: 0, skipped: 1 });
    expect(printed.results[3]).toMatchObject({
      status: "skip",
      message: expect.stringContaining("sets the clock"),
    });
    expect(printed.meta.mode).toBe("start-server");
    const run = runFolder(join(dir, "out"));
    expect(run.files).toEqual(["report.md", "results.json", "server.log"]);
    expect(printed.reportDir).toBe(join("out", readdirSync(join(dir, "out"))[0] as string));
    const log = readFileSync(join(run.dir, "server.log"), "utf8");
    expect(log).toContain("Server listening at http://127.0.0.1:");
    expect(log).toContain('"url":"/authorize"');
  }, 60_000);
});

describe("eval run: steps files (the Python harness's format)", () => {
  it("--start-server without a policy file: API-defined rules and policies, ids threaded into later steps", async () => {
    const dir = workspace({ "cases.json": JSON.stringify(STEPS, null, 2) });
    const r = await ctl(["eval", "run", "cases.json", "--start-server", "--out", "out"], {
      cwd: dir,
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("5 passed, 0 failed");
    const run = runFolder(join(dir, "out"));
    expect(run.files).toEqual(["report.md", "results.json", "server.log"]);
    const results = readResults(run.dir);
    expect(results.coverage).toBeNull();
    const md = readFileSync(join(run.dir, "report.md"), "utf8");
    expect(md).toContain("| PASS | gate | create_policy |");
    expect(md).toContain("Not computed: no policy file");
  }, 60_000);

  it("--url and --token against a running serve api: native bodies, and a failing field on stderr", async () => {
    const dir = workspace({ "hexarch.yaml": POLICIES });
    const server = await serveApi(
      ["--policy-file", join(dir, "hexarch.yaml"), "--db", join(dir, "a.db"), "--init-db"],
      {
        cwd: dir,
        env: { HEXARCH_API_TOKEN: "eval-test-token" },
        children,
      },
    );
    writeFileSync(join(dir, "native.json"), JSON.stringify(NATIVE));
    const ok = await ctl(
      [
        "eval",
        "run",
        "native.json",
        "--url",
        server.url,
        "--token",
        "eval-test-token",
        "--out",
        "out",
      ],
      { cwd: dir },
    );
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("3 passed, 0 failed");

    // The token from HEXARCH_API_TOKEN; one wrong expectation.
    const wrong = structuredClone(NATIVE);
    (wrong.steps[0] as { expect: object }).expect = { allowed: false, action: "block" };
    writeFileSync(join(dir, "wrong.json"), JSON.stringify(wrong));
    const bad = await ctl(["eval", "run", "wrong.json", "--url", server.url, "--out", "out2"], {
      cwd: dir,
      env: { HEXARCH_API_TOKEN: "eval-test-token" },
    });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("FAIL read_runs");
    expect(bad.stderr).toContain("allowed: expected false, actual true");
    expect(bad.stderr).toContain('action: expected "block", actual "allow"');

    // A wrong token: every step fails with the server's refusal.
    const denied = await ctl(
      ["eval", "run", "native.json", "--url", server.url, "--token", "nope", "--out", "out3"],
      { cwd: dir },
    );
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain("FAIL read_runs (server: ");
    expect(denied.stderr).toContain("status_code: expected 200, actual 403");
    expect(denied.stderr).toContain("status_code: expected 404, actual 403");
  }, 60_000);

  it("in-process: native bodies decide; steps that need a server fail and say so", async () => {
    const dir = workspace({
      "hexarch.yaml": POLICIES,
      "native.json": JSON.stringify(NATIVE),
      "steps.json": JSON.stringify(STEPS),
    });
    const ok = await ctl(
      ["eval", "run", "native.json", "--policy-file", "hexarch.yaml", "--out", "out"],
      { cwd: dir },
    );
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    const r = await ctl(
      ["eval", "run", "steps.json", "--policy-file", "hexarch.yaml", "--out", "out2"],
      { cwd: dir },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "FAIL small_amounts: a create_rule step needs a server: run with --url URL or --start-server",
    );
    expect(r.stderr).toContain("FAIL nothing_defined: an authorize step without 'policyId'");
  }, 60_000);
});

describe("eval run: usage errors and bad files exit 2", () => {
  const run = (files: Record<string, string>, args: string[]) =>
    ctl(["eval", "run", ...args], { cwd: workspace(files) });

  it("malformed JSON names the line and column", async () => {
    const r = await run({ "c.json": '{\n  "steps": [\n    { "id": "a", }\n  ]\n}\n' }, [
      "c.json",
      "--start-server",
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^c\.json:3:\d+: /m);
    expect(r.stderr).toContain("hexarch-ctl: c.json is not a valid cases file");
  });

  it("malformed YAML names the line and column", async () => {
    const r = await run({ "c.yaml": "tests:\n  - name: a\n    context: { x: 1\n" }, [
      "c.yaml",
      "--policy-file",
      "p.yaml",
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^c\.yaml:\d+:\d+: /m);
  });

  it("an unknown step type, with a suggestion and its position", async () => {
    const cases = JSON.stringify({ steps: [{ id: "a", type: "authorise", request: {} }] }, null, 2);
    const r = await run({ "c.json": cases }, ["c.json", "--start-server"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      "c.json:5:15: unknown step type 'authorise' — did you mean 'authorize'? (known: authorize, create_policy, create_rule) (at steps[0].type)",
    );
  });

  it("a file that is neither steps nor tests", async () => {
    const r = await run({ "c.json": '{"cases": []}' }, ["c.json", "--start-server"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("expected a mapping with a 'steps:' list");
  });

  it("a missing cases file, a missing policy file", async () => {
    const a = await run({}, ["nope.json", "--start-server"]);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain("hexarch-ctl: cannot read nope.json");
    const b = await run({ "c.yaml": TESTS }, ["c.yaml", "--policy-file", "missing.yaml"]);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain("missing.yaml");
  });

  it("no mode, or two", async () => {
    const a = await run({ "c.yaml": TESTS }, ["c.yaml"]);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain(
      "say where the cases are decided: --url URL, --start-server or --policy-file FILE",
    );
    const b = await run({ "c.yaml": TESTS }, [
      "c.yaml",
      "--url",
      "http://127.0.0.1:1",
      "--start-server",
    ]);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain("--url and --start-server cannot be used together");
  });
});

describe("eval run: review fixes (#20)", () => {
  /** A proxy before a real serve api: /prefix/* forwarded, /moved/* redirected to /target/. */
  async function proxyTo(upstream: string) {
    const hits = { target: 0 };
    const proxy = createHttpServer((req, res) => {
      const url = req.url ?? "/";
      if (url.startsWith("/moved/")) {
        res.writeHead(307, { location: `/target/${url.slice("/moved/".length)}` });
        res.end();
        return;
      }
      if (url.startsWith("/target/")) {
        hits.target++;
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ allowed: true, decision: "ALLOW", action: "allow" }));
        return;
      }
      if (!url.startsWith("/prefix/")) {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ message: `no route ${url}` }));
        return;
      }
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers))
          if (typeof v === "string" && k !== "host" && k !== "content-length") headers[k] = v;
        void fetch(`${upstream}/${url.slice("/prefix/".length)}`, {
          method: req.method ?? "GET",
          headers,
          ...(chunks.length ? { body: Buffer.concat(chunks) } : {}),
        }).then(async (up) => {
          res.writeHead(up.status, { "content-type": up.headers.get("content-type") ?? "" });
          res.end(await up.text());
        });
      });
    });
    await new Promise<void>((done) => proxy.listen(0, "127.0.0.1", done));
    const { port } = proxy.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, hits, close: () => proxy.close() };
  }

  it("--url keeps its path prefix, and a redirect is never followed (the case fails)", async () => {
    const dir = workspace({ "hexarch.yaml": POLICIES, "native.json": JSON.stringify(NATIVE) });
    const server = await serveApi(
      ["--policy-file", join(dir, "hexarch.yaml"), "--db", join(dir, "a.db"), "--init-db"],
      { cwd: dir, env: { HEXARCH_API_TOKEN: "eval-test-token" }, children },
    );
    const proxy = await proxyTo(server.url);
    try {
      const args = ["--token", "eval-test-token"];
      const ok = await ctl(
        ["eval", "run", "native.json", "--url", `${proxy.url}/prefix/`, ...args, "--out", "o1"],
        { cwd: dir },
      );
      expect(ok.stderr).toBe("");
      expect(ok.code).toBe(0);
      expect(ok.stdout).toContain("3 passed, 0 failed");

      const moved = await ctl(
        ["eval", "run", "native.json", "--url", `${proxy.url}/moved`, ...args, "--out", "o2"],
        { cwd: dir },
      );
      expect(moved.code).toBe(1);
      expect(moved.stderr).toContain("FAIL read_runs: POST /authorize answered a redirect (307)");
      expect(proxy.hits.target).toBe(0);
    } finally {
      proxy.close();
    }
  }, 60_000);

  it("results.json, report.md and --format json never hold a confirmation token", async () => {
    const cases = {
      steps: [
        {
          id: "delete_asks",
          type: "authorize",
          request: { policyId: "safe_delete", context: { operation: "delete" } },
          expect: { action: "require_confirmation" },
        },
        {
          id: "wrong_token_expected",
          type: "authorize",
          request: { policyId: "safe_delete", context: { operation: "delete" } },
          expect: { confirmationToken: "not-it" },
        },
      ],
    };
    const dir = workspace({ "hexarch.yaml": POLICIES, "c.json": JSON.stringify(cases) });
    const r = await ctl(
      ["eval", "run", "c.json", "--policy-file", "hexarch.yaml", "--start-server"],
      { cwd: dir, env: { HEXARCH_EVAL_UNUSED: "1" } },
    );
    expect(r.code).toBe(1);
    const run = runFolder(join(dir, "eval-reports"));
    const json = readFileSync(join(run.dir, "results.json"), "utf8");
    const md = readFileSync(join(run.dir, "report.md"), "utf8");
    const results = JSON.parse(json) as {
      results: { actual: { confirmationToken?: string }; diffs: { actual: unknown }[] }[];
    };
    expect(results.results[0]?.actual.confirmationToken).toBe("<redacted>");
    expect(results.results[1]?.diffs[0]?.actual).toBe("<redacted>");
    // No token-looking value anywhere: the server's tokens are long random strings.
    for (const text of [json, md, r.stderr, r.stdout]) {
      expect(text).not.toMatch(/"confirmation_?[tT]oken":\s*"(?!<redacted>)/);
    }
    expect(r.stderr).toContain('confirmationToken: expected "<redacted>", actual "<redacted>"');
  }, 60_000);

  it("a run where every case is skipped exits 1: nothing was checked", async () => {
    const cases = `tests:
  - name: evening is blocked
    policy: office_hours
    at: "2026-01-01T20:00:00Z"
    expect: block
`;
    const dir = workspace({ "hexarch.yaml": POLICIES, "c.yaml": cases });
    const r = await ctl(
      ["eval", "run", "c.yaml", "--policy-file", "hexarch.yaml", "--start-server", "--out", "o"],
      { cwd: dir },
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("0 passed, 0 failed, 1 skipped");
    expect(r.stderr).toContain("nothing was checked: all 1 case(s) were skipped");
  }, 60_000);

  it("an invalid reason_pattern is a file error (exit 2) naming the step", async () => {
    const cases = {
      steps: [
        {
          id: "bad_pattern",
          type: "authorize",
          request: { policyId: "safe_delete", context: {} },
          expect: { reason_pattern: "(unclosed" },
        },
      ],
    };
    const dir = workspace({ "hexarch.yaml": POLICIES, "c.json": JSON.stringify(cases) });
    const r = await ctl(["eval", "run", "c.json", "--policy-file", "hexarch.yaml"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      "step 'bad_pattern': 'reason_pattern' is not a valid regular expression",
    );
    expect(r.stderr).toContain("hexarch-ctl: c.json is not a valid cases file");
  });

  it("in-process, a context that is not an object is refused as the server refuses it (400)", async () => {
    const cases = {
      steps: [
        {
          id: "string_context",
          type: "authorize",
          request: { policyId: "safe_delete", context: "delete" },
          expect: { status_code: 400, code: "invalid_body" },
        },
        {
          id: "array_context",
          type: "authorize",
          request: { policyId: "safe_delete", context: [1] },
          expect: { status_code: 400 },
        },
      ],
    };
    const dir = workspace({ "hexarch.yaml": POLICIES, "c.json": JSON.stringify(cases) });
    const local = await ctl(["eval", "run", "c.json", "--policy-file", "hexarch.yaml"], {
      cwd: dir,
    });
    expect(local.stderr).toBe("");
    expect(local.code).toBe(0);
    // The server answers the same.
    const served = await ctl(
      ["eval", "run", "c.json", "--policy-file", "hexarch.yaml", "--start-server", "--out", "s"],
      { cwd: dir },
    );
    expect(served.stderr).toBe("");
    expect(served.code).toBe(0);
  }, 60_000);

  it("templates refuse __proto__, constructor and prototype", async () => {
    const steps = ["__proto__", "constructor", "prototype"].map((seg, i) => ({
      id: `s${i}`,
      type: "authorize",
      request: { policyId: "safe_delete", context: { x: `{{s0.${seg}}}` } },
    }));
    const dir = workspace({ "hexarch.yaml": POLICIES, "c.json": JSON.stringify({ steps }) });
    const r = await ctl(["eval", "run", "c.json", "--policy-file", "hexarch.yaml"], { cwd: dir });
    expect(r.code).toBe(1);
    for (const seg of ["__proto__", "constructor", "prototype"])
      expect(r.stderr).toContain(`'${seg}' is not a field a template may name`);
  });

  it("--start-server: SIGTERM stops the server, removes its folder, writes the partial report, exit 143", async () => {
    const cases = `tests:
  - name: reads run
    policy: safe_delete
    context: { operation: read }
    expect: allow
  - name: a long one
    policy: rate_limit
    context: { userId: erin }
    repeat: 1000000
    expect: block
`;
    const dir = workspace({ "hexarch.yaml": POLICIES, "c.yaml": cases });
    const tmp = join(dir, "tmp");
    mkdirSync(tmp);
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env))
      if (v !== undefined && !k.startsWith("HEXARCH_")) env[k] = v;
    const child = spawn(
      process.execPath,
      [
        BIN,
        "eval",
        "run",
        "c.yaml",
        "--policy-file",
        "hexarch.yaml",
        "--start-server",
        "--out",
        "o",
      ],
      { cwd: dir, env: { ...env, NO_COLOR: "1", TMPDIR: tmp }, stdio: ["ignore", "pipe", "pipe"] },
    );
    children.push(child);
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    const exited = new Promise<number | null>((done) => child.on("close", (code) => done(code)));
    // Wait until the long test is under way.
    const logOf = (): string => {
      try {
        const [run] = readdirSync(join(dir, "o"));
        return readFileSync(join(dir, "o", run as string, "server.log"), "utf8");
      } catch {
        return "";
      }
    };
    const t0 = Date.now();
    while ((logOf().match(/"url":"\/authorize"/g) ?? []).length < 20) {
      if (Date.now() - t0 > 30_000) throw new Error(`never got going: ${stderr}`);
      await new Promise((done) => setTimeout(done, 50));
    }
    expect(readdirSync(tmp).filter((f) => f.startsWith("hexarch-eval-"))).toHaveLength(1);
    const serverUrl = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(logOf())?.[1];
    expect(serverUrl).toBeDefined();
    child.kill("SIGTERM");
    expect(await exited).toBe(143);
    expect(stderr).toContain("eval run stopped by SIGTERM after 1 case(s)");
    expect(readdirSync(tmp).filter((f) => f.startsWith("hexarch-eval-"))).toEqual([]);
    await expect(fetch(`${serverUrl}/health`)).rejects.toThrow();
    const run = runFolder(join(dir, "o"));
    expect(run.files).toEqual(["report.md", "results.json", "server.log"]);
    const results = JSON.parse(readFileSync(join(run.dir, "results.json"), "utf8")) as Results & {
      meta: { interrupted?: string };
    };
    expect(results.meta.interrupted).toBe("SIGTERM");
    expect(results.results.map((r) => r.id)).toEqual(["reads run"]);
    expect(readFileSync(join(run.dir, "report.md"), "utf8")).toContain("Interrupted by SIGTERM");
  }, 90_000);
});
