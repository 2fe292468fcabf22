/**
 * Counts over a time window (`AuditStore.timeseries` and `AuditStore.summary`) as SQL both
 * stores run, grouped by the database; only the bucket arithmetic differs by dialect.
 *
 * Speed without a new index: the time-only index was dropped (migration 3, to keep appends
 * fast), so every statement here says `decision IN ('allowed', 'warned', 'blocked')` (true
 * of every row: the column's CHECK) to let the planner read the window off the
 * `(decision, timestamp)` index in three range scans instead of reading the whole table;
 * with a policy, the `(policy_id, timestamp)` index serves.
 *
 * @module
 */

import type {
  AuditBucketCount,
  AuditOutcome,
  AuditTimeseriesQuery,
  AuditWindow,
  AuditWindowCounts,
} from "../audit/types.ts";
import { GuardrailError } from "../kernel/errors.ts";
import { COUNTED_IN_STATS, isoTimestamp, type Row, type SqlDialect } from "./rows.ts";

/** A statement with its parameters. */
export interface SqlStatement {
  readonly sql: string;
  readonly params: (string | number)[];
}

/**
 * How a window is read: `"index"` off the `(decision, timestamp)` index (few rows of a big
 * log), `"scan"` by reading the table once (SQLite only: a window holding much of the log,
 * where looking each row up from the index costs more than reading them all).
 */
export type WindowPlan = "index" | "scan";

/** The `FROM … WHERE` of a window (decisions only, as the stats count them). */
function windowFrom(
  table: string,
  window: AuditWindow,
  mark: (n: number) => string,
  params: (string | number)[],
  plan: WindowPlan,
  extra = "",
): string {
  const add = (value: string | number): string => {
    params.push(value);
    return mark(params.length);
  };
  const since = add(isoTimestamp(window.since));
  const until = add(isoTimestamp(window.until));
  const policy = window.policyId === undefined ? "" : ` AND policy_id = ${add(window.policyId)}`;
  const from =
    plan === "scan"
      ? `${table} NOT INDEXED WHERE true`
      : `${table} WHERE decision IN ('allowed', 'warned', 'blocked')`;
  return `FROM ${from}${extra} AND timestamp >= ${since} AND timestamp < ${until}${policy} AND ${COUNTED_IN_STATS}`;
}

/**
 * How many log entries a window holds, counted off the `(decision, timestamp)` index alone
 * (no row is read): with the log's length, what {@link WindowPlan} a SQLite store picks.
 */
export function windowSizeSql(table: string, window: AuditWindow): SqlStatement {
  return {
    sql: `SELECT count(*) AS n FROM ${table} WHERE decision IN ('allowed', 'warned', 'blocked') AND timestamp >= ? AND timestamp < ?`,
    params: [isoTimestamp(window.since), isoTimestamp(window.until)],
  };
}

/**
 * The plan for a window of `inWindow` entries in a log of about `total`: the index while
 * the window holds at most a fifth of the log (measured on a million rows: looking rows up
 * from the index costs about five times reading them in table order).
 */
export const windowPlan = (inWindow: number, total: number): WindowPlan =>
  inWindow * 5 > total ? "scan" : "index";

/**
 * The bucket of a row's timestamp: whole seconds since the epoch, divided by the bucket's
 * seconds (an integer: buckets are whole seconds, so dropping the milliseconds is exact).
 */
function bucketOf(dialect: SqlDialect, bucketSeconds: number): string {
  return dialect === "postgres"
    ? `floor(extract(epoch from timestamp::timestamptz) / ${bucketSeconds})::bigint`
    : `unixepoch(timestamp) / ${bucketSeconds}`;
}

/**
 * A bucket length in whole seconds.
 *
 * @throws GuardrailError `invalid_argument` for a length that is not a positive whole
 *   number of seconds.
 */
export function bucketSeconds(bucketMs: number): number {
  const s = bucketMs / 1000;
  if (!Number.isSafeInteger(s) || s <= 0)
    throw new GuardrailError(
      `a bucket must be a positive whole number of seconds, got ${bucketMs} ms`,
      { code: "invalid_argument" },
    );
  return s;
}

/** `AuditStore.timeseries` as one `GROUP BY` statement. */
export function timeseriesSql(
  table: string,
  query: AuditTimeseriesQuery,
  mark: (n: number) => string,
  dialect: SqlDialect,
  plan: WindowPlan = "index",
): SqlStatement {
  const params: (string | number)[] = [];
  const seconds = bucketSeconds(query.bucketMs);
  const from = windowFrom(table, query, mark, params, plan);
  return {
    sql: `SELECT ${bucketOf(dialect, seconds)} AS bucket, decision, count(*) AS n ${from} GROUP BY 1, 2 ORDER BY 1, 2`,
    params,
  };
}

/** The rows of {@link timeseriesSql} as counts. */
export function bucketCounts(rows: readonly Row[], bucketMs: number): AuditBucketCount[] {
  return rows.map((r) => ({
    t: Number(r.bucket) * bucketMs,
    decision: String(r.decision) as AuditOutcome,
    n: Number(r.n),
  }));
}

/**
 * `AuditStore.summary` as two statements: outcomes per policy, and top block reasons (ties
 * by reason in code-point order in both dialects, whatever PostgreSQL's collation).
 */
export function summarySql(
  table: string,
  window: AuditWindow,
  topReasons: number,
  mark: (n: number) => string,
  dialect: SqlDialect,
  plan: WindowPlan = "index",
): { readonly outcomes: SqlStatement; readonly reasons: SqlStatement } {
  const outcomeParams: (string | number)[] = [];
  const outcomes = `SELECT policy_id, decision, count(*) AS n ${windowFrom(table, window, mark, outcomeParams, plan)} GROUP BY 1, 2 ORDER BY 1, 2`;
  const reasonParams: (string | number)[] = [];
  // Blocks are few: always off the index.
  const from = windowFrom(table, window, mark, reasonParams, "index", " AND decision = 'blocked'");
  reasonParams.push(topReasons);
  const reasons = `SELECT reason, count(*) AS n ${from} GROUP BY 1 ORDER BY n DESC, reason${dialect === "postgres" ? ' COLLATE "C"' : ""} LIMIT ${mark(reasonParams.length)}`;
  return {
    outcomes: { sql: outcomes, params: outcomeParams },
    reasons: { sql: reasons, params: reasonParams },
  };
}

/** The rows of {@link summarySql} as counts. */
export function windowCounts(outcomes: readonly Row[], reasons: readonly Row[]): AuditWindowCounts {
  return {
    outcomes: outcomes.map((r) => ({
      policyId: String(r.policy_id),
      decision: String(r.decision) as AuditOutcome,
      n: Number(r.n),
    })),
    topBlockReasons: reasons.map((r) => ({ reason: String(r.reason), count: Number(r.n) })),
  };
}
