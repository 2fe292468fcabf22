/**
 * Schemas of the service's own routes: `GET /`, `/health`, `POST /echo`, `/metrics` and
 * `/openapi.json`.
 *
 * @module
 */

import { errorSchema, errors } from "./common.ts";

/** The most characters `POST /echo` takes in `message`. */
export const ECHO_MAX_CHARS = 10_000;

// Public routes say so to the OpenAPI document (`security: []` overrides the document's
// bearer requirement); the route's `config.public` is what lets them through the server.

/** `GET /`. */
export const rootSchema = {
  summary: "Service name and version",
  security: [],
  response: {
    200: {
      type: "object",
      required: ["name", "version"],
      properties: { name: { type: "string" }, version: { type: "string" } },
    },
    ...errors,
  },
} as const;

/** What `GET /health` answers. */
export interface HealthReply {
  /** `ok` when every backend the server needs answers, else `unavailable` (with status 503). */
  readonly status: "ok" | "unavailable";
  readonly version: string;
  /** The audit store: `ok`, `error`, or `disabled` when the server keeps no audit log. */
  readonly database: "ok" | "error" | "disabled";
  /** The state store (rate-limit and budget counters): `ok` or `error`. */
  readonly state: "ok" | "error";
  /** Which backends these are (`sqlite`, `postgres`, `memory`, `redis`, …), never where. */
  readonly backends: { readonly database: string; readonly state: string };
}

const healthBody = {
  type: "object",
  required: ["status", "version", "database", "state", "backends"],
  properties: {
    status: { type: "string", enum: ["ok", "unavailable"] },
    version: { type: "string" },
    database: { type: "string", enum: ["ok", "error", "disabled"] },
    state: { type: "string", enum: ["ok", "error"] },
    backends: {
      type: "object",
      required: ["database", "state"],
      properties: { database: { type: "string" }, state: { type: "string" } },
    },
  },
} as const;

/** `GET /health`: 200 when healthy, 503 (same body) when a backend is down. */
export const healthSchema = {
  summary: "Liveness and the backends' health",
  security: [],
  response: { 200: healthBody, 503: healthBody, "4xx": errorSchema },
} as const;

/** The body of `POST /echo`. */
export interface EchoBody {
  readonly message: string;
  readonly metadata?: Readonly<Record<string, unknown>> | null;
}

/** `POST /echo`: the message and metadata back, for smoke tests of a deployment. */
export const echoSchema = {
  summary: "Echo a message (public, for smoke tests)",
  security: [],
  body: {
    type: "object",
    required: ["message"],
    additionalProperties: false,
    properties: {
      message: { type: "string", maxLength: ECHO_MAX_CHARS },
      metadata: { type: ["object", "null"], additionalProperties: true },
    },
  },
  response: {
    200: {
      type: "object",
      required: ["ok", "message", "metadata"],
      properties: {
        ok: { type: "boolean" },
        message: { type: "string" },
        metadata: { type: ["object", "null"], additionalProperties: true },
      },
    },
    ...errors,
  },
} as const;

/** `GET /metrics`: Prometheus text, not JSON, so no response schema; left out of the OpenAPI document. */
export const metricsSchema = { summary: "Prometheus metrics", hide: true } as const;

/** `GET /openapi.json`: the document itself, left out of it. */
export const openapiSchema = { summary: "The OpenAPI document", hide: true, security: [] } as const;
