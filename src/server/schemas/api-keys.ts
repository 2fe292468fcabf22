/**
 * Schemas of `/api-keys`.
 *
 * @module
 */

import { API_KEY_SCOPES, type ApiKeyScope, type ApiKeySubject } from "../../api-keys/types.ts";
import { errors } from "./common.ts";

// ---- API keys (only the static token manages them) ----

/**
 * The body of `POST /api-keys`: the native one (`name`, `scopes`, `subject`), or the Python
 * server's (`name`, `description`, `tenant_id`, `org_id`, `scopes`, any of them `null`).
 */
export interface ApiKeyBody {
  readonly name: string;
  /** What the key may do; left out or `null`: {@link DEFAULT_API_KEY_SCOPES}. */
  readonly scopes?: readonly ApiKeyScope[] | null;
  /** Who the key acts for: overrides the user and tenant its contexts claim. */
  readonly subject?: ApiKeySubject;
  /** (Python) A note about the key: accepted, not stored. */
  readonly description?: string | null;
  /** (Python) The tenant the key is for: binds it, the same as `subject.tenantId`. */
  readonly tenant_id?: string | null;
  /** (Python) An organisation: only `null` is accepted, this server has none to bind to. */
  readonly org_id?: string | null;
}

/**
 * The scopes of a key created without `scopes` (as the Python server's body allows): ask
 * for decisions and report provider calls, nothing more. Not `read`: the audit log and the
 * provider-call list are not filtered by a key's bound subject, so reading them is granted
 * only when asked for.
 */
export const DEFAULT_API_KEY_SCOPES: readonly ApiKeyScope[] = ["decide"];

/** A user or tenant id a key is bound to: as sane as an actor id. */
const subjectId = { type: "string", pattern: "^[A-Za-z0-9._:@+=/-]{1,128}$" } as const;

const subjectSchema = {
  type: "object",
  additionalProperties: false,
  properties: { userId: subjectId, tenantId: subjectId },
  description:
    "who the key acts for: the server replaces the userId/user_id and tenantId/tenant_id of every context the key sends with these",
} as const;

const apiKeyOut = {
  type: "object",
  required: ["id", "name", "scopes", "created_at", "revoked_at", "last_used_at"],
  properties: {
    id: { type: "string", description: "the key id: not secret, the start of the key" },
    name: { type: "string" },
    scopes: { type: "array", items: { type: "string" } },
    subject: subjectSchema,
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
    required: ["name"],
    additionalProperties: false,
    properties: {
      name: { type: "string", pattern: "^[A-Za-z0-9._:@+=/-]{1,64}$" },
      scopes: {
        type: ["array", "null"],
        maxItems: API_KEY_SCOPES.length,
        uniqueItems: true,
        items: { type: "string", enum: [...API_KEY_SCOPES] },
        description: "what the key may do; left out or null: `read` and `decide`",
      },
      subject: subjectSchema,
      description: {
        type: ["string", "null"],
        maxLength: 1024,
        description: "(Python) a note about the key: accepted, not stored",
      },
      tenant_id: {
        anyOf: [subjectId, { type: "null" }],
        description: "(Python) binds the key to this tenant, as `subject.tenantId` does",
      },
      org_id: {
        anyOf: [subjectId, { type: "null" }],
        description:
          "(Python) only null is accepted: this server binds keys to a user or tenant, not an organisation (a key narrower than asked cannot be made, so it is refused rather than made broader)",
      },
    },
  },
  response: {
    201: {
      ...apiKeyOut,
      required: [...apiKeyOut.required, "key", "token", "token_prefix"],
      properties: {
        ...apiKeyOut.properties,
        key: { type: "string", description: "the key (hxk_…): store it now, it is not kept" },
        token: { type: "string", description: "(Python) the key again, under its Python name" },
        token_prefix: {
          type: "string",
          description: "(Python) the key's non-secret prefix: the same as `id`",
        },
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
