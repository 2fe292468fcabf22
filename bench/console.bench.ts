/**
 * `npm run bench:console`: the console on a big audit log. A real `serve api` on a SQLite
 * audit log of `BENCH_CONSOLE_ROWS` decisions (default 1,000,000, spread over the last 30
 * days, written straight into the table), and Debian's Chromium (`CHROMIUM_BIN`, default
 * /usr/bin/chromium) opening the overview.
 *
 * It prints, as medians of `BENCH_CONSOLE_RUNS` (default 5):
 * - time to first render of the overview: from a fresh load of the page (logged in, in the
 *   same tab) until the totals and the chart are on screen, for the last 24 hours and for
 *   the last 30 days (every row);
 * - the JSON routes the console reads, timed from this process: `/audit/summary`,
 *   `/audit/timeseries`, the first page of `/audit-logs` (filtered and not), a deep page by
 *   `before_seq`, `/audit/budgets` (computed, then from the server's 10 s cache).
 *
 * Rows are written by SQL, not through the API: their hashes do not chain (nothing here
 * verifies the chain), everything else is as the server writes it.
 */

import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { chromium } from "playwright-core";
import { startHexarch } from "./server/processes.ts";

const ROWS = Number(process.env.BENCH_CONSOLE_ROWS ?? 1_000_000);
const RUNS = Number(process.env.BENCH_CONSOLE_RUNS ?? 5);
const CHROMIUM = process.env.CHROMIUM_BIN ?? "/usr/bin/chromium";
const TOKEN = randomBytes(24).toString("hex");

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/** Fills the decisions table with `rows` decisions over the 30 days before now. */
function fill(file: string, rows: number): number {
  const db = new DatabaseSync(file);
  const t0 = performance.now();
  const now = Date.now();
  const span = 30 * 86_400_000;
  db.exec("BEGIN");
  db.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
     INSERT INTO hexarch_decisions (seq, decision_id, timestamp, policy_id, function_name,
       decision, action, reason, context, user_id, duration_ms, metadata, mode, prev_hash, hash)
     SELECT i,
       printf('bench-%08d', i),
       strftime('%Y-%m-%dT%H:%M:%fZ', (? - ? + i * (? * 1.0 / ?)) / 1000.0, 'unixepoch'),
       CASE i % 3 WHEN 0 THEN 'rate_limit' WHEN 1 THEN 'api_budget' ELSE 'safe_delete' END,
       CASE i % 4 WHEN 0 THEN 'chat' WHEN 1 THEN 'search' WHEN 2 THEN 'delete_user' ELSE NULL END,
       CASE WHEN i % 10 = 0 THEN 'blocked' WHEN i % 10 = 1 THEN 'warned' ELSE 'allowed' END,
       CASE WHEN i % 10 = 0 THEN 'block' WHEN i % 10 = 1 THEN 'warn' ELSE 'allow' END,
       CASE WHEN i % 10 = 0 THEN 'rate limit: 100 requests per minute reached'
            WHEN i % 10 = 1 THEN 'budget: 80% of $10 spent' ELSE 'allowed' END,
       printf('{"userId":"user-%d","resource":"openai","cost":0.0001}', i % 500),
       printf('user-%d', i % 500),
       0.05, NULL, 'enforce',
       '0000000000000000000000000000000000000000000000000000000000000000',
       '0000000000000000000000000000000000000000000000000000000000000000'
     FROM n`,
  ).run(rows, now, span, span, rows);
  db.prepare("UPDATE hexarch_chain SET head_seq = ? WHERE id = 1").run(rows);
  db.exec("COMMIT");
  db.close();
  return performance.now() - t0;
}

async function timed(url: string, runs: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const res = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`);
    times.push(performance.now() - t0);
  }
  return median(times);
}

export async function consoleBench(): Promise<void> {
  if (!existsSync(CHROMIUM)) {
    console.log(`console bench skipped: no Chromium at ${CHROMIUM} (apt-get install chromium)`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "hexarch-console-bench-"));
  try {
    // A first start migrates the database; the rows go in while no server holds it.
    const first = await startHexarch({ dir, token: TOKEN, logLevel: "warn" });
    await first.stop();
    const fillMs = fill(join(dir, "decisions.db"), ROWS);
    console.log(
      `console: ${ROWS.toLocaleString("en-US")} audit rows written in ${(fillMs / 1000).toFixed(1)} s`,
    );
    const server = await startHexarch({ dir, token: TOKEN, logLevel: "warn" });
    try {
      const u = server.url;
      const routes: [string, string][] = [
        ["/audit/summary?since=24h", "summary, 24 h"],
        ["/audit/summary?since=30d", "summary, 30 d"],
        ["/audit/timeseries?since=24h", "timeseries, 24 h"],
        ["/audit/timeseries?since=30d", "timeseries, 30 d"],
        ["/audit-logs?limit=50", "decisions, first page"],
        ["/audit-logs?limit=50&decision=blocked&policy_id=rate_limit", "decisions, filtered"],
        ["/audit-logs?limit=50&q=budget", "decisions, text in reason"],
        [
          `/audit-logs?limit=50&before_seq=${Math.floor(ROWS / 2)}`,
          "decisions, page at the middle",
        ],
      ];
      for (const [path, label] of routes) {
        const ms = await timed(`${u}${path}`, RUNS);
        console.log(`  ${label.padEnd(32)} ${ms.toFixed(1).padStart(8)} ms  (GET ${path})`);
      }
      // The server keeps a budgets answer for 10 s: the first call computes it.
      const computed = await timed(`${u}/audit/budgets`, 1);
      const cached = await timed(`${u}/audit/budgets`, RUNS);
      console.log(
        `  ${"budgets, computed".padEnd(32)} ${computed.toFixed(1).padStart(8)} ms  (GET /audit/budgets, first call)`,
      );
      console.log(
        `  ${"budgets, cached".padEnd(32)} ${cached.toFixed(1).padStart(8)} ms  (GET /audit/budgets, within 10 s)`,
      );

      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ["--no-sandbox", "--disable-dev-shm-usage"],
      });
      try {
        for (const range of ["24h", "30d"]) {
          const times: number[] = [];
          for (let i = 0; i < RUNS; i++) {
            const page = await browser.newPage();
            await page.goto(`${u}/ui/`);
            await page.fill("#login-credential", TOKEN);
            await page.click("#login-submit");
            await page.waitForSelector('nav[aria-label="Console"]');
            // Let the landing overview (24 h, then its budgets) finish, so no request of
            // it is still running on the server; set the range kept for the tab; then a
            // fresh load of the page, logged in.
            await page.waitForSelector("table[data-testid=budgets]");
            await page.evaluate((r) => sessionStorage.setItem("hexarch.console.range", r), range);
            await page.goto("about:blank");
            const t0 = performance.now();
            await page.goto(`${u}/ui/#/overview`);
            // Polled from here: the console's CSP forbids evaluating strings in the page.
            await page.waitForSelector(".uplot canvas");
            for (;;) {
              const total = await page.textContent("[data-testid=total-allowed]");
              if (total !== null && /\d/.test(total)) break;
              await new Promise((done) => setTimeout(done, 5));
            }
            times.push(performance.now() - t0);
            await page.close();
          }
          console.log(
            `  overview first render, ${range.padEnd(4)}            ${median(times).toFixed(0).padStart(8)} ms  (median of ${RUNS}, Chromium ${browser.version()})`,
          );
        }
      } finally {
        await browser.close();
      }
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) await consoleBench();
