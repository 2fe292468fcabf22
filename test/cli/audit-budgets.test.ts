/**
 * `hexarch-ctl audit stats` with a policy file: the budgets section (spent, limit,
 * projected run-out) and `budgets` in JSON, over the hand-computed day of
 * test/support/budget-fixtures.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BUDGETS, recordSpend } from "../support/budget-fixtures.ts";
import { ctl } from "../support/cli-fixtures.ts";

const dir = mkdtempSync(join(tmpdir(), "hexarch-cli-budgets-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const AT = ["--at", "2026-12-02T06:00:00Z"];

describe("hexarch-ctl audit stats budgets", () => {
  it("adds a budgets table: spent, limit and projected run-out per policy, rule and per-value", async () => {
    const db = await recordSpend(dir);
    const file = join(dir, "hexarch.yaml");
    writeFileSync(file, BUDGETS);
    const r = await ctl(["audit", "stats", "--db", db, "--policy-file", file, ...AT]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const section = r.stdout.slice(r.stdout.indexOf("\nBudgets"));
    const rows = section
      .split("\n")
      .slice(2)
      .filter((l) => l.trim() !== "")
      .map((l) => l.trim().split(/\s{2,}/));
    expect(rows).toEqual([
      ["POLICY", "RULE", "PER", "SPENT", "LIMIT", "PROJECTED RUN-OUT"],
      ["spend", "per_user", "u2", "$9.00", "$10.00/day", "2026-12-02 06:40Z"],
      ["spend", "per_user", "u1", "$3.00", "$10.00/day", "2026-12-02 20:00Z"],
      ["spend", "per_user", "(none)", "$1.00", "$10.00/day", "not this period"],
      ["spend", "per_user", "u3", "$0.50", "$10.00/day", "not this period"],
      ["team", "shared", "(shared)", "$2.00", "$10.00/day", "not this period"],
      ["team", "shared", "(shared)", "200 tokens", "200 tokens/day", "exhausted"],
    ]);
    // The same file found by the library's lookup from the working directory.
    const found = await ctl(["audit", "stats", "--db", db, ...AT, "--budget-limit", "1"], {
      cwd: dir,
    });
    expect(found.stdout).toContain("2026-12-02 06:40Z");
    expect(found.stdout).not.toContain("20:00Z");
    expect(found.stdout).toContain("… and 3 more of spend daily_budget");
  });

  it("answers budgets in JSON, for every policy or one", async () => {
    const db = await recordSpend(dir);
    const file = join(dir, "budgets.yaml");
    writeFileSync(file, BUDGETS);
    const all = await ctl([
      "audit",
      "stats",
      "--db",
      db,
      "--policy-file",
      file,
      ...AT,
      "--format",
      "json",
    ]);
    const body = JSON.parse(all.stdout);
    expect(body.now).toBe("2026-12-02T06:00:00.000Z");
    expect(body.policies.map((p: { policyId: string }) => p.policyId).sort()).toEqual([
      "plain",
      "spend",
      "team",
    ]);
    expect(body.budgets).toHaveLength(6);
    expect(body.budgets[0]).toMatchObject({
      policyId: "spend",
      per: "u2",
      spent: 9,
      limit: 10,
      ratePerHour: 1.5,
      projectedRunOut: "2026-12-02T06:40:00.000Z",
      exhausted: false,
    });
    const one = await ctl([
      "audit",
      "stats",
      "--db",
      db,
      "--policy-file",
      file,
      ...AT,
      "--policy-id",
      "team",
      "--format",
      "json",
    ]);
    const team = JSON.parse(one.stdout);
    expect(team).toMatchObject({ policyId: "team", totalDecisions: 1, truncated: [] });
    expect(
      team.budgets.map((b: { key: string; exhausted: boolean }) => [b.key, b.exhausted]),
    ).toEqual([
      ["daily_budget", false],
      ["max_tokens_per_day", true],
    ]);
    // Without a policy file the output is as before: no budgets.
    const bare = await ctl(["audit", "stats", "--db", db, "--format", "json"]);
    expect(Array.isArray(JSON.parse(bare.stdout))).toBe(true);
    const missing = await ctl([
      "audit",
      "stats",
      "--db",
      db,
      "--policy-file",
      join(dir, "none.yaml"),
    ]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("policy file not found");
  });
});
