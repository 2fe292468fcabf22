/**
 * Schema of `GET /audit/budgets`: every budget's spend this period, from the audit log,
 * with its rate and projected run-out.
 *
 * @module
 */

import { errors, limit, name } from "./common.ts";

/** The query of `GET /audit/budgets`. */
export interface AuditBudgetsQuery {
  readonly policy_id?: string;
  readonly limit: number;
}

const budgetSchema = {
  type: "object",
  required: [
    "policyId",
    "ruleId",
    "ruleName",
    "key",
    "per",
    "unit",
    "period",
    "spent",
    "limit",
    "periodStart",
    "periodEnd",
    "ratePerHour",
    "projectedRunOut",
    "exhausted",
  ],
  properties: {
    policyId: { type: "string" },
    ruleId: { type: "string", description: "`policyId/name`" },
    ruleName: { type: "string", description: "the rule's name within its policy" },
    key: { type: "string", description: "the budget's key in the file, e.g. `daily_budget`" },
    per: {
      type: ["string", "null"],
      description: "the `per` value (a user id…), or null for a budget the rule's calls share",
    },
    unit: { type: "string", enum: ["usd", "tokens"] },
    period: { type: "string", enum: ["hour", "day", "month"] },
    spent: { type: "number", description: "spent this period: dollars or tokens" },
    limit: { type: "number", description: "the limit calls are refused at, in the same unit" },
    periodStart: { type: "string", format: "date-time" },
    periodEnd: { type: "string", format: "date-time" },
    ratePerHour: { type: "number", description: "spent per hour of the period so far" },
    projectedRunOut: {
      type: ["string", "null"],
      format: "date-time",
      description:
        "when the limit is reached at the current rate; null when not this period (in the past when exhausted)",
    },
    exhausted: { type: "boolean", description: "spent >= limit" },
  },
} as const;

/** `GET /audit/budgets`. */
export const auditBudgetsSchema = {
  summary: "Budgets: spent this period, limit and projected run-out",
  description:
    "For every USD and token budget of the loaded policy file: what its current period has spent, counted from the audit log (recorded decisions re-decided at their times with fresh counters, and reported provider calls counted as the server counted them), its hourly rate, and when it runs out at that rate. Per `per` value, the biggest spenders first, at most `limit` per budget (the rest counted in `truncated`). API-defined policies have no budgets. The answer is reused for up to 10 s per `limit` (`computedAt` says when it was computed). 404 `audit_disabled` without an audit log.",
  querystring: {
    type: "object",
    additionalProperties: false,
    properties: {
      policy_id: { ...name(), description: "only this policy's budgets" },
      limit: { ...limit(500, 50), description: "per-values listed per budget" },
    },
  },
  response: {
    200: {
      type: "object",
      required: ["now", "computedAt", "since", "budgets", "truncated"],
      properties: {
        now: { type: "string", format: "date-time" },
        computedAt: {
          type: "string",
          format: "date-time",
          description:
            "when this answer was computed: the server reuses it for up to 10 s (per `limit`), so it may be that old",
        },
        since: {
          type: ["string", "null"],
          format: "date-time",
          description: "the earliest current period start: records from here on were counted",
        },
        counted: {
          type: "object",
          properties: {
            decisions: { type: "integer" },
            providerCalls: { type: "integer" },
          },
        },
        budgets: { type: "array", items: budgetSchema },
        truncated: {
          type: "array",
          description: "budgets with more per-values than `limit`: how many were left out",
          items: {
            type: "object",
            required: ["policyId", "ruleId", "key", "omitted"],
            properties: {
              policyId: { type: "string" },
              ruleId: { type: "string" },
              key: { type: "string" },
              omitted: { type: "integer" },
            },
          },
        },
      },
    },
    ...errors,
  },
} as const;
