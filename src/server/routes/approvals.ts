/**
 * Approvals over HTTP: the inbox (`GET /approvals`, for stores that list their requests),
 * where a confirmation request stands, and approving or denying it. A request is named by
 * its token (handed to the approver by a webhook, a chat message) or by its id (as the
 * inbox lists it: the id names the request, it cannot confirm a call).
 *
 * @module
 */

import type { FastifyInstance } from "fastify";
import type { ConfirmationRecord, ConfirmationStore, MaybePromise } from "../../confirm/types.ts";
import { scopesGrant } from "../api-key-auth.ts";
import type { Identity } from "../auth.ts";
import { backend, HttpError } from "../errors.ts";
import {
  type ApprovalBody,
  type ApprovalListQuery,
  approvalDecideSchema,
  approvalGetSchema,
  approvalListSchema,
} from "../schemas/index.ts";
import type { ServerContext } from "./context.ts";

const STORE = "confirmation store";

function storeOf(ctx: ServerContext): ConfirmationStore {
  if (!ctx.confirmations)
    throw new HttpError(404, "approvals_disabled", "this server has no confirmation store");
  return ctx.confirmations;
}

const unknown = () =>
  new HttpError(404, "unknown_confirmation", "no confirmation request has this token or id");

/** Whether a path names a request by its id: tokens (plain or signed) have a dot, ids none. */
const isId = (tokenOrId: string): boolean => !tokenOrId.includes(".");

/** What a store without the by-id methods answers to a request named by its id. */
const byIdUnsupported = () =>
  new HttpError(
    501,
    "approvals_by_id_unsupported",
    "this server's confirmation store cannot find a request by its id (it has no getById, approveById and denyById): name the request by its token",
  );

/** The request a path names, by token or by id. */
async function lookUp(store: ConfirmationStore, tokenOrId: string) {
  if (!isId(tokenOrId)) return backend(STORE, () => store.get(tokenOrId));
  if (!store.getById) throw byIdUnsupported();
  return backend(STORE, () => store.getById?.(tokenOrId));
}

/**
 * Refuses a credential bound to a subject (an API key made with `subject`) the inbox and
 * the by-id routes: they reach every tenant's requests, and a confirmation record does not
 * say reliably whose subject asked (its `requestedBy` is the requesting credential, not the
 * user or tenant), so they cannot be narrowed to the key's own: fail closed. Such a key
 * keeps working with the tokens it is handed.
 */
function refuseBoundKey(identity: Identity | null, what: string): void {
  const subject = identity?.subject;
  if (subject === undefined || (subject.userId === undefined && subject.tenantId === undefined))
    return;
  throw new HttpError(
    403,
    "bound_key_inbox",
    `this API key is bound to a subject and cannot ${what}: it reaches every tenant's requests; name the request by its token`,
  );
}

/**
 * Refuses a by-id lookup to an API key without the `approve` scope: an id names a request
 * from the inbox, which only approvers see (a lookup by token needs only `read`).
 */
function needApproveForId(identity: Identity | null): void {
  if (identity?.kind !== "api-key") return;
  if (scopesGrant(identity.apiKey?.scopes ?? [], "approve")) return;
  throw new HttpError(
    403,
    "insufficient_scope",
    "the API key lacks the 'approve' scope this route needs to look a request up by its id (by its token, 'read' is enough)",
    { extras: { requiredScope: "approve" } },
  );
}

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

/**
 * Registers `GET /approvals`, `GET /approvals/:token` and `POST /approvals/:token/approve|deny`
 * (`:token` is the token or the request's id).
 */
export function approvalRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get<{ Querystring: ApprovalListQuery }>(
    "/approvals",
    { schema: approvalListSchema },
    async (request) => {
      refuseBoundKey(request.identity, "list the approvals inbox");
      const store = storeOf(ctx);
      if (!store.list)
        throw new HttpError(
          501,
          "approvals_list_unsupported",
          "this server's confirmation store keeps no list of its requests (it has no list method): approvers work on the token they are handed",
        );
      const { status, limit } = request.query;
      const requests = await backend(STORE, () => store.list?.({ status, limit }) ?? []);
      return { requests };
    },
  );

  app.get<{ Params: { token: string } }>(
    "/approvals/:token",
    { schema: approvalGetSchema },
    async (request) => {
      const { token } = request.params;
      if (isId(token)) {
        needApproveForId(request.identity);
        refuseBoundKey(request.identity, "look a request up by its id");
      }
      const record = await lookUp(storeOf(ctx), token);
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
        const byId = isId(token);
        if (byId) refuseBoundKey(request.identity, `${verb} a request by its id`);
        if (byId && !(verb === "approve" ? store.approveById : store.denyById))
          throw byIdUnsupported();
        const current = await lookUp(store, token);
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
        const approval = { approvedBy: by, ...(reason !== undefined && { reason }) };
        const denial = { deniedBy: by, ...(reason !== undefined && { reason }) };
        return backend(STORE, async () => {
          if (byId)
            return verb === "approve"
              ? (store.approveById?.(token, approval) as MaybePromise<ConfirmationRecord>)
              : (store.denyById?.(token, denial) as MaybePromise<ConfirmationRecord>);
          return verb === "approve" ? store.approve(token, approval) : store.deny(token, denial);
        });
      },
    );
  }
}
