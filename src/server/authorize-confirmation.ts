/**
 * Confirmation in `POST /authorize`: which token a caller sends, whether its `confirm: true`
 * counts, and the pending request a `require_confirmation` decision asks for, so a caller
 * in another language or a workflow tool gets the same flow as the web-framework guards:
 * a `DENY` with a token, an approval by someone else, the same call with the token,
 * allowed once.
 *
 * @module
 */

import type { FastifyRequest } from "fastify";
import { confirmationIdOf } from "../confirm/events.ts";
import { type RequestedApproval, requestApproval } from "../confirm/request-approval.ts";
import type { Context } from "../kernel/context.ts";
import type { Decision } from "../kernel/decision.ts";
import { HttpError, unavailable } from "./errors.ts";
import type { ServerContext } from "./routes/context.ts";
import { maySelfConfirm } from "./self-confirm.ts";

/** The request header (and answer header) that carries a confirmation token. */
export const CONFIRMATION_TOKEN_HEADER = "x-confirmation-token";

/** How long the confirmation store may take to create a request. */
const STORE_TIMEOUT_MS = 5000;

/** What the caller sent, made ready to decide. */
export interface ConfirmationInput {
  /** The context to decide: no token, and no `confirm` unless the caller may self-confirm. */
  readonly context: Context;
  /** The token sent (header, `context.confirmationToken` or `context.confirmation_token`). */
  readonly token: string | undefined;
  /** Context fields dropped before deciding (`context.confirm`). */
  readonly ignored: readonly string[];
  /** Why, for the answer. */
  readonly notes: readonly string[];
}

const badToken = (field: string, message: string) =>
  new HttpError(400, field.startsWith("header") ? "invalid_header" : "invalid_body", message, {
    extras: { field },
  });

/** The token a request carries, checking that its places agree. */
function tokenOf(request: FastifyRequest, context: Context): string | undefined {
  const raw = request.headers[CONFIRMATION_TOKEN_HEADER];
  if (Array.isArray(raw))
    throw badToken(`header.${CONFIRMATION_TOKEN_HEADER}`, "send one X-Confirmation-Token header");
  const header = typeof raw === "string" && raw.trim() !== "" ? raw.trim() : undefined;
  let inContext: string | undefined;
  for (const key of ["confirmationToken", "confirmation_token"] as const) {
    const v = context[key];
    if (v === undefined || v === null || v === "") continue;
    if (typeof v !== "string")
      throw badToken(`body.context.${key}`, `body.context.${key} must be a string (the token)`);
    if (inContext !== undefined && v !== inContext)
      throw badToken(
        `body.context.${key}`,
        "body.context.confirmationToken and confirmation_token differ: send one token",
      );
    inContext = v;
  }
  if (header !== undefined && inContext !== undefined && header !== inContext)
    throw badToken(
      `header.${CONFIRMATION_TOKEN_HEADER}`,
      "X-Confirmation-Token and body.context.confirmationToken differ: send one token",
    );
  return header ?? inContext;
}

/**
 * Splits a request's context into what is decided and the token. A `confirm` field is kept
 * only for callers that may confirm their own calls ({@link maySelfConfirm}); for any other
 * it is removed before deciding, and the answer says so: such a caller asks for approval.
 *
 * @throws HttpError 400 for a token that is not a string, or two places that disagree.
 */
export function confirmationInput(request: FastifyRequest, context: Context): ConfirmationInput {
  const token = tokenOf(request, context);
  const { confirmationToken: _t, confirmation_token: _p, ...rest } = context;
  if (!("confirm" in rest) || maySelfConfirm(request.identity))
    return { context: rest, token, ignored: [], notes: [] };
  const { confirm: _c, ...decided } = rest;
  const who =
    request.identity?.kind === "api-key"
      ? `API key '${request.identity.apiKey?.id ?? request.identity.actorId}'`
      : `the ${request.identity?.kind ?? "anonymous"} caller`;
  return {
    context: decided,
    token,
    ignored: ["context.confirm"],
    notes: [
      `context.confirm was ignored: ${who} may not confirm its own calls (only the static API token or a key with the self-confirm, admin or * scope may); get the confirmationToken of a require_confirmation answer approved by someone else, then send it`,
    ],
  };
}

/** The part of an answer about confirmation. */
export interface ConfirmationAnswer {
  readonly confirmationToken?: string;
  readonly expiresAt?: string;
  /** The request's id (not secret), for the audit record. */
  readonly confirmationId?: string;
  readonly notes: readonly string[];
}

/**
 * For a `require_confirmation` decision made without a token: a pending request bound to
 * the policy and the decided context (as the Guardian binds it when the token comes back),
 * requested by the caller's actor, so that actor cannot approve it. Nothing for any other
 * decision, nor when a token was sent (a refused token is not replaced: ask again without).
 *
 * @throws HttpError 503 when the confirmation store cannot create the request (no token is
 *   issued; the decision stays a refusal).
 */
export async function askForApproval(
  ctx: ServerContext,
  request: FastifyRequest,
  policyId: string,
  decision: Decision,
  input: ConfirmationInput,
): Promise<ConfirmationAnswer> {
  if (decision.action !== "require_confirmation") return { notes: [] };
  // Tokens work only when the Guardian that decides consumes them from the approvals' store.
  if (!ctx.guardian.confirmations || !ctx.confirmations)
    return {
      notes: [
        input.token === undefined
          ? "no confirmation token was issued: this server has no confirmation store wired into its Guardian"
          : "the confirmation token was not checked: this server has no confirmation store wired into its Guardian",
      ],
    };
  if (input.token !== undefined) return { notes: [] };
  const binding = ctx.guardian.confirmationBinding(policyId, input.context);
  if (!binding)
    return { notes: ["no confirmation token was issued: the context cannot be fingerprinted"] };
  const actor = request.identity?.actorId ?? "anonymous";
  const store = ctx.confirmations;
  let asked: RequestedApproval;
  try {
    asked = await requestApproval(
      store,
      {
        ...binding,
        requestedBy: actor,
        reason: decision.reason,
        operation: `POST /authorize ${policyId}`,
        metadata: {
          via: "POST /authorize",
          requestId: request.id,
          decisionId: decision.decisionId,
        },
      },
      STORE_TIMEOUT_MS,
    );
  } catch (err) {
    throw unavailable("confirmation store", err);
  }
  const confirmationId = confirmationIdOf(asked.token);
  return {
    confirmationToken: asked.token,
    ...(asked.expiresAtMs !== undefined && {
      expiresAt: new Date(asked.expiresAtMs).toISOString(),
    }),
    ...(confirmationId !== undefined && { confirmationId }),
    notes: [],
  };
}
