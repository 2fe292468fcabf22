/**
 * `POST /authorize { policyId, context }`: the decision exactly as `guardian.evaluate`
 * makes it (consuming quota like a guarded call), recorded in the audit log, answered 200
 * whether it allows or denies.
 *
 * @module
 */

import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { DecisionEntry } from "../../audit/recorder.ts";
import { type Context, withoutToken } from "../../kernel/context.ts";
import { type Decision, makeDecision } from "../../kernel/decision.ts";
import { UnknownPolicyError } from "../../kernel/errors.ts";
import { type CallerIdentity, judgePolicy, policyApplies } from "../api-policy-eval.ts";
import { SANE_ID } from "../auth.ts";
import {
  askForApproval,
  CONFIRMATION_TOKEN_HEADER,
  confirmationInput,
} from "../authorize-confirmation.ts";
import { bindSubject } from "../bound-subject.ts";
import { backend, HttpError, unavailable } from "../errors.ts";
import { type AuthorizeBody, type AuthorizeReply, authorizeSchema } from "../schemas.ts";
import type { ServerContext } from "./context.ts";

const stringField = (ctx: Context, ...keys: string[]): string | undefined => {
  for (const k of keys) if (typeof ctx[k] === "string") return ctx[k] as string;
  return undefined;
};

/** The audit entry of a decision made over HTTP: who asked, and under which request id. */
function entryOf(
  decision: Decision,
  context: Context,
  request: FastifyRequest,
  monitor: boolean,
): DecisionEntry {
  return {
    decision,
    functionName: stringField(context, "functionName"),
    userId: stringField(context, "userId", "user_id"),
    // Confirmation tokens are secrets: never in the log.
    context: withoutToken(context),
    metadata: {
      via: "POST /authorize",
      requestId: request.id,
      actor: request.identity?.actorId ?? "anonymous",
    },
    mode: !decision.allowed && monitor ? "monitor" : "enforce",
  };
}

/** Records a decision; a durable log writes before answering (a decision it cannot record is not given). */
async function recordEntry(ctx: ServerContext, entry: DecisionEntry): Promise<void> {
  const logger = ctx.auditLogger;
  if (!logger) return;
  try {
    const written = logger.record(entry);
    if (written) await written;
  } catch (err) {
    throw unavailable("audit log", err);
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
  const started = performance.now();
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
  const envelope = {
    request: {
      method: request.method,
      path: request.url.split("?")[0] ?? "",
      query: { ...(request.query as Record<string, unknown> | undefined) },
    },
    identity,
    input,
  };
  const store = ctx.apiPolicies;
  const policies = store
    ? (await backend("policy store", () => store.listPolicies())).filter(
        (p) => p.enabled && policyApplies(p, identity),
      )
    : [];
  const rules = new Map(
    (store && policies.length > 0
      ? await backend("policy store", () => store.getRules(policies.flatMap((p) => p.rule_ids)))
      : []
    ).map((r) => [r.id, r]),
  );
  const verdicts = policies.map((p) => judgePolicy(p, rules, envelope));
  const denying = verdicts.find((v) => !v.allowed);
  const failedOpen = verdicts.filter((v) => v.failedOpen);
  const policyIds = policies.map((p) => p.id);
  let reason: string;
  if (policies.length === 0) reason = "no_applicable_policies";
  else if (denying)
    reason = `policy_denied:${denying.policyId}${denying.errors.length > 0 && denying.failedRules.length === 0 ? ` (evaluation failed: ${denying.errors.map((e) => e.message).join("; ")})` : denying.unknown.length > 0 ? ` (${denying.unknown.map((e) => e.message).join("; ")})` : ""}`;
  else if (failedOpen.length > 0)
    reason = `allowed: evaluation failed and FAIL_OPEN let it through (${failedOpen.map((v) => `${v.policyId}: ${v.errors.map((e) => e.message).join("; ")}`).join(", ")})`;
  else
    reason = `allowed by ${policies.length === 1 ? "policy" : "policies"} ${policyIds.join(", ")}`;
  const allowed = policies.length > 0 && denying === undefined;
  const errorText = verdicts.flatMap((v) =>
    v.errors.map((e) => `${v.policyId}/${e.ruleId}: ${e.message}`),
  );
  const decision = makeDecision({
    action: allowed ? "allow" : "block",
    policyId: denying?.policyId ?? (policyIds.length > 0 ? policyIds.join(",") : "api:none"),
    reason,
    matchedRules: denying ? [...denying.failedRules, ...denying.errors.map((e) => e.ruleId)] : [],
    durationMs: performance.now() - started,
    timestampMs: Date.now(),
    ...(errorText.length > 0 && { error: new Error(errorText.join("; ")) }),
    ...(failedOpen.length > 0 && allowed && { failedOpen: true }),
  });
  ctx.metrics.decided(decision);
  await recordEntry(ctx, {
    decision,
    functionName: action,
    userId: identity.user_id ?? undefined,
    // Confirmation tokens are secrets, here too: never in the log.
    context: { ...input, context: withoutToken(input.context) },
    metadata: {
      via: "POST /authorize",
      requestId: request.id,
      actor: identity.actor_id,
      ...claimed,
      policies: policyIds,
      ...(identity.org_id !== null && { orgId: identity.org_id }),
      ...(identity.team_id !== null && { teamId: identity.team_id }),
      ...(identity.tenant_id !== null && { tenantId: identity.tenant_id }),
      ...(errorText.length > 0 && { evaluationErrors: errorText }),
      ...(failedOpen.length > 0 && allowed && { failedOpen: failedOpen.map((v) => v.policyId) }),
    },
    mode: "enforce",
  });
  return {
    allowed,
    decision: allowed ? "ALLOW" : "DENY",
    action: decision.action,
    reason,
    policies: policyIds,
    decisionId: decision.decisionId,
    matchedRules: decision.matchedRules,
    timestamp: decision.timestamp,
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
      const { context, token } = input;
      let decision: Decision;
      try {
        decision = await ctx.guardian.evaluate(
          policyId,
          token === undefined ? context : { ...context, confirmationToken: token },
        );
      } catch (err) {
        if (err instanceof UnknownPolicyError) {
          throw new HttpError(404, "unknown_policy", err.message, {
            extras: { knownPolicies: ctx.guardian.listPolicies() },
          });
        }
        throw err;
      }
      ctx.metrics.decided(decision);
      const asked = await askForApproval(ctx, request, policyId, decision, input);
      const entry = entryOf(decision, context, request, ctx.guardian.mode === "monitor");
      await recordEntry(ctx, {
        ...entry,
        metadata: {
          ...entry.metadata,
          ...claimed,
          ...(input.ignored.length > 0 && { ignored: input.ignored }),
          ...(asked.confirmationId !== undefined && { confirmationId: asked.confirmationId }),
        },
      });
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
