/**
 * `POST /authorize { policyId, context }`: the decision exactly as `guardian.evaluate`
 * makes it (consuming quota like a guarded call), recorded in the audit log, answered 200
 * whether it allows or denies.
 *
 * @module
 */

import type { FastifyInstance, FastifyRequest } from "fastify";
import type { DecisionEntry } from "../../audit/recorder.ts";
import type { Context } from "../../engine/compile-rule.ts";
import type { Decision } from "../../engine/decision.ts";
import { UnknownPolicyError } from "../../errors.ts";
import { withoutToken } from "../../guardian/decision-source.ts";
import { HttpError, unavailable } from "../errors.ts";
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

/** Registers `POST /authorize`. */
export function authorizeRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post<{ Body: AuthorizeBody }>(
    "/authorize",
    { schema: authorizeSchema },
    async (request): Promise<AuthorizeReply> => {
      const { policyId } = request.body;
      const context = request.body.context ?? {};
      let decision: Decision;
      try {
        decision = await ctx.guardian.evaluate(policyId, context);
      } catch (err) {
        if (err instanceof UnknownPolicyError) {
          throw new HttpError(404, "unknown_policy", err.message, {
            extras: { knownPolicies: ctx.guardian.listPolicies() },
          });
        }
        throw err;
      }
      ctx.metrics.decided(decision);
      const logger = ctx.auditLogger;
      if (logger) {
        const entry = entryOf(decision, context, request, ctx.guardian.mode === "monitor");
        try {
          // A durable log writes before answering: a decision it cannot record is not given.
          const written = logger.record(entry);
          if (written) await written;
        } catch (err) {
          throw unavailable("audit log", err);
        }
      }
      return {
        allowed: decision.allowed,
        decision: decision.allowed ? "ALLOW" : "DENY",
        action: decision.action,
        reason: decision.reason,
        policies: [decision.policyId],
        decisionId: decision.decisionId,
        matchedRules: decision.matchedRules,
        timestamp: decision.timestamp,
      };
    },
  );
}
