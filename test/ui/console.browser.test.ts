/**
 * The console in a real browser: Debian's Chromium drives `/ui` of a real
 * `hexarch-ctl serve api` on SQLite. Every number the pages show is checked against
 * traffic this test made (so it is known by hand) and against the audit database itself,
 * read directly; every page passes axe-core without a serious or critical violation.
 *
 * Screenshots of each page are taken on every run; with `HEXARCH_DOCS_SCREENSHOTS=1`
 * (`npm run screenshots`) they are written to docs/images/console/ for docs/console.md.
 */
import type { ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AxeProblem,
  chromiumAvailable,
  launchChromium,
  seriousA11yProblems,
} from "../support/browser.ts";
import { type ListeningServe, serveApi } from "../support/serve-process.ts";

const TOKEN = "console-test-token-0123456789abcdef";

/** The policies this server runs: a rate limit, a budget and a confirmation. */
const POLICIES = `policies:
  - id: rate_limit
    description: three requests a minute for each user
    rules:
      - name: per_user
        resource: "*"
        requests_per_minute: 3
        per: userId
        action: block
  - id: api_budget
    description: $10 a month, with a warning from 80%
    rules:
      - name: monthly
        resource: openai
        monthly_budget: 10
        action: warn_at_80%
  - id: safe_delete
    description: deleting needs another person's approval
    rules:
      - name: approve_deletes
        operation: delete
        action: require_confirmation
`;

const shotsToDocs = process.env.HEXARCH_DOCS_SCREENSHOTS === "1";
const DOCS_SHOTS = fileURLToPath(new URL("../../docs/images/console/", import.meta.url));

const enabled = chromiumAvailable("the console's browser tests");
/** The server lives through every test of the file; killed after the last one if it still runs. */
const children: ChildProcess[] = [];

describe.runIf(enabled)("the console in Chromium", () => {
  let dir: string;
  let server: ListeningServe;
  let browser: Browser;
  let page: Page;
  let shots: string;
  /** A key that may only decide: the principal that asks for confirmations. */
  let requesterKey: string;

  const api = async (
    path: string,
    init: { method?: string; body?: unknown; token?: string } = {},
  ): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await fetch(`${server.url}${path}`, {
      method: init.method ?? (init.body === undefined ? "GET" : "POST"),
      headers: {
        authorization: `Bearer ${init.token ?? TOKEN}`,
        ...(init.body !== undefined && { "content-type": "application/json" }),
      },
      ...(init.body !== undefined && { body: JSON.stringify(init.body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text === "" ? {} : (JSON.parse(text) as never) };
  };

  const authorize = (policyId: string, context: Record<string, unknown>, token?: string) =>
    api("/authorize", { body: { policyId, context }, ...(token !== undefined && { token }) });

  /** Counts by outcome, straight from the audit database (decisions only). */
  const dbCounts = (): Record<string, number> => {
    const db = new DatabaseSync(join(dir, "audit.db"), { readOnly: true });
    try {
      const rows = db
        .prepare(
          "SELECT decision, COUNT(*) AS n FROM hexarch_decisions WHERE action NOT LIKE 'confirmation_%' AND action <> 'provider_call' GROUP BY decision",
        )
        .all() as { decision: string; n: number }[];
      return Object.fromEntries(rows.map((r) => [r.decision, Number(r.n)]));
    } finally {
      db.close();
    }
  };

  const rowCount = (): number => {
    const db = new DatabaseSync(join(dir, "audit.db"), { readOnly: true });
    try {
      const row = db.prepare("SELECT COUNT(*) AS n FROM hexarch_decisions").get() as { n: number };
      return Number(row.n);
    } finally {
      db.close();
    }
  };

  const visit = async (hash: string, pageName: string): Promise<void> => {
    await page.goto(`${server.url}/ui/${hash}`);
    await page.waitForSelector(`main[data-page="${pageName}"]`);
  };

  const a11y = async (name: string): Promise<AxeProblem[]> => {
    const problems = await seriousA11yProblems(page);
    const png = await page.screenshot({ fullPage: true });
    expect(png.subarray(1, 4).toString("latin1")).toBe("PNG");
    writeFileSync(join(shots, `${name}.png`), png);
    return problems;
  };

  const consoleErrors: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "hexarch-console-"));
    writeFileSync(join(dir, "hexarch.yaml"), POLICIES);
    shots = shotsToDocs ? DOCS_SHOTS : join(dir, "screenshots");
    mkdirSync(shots, { recursive: true });
    server = await serveApi(
      ["--policy-file", "hexarch.yaml", "--db", "audit.db", "--durable", "--log-level", "warn"],
      {
        cwd: dir,
        env: {
          HEXARCH_API_TOKEN: TOKEN,
          HEXARCH_API_KEY_ADMIN_ENABLED: "true",
          HEXARCH_AUDIT_HMAC_KEY: "console-test-hmac-key-0123456789abcdef",
        },
        children,
        waitFor: "health",
      },
    );
    const key = await api("/api-keys", { body: { name: "requester", scopes: ["decide"] } });
    expect(key.status).toBe(201);
    requesterKey = String(key.body.key);

    // Known traffic: rate_limit 5 allowed + 2 blocked, api_budget 2 allowed + 1 warned + 1 blocked.
    for (let i = 0; i < 5; i++) await authorize("rate_limit", { userId: "alice" });
    for (let i = 0; i < 2; i++) await authorize("rate_limit", { userId: "bob" });
    for (let i = 0; i < 4; i++)
      await authorize("api_budget", { userId: "carol", resource: "openai", cost: 3 });

    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => consoleErrors.push(e.message));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    server?.proc.kill("SIGTERM");
    await server?.exited;
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  });

  it("seeded exactly the traffic the other tests count on", () => {
    expect(dbCounts()).toEqual({ allowed: 7, warned: 1, blocked: 3 });
  });

  it("asks for a credential, refuses a wrong one and logs in with the token", async () => {
    await page.goto(`${server.url}/ui/`);
    await page.waitForSelector("#login-credential");
    expect(await a11y("login")).toEqual([]);
    await page.fill("#login-credential", "not-the-token");
    await page.click("#login-submit");
    await page.waitForSelector("[role=alert]");
    await page.fill("#login-credential", TOKEN);
    await page.click("#login-submit");
    await page.waitForSelector('nav[aria-label="Console"]');
    // The credential is kept for the tab only.
    const stored = await page.evaluate(() => ({
      session: Object.keys(sessionStorage).length,
      local: Object.keys(localStorage).length,
    }));
    expect(stored.local).toBe(0);
    expect(stored.session).toBeGreaterThan(0);
    // The refused login's 401/403 is the one failed load the browser may report.
    consoleErrors.length = 0;
  });

  it("overview: totals equal the audit log, budgets forecast", async () => {
    await visit("#/overview", "overview");
    const text = async (id: string) =>
      (await page.textContent(`[data-testid=${id}]`))?.replace(/[^\d.%]/g, "");
    await expect.poll(() => text("total-allowed")).toBe("7");
    expect(await text("total-warned")).toBe("1");
    expect(await text("total-blocked")).toBe("3");
    // 3 of 11 decisions blocked.
    expect(await text("block-rate")).toMatch(/^27(\.\d+)?%$/);
    // $9 of $10 spent this month (the fourth call was refused): listed with its run-out.
    await expect
      .poll(() => page.textContent("table[data-testid=budgets]"))
      .toMatch(/api_budget[\s\S]*\$9\.00[\s\S]*\$10\.00/);
    expect(await a11y("overview")).toEqual([]);
  });

  it("decisions: filters to the blocked ones and opens one", async () => {
    await visit("#/decisions", "decisions");
    await page.selectOption("#f-decision", "blocked");
    await page.click("#f-apply");
    await expect
      .poll(async () => page.locator("table[data-testid=decisions] tr[data-decision-id]").count())
      .toBe(3);
    expect(page.url()).toContain("decision=blocked");
    expect(await a11y("decisions")).toEqual([]);
    await page.locator("table[data-testid=decisions] tr[data-decision-id] a").first().click();
    await page.waitForSelector('main[data-page="decision"]');
    const context = await page.textContent("pre[data-testid=context-json]");
    expect(context).toMatch(/"userId": "(alice|bob|carol)"/);
    expect(await a11y("decision")).toEqual([]);
  });

  it("playground: shows a decision and the audit log does not grow", async () => {
    const before = rowCount();
    await visit("#/playground", "playground");
    await page.selectOption("#pg-policy", "rate_limit");
    // alice has used her three requests this minute: a dry run says so, and spends nothing.
    await page.fill("#pg-context", JSON.stringify({ userId: "alice" }));
    await page.click("#pg-run");
    const result = page.locator("[data-testid=pg-result]");
    await expect.poll(() => result.textContent()).toMatch(/block/i);
    await page.fill("#pg-context", JSON.stringify({ userId: "dave" }));
    await page.click("#pg-run");
    await expect.poll(() => result.textContent()).toMatch(/allow/i);
    expect(await a11y("playground")).toEqual([]);
    expect(rowCount()).toBe(before);
    // dave's dry runs used none of his three requests.
    for (let i = 0; i < 3; i++)
      expect((await authorize("rate_limit", { userId: "dave" })).body.allowed).toBe(true);
    expect((await authorize("rate_limit", { userId: "dave" })).body.allowed).toBe(false);
  });

  it("replay: a stricter rate limit flips the decisions it should", async () => {
    await visit("#/replay", "replay");
    // Start from the policies in force, as written in their file, and tighten one limit.
    await page.click("#replay-from-current");
    await expect.poll(() => page.inputValue("#replay-yaml")).toContain("requests_per_minute: 3");
    const current = await page.inputValue("#replay-yaml");
    await page.fill(
      "#replay-yaml",
      current.replace("requests_per_minute: 3", "requests_per_minute: 1"),
    );
    await page.fill("#replay-since", "1h");
    await page.click("#replay-run");
    const result = page.locator("[data-testid=replay-result]");
    await result.waitFor();
    // One request a minute: alice 1 of 5, bob 1 of 2, dave 1 of 4 allowed (all in one
    // minute): her 2, his 1 and dave's 2 allowed calls flip to blocked; api_budget unchanged.
    await expect.poll(() => page.textContent("[data-testid=replay-to-blocked]")).toBe("5");
    expect(await page.textContent("[data-testid=replay-to-allowed]")).toBe("0");
    const row = page.locator("table[data-testid=replay-policies] tr[data-policy-id=rate_limit]");
    expect(await row.locator("td").nth(2).textContent()).toBe("5");
    expect(
      await page
        .locator("table[data-testid=replay-policies] tr[data-policy-id=api_budget] td")
        .nth(2)
        .textContent(),
    ).toBe("0");
    expect(await a11y("replay")).toEqual([]);
  });

  it("approvals: a request shows up live, is approved there, and its token passes once", async () => {
    await visit("#/approvals", "approvals");
    await page.waitForSelector("#live-status:has-text('live')");
    expect(await page.locator("tr[data-request-id]").count()).toBe(0);
    const call = { operation: "delete", userId: "erin", table: "users", id: 42 };
    const asked = await authorize("safe_delete", call, requesterKey);
    expect(asked.body.action).toBe("require_confirmation");
    const token = String(asked.body.confirmationToken);
    // No reload: the stream brings it.
    const row = page.locator("tr[data-request-id]");
    await row.first().waitFor({ timeout: 10_000 });
    expect(await row.first().textContent()).toContain("safe_delete");
    expect(await a11y("approvals")).toEqual([]);
    await row.first().locator("input[name=reason]").fill("checked the ticket");
    await row.first().locator("button[data-action=approve]").click();
    await expect.poll(() => page.locator("tr[data-request-id]").count()).toBe(0);

    const retried = await authorize(
      "safe_delete",
      { ...call, confirmationToken: token },
      requesterKey,
    );
    expect(retried.body.allowed).toBe(true);
    const again = await authorize(
      "safe_delete",
      { ...call, confirmationToken: token },
      requesterKey,
    );
    expect(again.body.allowed).toBe(false);
  });

  it("policies, integrity and keys pages render and pass axe", async () => {
    await visit("#/policies", "policies");
    await expect.poll(() => page.locator("tr[data-policy-id]").count()).toBe(3);
    expect(await a11y("policies")).toEqual([]);
    await page.locator("tr[data-policy-id=rate_limit] a").first().click();
    await page.waitForSelector('main[data-page="policy"]');
    // A YAML policy shows its source, as written in the file.
    await expect.poll(() => page.textContent("main")).toContain("requests_per_minute: 3");
    expect(await a11y("policy")).toEqual([]);
    // An API-defined policy: the server's validation error shows at the form, then it saves
    // and can be disabled.
    await visit("#/policies", "policies");
    await page.fill("#new-name", "team_gate");
    await page.selectOption("#new-scope", "USER");
    await page.click("[data-testid=new-policy-form] button[type=submit]");
    const problem = page.locator("[data-testid=new-policy-form] [role=alert]");
    await problem.first().waitFor();
    expect(await problem.first().textContent()).toMatch(/scope_value/);
    // The browser reports the refused request (422) itself; nothing else may be logged.
    const refused = consoleErrors.findIndex((m) => /status of 422/.test(m));
    expect(refused).toBeGreaterThanOrEqual(0);
    consoleErrors.splice(refused, 1);
    await page.fill("#new-scope_value", "erin");
    await page.click("[data-testid=new-policy-form] button[type=submit]");
    await page.waitForSelector('main[data-page="policy"]');
    await expect.poll(() => page.textContent("[data-testid=policy-enabled]")).toBe("yes");
    await page.click("button[data-action=disable]");
    await expect.poll(() => page.textContent("[data-testid=policy-enabled]")).toBe("no");
    const stored = await api("/policies");
    expect(stored.body).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: "team_gate", enabled: false })]),
    );
    const checkpoint = await api("/audit-checkpoints", { body: {} });
    expect(checkpoint.status).toBeLessThan(300);
    await visit("#/integrity", "integrity");
    await expect
      .poll(() => page.textContent("[data-testid=checkpoint]"))
      .toContain(String(checkpoint.body.id));
    await page.click("#verify-run");
    await expect
      .poll(() => page.textContent("[data-testid=verify-result]"))
      .toMatch(/verified|ok/i);
    expect(await a11y("integrity")).toEqual([]);
    await visit("#/keys", "keys");
    await expect.poll(() => page.textContent("main")).toContain("requester");
    expect(await a11y("keys")).toEqual([]);
  });

  it("shows a read-only key only the pages its scope allows", async () => {
    const key = await api("/api-keys", { body: { name: "reader", scopes: ["read"] } });
    const reader = await browser.newContext();
    try {
      const p = await reader.newPage();
      await p.goto(`${server.url}/ui/`);
      await p.fill("#login-credential", String(key.body.key));
      await p.click("#login-submit");
      await p.waitForSelector('nav[aria-label="Console"]');
      const links = await p
        .locator('nav[aria-label="Console"] a')
        .evaluateAll((as) => as.map((a) => a.getAttribute("href")));
      expect(links).toEqual(["#/overview", "#/decisions", "#/policies", "#/integrity"]);
    } finally {
      await reader.close();
    }
  });

  it("wrote no error to the browser console", () => {
    expect(consoleErrors).toEqual([]);
  });
});
