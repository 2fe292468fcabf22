/**
 * The audit log over HTTP, read through `DecisionLogger`: records with filters, the hash
 * chain's verification, per-policy stats, blocked calls and a user's trail.
 *
 * @module
 */

import type { FastifyInstance } from "fastify";
import { parseDuration } from "../../audit/decision-logger.ts";
import type { AuditQuery } from "../../audit/types.ts";
import { replayAuditLog } from "../../decision/replay.ts";
import { PolicyFileError } from "../../kernel/errors.ts";
import { parsePolicies } from "../../policy/load.ts";
import { backend, HttpError } from "../errors.ts";
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
      const filter: AuditQuery = {
        ...(q.policy_id !== undefined && { policyId: q.policy_id }),
        ...(q.user_id !== undefined && { userId: q.user_id }),
        ...(q.decision !== undefined && { decision: q.decision }),
        ...(q.since !== undefined && { since: parseInstant(q.since, "query.since") }),
        ...(q.until !== undefined && { until: parseInstant(q.until, "query.until") }),
        limit: q.limit,
        offset: q.offset,
      };
      const logger = auditLogOf(ctx);
      const records = await backend(LOG, () => logger.getDecisionHistory(filter));
      return {
        records,
        limit: q.limit,
        offset: q.offset,
        nextOffset: records.length === q.limit ? q.offset + q.limit : null,
      };
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
