/**
 * Budget forecasts from the audit log: for every USD and token budget of a policy set, what
 * the current period has spent so far, at what rate, and when the budget runs out at that
 * rate. Spend is re-counted from the log (not read from a live state store), so a command
 * line with only the audit database and the policy file answers what the server answers.
 *
 * What is counted, per budget, in its current period (up to `now`):
 * - every recorded decision (`allow`, `warn`, `block`, `require_confirmation`) of a check
 *   that names at least one policy with a budget, re-decided in time order at its recorded
 *   time through the policies with counters that start empty (see `walkAuditLog`): an
 *   admitted call counts the `cost` (USD) and `tokens` its recorded context carries, a
 *   refused one counts nothing;
 * - every provider call reported after the fact (`POST /events/provider-calls`, action
 *   `provider_call`), counted as the server counts it when reported: its `cost_usd` and
 *   `tokens_in + tokens_out` added to the budgets of every enabled policy with a budget rule
 *   that applies to `{ resource, operation, model }` plus the user and tenant of the key
 *   that reported it when that key was bound to a subject (its record's metadata then holds
 *   both spellings, `userId` and `user_id`, with one value).
 *
 * Not counted: settlements made in process (`settleReservation`, `Guardian.settle`), which
 * the log does not record; calls a policy's `logging` kept out of the log. A confirmed
 * call replays as needing confirmation (tokens are never logged), so it counts nothing.
 *
 * @module
 */

import { PROVIDER_CALL_ACTION } from "../audit/records.ts";
import type { AuditStore, ChainedRecord } from "../audit/types.ts";
import { type CounterSpec, compileRule, type PeriodTracker } from "../engine/compile-rule.ts";
import type { Context } from "../kernel/context.ts";
import { GuardrailError } from "../kernel/errors.ts";
import { MemoryStateStore } from "../memory/state-store.ts";
import type { CalendarPeriod } from "../policy/time-zone.ts";
import type { Budget, Policy, PolicyRule, PolicySet } from "../policy/types.ts";
import type { ConsumeResult, Counter, CounterAdjustment, StateStore } from "../state/types.ts";
import type { LocalDecisionClient } from "./local-decision-client.ts";
import { type AuditWalkStep, iso, walkAuditLog } from "./replay.ts";

/** Options of {@link budgetForecast}. */
export interface BudgetForecastOptions {
  /** The instant to forecast from (ISO text, Date or ms). Default: now. */
  readonly now?: string | Date | number | undefined;
  /** Per-values listed per budget, the biggest spenders first; the rest are counted in `truncated`. @default 50 */
  readonly maxPerBudget?: number | undefined;
  /** Records read per query. @default 1000 */
  readonly pageSize?: number | undefined;
}

/** One budget counter in its current period: a rule's budget for one `per` value. */
export interface BudgetForecast {
  readonly policyId: string;
  /** The rule's id (`policyId/name`). */
  readonly ruleId: string;
  /** The rule's name within its policy (`name`, `id`, or `rules[i]`). */
  readonly ruleName: string;
  /** The budget's key in the file, e.g. `daily_budget`, `max_tokens_per_hour`. */
  readonly key: string;
  /** The `per` value (a user id…), or `null` for a budget the rule's calls share. */
  readonly per: string | null;
  readonly unit: "usd" | "tokens";
  readonly period: CalendarPeriod;
  /** Spent this period: dollars (unit `usd`) or tokens. */
  readonly spent: number;
  /** The limit a call is refused at (after `block_at_N%`), in the same unit. */
  readonly limit: number;
  /** First instant of the current period (ISO). */
  readonly periodStart: string;
  /** First instant after the current period (ISO). */
  readonly periodEnd: string;
  /** `spent` per hour of the period so far. */
  readonly ratePerHour: number;
  /**
   * When the budget reaches its limit at the current rate (`periodStart + limit / rate`), or
   * `null` when that is not before the period ends ("not this period"). In the past for an
   * exhausted budget.
   */
  readonly projectedRunOut: string | null;
  /** `spent >= limit`: the next call that costs anything is refused. */
  readonly exhausted: boolean;
}

/** A budget whose per-values were not all listed. */
export interface TruncatedBudget {
  readonly policyId: string;
  readonly ruleId: string;
  readonly key: string;
  /** Per-values left out (the smallest spenders). */
  readonly omitted: number;
}

/** What {@link budgetForecast} answers. */
export interface BudgetForecastReport {
  /** The instant forecast from (ISO). */
  readonly now: string;
  /** The earliest current period start: records from here on were counted (ISO; `null` without budgets). */
  readonly since: string | null;
  /** Records counted: decisions re-decided and provider calls applied. */
  readonly counted: { readonly decisions: number; readonly providerCalls: number };
  /** Per policy (file order), rule, budget, then biggest spender first. */
  readonly budgets: readonly BudgetForecast[];
  readonly truncated: readonly TruncatedBudget[];
}

/** One budget counter of a rule, compiled as the engine compiles it (same keys). */
interface Tracked {
  readonly policy: Policy;
  readonly rule: PolicyRule;
  readonly budget: Budget;
  readonly spec: CounterSpec;
  readonly tracker: PeriodTracker;
}

/** A state store that remembers the period counter keys it was handed. */
class KeyRecordingStore implements StateStore {
  readonly inner = new MemoryStateStore();
  readonly keys = new Set<string>();

  consume(counters: readonly Counter[], nowMs: number): ConsumeResult {
    for (const c of counters) if (c.kind === "period") this.keys.add(c.key);
    return this.inner.consume(counters, nowMs);
  }

  adjust(adjustments: readonly CounterAdjustment[]): void {
    for (const a of adjustments) this.keys.add(a.key);
    this.inner.adjust(adjustments);
  }
}

const isAmount = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0;

/**
 * The context and amounts `POST /events/provider-calls` counted a recorded provider call
 * with, or `undefined` when it counted nothing.
 */
function providerSpend(
  record: ChainedRecord,
): { context: Context; costUsd: number; tokens: number } | undefined {
  const c = record.context;
  const costUsd = c.cost_usd ?? 0;
  const tokensIn = c.tokens_in ?? 0;
  const tokensOut = c.tokens_out ?? 0;
  if (!isAmount(costUsd) || !isAmount(tokensIn) || !isAmount(tokensOut)) return undefined;
  const tokens = tokensIn + tokensOut;
  if (costUsd <= 0 && tokens <= 0) return undefined;
  const m = record.metadata ?? {};
  // A key bound to a subject sets both spellings to the bound value (`bindSubject`); the
  // server counts the spend against that subject only, never against a claimed one.
  const bound = (a: string, b: string) =>
    typeof m[a] === "string" && m[a] === m[b] ? { [a]: m[a], [b]: m[b] } : {};
  const context: Context = {
    ...bound("userId", "user_id"),
    ...bound("tenantId", "tenant_id"),
    ...(typeof c.resource === "string" && { resource: c.resource }),
    ...(record.functionName !== null && { operation: record.functionName }),
    ...(c.model !== undefined && { model: c.model }),
  };
  return { context, costUsd, tokens };
}

/**
 * Forecasts every USD and token budget of `policies` from the audit log: spend this period
 * (see the module documentation for exactly what counts), the rate so far, and the instant
 * the budget runs out at that rate.
 *
 * @example
 * ```ts
 * const report = await budgetForecast(store, loadPolicyFile("hexarch.yaml"));
 * for (const b of report.budgets)
 *   console.log(b.policyId, b.per, b.spent, b.limit, b.projectedRunOut ?? "not this period");
 * ```
 * @throws GuardrailError (code `invalid_argument`) for a `now` that is not a date, or a
 *   `maxPerBudget` or `pageSize` that is not a whole number in range.
 */
export async function budgetForecast(
  store: AuditStore,
  policies: PolicySet,
  options: BudgetForecastOptions = {},
): Promise<BudgetForecastReport> {
  const maxPerBudget = options.maxPerBudget ?? 50;
  const pageSize = options.pageSize ?? 1000;
  for (const [name, v, min] of [
    ["maxPerBudget", maxPerBudget, 1],
    ["pageSize", pageSize, 1],
  ] as const) {
    if (!Number.isInteger(v) || v < min)
      throw new GuardrailError(
        `budgetForecast: ${name} must be a whole number ≥ ${min}, got ${v}`,
        { code: "invalid_argument" },
      );
  }
  const now = iso(
    typeof options.now === "number" ? new Date(options.now) : (options.now ?? new Date()),
    "now",
    "budgetForecast",
  );
  const nowMs = Date.parse(now);

  const tracked: Tracked[] = [];
  for (const policy of policies.policies) {
    if (!policy.enabled) continue;
    for (const rule of policy.rules) {
      if (!rule.enabled || rule.budgets.length === 0) continue;
      const periods = compileRule(rule, policy.id).counters.filter((s) => s.kind === "period");
      // The engine compiles a rule's budgets after its rate limits, in file order.
      periods.forEach((spec, i) => {
        const budget = rule.budgets[i] as Budget;
        tracked.push({ policy, rule, budget, spec, tracker: spec.period as PeriodTracker });
      });
    }
  }
  const budgetPolicies = [...new Set(tracked.map((t) => t.policy.id))];
  if (tracked.length === 0)
    return {
      now,
      since: null,
      counted: { decisions: 0, providerCalls: 0 },
      budgets: [],
      truncated: [],
    };
  const since = Math.min(...tracked.map((t) => t.tracker.at(nowMs).startMs));

  const state = new KeyRecordingStore();
  const withBudget = new Set(budgetPolicies);
  let decisions = 0;
  let providerCalls = 0;
  const visit = async (step: AuditWalkStep, client: LocalDecisionClient) => {
    if (step.kind === "decided") {
      decisions++;
      return;
    }
    if (step.kind !== "notDecision" || step.record.action !== PROVIDER_CALL_ACTION) return;
    const spend = providerSpend(step.record);
    if (spend === undefined) return;
    let moved = 0;
    for (const id of budgetPolicies)
      moved += await client.recordSpend(id, spend.context, {
        costUsd: spend.costUsd,
        tokens: spend.tokens,
      });
    if (moved > 0) providerCalls++;
  };
  await walkAuditLog(
    store,
    policies,
    {
      since: new Date(since).toISOString(),
      // `until` is exclusive: a record stamped in the very millisecond of `now` counts too.
      until: new Date(Date.parse(now) + 1).toISOString(),
      pageSize,
      state,
      select: (ids) => ids.some((id) => withBudget.has(id)),
    },
    visit,
  );

  // Read every current-period counter: a zero amount that never refuses answers its total.
  const rows: { t: Tracked; per: string; counter: Counter }[] = [];
  for (const t of tracked) {
    const period = t.tracker.at(nowMs);
    const head = `${t.spec.keys.prefix}${period.index}|`;
    const pers = [...state.keys].filter((k) => k.startsWith(head)).map((k) => k.slice(head.length));
    // A shared budget is listed even before anything is spent.
    if (t.rule.per === undefined && pers.length === 0) pers.push("");
    for (const per of pers)
      rows.push({
        t,
        per,
        counter: {
          kind: "period",
          key: `${head}${per}`,
          limit: t.spec.limit,
          amount: 0,
          windowMs: 0,
          expiresAtMs: period.endMs,
          hard: false,
        },
      });
  }
  const totals =
    rows.length === 0
      ? []
      : state.inner.consume(
          rows.map((r) => r.counter),
          nowMs,
        ).totals;

  const budgets: BudgetForecast[] = [];
  const truncated: TruncatedBudget[] = [];
  for (const t of tracked) {
    const period = t.tracker.at(nowMs);
    const mine = rows
      .map((r, i) => ({ r, total: totals[i] as number }))
      .filter(({ r }) => r.t === t)
      .sort((a, b) => b.total - a.total || (a.r.per < b.r.per ? -1 : 1));
    if (mine.length > maxPerBudget)
      truncated.push({
        policyId: t.policy.id,
        ruleId: t.rule.id,
        key: t.budget.key,
        omitted: mine.length - maxPerBudget,
      });
    for (const { r, total } of mine.slice(0, maxPerBudget))
      budgets.push(forecast(t, r.per, total, period, nowMs));
  }
  return {
    now,
    since: new Date(since).toISOString(),
    counted: { decisions, providerCalls },
    budgets,
    truncated,
  };
}

/** The forecast of one counter whose total (micro-dollars or tokens) is `total`. */
function forecast(
  t: Tracked,
  per: string,
  total: number,
  period: { readonly startMs: number; readonly endMs: number },
  nowMs: number,
): BudgetForecast {
  const unit = t.budget.unit;
  const scale = unit === "usd" ? 1_000_000 : 1;
  const limit = t.spec.limit;
  const elapsedMs = nowMs - period.startMs;
  const ratePerHour = elapsedMs > 0 ? total / scale / (elapsedMs / 3_600_000) : 0;
  // periodStart + limit / rate, in whole units so a hand-computed instant comes out exact.
  const runOutMs =
    total > 0 && elapsedMs > 0 ? period.startMs + Math.round((limit * elapsedMs) / total) : null;
  const policyPrefix = `${t.policy.id}/`;
  return {
    policyId: t.policy.id,
    ruleId: t.rule.id,
    ruleName: t.rule.id.startsWith(policyPrefix) ? t.rule.id.slice(policyPrefix.length) : t.rule.id,
    key: t.budget.key,
    per: t.rule.per === undefined ? null : per,
    unit,
    period: t.budget.period,
    spent: total / scale,
    limit: limit / scale,
    periodStart: new Date(period.startMs).toISOString(),
    periodEnd: new Date(period.endMs).toISOString(),
    ratePerHour,
    projectedRunOut:
      runOutMs !== null && runOutMs < period.endMs ? new Date(runOutMs).toISOString() : null,
    exhausted: total >= limit,
  };
}
