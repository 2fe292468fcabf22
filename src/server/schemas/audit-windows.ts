/**
 * Schemas of the audit log's window counts: `GET /audit/timeseries` and
 * `GET /audit/summary` (what the console's overview reads).
 *
 * @module
 */

import { instant } from "./audit.ts";
import { errors, name } from "./common.ts";

/** A bucket length the console offers. */
export type BucketName = "1m" | "5m" | "15m" | "1h" | "1d";

/** The query of `GET /audit/timeseries`. */
export interface AuditTimeseriesQueryString {
  readonly since: string;
  readonly until?: string;
  readonly bucket?: BucketName;
  readonly policy_id?: string;
}

/** `GET /audit/timeseries`: decisions per time bucket, counted by the database. */
export const auditTimeseriesSchema = {
  summary: "Decisions per time bucket and outcome (zero-filled)",
  description:
    "Counts the decisions (not confirmation events nor provider calls) of a window per bucket. Buckets are aligned to the epoch in UTC; without `bucket`, the shortest of 1m, 5m, 15m, 1h, 1d that gives at most 200 points. More than 2000 buckets is a 400 `invalid_query`.",
  querystring: {
    type: "object",
    additionalProperties: false,
    properties: {
      since: { ...instant, default: "24h" },
      until: { ...instant, description: `${instant.description}; default now` },
      bucket: { type: "string", enum: ["1m", "5m", "15m", "1h", "1d"] },
      policy_id: name(),
    },
  },
  response: {
    200: {
      type: "object",
      required: ["since", "until", "bucketMs", "points"],
      properties: {
        since: { type: "string", format: "date-time" },
        until: { type: "string", format: "date-time" },
        bucketMs: { type: "integer", description: "each bucket's length in ms" },
        points: {
          type: "array",
          description: "every bucket the window touches, oldest first",
          items: {
            type: "object",
            required: ["t", "allowed", "warned", "blocked"],
            properties: {
              t: { type: "string", format: "date-time", description: "the bucket's start" },
              allowed: { type: "integer" },
              warned: { type: "integer" },
              blocked: { type: "integer" },
            },
          },
        },
      },
    },
    ...errors,
  },
} as const;

/** The query of `GET /audit/summary`. */
export interface AuditSummaryQuery {
  readonly since: string;
  readonly until?: string;
  readonly policy_id?: string;
  readonly top: number;
}

const countsProperties = {
  total: { type: "integer" },
  allowed: { type: "integer" },
  warned: { type: "integer" },
  blocked: { type: "integer" },
} as const;

/** `GET /audit/summary`: a window's decisions, overall and per policy. */
export const auditSummarySchema = {
  summary: "Decision counts of a window, overall and per policy, with top block reasons",
  description:
    "Counts the decisions (not confirmation events nor provider calls) recorded at or after `since` and before `until`.",
  querystring: {
    type: "object",
    additionalProperties: false,
    properties: {
      since: { ...instant, default: "24h" },
      until: { ...instant, description: `${instant.description}; default now` },
      policy_id: name(),
      top: { type: "integer", minimum: 0, maximum: 100, default: 5 },
    },
  },
  response: {
    200: {
      type: "object",
      required: [
        "since",
        "until",
        "total",
        "allowed",
        "warned",
        "blocked",
        "blockRate",
        "topBlockReasons",
        "policies",
      ],
      properties: {
        since: { type: "string", format: "date-time" },
        until: { type: "string", format: "date-time" },
        ...countsProperties,
        blockRate: { type: "number", description: "percent, two decimals" },
        topBlockReasons: {
          type: "array",
          items: {
            type: "object",
            required: ["reason", "count"],
            properties: { reason: { type: "string" }, count: { type: "integer" } },
          },
        },
        policies: {
          type: "array",
          description: "per policy with decisions in the window, by policy id",
          items: {
            type: "object",
            required: ["policyId", "total", "allowed", "warned", "blocked"],
            properties: { policyId: { type: "string" }, ...countsProperties },
          },
        },
      },
    },
    ...errors,
  },
} as const;
