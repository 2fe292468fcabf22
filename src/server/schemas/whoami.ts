/**
 * Schema of `GET /whoami`: who the caller is, and what the server offers.
 *
 * @module
 */

import { errors } from "./common.ts";

/** What `GET /whoami` answers. */
export interface WhoamiReply {
  readonly kind: "api-token" | "api-key" | "anonymous";
  readonly actorId: string;
  /** The route scopes the caller holds (`read`, `decide`, `approve`, `policy`, `admin`, `token`). */
  readonly scopes: readonly string[];
  /**
   * The user and tenant the caller's API key is bound to, when it is (its contexts are
   * decided for them, whatever they claim); absent for an unbound caller.
   */
  readonly subject?: { readonly userId?: string; readonly tenantId?: string };
  /** Which parts the server has (a console shows only those). */
  readonly features: {
    readonly audit: boolean;
    readonly approvals: boolean;
    readonly apiPolicies: boolean;
    readonly checkpoints: boolean;
    readonly apiKeys: boolean;
    readonly ui: boolean;
  };
}

const flag = { type: "boolean" } as const;

/** `GET /whoami`. */
export const whoamiSchema = {
  summary: "The caller: how it authenticated, who it acts as, its scopes; the server's features",
  response: {
    200: {
      type: "object",
      required: ["kind", "actorId", "scopes", "features"],
      properties: {
        kind: { type: "string", enum: ["api-token", "api-key", "anonymous"] },
        actorId: { type: "string" },
        scopes: {
          type: "array",
          items: {
            type: "string",
            enum: ["read", "decide", "approve", "policy", "admin", "token"],
          },
          description: "the route scopes the caller holds (the static token holds all)",
        },
        subject: {
          type: "object",
          additionalProperties: false,
          properties: { userId: { type: "string" }, tenantId: { type: "string" } },
          description:
            "the user and tenant the caller's API key is bound to (absent for an unbound caller)",
        },
        features: {
          type: "object",
          required: ["audit", "approvals", "apiPolicies", "checkpoints", "apiKeys", "ui"],
          properties: {
            audit: { ...flag, description: "an audit log (`/audit-logs`, `/audit/…`)" },
            approvals: { ...flag, description: "a confirmation store (`/approvals…`)" },
            apiPolicies: { ...flag, description: "rules and policies made over the API" },
            checkpoints: { ...flag, description: "signed audit checkpoints" },
            apiKeys: { ...flag, description: "API key administration (`/api-keys`)" },
            ui: { ...flag, description: "the console at `/ui`" },
          },
        },
      },
    },
    ...errors,
  },
} as const;
