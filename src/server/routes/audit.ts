/**
 * The audit log over HTTP, read through `DecisionLogger`: records with filters, the hash
 * chain's verification, per-policy stats, blocked calls and a user's trail.
 *
 * @module
 */

import { Readable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { parseDuration } from "../../audit/decision-logger.ts";
import { RECORD_CSV_HEADER, recordCsv, recordJson } from "../../audit/record-format.ts";
import type { AuditQuery, ChainedRecord } from "../../audit/types.ts";
import { bucketsIn, defaultBucketMs, MAX_TIMESERIES_BUCKETS } from "../../audit/windows.ts";
import { replayAuditLog } from "../../decision/replay.ts";
import { PolicyFileError } from "../../kernel/errors.ts";
import { parsePolicies } from "../../policy/load.ts";
import { csvLine } from "../../util/csv.ts";
import { backend, HttpError } from "../errors.ts";
import {
  type AuditExportQuery,
  type AuditFilterQuery,
  auditExportSchema,
  auditLogDetailSchema,
} from "../schemas/audit.ts";
import {
  type AuditSummaryQuery,
  type AuditTimeseriesQueryString,
  auditSummarySchema,
  auditTimeseriesSchema,
  type BucketName,
} from "../schemas/audit-windows.ts";
import {
  type AuditLogsQuery,
  type AuditReplayBody,
  auditBlockedSchema,
  auditLogsSchema,
  auditReplaySchema,
  auditStatsAllSchema,
  auditStatsSchema,
  auditTrailSchema,
  auditVerifySchema,
} from "../schemas/index.ts";
import { type AuditVerifyReply, verifyAuditLog } from "./checkpoints.ts";
import { auditLogOf, type ServerContext } from "./context.ts";

const DURATION = /^\d+(\.\d+)?\s*(ms|s|m|h|d|w)$/;

/** Durations past this (a thousand years) are refused rather than overflowing a date. */
const MAX_DURATION_MS = 1000 * 365.25 * 86_400_000;

/** A duration (`24h`, `7d`) in ms, or a 400 naming the field. */
export function durationMs(value: string, field: string): number {
  let ms = Number.NaN;
  try {
    ms = parseDuration(value);
  } catch {
    // reported below
  }
  if (!Number.isFinite(ms) || ms > MAX_DURATION_MS) {
    throw new HttpError(
      400,
      "invalid_query",
      `${field} must be a duration such as 90m, 24h or 7d, of at most 1000 years`,
      { extras: { field } },
    );
  }
  return ms;
}

/** `since`/`until` as an ISO time: an ISO date or time, or a duration back from now. */
export function parseInstant(value: string, field: string, now = Date.now()): string {
  if (DURATION.test(value.trim())) return new Date(now - durationMs(value, field)).toISOString();
  const t = Date.parse(value);
  if (Number.isNaN(t)) {
    throw new HttpError(
      400,
      "invalid_query",
      `${field} must be an ISO date or time (2026-11-25, 2026-11-25T12:00:00Z) or a duration such as 24h`,
      { extras: { field } },
    );
  }
  return new Date(t).toISOString();
}

const LOG = "audit log";

/** Records an export reads at a time (by position in the log, newest first). */
const EXPORT_PAGE = 5000;

/** The bucket lengths of `GET /audit/timeseries`. */
const BUCKET_MS: Readonly<Record<BucketName, number>> = {
  "1m": 60_000,
  "5m": 300_000,
  "15m": 900_000,
  "1h": 3_600_000,
  "1d": 86_400_000,
};

/**
 * The store filter the query's filter parameters ask for (those given).
 * @throws HttpError 400 `invalid_query` for a `since` or `until` that is not an instant, or
 *   an `until` before `since` (as the time series and summary answer).
 */
export function auditFilterOf(q: AuditFilterQuery, now = Date.now()): AuditQuery {
  const since = q.since === undefined ? undefined : parseInstant(q.since, "query.since", now);
  const until = q.until === undefined ? undefined : parseInstant(q.until, "query.until", now);
  if (since !== undefined && until !== undefined && Date.parse(until) < Date.parse(since))
    throw new HttpError(400, "invalid_query", "until must not be before since", {
      extras: { field: "query.until" },
    });
  return {
    ...(q.policy_id !== undefined && { policyId: q.policy_id }),
    ...(q.user_id !== undefined && { userId: q.user_id }),
    ...(q.decision !== undefined && { decision: q.decision }),
    ...(q.function_name !== undefined && { functionName: q.function_name }),
    ...(q.q !== undefined && q.q !== "" && { text: q.q }),
    ...(since !== undefined && { since }),
    ...(until !== undefined && { until }),
    ...(q.before_seq !== undefined && { beforeSeq: q.before_seq }),
  };
}

/** A window's ends from `since` (default 24h ago) and `until` (default now), checked. */
function windowOf(q: { since: string; until?: string }): { since: number; until: number } {
  const now = Date.now();
  const since = Date.parse(parseInstant(q.since, "query.since", now));
  const until = q.until === undefined ? now : Date.parse(parseInstant(q.until, "query.until", now));
  if (until < since)
    throw new HttpError(400, "invalid_query", "until must not be before since", {
      extras: { field: "query.until" },
    });
  return { since, until };
}

/** `hexarch-audit-20261208T012434Z.csv`: the export's file name, by the time it started. */
export function exportFileName(format: "csv" | "json", at = new Date()): string {
  const stamp = at.toISOString().replace(/[-:]/g, "").replace(/\.\d+/, "");
  return `hexarch-audit-${stamp}.${format}`;
}

/** The export's text, a piece at a time: the first record already read, then the rest. */
async function* exportChunks(
  format: "csv" | "json",
  first: ChainedRecord | undefined,
  rest: AsyncIterator<ChainedRecord>,
): AsyncGenerator<string> {
  const line = (r: ChainedRecord, i: number): string =>
    format === "csv" ? recordCsv(r) : `${i === 0 ? "\n" : ",\n"}${JSON.stringify(recordJson(r))}`;
  yield format === "csv" ? csvLine(RECORD_CSV_HEADER) : "[";
  let n = 0;
  if (first !== undefined) {
    let chunk = line(first, n++);
    for (let r = await rest.next(); !r.done; r = await rest.next()) {
      chunk += line(r.value, n++);
      // Pieces of about 64 KiB: fewer, larger writes.
      if (chunk.length >= 65_536) {
        yield chunk;
        chunk = "";
      }
    }
    if (chunk !== "") yield chunk;
  }
  if (format === "json") yield n === 0 ? "]\n" : "\n]\n";
}

/** The fields of the Python server's `GET /audit-logs/verify`, beside the native ones. */
export interface PythonVerifyFields {
  /** The chain verified: this server keeps one, `global`. */
  readonly chain_id: "global";
  /** Entries examined: the verified ones, and the one that failed (the walk stops there). */
  readonly total: number;
  /** Entries whose hash and link check out (`checked`). */
  readonly verified: number;
  /** Entries without a hash, skipped (legacy rows in Python): always 0, every entry here is chained. */
  readonly unverified: 0;
  /**
   * The first entry that fails (`firstBadDecisionId`), else the first failing checkpoint
   * (`checkpoint:<id>`); `null` exactly when `ok` is true.
   */
  readonly first_failure_id: string | null;
}

/** {@link PythonVerifyFields} of a verification, so Python clients read the answer as theirs. */
export function pythonVerifyFields(v: AuditVerifyReply): PythonVerifyFields {
  const chainFailed = v.firstBadDecisionId !== undefined;
  const badCheckpoint =
    v.checkpoints?.ok === false ? v.checkpoints.firstBadCheckpointId : undefined;
  return {
    chain_id: "global",
    total: v.checked + (chainFailed ? 1 : 0),
    verified: v.checked,
    unverified: 0,
    first_failure_id: v.ok
      ? null
      : (v.firstBadDecisionId ??
        (badCheckpoint !== undefined ? `checkpoint:${badCheckpoint}` : "checkpoints")),
  };
}

/** Registers the audit routes. */
export function auditRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post<{ Body: AuditReplayBody }>(
    "/audit-logs/replay",
    { schema: auditReplaySchema },
    async (request) => {
      const body = request.body;
      const logger = auditLogOf(ctx);
      let proposed: ReturnType<typeof parsePolicies>;
      try {
        proposed = parsePolicies(body.policy_file, { source: "policy_file" });
      } catch (err) {
        if (!(err instanceof PolicyFileError)) throw err;
        throw new HttpError(422, "invalid_policy_file", err.message, { cause: err });
      }
      const since = body.since === undefined ? undefined : parseInstant(body.since, "body.since");
      const until = body.until === undefined ? undefined : parseInstant(body.until, "body.until");
      return backend(LOG, async () => {
        await logger.flush();
        return replayAuditLog(logger.store, proposed, {
          since,
          until,
          examples: body.examples ?? 5,
        });
      });
    },
  );

  app.get<{ Querystring: AuditLogsQuery }>(
    "/audit-logs",
    { schema: auditLogsSchema },
    async (request) => {
      const q = request.query;
      const filter: AuditQuery = { ...auditFilterOf(q), limit: q.limit, offset: q.offset };
      const logger = auditLogOf(ctx);
      const records = await backend(LOG, () => logger.getDecisionHistory(filter));
      const full = records.length === q.limit;
      return {
        records,
        limit: q.limit,
        offset: q.offset,
        nextOffset: full ? q.offset + q.limit : null,
        nextBeforeSeq: full ? (records[records.length - 1]?.seq ?? null) : null,
      };
    },
  );

  // Static paths (`/audit-logs/verify`, `/audit-logs/export`) win over this one in the router.
  app.get<{ Params: { decisionId: string } }>(
    "/audit-logs/:decisionId",
    { schema: auditLogDetailSchema },
    async (request) => {
      const { decisionId } = request.params;
      const logger = auditLogOf(ctx);
      return backend(LOG, async () => {
        const [record] = await logger.getDecisionHistory({ decisionId, limit: 1 });
        if (record === undefined)
          throw new HttpError(
            404,
            "unknown_decision",
            `no audit record has decision id '${decisionId}'`,
          );
        // The neighbours in the log, by position (the primary key).
        const [previous] = await logger.store.query({ beforeSeq: record.seq, limit: 1 });
        const [next] = await logger.store.query({
          afterSeq: record.seq,
          order: "asc",
          limit: 1,
        });
        return {
          record,
          chain: {
            seq: record.seq,
            prevHash: record.prevHash,
            hash: record.hash,
            previousDecisionId: previous?.decisionId ?? null,
            nextDecisionId: next?.decisionId ?? null,
          },
        };
      });
    },
  );

  app.get<{ Querystring: AuditExportQuery }>(
    "/audit-logs/export",
    { schema: auditExportSchema },
    async (request, reply) => {
      const q = request.query;
      const filter = auditFilterOf(q);
      const logger = auditLogOf(ctx);
      const records = logger.exportDecisions(filter, { order: "desc", pageSize: EXPORT_PAGE });
      // The first page is read before answering, so an unreachable store is a 503, not a
      // cut-off download.
      const first = await backend(LOG, () => records.next());
      const body = Readable.from(
        exportChunks(q.format, first.done ? undefined : first.value, records),
      );
      return reply
        .header("content-disposition", `attachment; filename="${exportFileName(q.format)}"`)
        .header("cache-control", "no-store")
        .type(q.format === "csv" ? "text/csv; charset=utf-8" : "application/json; charset=utf-8")
        .send(body);
    },
  );

  // The chain, and with a checkpoint key the stored checkpoints (routes/checkpoints.ts). The
  // Python query (`chain_id=global&limit=N`) is accepted; the whole chain is always walked,
  // since the first N entries alone prove nothing about the rest.
  app.get("/audit-logs/verify", { schema: auditVerifySchema }, async () => {
    const v = await verifyAuditLog(ctx);
    return { ...v, ...pythonVerifyFields(v) };
  });

  app.get<{ Querystring: { top: number } }>(
    "/audit/stats",
    { schema: auditStatsAllSchema },
    async (request) => {
      const logger = auditLogOf(ctx);
      const policies = await backend(LOG, async () => {
        const out = [];
        for (const policyId of await logger.getPolicyIds())
          out.push({
            policyId,
            ...(await logger.getPolicyStats(policyId, { topReasons: request.query.top })),
          });
        return out;
      });
      return { policies };
    },
  );

  app.get<{ Params: { policyId: string }; Querystring: { top: number } }>(
    "/audit/stats/:policyId",
    { schema: auditStatsSchema },
    async (request) => {
      const logger = auditLogOf(ctx);
      const { policyId } = request.params;
      const stats = await backend(LOG, () =>
        logger.getPolicyStats(policyId, { topReasons: request.query.top }),
      );
      return { policyId, ...stats };
    },
  );

  app.get<{ Querystring: AuditTimeseriesQueryString }>(
    "/audit/timeseries",
    { schema: auditTimeseriesSchema },
    async (request) => {
      const q = request.query;
      const { since, until } = windowOf(q);
      const bucketMs = q.bucket === undefined ? defaultBucketMs(since, until) : BUCKET_MS[q.bucket];
      const n = bucketsIn(since, until, bucketMs);
      if (n > MAX_TIMESERIES_BUCKETS)
        throw new HttpError(
          400,
          "invalid_query",
          `the window holds ${n} buckets of ${q.bucket ?? `${bucketMs} ms`}; at most ${MAX_TIMESERIES_BUCKETS}: use a longer bucket or a shorter window`,
          { extras: { field: "query.bucket" } },
        );
      const logger = auditLogOf(ctx);
      return backend(LOG, () =>
        logger.getTimeseries({
          since: new Date(since),
          until: new Date(until),
          bucketMs,
          ...(q.policy_id !== undefined && { policyId: q.policy_id }),
        }),
      );
    },
  );

  app.get<{ Querystring: AuditSummaryQuery }>(
    "/audit/summary",
    { schema: auditSummarySchema },
    async (request) => {
      const q = request.query;
      const { since, until } = windowOf(q);
      const logger = auditLogOf(ctx);
      return backend(LOG, () =>
        logger.getSummary({
          since: new Date(since),
          until: new Date(until),
          topReasons: q.top,
          ...(q.policy_id !== undefined && { policyId: q.policy_id }),
        }),
      );
    },
  );

  app.get<{ Querystring: { timeframe: string; limit: number } }>(
    "/audit/blocked",
    { schema: auditBlockedSchema },
    async (request) => {
      const { timeframe, limit } = request.query;
      durationMs(timeframe, "query.timeframe");
      const logger = auditLogOf(ctx);
      const records = await backend(LOG, () => logger.getBlockedOperations({ timeframe, limit }));
      return { timeframe, records };
    },
  );

  app.get<{ Params: { userId: string }; Querystring: { limit: number } }>(
    "/audit/users/:userId/trail",
    { schema: auditTrailSchema },
    async (request) => {
      const { userId } = request.params;
      const logger = auditLogOf(ctx);
      const records = await backend(LOG, () =>
        logger.getUserAuditTrail(userId, { limit: request.query.limit }),
      );
      return { userId, records };
    },
  );
}
