/**
 * `GET /whoami`: the caller as the server sees it, and the server's features (what a
 * console should show).
 *
 * @module
 */

import type { FastifyInstance } from "fastify";
import { type RouteScope, scopesGrant } from "../api-key-auth.ts";
import type { Identity } from "../auth.ts";
import { HttpError } from "../errors.ts";
import { type WhoamiReply, whoamiSchema } from "../schemas/index.ts";
import type { ServerContext } from "./context.ts";

/** The scopes `GET /whoami` reports, in this order. */
const SCOPES: readonly RouteScope[] = ["read", "decide", "approve", "policy", "admin", "token"];

/**
 * The route scopes a caller holds: the static token all of them; an anonymous caller (of a
 * server that admits one) all but `token`; an API key those its scopes grant.
 */
export function scopesOf(identity: Identity): RouteScope[] {
  if (identity.kind === "api-token") return [...SCOPES];
  if (identity.kind === "anonymous") return SCOPES.filter((s) => s !== "token");
  const held = identity.apiKey?.scopes ?? [];
  return SCOPES.filter((s) => scopesGrant(held, s));
}

/** Registers `GET /whoami`; `features` are the parts the context does not show. */
export function whoamiRoutes(
  app: FastifyInstance,
  ctx: ServerContext,
  features: { readonly apiKeys: boolean; readonly ui: boolean },
): void {
  app.get("/whoami", { schema: whoamiSchema }, async (request): Promise<WhoamiReply> => {
    const identity = request.identity;
    if (!identity) throw new HttpError(401, "unauthenticated", "who you are needs credentials");
    return {
      kind: identity.kind,
      actorId: identity.actorId,
      scopes: scopesOf(identity),
      ...(identity.subject && {
        subject: {
          ...(identity.subject.userId !== undefined && { userId: identity.subject.userId }),
          ...(identity.subject.tenantId !== undefined && { tenantId: identity.subject.tenantId }),
        },
      }),
      features: {
        audit: ctx.auditLogger !== undefined,
        approvals: ctx.confirmations !== undefined,
        apiPolicies: ctx.apiPolicies !== undefined,
        checkpoints: ctx.checkpoints !== undefined,
        apiKeys: features.apiKeys,
        ui: features.ui,
      },
    };
  });
}
