/**
 * Approvals over HTTP: where a confirmation request stands, and approving or denying it.
 * Stores keep no list of requests, so there is no "every pending request" route: the
 * approver is handed the token (by a webhook, a chat message) and works on that one.
 *
 * @module
 */

import type { FastifyInstance } from "fastify";
import type { ConfirmationRecord, ConfirmationStore } from "../../confirm/types.ts";
import type { Identity } from "../auth.ts";
import { backend, HttpError } from "../errors.ts";
import { type ApprovalBody, approvalDecideSchema, approvalGetSchema } from "../schemas/index.ts";
import type { ServerContext } from "./context.ts";

const STORE = "confirmation store";

function storeOf(ctx: ServerContext): ConfirmationStore {
  if (!ctx.confirmations)
    throw new HttpError(404, "approvals_disabled", "this server has no confirmation store");
  return ctx.confirmations;
}

const unknown = () =>
  new HttpError(404, "unknown_confirmation", "no confirmation request has this token");

const notPending = (record: ConfirmationRecord) =>
  new HttpError(409, "not_pending", `the confirmation request is ${record.status}, not pending`, {
    extras: { status: record.status },
  });

/**
 * Who approves: the authenticated caller. A credential that may name people (the static
 * token) takes `X-Actor-Id`, else the body's `by`; any other acts as itself.
 */
export function approverOf(identity: Identity | null, by: string | undefined): string {
  if (!identity) throw new HttpError(401, "unauthenticated", "approving needs credentials");
  if (by === undefined || by === identity.actorId) return identity.actorId;
  if (!identity.mayNameActor) {
    throw new HttpError(
      403,
      "forbidden",
      `this credential acts as '${identity.actorId}' and cannot approve as '${by}'`,
    );
  }
  if (identity.actorNamed) {
    throw new HttpError(
      400,
      "invalid_body",
      `body.by ('${by}') disagrees with X-Actor-Id ('${identity.actorId}'): give one of them`,
      { extras: { field: "body.by" } },
    );
  }
  return by;
}

/** Registers `GET /approvals/:token` and `POST /approvals/:token/approve|deny`. */
export function approvalRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get<{ Params: { token: string } }>(
    "/approvals/:token",
    { schema: approvalGetSchema },
    async (request) => {
      const store = storeOf(ctx);
      const record = await backend(STORE, () => store.get(request.params.token));
      if (!record) throw unknown();
      return record;
    },
  );

  for (const verb of ["approve", "deny"] as const) {
    app.post<{ Params: { token: string }; Body: ApprovalBody }>(
      `/approvals/:token/${verb}`,
      {
        schema: {
          ...approvalDecideSchema,
          summary: verb === "approve" ? "Approve a pending request" : "Deny a pending request",
        },
        // The body is optional: no body is `{}`.
        preValidation: async (request) => {
          request.body ??= {};
        },
      },
      async (request) => {
        const store = storeOf(ctx);
        const { token } = request.params;
        const by = approverOf(request.identity, request.body.by);
        const reason = request.body.reason;
        const current = await backend(STORE, () => store.get(token));
        if (!current) throw unknown();
        if (current.status !== "pending") throw notPending(current);
        // Four eyes: whoever asked (the actor of the /authorize that made the request) may
        // withdraw it, never approve it.
        if (verb === "approve" && current.requestedBy !== undefined && current.requestedBy === by)
          throw new HttpError(
            403,
            "self_approval",
            `'${by}' asked for this confirmation and cannot approve it: another principal must`,
          );
        // Another approver may have been quicker, or the request expired meanwhile: the
        // store's error says so by its code (409 not_pending, 404 unknown_confirmation),
        // without a second read; any other failure is a 503.
        return backend(STORE, () =>
          verb === "approve"
            ? store.approve(token, { approvedBy: by, ...(reason !== undefined && { reason }) })
            : store.deny(token, { deniedBy: by, ...(reason !== undefined && { reason }) }),
        );
      },
    );
  }
}
