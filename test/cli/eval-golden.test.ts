/**
 * The golden evals in `evals/`: every key of the policy language's rule tables
 * (docs/policy-language.md: Matchers, Triggers, Actions) has an allowed and a denied case,
 * and the cases pass in-process and against a real server started by `eval run`.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { ctl } from "../support/cli-fixtures.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const out = mkdtempSync(join(tmpdir(), "hexarch-evals-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

/** The first-column entries of the table under a `### heading` of a Markdown text. */
function tableKeys(md: string, heading: string): string[] {
  const start = md.indexOf(`\n### ${heading}\n`);
  expect(start, `docs/policy-language.md has no "### ${heading}"`).toBeGreaterThan(-1);
  const rest = md.slice(start + heading.length + 6);
  const section = rest.slice(0, rest.search(/\n#{2,3} /));
  const lines = section.split("\n");
  // The rows after the header's `|---|` line.
  const rows = lines
    .slice(lines.findIndex((l) => l.startsWith("|---")) + 1)
    .filter((l) => l.startsWith("| `"));
  const keys: string[] = [];
  for (const row of rows) {
    const first = row.split(/(?<!\\)\|/)[1] ?? "";
    for (const m of first.matchAll(/`([^`]+)`/g)) {
      // `per: FIELD` → per; `allowed_hours: "09:00-17:00"` → allowed_hours; `*_usd` (a pattern) is left out.
      const key = /^([a-z][a-zA-Z_]*%?)/.exec(m[1] as string)?.[1];
      if (key) keys.push(key);
    }
  }
  return keys;
}

const doc = readFileSync(join(ROOT, "docs/policy-language.md"), "utf8");
const ruleKeys = [...new Set([...tableKeys(doc, "Matchers"), ...tableKeys(doc, "Triggers")])];
const actions = [...new Set(tableKeys(doc, "Actions"))];

interface Results {
  summary: { total: number; passed: number; failed: number; skipped: number };
  coverage: { key: string; allow: string[]; warn: string[]; deny: string[] }[] | null;
}

/** Runs `eval run` and returns its exit code, output and the run folder's results. */
async function evalRun(args: string[], name: string) {
  const dir = join(out, name);
  const r = await ctl(["eval", "run", ...args, "--out", dir], { cwd: ROOT });
  const runs = readdirSync(dir);
  expect(runs).toHaveLength(1);
  const run = join(dir, runs[0] as string);
  const results = JSON.parse(readFileSync(join(run, "results.json"), "utf8")) as Results;
  return { ...r, run, files: readdirSync(run).sort(), results };
}

describe("evals/: golden cases for the policy language", () => {
  it("the documented keys are read from the tables, and each is a key of the schema", () => {
    const schema = JSON.parse(readFileSync(join(ROOT, "schema/hexarch.schema.json"), "utf8")) as {
      properties: {
        policies: { items: { properties: { rules: { items: { properties: object } } } } };
      };
    };
    const schemaKeys = Object.keys(
      schema.properties.policies.items.properties.rules.items.properties,
    );
    expect(ruleKeys.length).toBeGreaterThan(30);
    for (const k of ruleKeys) expect(schemaKeys, `documented key ${k}`).toContain(k);
    expect(actions).toEqual(
      expect.arrayContaining([
        "block",
        "deny",
        "require_confirmation",
        "require_approval",
        "warn",
        "allow",
        "warn_at_N%",
        "block_at_N%",
      ]),
    );
  });

  it("in-process: every case passes and every documented key has an allowed and a denied case", async () => {
    const r = await evalRun(
      ["evals/policy-tests.yaml", "--policy-file", "evals/hexarch.yaml"],
      "in-process",
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.files).toEqual(["report.md", "results.json"]);
    expect(r.results.summary.failed).toBe(0);
    expect(r.results.summary.skipped).toBe(0);
    const coverage = new Map((r.results.coverage ?? []).map((c) => [c.key, c]));
    const lacking: string[] = [];
    for (const key of ruleKeys) {
      const c = coverage.get(key);
      if (!c || c.allow.length === 0 || c.deny.length === 0) lacking.push(key);
    }
    for (const a of actions) {
      const c = coverage.get(`action: ${a}`);
      // A warn rule lets the call run: its counterpart to an allowed case is a warned one.
      const intervened = a === "warn" ? c?.warn.length : c?.deny.length;
      if (!c || c.allow.length === 0 || !intervened) lacking.push(`action: ${a}`);
    }
    expect(
      lacking,
      "keys of docs/policy-language.md without an allowed and a denied case in evals/",
    ).toEqual([]);
    const md = readFileSync(join(r.run, "report.md"), "utf8");
    expect(md).toContain("have an allowed and a denied (or warned) case.");
  }, 60_000);

  it("--start-server: the cases pass against a real serve api (clock-setting ones skipped)", async () => {
    const r = await evalRun(
      ["evals/policy-tests.yaml", "--policy-file", "evals/hexarch.yaml", "--start-server"],
      "server",
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.files).toEqual(["report.md", "results.json", "server.log"]);
    expect(r.results.summary.failed).toBe(0);
    expect(r.results.summary.passed).toBeGreaterThan(60);
  }, 60_000);

  it("--start-server: the API-defined policy steps pass", async () => {
    const r = await evalRun(
      ["evals/api-steps.json", "--policy-file", "evals/hexarch.yaml", "--start-server"],
      "api-steps",
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.results.summary).toEqual({ total: 10, passed: 10, failed: 0, skipped: 0 });
  }, 60_000);
});
