/**
 * JSON Schemas of every route's body, parameters, query and responses, in one place, so
 * the validator, the serializer and the OpenAPI document all read the same definitions.
 * The TypeScript shapes beside them are what handlers see after validation.
 *
 * @module
 */

import type { AuditOutcome } from "../audit/types.ts";

/** The most characters `POST /echo` takes in `message`. */
export const ECHO_MAX_CHARS = 10_000;

/** Policy ids, user ids and similar names in paths and bodies. */
const name = (maxLength = 256) => ({ type: "string", minLength: 1, maxLength }) as const;

/** A JSON object of any keys (contexts, metadata). */
const anyObject = { type: "object", additionalProperties: true } as const;

/** The body of every error answer. */
export const errorSchema = {
  type: "object",
  required: ["statusCode", "error", "code", "message", "requestId"],
  properties: {
    statusCode: { type: "integer", description: "the HTTP status, repeated" },
    error: { type: "string", description: "the status's name, e.g. `Not Found`" },
    code: {
      type: "string",
      description: "a stable, machine-readable cause, e.g. `unknown_policy`, `invalid_body`",
    },
    message: { type: "string", description: "what went wrong, for a person" },
    requestId: { type: "string", description: "the request's id (also in `X-Request-Id`)" },
    field: {
      type: "string",
      description: "for a validation error: the offending field, e.g. `body.context`",
    },
    knownPolicies: {
      type: "array",
      items: { type: "string" },
      description: "for `unknown_policy`: the ids the server has",
    },
    status: { type: "string", description: "for `not_pending`: where the request stands" },
    ruleIds: {
      type: "array",
      items: { type: "string" },
      description: "for `unknown_rules`: the rule ids that do not exist",
    },
    requiredScope: {
      type: "string",
      description: "for `insufficient_scope`: the scope the route needs",
    },
  },
} as const;

// Public routes say so to the OpenAPI document (`security: []` overrides the document's
// bearer requirement); the route's `config.public` is what lets them through the server.

/** Error answers, for a route's `response` map. */
const errors = { "4xx": errorSchema, "5xx": errorSchema } as const;

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

/**
 * The body of `POST /authorize`: the native shape (`policyId`, `context`) decides one YAML
 * policy; without `policyId` it is the Python shape (`action`, `resource`, `context`),
 * decided by the API-defined policies.
 */
export interface AuthorizeBody {
  readonly policyId?: string;
  /** Python shape: what the caller wants to do. @default "request" */
  readonly action?: string;
  /** Python shape: what it wants to do it to. */
  readonly resource?: Readonly<Record<string, unknown>>;
  readonly context?: Readonly<Record<string, unknown>>;
}

/** What `POST /authorize` answers, for an allow and a deny alike. */
export interface AuthorizeReply {
  readonly allowed: boolean;
  /** `ALLOW` for allow and warn, `DENY` for block and require_confirmation. */
  readonly decision: "ALLOW" | "DENY";
  readonly action: "allow" | "warn" | "block" | "require_confirmation";
  readonly reason: string;
  readonly policies: readonly string[];
  readonly decisionId: string;
  readonly matchedRules: readonly string[];
  readonly timestamp: string;
}

/** `POST /authorize`: a decision exactly as `guardian.evaluate` gives it, recorded. */
export const authorizeSchema = {
  summary: "Decide whether a call may run (consumes quota like a guarded call)",
  body: {
    type: "object",
    additionalProperties: false,
    properties: {
      policyId: {
        ...name(),
        description: "the YAML policy to decide; without it the API-defined policies decide",
      },
      action: {
        ...name(),
        description: "Python shape: the action asked for (default `request`)",
      },
      resource: { ...anyObject, description: "Python shape: what the action is on" },
      context: { ...anyObject, description: "the call's context, as for guardian.evaluate" },
    },
  },
  response: {
    200: {
      type: "object",
      required: [
        "allowed",
        "decision",
        "action",
        "reason",
        "policies",
        "decisionId",
        "matchedRules",
        "timestamp",
      ],
      properties: {
        allowed: { type: "boolean" },
        decision: { type: "string", enum: ["ALLOW", "DENY"] },
        action: { type: "string", enum: ["allow", "warn", "block", "require_confirmation"] },
        reason: { type: "string" },
        policies: { type: "array", items: { type: "string" } },
        decisionId: { type: "string" },
        matchedRules: { type: "array", items: { type: "string" } },
        timestamp: { type: "string", format: "date-time" },
      },
    },
    ...errors,
  },
} as const;

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

const records = { type: "array", items: recordSchema } as const;

const limit = (max: number, dflt: number) =>
  ({ type: "integer", minimum: 1, maximum: max, default: dflt }) as const;

/** `since`/`until`: an ISO date or time, or a duration back from now. */
const instant = {
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

/** The query of `GET /audit-logs`. */
export interface AuditLogsQuery {
  readonly policy_id?: string;
  readonly user_id?: string;
  readonly decision?: AuditOutcome;
  readonly since?: string;
  readonly until?: string;
  readonly limit: number;
  readonly offset: number;
}

/** `GET /audit-logs`: decisions matching the filters, newest first. */
export const auditLogsSchema = {
  summary: "Audit records, newest first",
  querystring: {
    type: "object",
    additionalProperties: false,
    properties: {
      policy_id: name(),
      user_id: name(),
      decision: { type: "string", enum: ["allowed", "warned", "blocked"] },
      since: instant,
      until: instant,
      limit: limit(1000, 50),
      offset: { type: "integer", minimum: 0, maximum: 10_000_000, default: 0 },
    },
  },
  response: {
    200: {
      type: "object",
      required: ["records", "limit", "offset", "nextOffset"],
      properties: {
        records,
        limit: { type: "integer" },
        offset: { type: "integer" },
        nextOffset: {
          type: ["integer", "null"],
          description: "the offset of the next page, or null on the last one",
        },
      },
    },
    ...errors,
  },
} as const;

/** `GET /audit-logs/verify`: walks the hash chain. */
export const auditVerifySchema = {
  summary: "Verify the audit log's hash chain",
  response: {
    200: {
      type: "object",
      required: ["ok", "checked"],
      properties: {
        ok: { type: "boolean" },
        checked: { type: "integer" },
        firstBadDecisionId: { type: "string" },
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

/** A confirmation token in a path: the id, a dot, the secret (or a signed token). */
const tokenParams = {
  type: "object",
  required: ["token"],
  properties: {
    token: {
      type: "string",
      minLength: 1,
      maxLength: 4096,
      pattern: "^[A-Za-z0-9._~-]+$",
      description: "the confirmation token (it is a secret: the server never logs it)",
    },
  },
} as const;

/** A confirmation request as the API shows it (never the token's secret). */
const approvalSchema = {
  type: "object",
  required: ["id", "policyId", "fingerprint", "status", "createdAtMs", "expiresAtMs"],
  properties: {
    id: { type: "string" },
    policyId: { type: "string" },
    fingerprint: { type: "string" },
    status: { type: "string", enum: ["pending", "approved", "denied", "consumed", "expired"] },
    requestedBy: { type: "string" },
    reason: { type: "string" },
    operation: { type: "string" },
    metadata: anyObject,
    createdAtMs: { type: "integer" },
    expiresAtMs: { type: "integer" },
    decidedBy: { type: "string" },
    decidedAtMs: { type: "integer" },
    decisionReason: { type: "string" },
  },
} as const;

/** `GET /approvals/:token`. */
export const approvalGetSchema = {
  summary: "Where a confirmation request stands",
  params: tokenParams,
  response: { 200: approvalSchema, ...errors },
} as const;

/** The body of `POST /approvals/:token/approve` and `/deny` (optional). */
export interface ApprovalBody {
  /** Who decides, when the caller's credential may name someone (the static token may). */
  readonly by?: string;
  readonly reason?: string;
}

/** `POST /approvals/:token/approve` and `/deny`. */
export const approvalDecideSchema = {
  params: tokenParams,
  body: {
    type: "object",
    additionalProperties: false,
    properties: {
      by: { ...name(128), description: "the approver, when the credential allows naming one" },
      reason: { type: "string", maxLength: 2000 },
    },
  },
  response: { 200: approvalSchema, ...errors },
} as const;

/** `GET /metrics`: Prometheus text, not JSON, so no response schema; left out of the OpenAPI document. */
export const metricsSchema = { summary: "Prometheus metrics", hide: true } as const;

/** `GET /openapi.json`: the document itself, left out of it. */
export const openapiSchema = { summary: "The OpenAPI document", hide: true, security: [] } as const;

// ---- API-defined rules and policies (Python field names on the wire) ----

/** The body of `POST /rules`, `PUT /rules/:id` and (every field optional) `PATCH /rules/:id`. */
export interface RuleBody {
  readonly name?: string;
  readonly description?: string | null;
  readonly rule_type?: string;
  readonly priority?: number;
  readonly enabled?: boolean;
  readonly condition?: Readonly<Record<string, unknown>>;
}

/** The body of `POST /policies`, `PUT /policies/:id` and `PATCH /policies/:id`. */
export interface PolicyBody {
  readonly name?: string;
  readonly description?: string | null;
  readonly scope?: string;
  readonly scope_value?: string | null;
  readonly failure_mode?: string;
  readonly enabled?: boolean;
  readonly rule_ids?: readonly string[];
}

const idParams = {
  type: "object",
  required: ["id"],
  properties: { id: name() },
} as const;

const ruleProperties = {
  name: name(),
  description: { type: ["string", "null"], maxLength: 4000 },
  rule_type: {
    ...name(64),
    description: "CONDITION, PERMISSION, CONSTRAINT or COMPOSITE (not used in evaluation)",
  },
  priority: {
    type: "integer",
    minimum: -1_000_000,
    maximum: 1_000_000,
    description: "lower runs first",
  },
  enabled: { type: "boolean" },
  condition: {
    ...anyObject,
    description: "a `when:` condition: {field, operator (or op), value}, all/any/not",
  },
} as const;

const ruleOut = {
  type: "object",
  required: [
    "id",
    "name",
    "description",
    "rule_type",
    "priority",
    "enabled",
    "condition",
    "created_at",
    "updated_at",
  ],
  properties: {
    id: { type: "string" },
    name: { type: "string" },
    description: { type: ["string", "null"] },
    rule_type: { type: "string" },
    priority: { type: "integer" },
    enabled: { type: "boolean" },
    condition: anyObject,
    created_at: { type: "string", format: "date-time" },
    updated_at: { type: "string", format: "date-time" },
  },
} as const;

const ruleWrite = (summary: string, required: readonly string[]) =>
  ({
    summary,
    body: {
      type: "object",
      required,
      additionalProperties: false,
      properties: ruleProperties,
    },
    response: { 200: ruleOut, ...errors },
  }) as const;

/** `POST /rules`. */
export const ruleCreateSchema = ruleWrite("Create a rule", ["name", "rule_type", "condition"]);
/** `PUT /rules/:id`: every field replaced. */
export const ruleReplaceSchema = {
  ...ruleWrite("Replace a rule", ["name", "rule_type", "condition"]),
  params: idParams,
} as const;
/** `PATCH /rules/:id`: the fields given. */
export const rulePatchSchema = { ...ruleWrite("Change a rule", []), params: idParams } as const;
/** `GET /rules`. */
export const ruleListSchema = {
  summary: "Every API-defined rule, by priority",
  response: { 200: { type: "array", items: ruleOut }, ...errors },
} as const;
/** `GET /rules/:id`. */
export const ruleGetSchema = {
  summary: "One rule",
  params: idParams,
  response: { 200: ruleOut, ...errors },
} as const;
/** `DELETE /rules/:id`. */
export const ruleDeleteSchema = {
  summary: "Delete a rule (policies naming it then fail to evaluate it)",
  params: idParams,
  response: { 204: { type: "null" }, ...errors },
} as const;

const policyProperties = {
  name: name(),
  description: { type: ["string", "null"], maxLength: 4000 },
  scope: { type: "string", maxLength: 64, description: "GLOBAL, ORGANIZATION, TEAM or USER" },
  scope_value: {
    type: ["string", "null"],
    maxLength: 256,
    description: "the organization, team or user id the scope names",
  },
  failure_mode: { type: "string", maxLength: 64, description: "FAIL_CLOSED or FAIL_OPEN" },
  enabled: { type: "boolean" },
  rule_ids: { type: "array", maxItems: 1000, items: name() },
} as const;

/** A policy as `/policies` shows it: API-defined ones in full, YAML ones read-only. */
const policyOut = {
  type: "object",
  required: ["id", "name", "source", "readOnly", "enabled"],
  properties: {
    id: { type: "string" },
    name: { type: "string" },
    description: { type: ["string", "null"] },
    scope: { type: "string" },
    scope_value: { type: ["string", "null"] },
    failure_mode: { type: "string" },
    enabled: { type: "boolean" },
    rule_ids: { type: "array", items: { type: "string" } },
    created_at: { type: "string", format: "date-time" },
    updated_at: { type: "string", format: "date-time" },
    source: { type: "string", enum: ["api", "yaml"] },
    readOnly: { type: "boolean" },
    rules: { type: "integer", description: "YAML policies: how many rules" },
  },
} as const;

const policyWrite = (summary: string, required: readonly string[]) =>
  ({
    summary,
    body: {
      type: "object",
      required,
      additionalProperties: false,
      properties: policyProperties,
    },
    response: { 200: policyOut, ...errors },
  }) as const;

/** `POST /policies`. */
export const policyCreateSchema = policyWrite("Create a policy", ["name"]);
/** `PUT /policies/:id`: every field replaced (omitted ones take their defaults). */
export const policyReplaceSchema = {
  ...policyWrite("Replace a policy", ["name"]),
  params: idParams,
} as const;
/** `PATCH /policies/:id`: the fields given. */
export const policyPatchSchema = {
  ...policyWrite("Change a policy", []),
  params: idParams,
} as const;
/** `GET /policies`. */
export const policyListSchema = {
  summary: "The YAML policies (read-only) and the API-defined ones",
  response: { 200: { type: "array", items: policyOut }, ...errors },
} as const;
/** `GET /policies/:id`. */
export const policyGetSchema = {
  summary: "One policy",
  params: idParams,
  response: { 200: policyOut, ...errors },
} as const;
/** `DELETE /policies/:id`. */
export const policyDeleteSchema = {
  summary: "Delete an API-defined policy",
  params: idParams,
  response: { 204: { type: "null" }, ...errors },
} as const;
/** `POST /policies/reload`. */
export const policyReloadSchema = {
  summary: "Re-read the policy file the server was started with",
  response: {
    200: {
      type: "object",
      required: ["reloaded", "policies"],
      properties: {
        reloaded: { type: "boolean" },
        policies: { type: "array", items: { type: "string" } },
      },
    },
    ...errors,
  },
} as const;

// ---- API keys (only the static token manages them) ----

/** The body of `POST /api-keys`. */
export interface ApiKeyBody {
  readonly name: string;
  readonly scopes: readonly ("read" | "write" | "admin" | "*")[];
}

const apiKeyOut = {
  type: "object",
  required: ["id", "name", "scopes", "created_at", "revoked_at", "last_used_at"],
  properties: {
    id: { type: "string", description: "the key id: not secret, the start of the key" },
    name: { type: "string" },
    scopes: { type: "array", items: { type: "string" } },
    created_at: { type: "string", format: "date-time" },
    revoked_at: { type: ["string", "null"], format: "date-time" },
    last_used_at: { type: ["string", "null"], format: "date-time" },
  },
} as const;

const apiKeyIdParams = {
  type: "object",
  required: ["id"],
  properties: { id: { type: "string", pattern: "^[A-Za-z0-9_-]{1,64}$" } },
} as const;

/** `POST /api-keys`: the key itself is in this answer only. */
export const apiKeyCreateSchema = {
  summary: "Create an API key (its secret is shown once, in this answer)",
  body: {
    type: "object",
    required: ["name", "scopes"],
    additionalProperties: false,
    properties: {
      name: { type: "string", pattern: "^[A-Za-z0-9._:@+=/-]{1,64}$" },
      scopes: {
        type: "array",
        maxItems: 4,
        uniqueItems: true,
        items: { type: "string", enum: ["read", "write", "admin", "*"] },
      },
    },
  },
  response: {
    201: {
      ...apiKeyOut,
      required: [...apiKeyOut.required, "key"],
      properties: {
        ...apiKeyOut.properties,
        key: { type: "string", description: "the key (hxk_…): store it now, it is not kept" },
      },
    },
    ...errors,
  },
} as const;

/** `GET /api-keys`: never a secret nor a hash. */
export const apiKeyListSchema = {
  summary: "Every API key (without secrets)",
  response: { 200: { type: "array", items: apiKeyOut }, ...errors },
} as const;

/** `DELETE /api-keys/:id` and `POST /api-keys/:id/revoke`. */
export const apiKeyRevokeSchema = {
  summary: "Revoke an API key",
  params: apiKeyIdParams,
  response: { 200: apiKeyOut, ...errors },
} as const;

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
      required: ["recorded", "decisionId", "settled", "unsettled"],
      properties: {
        recorded: { type: "boolean" },
        decisionId: { type: "string" },
        settled: {
          type: "array",
          description: "policies whose USD budgets the cost was added to",
          items: {
            type: "object",
            required: ["policyId", "spentUsd"],
            properties: { policyId: { type: "string" }, spentUsd: { type: "number" } },
          },
        },
        unsettled: {
          type: "array",
          description:
            "matching policies that refused the report (a budget already spent, a rule that blocks)",
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

/** `GET /events/provider-calls`: reported provider calls, newest first. */
export const providerCallListSchema = {
  summary: "Reported provider calls, newest first",
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
      type: "object",
      required: ["records", "limit", "offset", "nextOffset"],
      properties: {
        records,
        limit: { type: "integer" },
        offset: { type: "integer" },
        nextOffset: { type: ["integer", "null"] },
      },
    },
    ...errors,
  },
} as const;
