/**
 * Decisions counted over a time window, as `DecisionLogger.getTimeseries` and
 * `getSummary` answer: the store's grouped counts zero-filled into buckets, or summed per
 * policy with a block rate. Pure: the counting is the store's (in SQL).
 *
 * @module
 */

import { GuardrailError } from "../kernel/errors.ts";
import type { AuditBucketCount, AuditWindowCounts } from "./types.ts";

/** The most buckets a timeseries answers (zero-filled, so this bounds its size). */
export const MAX_TIMESERIES_BUCKETS = 2000;

/** One bucket of a timeseries. */
export interface TimeseriesPoint {
  /** The bucket's start, ISO 8601 UTC. */
  readonly t: string;
  readonly allowed: number;
  readonly warned: number;
  readonly blocked: number;
}

/** What `DecisionLogger.getTimeseries` answers. */
export interface Timeseries {
  /** The window's start, ISO 8601 UTC (records at or after it). */
  readonly since: string;
  /** The window's end, ISO 8601 UTC (records before it). */
  readonly until: string;
  readonly bucketMs: number;
  /** Every bucket the window touches, oldest first, zero-filled. */
  readonly points: readonly TimeseriesPoint[];
}

/** Decision counts of one policy in a window. */
export interface WindowPolicyCounts {
  readonly policyId: string;
  readonly total: number;
  readonly allowed: number;
  readonly warned: number;
  readonly blocked: number;
}

/** What `DecisionLogger.getSummary` answers. */
export interface WindowSummary {
  readonly since: string;
  readonly until: string;
  readonly total: number;
  readonly allowed: number;
  readonly warned: number;
  readonly blocked: number;
  /** Blocked share of all decisions, in percent (0–100, two decimals). */
  readonly blockRate: number;
  readonly topBlockReasons: readonly { readonly reason: string; readonly count: number }[];
  /** Counts per policy, by policy id. */
  readonly policies: readonly WindowPolicyCounts[];
}

/** The bucket lengths a default is picked from, shortest first. */
const STEPS_MS = [60_000, 300_000, 900_000, 3_600_000, 86_400_000] as const;

/** How many epoch-aligned buckets of `bucketMs` the window `[sinceMs, untilMs)` touches. */
export function bucketsIn(sinceMs: number, untilMs: number, bucketMs: number): number {
  if (untilMs <= sinceMs) return 0;
  return Math.floor((untilMs - 1) / bucketMs) - Math.floor(sinceMs / bucketMs) + 1;
}

/**
 * The bucket for a window when none is asked for: the shortest of 1m, 5m, 15m, 1h and 1d
 * that gives at most `maxPoints` buckets, else whole days enough for that.
 */
export function defaultBucketMs(sinceMs: number, untilMs: number, maxPoints = 200): number {
  for (const step of STEPS_MS) if (bucketsIn(sinceMs, untilMs, step) <= maxPoints) return step;
  const days = Math.ceil((untilMs - sinceMs) / 86_400_000 / maxPoints);
  let bucket = days * 86_400_000;
  while (bucketsIn(sinceMs, untilMs, bucket) > maxPoints) bucket += 86_400_000;
  return bucket;
}

/**
 * The store's counts as every bucket of the window, oldest first (buckets without
 * decisions are zeros).
 *
 * @throws GuardrailError `invalid_argument` for a window of more than
 *   {@link MAX_TIMESERIES_BUCKETS} buckets.
 */
export function zeroFilled(
  sinceMs: number,
  untilMs: number,
  bucketMs: number,
  counts: readonly AuditBucketCount[],
): TimeseriesPoint[] {
  const n = bucketsIn(sinceMs, untilMs, bucketMs);
  if (n > MAX_TIMESERIES_BUCKETS)
    throw new GuardrailError(
      `a timeseries has at most ${MAX_TIMESERIES_BUCKETS} buckets; this window has ${n} of ${bucketMs} ms`,
      { code: "invalid_argument" },
    );
  const first = Math.floor(sinceMs / bucketMs) * bucketMs;
  const rows = Array.from({ length: n }, () => ({ allowed: 0, warned: 0, blocked: 0 }));
  for (const c of counts) {
    const row = rows[Math.round((c.t - first) / bucketMs)];
    if (row) row[c.decision] += c.n;
  }
  return rows.map((r, i) => ({ t: new Date(first + i * bucketMs).toISOString(), ...r }));
}

/** Percent with two decimals (0 of 0 is 0). */
export const percent = (part: number, total: number): number =>
  total === 0 ? 0 : Math.round((part / total) * 10_000) / 100;

/** The store's window counts summed up, overall and per policy. */
export function summaryOf(since: string, until: string, counts: AuditWindowCounts): WindowSummary {
  const policies = new Map<
    string,
    { policyId: string; total: number; allowed: number; warned: number; blocked: number }
  >();
  const all = { allowed: 0, warned: 0, blocked: 0 };
  for (const c of counts.outcomes) {
    let p = policies.get(c.policyId);
    if (!p) {
      p = { policyId: c.policyId, total: 0, allowed: 0, warned: 0, blocked: 0 };
      policies.set(c.policyId, p);
    }
    p[c.decision] += c.n;
    p.total += c.n;
    all[c.decision] += c.n;
  }
  const total = all.allowed + all.warned + all.blocked;
  return {
    since,
    until,
    total,
    ...all,
    blockRate: percent(all.blocked, total),
    topBlockReasons: counts.topBlockReasons,
    policies: [...policies.values()].sort((a, b) =>
      a.policyId < b.policyId ? -1 : a.policyId > b.policyId ? 1 : 0,
    ),
  };
}
