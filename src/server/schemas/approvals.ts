/**
 * Schemas of the confirmation routes: `GET /approvals` and `/approvals/:token`.
 *
 * @module
 */

import { anyObject, errors, limit, name } from "./common.ts";

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
      description:
        "the confirmation token (it is a secret: the server never logs it), or the request's id (the part before the dot, as GET /approvals lists it)",
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

/** The query of `GET /approvals`. */
export interface ApprovalListQuery {
  readonly status: "pending" | "approved" | "denied" | "consumed" | "expired" | "all";
  readonly limit: number;
}

/** `GET /approvals`: the approvals inbox. */
export const approvalListSchema = {
  summary: "List confirmation requests, newest first (never their tokens)",
  description:
    "Needs the `approve` scope. A key bound to a subject is refused (403 `bound_key_inbox`): the inbox holds every tenant's requests.",
  querystring: {
    type: "object",
    additionalProperties: false,
    properties: {
      status: {
        type: "string",
        enum: ["pending", "approved", "denied", "consumed", "expired", "all"],
        default: "pending",
        description:
          "only requests in this status (`expired`: pending or approved, past expiresAtMs)",
      },
      limit: limit(500, 100),
    },
  },
  response: {
    200: {
      type: "object",
      required: ["requests"],
      properties: { requests: { type: "array", items: approvalSchema } },
    },
    ...errors,
  },
} as const;

/** `GET /approvals/:token`. */
export const approvalGetSchema = {
  summary: "Where a confirmation request stands",
  description:
    "By its token: `read` or `approve`. By its id (as the inbox lists it): `approve`, and not with a key bound to a subject (403 `bound_key_inbox`).",
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
  description:
    "Needs `approve`. `:token` is the token or the request's id; by its id, not with a key bound to a subject (403 `bound_key_inbox`): name the request by its token.",
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
