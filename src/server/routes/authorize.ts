/**
 * `POST /authorize`: a thin call to `guardian.decide`, which decides, records in the
 * server's audit log and returns, answered 200 whether it allows or denies. With
 * `{ policyId, context }` the Guardian's policies decide (consuming quota like a guarded
 * call); with the Python shape `{ action, resource, context }` the API-defined policies do,
 * as the Guardian's decision client. The route builds neither decisions nor records: it
 * reads the request, and says what the record is tagged with. With `dry_run: true` either
 * shape answers the same decision with `dryRun: true` and no effect (no record, no
 * counter, no confirmation request, no token used, not counted in the metrics).
 *
 * @module
 */

import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import {
  API_POLICIES_ID,
  type ApiPolicyEnvelope,
  type CallerIdentity,
  noApiPolicies,
} from "../../decision/api-policy-client.ts";
import type { DecideOptions } from "../../guardian/decide-options.ts";
import { type Context, withoutToken } from "../../kernel/context.ts";
import type { Decision } from "../../kernel/decision.ts";
import { GuardrailError, UnknownPolicyError } from "../../kernel/errors.ts";
import { SANE_ID } from "../auth.ts";
import {
  askForApproval,
  CONFIRMATION_TOKEN_HEADER,
  type ConfirmationAnswer,
  type ConfirmationInput,
  confirmationInput,
} from "../authorize-confirmation.ts";
import { bindSubject } from "../bound-subject.ts";
import { backend, HttpError, unavailable } from "../errors.ts";
import { type AuthorizeBody, type AuthorizeReply, authorizeSchema } from "../schemas/index.ts";
import type { ServerContext } from "./context.ts";

const stringField = (ctx: Context, ...keys: string[]): string | undefined => {
  for (const k of keys) if (typeof ctx[k] === "string") return ctx[k] as string;
  return undefined;
};

/** Decisions made without the API-defined policies of a store: none applies, so all deny. */
const NO_API_POLICIES = noApiPolicies();

/**
 * `guardian.decide`, its failures as answers: an unknown policy is a 404 naming the known
 * ones, a durable audit log that cannot record the decision a 503 (a decision it cannot
 * record is not given).
 */
async function decided(
  ctx: ServerContext,
  policyId: string,
  context: Context,
  options: DecideOptions,
): Promise<Decision> {
  try {
    return await ctx.guardian.decide(policyId, context, options);
  } catch (err) {
    if (err instanceof UnknownPolicyError) {
      throw new HttpError(404, "unknown_policy", err.message, {
        extras: { knownPolicies: ctx.guardian.listPolicies() },
      });
    }
    if (err instanceof GuardrailError && err.code === "audit_write_failed")
      throw unavailable("audit log", err.cause ?? err);
    throw err;
  }
}

/** A header's value when it is one sane id; `null` when absent; a 400 when malformed. */
function headerId(request: FastifyRequest, name: string): string | null {
  const v = request.headers[name];
  if (v === undefined) return null;
  if (typeof v !== "string" || !SANE_ID.test(v))
    throw new HttpError(
      400,
      "invalid_header",
      `header.${name} must be 1 to 128 letters, digits or ._:@+=/-`,
      {
        extras: { field: `header.${name}` },
      },
    );
  return v;
}

/**
 * The caller as API policies see it, from the Python server's headers: `X-Actor-Id` (else
 * `X-User-Id`), `X-Actor-Type`, `X-Tenant-Id`, `X-Org-Id` (or `X-Organization-Id`),
 * `X-Team-Id`, `X-User-Id`. Only credentials that may name people (the static token, or
 * anonymous access) may claim them; they carry no other weight. An API key's caller is the
 * key itself (`api-key:<id>`, actor type `api_key`): its headers are ignored.
 */
export function callerIdentity(request: FastifyRequest): CallerIdentity {
  const identity = request.identity;
  if (identity && !identity.mayNameActor)
    return {
      actor_id: identity.actorId,
      actor_type: identity.kind === "api-key" ? "api_key" : "user",
      // A bound key acts for its subject; an unbound one for nobody in particular.
      tenant_id: identity.subject?.tenantId ?? null,
      org_id: null,
      team_id: null,
      user_id: identity.subject?.userId ?? null,
    };
  const user = headerId(request, "x-user-id");
  return {
    actor_id: identity?.actorNamed ? identity.actorId : (user ?? identity?.actorId ?? "anonymous"),
    actor_type: headerId(request, "x-actor-type") ?? "user",
    tenant_id: headerId(request, "x-tenant-id"),
    org_id: headerId(request, "x-org-id") ?? headerId(request, "x-organization-id"),
    team_id: headerId(request, "x-team-id"),
    user_id: user,
  };
}

/**
 * The Python shape: every enabled API-defined policy whose scope covers the caller
 * decides; one denial denies (deny-overrides); none applying denies.
 */
async function authorizeByApiPolicies(
  request: FastifyRequest<{ Body: AuthorizeBody }>,
  ctx: ServerContext,
): Promise<AuthorizeReply> {
  const action = request.body.action ?? "request";
  // A key bound to a subject decides for it here too: API rules read input.context.
  const { context: boundContext, claimed } = bindSubject(
    request.identity,
    request.body.context ?? {},
  );
  const input = {
    action,
    resource: request.body.resource ?? null,
    context: boundContext,
  };
  const identity = callerIdentity(request);
  const envelope: ApiPolicyEnvelope = {
    request: {
      method: request.method,
      path: request.url.split("?")[0] ?? "",
      query: { ...(request.query as Record<string, unknown> | undefined) },
    },
    identity,
    input,
  };
  const store = ctx.apiPolicies;
  const client = store ? await backend("policy store", () => store.client()) : NO_API_POLICIES;
  const logger = ctx.auditLogger;
  const dryRun = request.body.dry_run === true;
  const decision = await decided(ctx, API_POLICIES_ID, envelope, {
    client,
    warn: false,
    ...(dryRun && { dryRun: true }),
    // A dry run records nothing, whatever `record` says.
    record: logger !== undefined && {
      to: logger,
      functionName: action,
      userId: identity.user_id ?? undefined,
      // Confirmation tokens are secrets, here too: never in the log.
      context: { ...input, context: withoutToken(input.context) },
      metadata: (d) => {
        const outcome = client.outcomeOf(d);
        const failedOpen = outcome?.failedOpen ?? [];
        const errors = outcome?.evaluationErrors ?? [];
        return {
          via: "POST /authorize",
          requestId: request.id,
          actor: identity.actor_id,
          ...claimed,
          policies: outcome?.policies ?? [],
          ...(identity.org_id !== null && { orgId: identity.org_id }),
          ...(identity.team_id !== null && { teamId: identity.team_id }),
          ...(identity.tenant_id !== null && { tenantId: identity.tenant_id }),
          ...(errors.length > 0 && { evaluationErrors: errors }),
          ...(failedOpen.length > 0 && { failedOpen }),
        };
      },
    },
  });
  // Dry runs are not counted: the decision metrics count decisions that took effect.
  if (!dryRun) ctx.metrics.decided(decision);
  return {
    allowed: decision.allowed,
    decision: decision.allowed ? "ALLOW" : "DENY",
    action: decision.action,
    reason: decision.reason,
    policies: [...(client.outcomeOf(decision)?.policies ?? [])],
    decisionId: decision.decisionId,
    matchedRules: decision.matchedRules,
    timestamp: decision.timestamp,
    ...(dryRun && { dryRun: true as const }),
  };
}

/**
 * A dry run of the native shape: the Guardian's decision with no effect (no record, no
 * counter, no token used), and no confirmation request: a `require_confirmation` answer
 * says one would be created, without a token.
 */
async function dryRunDecision(
  ctx: ServerContext,
  policyId: string,
  input: ConfirmationInput,
): Promise<AuthorizeReply> {
  const { context, token } = input;
  const decision = await decided(
    ctx,
    policyId,
    token === undefined ? context : { ...context, confirmationToken: token },
    { warn: false, record: false, dryRun: true },
  );
  const notes = [...input.notes];
  if (decision.action === "require_confirmation" && token === undefined)
    notes.push(
      "dry run: no confirmation request was created and no token issued (the real call would ask for approval)",
    );
  else if (token !== undefined)
    notes.push(
      ctx.guardian.confirmations
        ? "dry run: the confirmation token is checked, never used: it still works for the real call"
        : "the confirmation token was not checked: this server has no confirmation store wired into its Guardian",
    );
  return {
    allowed: decision.allowed,
    decision: decision.allowed ? "ALLOW" : "DENY",
    action: decision.action,
    reason: decision.reason,
    policies: [decision.policyId],
    decisionId: decision.decisionId,
    matchedRules: decision.matchedRules,
    timestamp: decision.timestamp,
    ...(input.ignored.length > 0 && { ignored: input.ignored }),
    ...(notes.length > 0 && { notes }),
    dryRun: true,
  };
}

/** Registers `POST /authorize`. */
export function authorizeRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post<{ Body: AuthorizeBody }>(
    "/authorize",
    { schema: authorizeSchema },
    async (request, reply: FastifyReply): Promise<AuthorizeReply> => {
      const { policyId } = request.body;
      if (policyId === undefined) return authorizeByApiPolicies(request, ctx);
      for (const field of ["action", "resource"] as const) {
        if (request.body[field] !== undefined)
          throw new HttpError(
            400,
            "invalid_body",
            `body.${field} belongs to the shape without policyId: give policyId and context, or action, resource and context`,
            { extras: { field: `body.${field}` } },
          );
      }
      // A key bound to a subject decides for it: its user and tenant claims are replaced.
      const bound = bindSubject(request.identity, request.body.context ?? {});
      const { claimed } = bound;
      // The token is handed to the Guardian apart; `confirm` counts only from a self-confirmer.
      const input = confirmationInput(request, bound.context);
      if (request.body.dry_run === true) return dryRunDecision(ctx, policyId, input);
      const { context, token } = input;
      const logger = ctx.auditLogger;
      // A require_confirmation asks for approval before the record, which names the request.
      let asking: Promise<ConfirmationAnswer> | undefined;
      const ask = (d: Decision) => {
        asking ??= askForApproval(ctx, request, policyId, d, input);
        return asking;
      };
      const decision = await decided(
        ctx,
        policyId,
        token === undefined ? context : { ...context, confirmationToken: token },
        {
          warn: false,
          record: logger !== undefined && {
            to: logger,
            functionName: stringField(context, "functionName"),
            metadata: async (d) => {
              const asked = await ask(d);
              return {
                via: "POST /authorize",
                requestId: request.id,
                actor: request.identity?.actorId ?? "anonymous",
                ...claimed,
                ...(input.ignored.length > 0 && { ignored: input.ignored }),
                ...(asked.confirmationId !== undefined && {
                  confirmationId: asked.confirmationId,
                }),
              };
            },
          },
        },
      );
      ctx.metrics.decided(decision);
      const asked = await ask(decision);
      const notes = [...input.notes, ...asked.notes];
      if (asked.confirmationToken !== undefined)
        void reply.header(CONFIRMATION_TOKEN_HEADER, asked.confirmationToken);
      return {
        allowed: decision.allowed,
        decision: decision.allowed ? "ALLOW" : "DENY",
        action: decision.action,
        reason: decision.reason,
        policies: [decision.policyId],
        decisionId: decision.decisionId,
        matchedRules: decision.matchedRules,
        timestamp: decision.timestamp,
        ...(asked.confirmationToken !== undefined && {
          confirmationToken: asked.confirmationToken,
        }),
        ...(asked.expiresAt !== undefined && { expiresAt: asked.expiresAt }),
        ...(input.ignored.length > 0 && { ignored: input.ignored }),
        ...(notes.length > 0 && { notes }),
      };
    },
  );
}
