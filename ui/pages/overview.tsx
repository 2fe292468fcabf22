/**
 * `#/overview`: totals, block rate, decisions per minute, top block reasons, per-policy
 * counts and budgets with their projected run-out; refreshed live on `decision` events
 * (the budgets at most every 30 s).
 *
 * @module
 */

import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import { type BudgetsAnswer, query, type Summary, type Timeseries } from "../api.ts";
import { num, Page, Panel, pct, Time, useApi, useLive } from "../lib.tsx";

const RANGES = [
  { value: "1h", label: "Last hour", bucket: "1m" },
  { value: "24h", label: "Last 24 hours", bucket: "5m" },
  { value: "7d", label: "Last 7 days", bucket: "1h" },
  { value: "30d", label: "Last 30 days", bucket: "1h" },
] as const;

/** How often, at most, live decisions reload the budgets. */
const BUDGETS_RELOAD_MS = 30_000;

const COLORS = { allowed: "#1a7f37", warned: "#9a6700", blocked: "#cf222e" } as const;

/** The overview page. */
export function OverviewPage() {
  const [range, setRange] = useState<string>(
    () => sessionStorage.getItem("hexarch.console.range") ?? "24h",
  );
  const bucket = RANGES.find((r) => r.value === range)?.bucket ?? "5m";
  const summary = useApi<Summary>(`/audit/summary${query({ since: range })}`);
  const series = useApi<Timeseries>(`/audit/timeseries${query({ since: range, bucket })}`);
  // Budgets are asked once the totals and the chart are in: their first computation walks
  // the period's records, and must not hold up the first render.
  const [askBudgets, setAskBudgets] = useState(false);
  const settled = (r: { data?: unknown; error?: unknown }) =>
    r.data !== undefined || r.error !== undefined;
  useEffect(() => {
    if (!askBudgets && settled(summary) && settled(series)) setAskBudgets(true);
  }, [askBudgets, summary, series]);
  const budgets = useApi<BudgetsAnswer>(askBudgets ? "/audit/budgets" : null);
  useLive(
    "decision",
    () => {
      summary.reload();
      series.reload();
    },
    2000,
  );
  // Budgets replay the whole period on the server (which keeps an answer 10 s): at most
  // every 30 s however busy the stream.
  useLive("decision", () => budgets.reload(), BUDGETS_RELOAD_MS);
  const s = summary.data;
  return (
    <Page name="overview" title="Overview">
      <div class="toolbar">
        <label for="range">Range</label>
        <select
          id="range"
          value={range}
          onChange={(e) => {
            const v = e.currentTarget.value;
            sessionStorage.setItem("hexarch.console.range", v);
            setRange(v);
          }}
        >
          {RANGES.map((r) => (
            <option key={r.value} value={r.value}>
              {r.label}
            </option>
          ))}
        </select>
      </div>
      <Panel title="Totals" loaded={summary}>
        {() => (
          <dl class="totals">
            <div>
              <dt>Allowed</dt>
              <dd data-testid="total-allowed">{num(s?.allowed)}</dd>
            </div>
            <div>
              <dt>Warned</dt>
              <dd data-testid="total-warned">{num(s?.warned)}</dd>
            </div>
            <div>
              <dt>Blocked</dt>
              <dd data-testid="total-blocked">{num(s?.blocked)}</dd>
            </div>
            <div>
              <dt>Block rate</dt>
              <dd data-testid="block-rate">{pct(s?.blockRate)}</dd>
            </div>
          </dl>
        )}
      </Panel>
      <Panel title="Decisions per minute" loaded={series}>
        {(t) => <Chart series={t} />}
      </Panel>
      <div class="columns">
        <Panel title="Top block reasons" loaded={summary}>
          {(d) =>
            d.topBlockReasons.length === 0 ? (
              <p class="muted">Nothing blocked in this range.</p>
            ) : (
              <ol class="reasons" data-testid="top-block-reasons">
                {d.topBlockReasons.map((r) => (
                  <li key={r.reason}>
                    <span class="reason">{r.reason}</span> <span class="count">{num(r.count)}</span>
                  </li>
                ))}
              </ol>
            )
          }
        </Panel>
        <Panel title="Per policy" loaded={summary}>
          {(d) => (
            <table data-testid="policy-table">
              <caption class="sr-only">Decisions per policy in the range</caption>
              <thead>
                <tr>
                  <th scope="col">Policy</th>
                  <th scope="col" class="n">
                    Total
                  </th>
                  <th scope="col" class="n">
                    Allowed
                  </th>
                  <th scope="col" class="n">
                    Warned
                  </th>
                  <th scope="col" class="n">
                    Blocked
                  </th>
                </tr>
              </thead>
              <tbody>
                {d.policies.length === 0 && (
                  <tr>
                    <td colSpan={5} class="muted">
                      No decisions in this range.
                    </td>
                  </tr>
                )}
                {d.policies.map((p) => (
                  <tr key={p.policyId} data-policy-id={p.policyId}>
                    <th scope="row">
                      <a href={`#/decisions?policy_id=${encodeURIComponent(p.policyId)}`}>
                        {p.policyId}
                      </a>
                    </th>
                    <td class="n">{num(p.total)}</td>
                    <td class="n">{num(p.allowed)}</td>
                    <td class="n">{num(p.warned)}</td>
                    <td class="n">{num(p.blocked)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Panel>
      </div>
      <Panel title="Budgets" loaded={budgets}>
        {(d) => (
          <table data-testid="budgets">
            <caption class="sr-only">Budgets this period and their projected run-out</caption>
            <thead>
              <tr>
                <th scope="col">Policy</th>
                <th scope="col">Rule</th>
                <th scope="col">For</th>
                <th scope="col" class="n">
                  Spent
                </th>
                <th scope="col" class="n">
                  Limit
                </th>
                <th scope="col">Period ends</th>
                <th scope="col">Projected run-out</th>
              </tr>
            </thead>
            <tbody>
              {d.budgets.length === 0 && (
                <tr>
                  <td colSpan={7} class="muted">
                    No budgets.
                  </td>
                </tr>
              )}
              {d.budgets.map((b) => (
                <tr
                  key={`${b.policyId}/${b.ruleName ?? ""}/${b.per ?? ""}`}
                  class={b.exhausted ? "exhausted" : undefined}
                >
                  <td>{b.policyId}</td>
                  <td>{b.ruleName ?? "–"}</td>
                  <td>{b.per ?? "shared"}</td>
                  <td class="n">{amount(b.spent, b.unit)}</td>
                  <td class="n">{amount(b.limit, b.unit)}</td>
                  <td>
                    <Time at={b.periodEnd} />
                  </td>
                  <td>
                    {b.exhausted ? (
                      <strong>exhausted</strong>
                    ) : b.projectedRunOut === null ? (
                      "not this period"
                    ) : (
                      <Time at={b.projectedRunOut} />
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Panel>
    </Page>
  );
}

function amount(n: number, unit: string): string {
  return unit === "usd" ? `$${num(n, 2)}` : `${num(n)} tokens`;
}

function Chart({ series }: { series: Timeseries }) {
  const el = useRef<HTMLDivElement>(null);
  const perMinute = series.bucketMs / 60_000;
  const rate = (n: number) => (perMinute > 0 ? n / perMinute : n);
  useEffect(() => {
    const target = el.current;
    if (!target) return;
    const xs = series.points.map((p) => Date.parse(p.t) / 1000);
    const data: uPlot.AlignedData = [
      xs,
      series.points.map((p) => rate(p.allowed)),
      series.points.map((p) => rate(p.warned)),
      series.points.map((p) => rate(p.blocked)),
    ];
    const plot = new uPlot(
      {
        width: Math.max(300, target.clientWidth),
        height: 240,
        series: [
          {},
          { label: "Allowed", stroke: COLORS.allowed, width: 2 },
          { label: "Warned", stroke: COLORS.warned, width: 2 },
          { label: "Blocked", stroke: COLORS.blocked, width: 2 },
        ],
        axes: [{}, { label: "per minute" }],
        scales: { x: { time: true } },
      },
      data,
      target,
    );
    const resize = () => plot.setSize({ width: Math.max(300, target.clientWidth), height: 240 });
    addEventListener("resize", resize);
    return () => {
      removeEventListener("resize", resize);
      plot.destroy();
    };
  }, [series]);
  const shown = series.points.filter((p) => p.allowed + p.warned + p.blocked > 0);
  return (
    <>
      <div ref={el} class="chart" aria-hidden="true" data-testid="decisions-chart" />
      <div class="sr-only">
        <table data-testid="timeseries-table">
          <caption>
            Decisions per minute, per {num(perMinute)} minute bucket (buckets with decisions)
          </caption>
          <thead>
            <tr>
              <th scope="col">Bucket start</th>
              <th scope="col" class="n">
                Allowed
              </th>
              <th scope="col" class="n">
                Warned
              </th>
              <th scope="col" class="n">
                Blocked
              </th>
            </tr>
          </thead>
          <tbody>
            {shown.map((p) => (
              <tr key={p.t}>
                <th scope="row">
                  <Time at={p.t} />
                </th>
                <td class="n">{num(rate(p.allowed), 2)}</td>
                <td class="n">{num(rate(p.warned), 2)}</td>
                <td class="n">{num(rate(p.blocked), 2)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
