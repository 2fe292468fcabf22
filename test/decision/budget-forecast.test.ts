/**
 * Budget forecasts over a real SQLite audit log, against a hand-computed day: what each
 * budget spent since midnight, its hourly rate, and the instant it runs out at that rate.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { budgetForecast, SqliteAuditStore } from "../../src/audit/index.ts";
import { parsePolicies } from "../../src/index.ts";
import { BUDGETS, recordSpend } from "../support/budget-fixtures.ts";

const dir = mkdtempSync(join(tmpdir(), "hexarch-forecast-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const NOW = "2026-12-02T06:00:00Z";
const DAY = { periodStart: "2026-12-02T00:00:00.000Z", periodEnd: "2026-12-03T00:00:00.000Z" };

describe("budgetForecast", () => {
  it("counts the period's spend and projects each budget's run-out at its rate", async () => {
    const store = new SqliteAuditStore(await recordSpend(dir));
    const report = await budgetForecast(store, parsePolicies(BUDGETS), { now: NOW });
    await store.close();
    expect(report).toMatchObject({
      now: "2026-12-02T06:00:00.000Z",
      since: "2026-12-02T00:00:00.000Z",
      counted: { decisions: 5, providerCalls: 3 },
      truncated: [],
    });
    const row = (policyId: string, key: string, per: string | null) =>
      report.budgets.find((b) => b.policyId === policyId && b.key === key && b.per === per);
    // u1: $3 in 6 h = $0.50/h; $10 at that rate takes 20 h: 20:00 the same day.
    expect(row("spend", "daily_budget", "u1")).toEqual({
      policyId: "spend",
      ruleId: "spend/per_user",
      ruleName: "per_user",
      key: "daily_budget",
      per: "u1",
      unit: "usd",
      period: "day",
      spent: 3,
      limit: 10,
      ...DAY,
      ratePerHour: 0.5,
      projectedRunOut: "2026-12-02T20:00:00.000Z",
      exhausted: false,
    });
    // u2: $9 (the refused $2 not counted) = $1.50/h; $10 takes 6 h 40 min.
    expect(row("spend", "daily_budget", "u2")).toMatchObject({
      spent: 9,
      ratePerHour: 1.5,
      projectedRunOut: "2026-12-02T06:40:00.000Z",
      exhausted: false,
    });
    // u3: $0.50 in 6 h runs out after 120 h: not this period.
    expect(row("spend", "daily_budget", "u3")).toMatchObject({
      spent: 0.5,
      projectedRunOut: null,
    });
    expect(row("spend", "daily_budget", "")).toMatchObject({ spent: 1 });
    expect(row("spend", "daily_budget", "u9")).toBeUndefined();
    // Biggest spender first within a budget.
    expect(report.budgets.filter((b) => b.policyId === "spend").map((b) => b.per)).toEqual([
      "u2",
      "u1",
      "",
      "u3",
    ]);
    // Shared: $1.50 reported + $0.50 decided = $2 in 6 h, runs out after 30 h.
    expect(row("team", "daily_budget", null)).toMatchObject({
      ruleName: "shared",
      spent: 2,
      limit: 10,
      ratePerHour: 2 / 6,
      projectedRunOut: null,
      exhausted: false,
    });
    // 150 tokens reported + 50 decided = the limit of 200: exhausted, ran out now.
    expect(row("team", "max_tokens_per_day", null)).toMatchObject({
      unit: "tokens",
      spent: 200,
      limit: 200,
      ratePerHour: 200 / 6,
      projectedRunOut: "2026-12-02T06:00:00.000Z",
      exhausted: true,
    });
    expect(report.budgets.some((b) => b.policyId === "plain")).toBe(false);
  });

  it("lists the biggest spenders up to the cap and counts the rest", async () => {
    const store = new SqliteAuditStore(await recordSpend(dir));
    const report = await budgetForecast(store, parsePolicies(BUDGETS), {
      now: NOW,
      maxPerBudget: 2,
    });
    expect(report.budgets.filter((b) => b.policyId === "spend").map((b) => b.per)).toEqual([
      "u2",
      "u1",
    ]);
    expect(report.truncated).toEqual([
      { policyId: "spend", ruleId: "spend/per_user", key: "daily_budget", omitted: 2 },
    ]);
    // The next day: a fresh period, nothing spent; a shared budget is listed at zero.
    const tomorrow = await budgetForecast(store, parsePolicies(BUDGETS), {
      now: "2026-12-03T01:00:00Z",
    });
    expect(tomorrow.budgets).toEqual([
      expect.objectContaining({
        policyId: "team",
        key: "daily_budget",
        spent: 0,
        ratePerHour: 0,
        projectedRunOut: null,
      }),
      expect.objectContaining({ policyId: "team", key: "max_tokens_per_day", spent: 0 }),
    ]);
    await expect(
      budgetForecast(store, parsePolicies(BUDGETS), { now: "soon" }),
    ).rejects.toMatchObject({ code: "invalid_argument" });
    await store.close();
  });

  it("lets the event loop run between pages, so a long walk blocks nothing", async () => {
    const store = new SqliteAuditStore(await recordSpend(dir));
    let ticks = 0;
    let walking = true;
    const tick = () => {
      if (!walking) return;
      ticks++;
      setImmediate(tick);
    };
    setImmediate(tick);
    // A page per record: every page is a chance for other work (a server's /health).
    const paged = await budgetForecast(store, parsePolicies(BUDGETS), { now: NOW, pageSize: 1 });
    walking = false;
    const whole = await budgetForecast(store, parsePolicies(BUDGETS), { now: NOW });
    await store.close();
    expect(ticks).toBeGreaterThanOrEqual(paged.counted.decisions + paged.counted.providerCalls - 1);
    // Paging changes nothing in the answer.
    expect(paged).toEqual(whole);
  });
});
