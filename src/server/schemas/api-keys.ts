/**
 * Schemas of `/api-keys`.
 *
 * @module
 */

import {
  API_KEY_SCOPES,
  type ApiKeyScope,
  type ApiKeySubject,
} from "../../audit/api-keys/types.ts";
import { errors } from "./common.ts";

// ---- API keys (only the static token manages them) ----

/** The body of `POST /api-keys`. */
export interface ApiKeyBody {
  readonly name: string;
  readonly scopes: readonly ApiKeyScope[];
  /** Who the key acts for: overrides the user and tenant its contexts claim. */
  readonly subject?: ApiKeySubject;
}

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
    required: ["name", "scopes"],
    additionalProperties: false,
    properties: {
      name: { type: "string", pattern: "^[A-Za-z0-9._:@+=/-]{1,64}$" },
      scopes: {
        type: "array",
        maxItems: API_KEY_SCOPES.length,
        uniqueItems: true,
        items: { type: "string", enum: [...API_KEY_SCOPES] },
      },
      subject: subjectSchema,
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
