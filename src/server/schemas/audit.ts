/**
 * Schemas of the audit routes: `/audit-logs` and `/audit/…`.
 *
 * @module
 */

import type { AuditOutcome } from "../../audit/types.ts";
import { checkpointVerifySchema } from "./checkpoints.ts";
import { anyObject, errors, limit, name } from "./common.ts";

/** One audit record as the API shows it (the CLI's `--format json` fields, same order). */
const recordSchema = {
  type: "object",
  required: [
    "seq",
    "decisionId",
    "timestamp",
    "policyId",
    "functionName",
    "decision",
    "action",
    "reason",
    "userId",
    "durationMs",
    "mode",
    "context",
    "metadata",
    "hash",
  ],
  properties: {
    seq: { type: "integer" },
    decisionId: { type: "string" },
    timestamp: { type: "string", format: "date-time" },
    policyId: { type: "string" },
    functionName: { type: ["string", "null"] },
    decision: { type: "string", enum: ["allowed", "warned", "blocked"] },
    action: { type: "string" },
    reason: { type: "string" },
    userId: { type: ["string", "null"] },
    durationMs: { type: "number" },
    mode: { type: "string", enum: ["enforce", "monitor"] },
    context: anyObject,
    metadata: { type: ["object", "null"], additionalProperties: true },
    hash: { type: "string" },
  },
} as const;

/** A list of audit records (also what `GET /events/provider-calls` answers). */
export const records = { type: "array", items: recordSchema } as const;

/** `since`/`until`: an ISO date or time, or a duration back from now. */
export const instant = {
  type: "string",
  minLength: 1,
  maxLength: 64,
  description: "an ISO date or time (2026-11-25, 2026-11-25T12:00:00Z) or a duration ago (24h, 7d)",
} as const;

/** A duration such as `24h`, `7d`, `90m`. */
const duration = {
  type: "string",
  pattern: "^\\d+(\\.\\d+)?\\s*(ms|s|m|h|d|w)$",
  maxLength: 32,
  description: "a duration: 90m, 24h, 7d, 30d",
} as const;

/** The filters of `GET /audit-logs` and `GET /audit-logs/export`. */
export interface AuditFilterQuery {
  readonly policy_id?: string;
  readonly user_id?: string;
  readonly decision?: AuditOutcome;
  readonly function_name?: string;
  readonly q?: string;
  readonly since?: string;
  readonly until?: string;
  readonly before_seq?: number;
}

/** The query of `GET /audit-logs`. */
export interface AuditLogsQuery extends AuditFilterQuery {
  readonly limit: number;
  readonly offset: number;
}

/** The filter parameters both the listing and the export take. */
const filterProperties = {
  policy_id: name(),
  user_id: name(),
  decision: { type: "string", enum: ["allowed", "warned", "blocked"] },
  function_name: { ...name(), description: "only calls of the guarded function of this name" },
  q: {
    type: "string",
    maxLength: 256,
    description:
      "only records whose reason contains this text, ignoring case (`%` and `_` match themselves)",
  },
  since: instant,
  until: instant,
  before_seq: {
    type: "integer",
    minimum: 1,
    maximum: Number.MAX_SAFE_INTEGER,
    description:
      "keyset paging: only records before this position in the log (pass `nextBeforeSeq` of the previous page)",
  },
} as const;

/** `GET /audit-logs`: decisions matching the filters, newest first. */
export const auditLogsSchema = {
  summary: "Audit records, newest first",
  querystring: {
    type: "object",
    additionalProperties: false,
    properties: {
      ...filterProperties,
      limit: limit(1000, 50),
      offset: { type: "integer", minimum: 0, maximum: 10_000_000, default: 0 },
    },
  },
  response: {
    200: {
      type: "object",
      required: ["records", "limit", "offset", "nextOffset", "nextBeforeSeq"],
      properties: {
        records,
        limit: { type: "integer" },
        offset: { type: "integer" },
        nextOffset: {
          type: ["integer", "null"],
          description: "the offset of the next page, or null on the last one",
        },
        nextBeforeSeq: {
          type: ["integer", "null"],
          description:
            "`before_seq` for the next (older) page: the last record's `seq`, or null on the last page",
        },
      },
    },
    ...errors,
  },
} as const;

/** `GET /audit-logs/:decisionId`: one record, with its place in the chain. */
export const auditLogDetailSchema = {
  summary: "One audit record by decision id, with its hash-chain links and neighbours",
  params: {
    type: "object",
    required: ["decisionId"],
    properties: { decisionId: name(128) },
  },
  response: {
    200: {
      type: "object",
      required: ["record", "chain"],
      properties: {
        record: recordSchema,
        chain: {
          type: "object",
          required: ["seq", "prevHash", "hash", "previousDecisionId", "nextDecisionId"],
          properties: {
            seq: { type: "integer", description: "its position in the log" },
            prevHash: { type: "string", description: "the hash of the entry it is chained after" },
            hash: { type: "string", description: "its own hash (over prevHash and its fields)" },
            previousDecisionId: {
              type: ["string", "null"],
              description: "the decision stored just before it, or null for the oldest kept",
            },
            nextDecisionId: {
              type: ["string", "null"],
              description: "the decision stored just after it, or null for the newest",
            },
          },
        },
      },
    },
    ...errors,
  },
} as const;

/** The query of `GET /audit-logs/export`. */
export interface AuditExportQuery extends AuditFilterQuery {
  readonly format: "csv" | "json";
}

/** `GET /audit-logs/export`: every matching record, streamed as CSV or a JSON array. */
export const auditExportSchema = {
  summary: "Download every matching audit record, newest first, as CSV or JSON",
  description:
    "Streams the records the filters of `GET /audit-logs` select (no page limit), newest first, as an attachment. CSV: RFC 4180 with a header row, `context` and `metadata` as JSON text, and text a spreadsheet would read as a formula (starting with `=`, `+`, `-`, `@`) prefixed with `'`. JSON: an array of records.",
  querystring: {
    type: "object",
    additionalProperties: false,
    properties: {
      format: { type: "string", enum: ["csv", "json"], default: "csv" },
      ...filterProperties,
    },
  },
  response: {
    200: {
      description: "the records, as an attachment",
      content: {
        "text/csv": { schema: { type: "string" } },
        "application/json": { schema: records },
      },
    },
    ...errors,
  },
} as const;

/** `GET /audit-logs/verify`: walks the hash chain (and checks stored checkpoints). */
export const auditVerifySchema = {
  summary: "Verify the audit log's hash chain and its stored checkpoints",
  querystring: {
    type: "object",
    additionalProperties: false,
    properties: {
      chain_id: {
        type: "string",
        enum: ["global"],
        description: "the Python server's chain id: this server keeps one chain, `global`",
      },
      limit: {
        type: "integer",
        minimum: 1,
        maximum: 50_000,
        description:
          "accepted for Python clients; the whole chain is always verified (a prefix proves nothing about the rest)",
      },
    },
  },
  response: {
    200: {
      type: "object",
      required: [
        "ok",
        "checked",
        "chain_id",
        "total",
        "verified",
        "unverified",
        "first_failure_id",
      ],
      properties: {
        ok: { type: "boolean", description: "false when the chain or a checkpoint fails" },
        checked: { type: "integer", description: "chain entries checked" },
        chain_id: { type: "string", enum: ["global"], description: "(Python) the chain: `global`" },
        total: {
          type: "integer",
          description:
            "(Python) entries examined: those verified, plus the failing one (the walk stops at the first failure)",
        },
        verified: {
          type: "integer",
          description: "(Python) entries whose hash and link check out: same as `checked`",
        },
        unverified: {
          type: "integer",
          description:
            "(Python) entries without a hash, skipped: always 0 here, every entry is chained",
        },
        first_failure_id: {
          type: ["string", "null"],
          description:
            "(Python) the first failing entry (`firstBadDecisionId`), else `checkpoint:<id>` of the first failing checkpoint; null exactly when `ok` is true",
        },
        firstBadDecisionId: { type: "string" },
        problem: {
          type: "string",
          enum: [
            "hash_mismatch",
            "broken_link",
            "unexplained_gap",
            "prune_mismatch",
            "unexplained_tombstone",
            "start_moved",
            "head_mismatch",
            "damaged",
          ],
          description: "why the chain fails",
        },
        message: { type: "string", description: "what is wrong, naming the positions" },
        prunes: { type: "integer", description: "chained prune records walked" },
        pruned: { type: "integer", description: "entries those prune records removed" },
        pruneRecords: {
          type: "array",
          description:
            "the last 100 prune records walked, oldest first: who removed what, when and why (as stored, so a forged prune shows here)",
          items: {
            type: "object",
            required: ["seq", "at", "actor", "reason", "removed", "runs", "ranges"],
            properties: {
              seq: { type: "integer", description: "its position in the chain" },
              at: { type: "string", description: "its stored timestamp (ISO 8601)" },
              actor: { type: "string", description: "who it says pruned (not authenticated)" },
              reason: { type: "string", description: "why, as stored" },
              removed: { type: "integer", description: "entries it removed" },
              runs: { type: "integer", description: "runs of consecutive entries it lists" },
              ranges: {
                type: "array",
                description: "the first 20 runs, by first and last seq",
                items: {
                  type: "object",
                  required: ["from", "to"],
                  properties: { from: { type: "integer" }, to: { type: "integer" } },
                },
              },
            },
          },
        },
        pruneRecordsOmitted: {
          type: "integer",
          description: "earlier prune records walked but not listed in pruneRecords",
        },
        checkpoints: checkpointVerifySchema,
      },
    },
    ...errors,
  },
} as const;

const statsBody = {
  type: "object",
  required: [
    "policyId",
    "totalDecisions",
    "allowed",
    "warned",
    "blocked",
    "blockRate",
    "topBlockReasons",
  ],
  properties: {
    policyId: { type: "string" },
    totalDecisions: { type: "integer" },
    allowed: { type: "integer" },
    warned: { type: "integer" },
    blocked: { type: "integer" },
    blockRate: { type: "number", description: "percent, two decimals" },
    topBlockReasons: {
      type: "array",
      items: {
        type: "object",
        required: ["reason", "count"],
        properties: { reason: { type: "string" }, count: { type: "integer" } },
      },
    },
  },
} as const;

const topQuery = {
  type: "object",
  additionalProperties: false,
  properties: { top: { type: "integer", minimum: 0, maximum: 100, default: 5 } },
} as const;

/** `GET /audit/stats`: counts for every policy in the log. */
export const auditStatsAllSchema = {
  summary: "Decision counts and block rate of every policy in the log",
  querystring: topQuery,
  response: {
    200: {
      type: "object",
      required: ["policies"],
      properties: { policies: { type: "array", items: statsBody } },
    },
    ...errors,
  },
} as const;

/** `GET /audit/stats/:policyId`. */
export const auditStatsSchema = {
  summary: "Decision counts, block rate and top block reasons of one policy",
  params: {
    type: "object",
    required: ["policyId"],
    properties: { policyId: name() },
  },
  querystring: topQuery,
  response: { 200: statsBody, ...errors },
} as const;

/** `GET /audit/blocked`. */
export const auditBlockedSchema = {
  summary: "Blocked decisions within a timeframe, newest first",
  querystring: {
    type: "object",
    additionalProperties: false,
    properties: { timeframe: { ...duration, default: "24h" }, limit: limit(1000, 100) },
  },
  response: {
    200: {
      type: "object",
      required: ["timeframe", "records"],
      properties: { timeframe: { type: "string" }, records },
    },
    ...errors,
  },
} as const;

/** `GET /audit/users/:userId/trail`. */
export const auditTrailSchema = {
  summary: "Every decision about one user, newest first",
  params: {
    type: "object",
    required: ["userId"],
    properties: { userId: name() },
  },
  querystring: {
    type: "object",
    additionalProperties: false,
    properties: { limit: limit(1000, 100) },
  },
  response: {
    200: {
      type: "object",
      required: ["userId", "records"],
      properties: { userId: { type: "string" }, records },
    },
    ...errors,
  },
} as const;
