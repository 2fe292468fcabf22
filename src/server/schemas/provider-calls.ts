/**
 * Schemas of `/events/provider-calls`.
 *
 * @module
 */

import { records } from "./audit.ts";
import { anyObject, errors, limit, name } from "./common.ts";

/** The body of `POST /events/provider-calls` (the Python server's field names). */
export interface ProviderCallBody {
  readonly resource: string;
  readonly action?: string;
  readonly ok?: boolean;
  readonly status_code?: number;
  readonly latency_ms?: number;
  readonly model?: string;
  readonly tokens_in?: number;
  readonly tokens_out?: number;
  readonly cost_usd?: number;
  readonly error_type?: string;
  readonly error_message?: string;
  readonly metadata?: Record<string, unknown>;
}

const nonNegative = { type: "number", minimum: 0, maximum: 1e12 } as const;
const count = { type: "integer", minimum: 0, maximum: 1e12 } as const;

/** `POST /events/provider-calls`: records a provider call and settles its cost. */
export const providerCallCreateSchema = {
  summary: "Record a provider call and add its cost to the matching budgets",
  body: {
    type: "object",
    required: ["resource"],
    additionalProperties: false,
    properties: {
      resource: name(),
      action: name(),
      ok: { type: "boolean" },
      status_code: { type: "integer", minimum: 100, maximum: 599 },
      latency_ms: nonNegative,
      model: name(),
      tokens_in: count,
      tokens_out: count,
      cost_usd: nonNegative,
      error_type: name(),
      error_message: { type: "string", maxLength: 4096 },
      metadata: anyObject,
    },
  },
  response: {
    200: {
      type: "object",
      required: [
        "id",
        "resource",
        "action",
        "ok",
        "recorded",
        "decisionId",
        "settled",
        "unsettled",
      ],
      properties: {
        id: {
          type: "string",
          description: "the event's id (the Python server's field): the same value as `decisionId`",
        },
        resource: { type: "string", description: "the reported resource, as sent" },
        action: {
          type: ["string", "null"],
          description: "the reported action, as sent (`null` when the body had none)",
        },
        ok: {
          type: "boolean",
          description:
            "the reported outcome, as sent (`true` when the body had none, as in Python)",
        },
        recorded: { type: "boolean" },
        decisionId: { type: "string" },
        settled: {
          type: "array",
          description: "policies whose budgets the cost (USD) and tokens were added to",
          items: {
            type: "object",
            required: ["policyId", "spentUsd", "tokens"],
            properties: {
              policyId: { type: "string" },
              spentUsd: { type: "number" },
              tokens: { type: "integer" },
            },
          },
        },
        unsettled: {
          type: "array",
          description:
            "policies with a budget on the resource that counted nothing (no budget rule applies to the call's context)",
          items: {
            type: "object",
            required: ["policyId", "reason"],
            properties: { policyId: { type: "string" }, reason: { type: "string" } },
          },
        },
      },
    },
    ...errors,
  },
} as const;

/** The query of `GET /events/provider-calls`. */
export interface ProviderCallsQuery {
  readonly resource?: string;
  readonly limit: number;
  readonly offset: number;
}

/**
 * `GET /events/provider-calls`: reported provider calls, newest first, as a bare JSON list
 * (what the Python server answers and its CLI counts); the next page is in the `Link`
 * header (`rel="next"`).
 */
export const providerCallListSchema = {
  summary: "Reported provider calls, newest first (a list; the next page in the Link header)",
  querystring: {
    type: "object",
    additionalProperties: false,
    properties: {
      resource: name(),
      limit: limit(1000, 50),
      offset: { type: "integer", minimum: 0, maximum: 10_000_000, default: 0 },
    },
  },
  response: {
    200: {
      ...records,
      description:
        'the records, newest first; a full page carries `Link: </events/provider-calls?limit=L&offset=N>; rel="next"`',
    },
    ...errors,
  },
} as const;
