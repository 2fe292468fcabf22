/**
 * `/events/provider-calls`: provider calls reported after the fact (the Python server's
 * provider-call events). Each is appended to the audit log (action `provider_call`, policy
 * id `provider:<resource>`, kept out of the stats) and its `cost_usd` is added to the USD
 * budgets of every loaded policy with a rule on that resource, so the next `/authorize`
 * sees the spend.
 *
 * @module
 */

import type { FastifyInstance } from "fastify";
import { PROVIDER_CALL_ACTION } from "../../audit/records.ts";
import { compileGlobs } from "../../engine/glob.ts";
import type { Guardian } from "../../guardian/guardian.ts";
import { uuidv7 } from "../../util/uuid.ts";
import { backend } from "../errors.ts";
import {
  type ProviderCallBody,
  type ProviderCallsQuery,
  providerCallCreateSchema,
  providerCallListSchema,
} from "../schemas.ts";
import { auditLogOf, type ServerContext } from "./context.ts";

const LOG = "audit log";

/** Ids of the enabled policies with an enabled USD-budget rule whose `resource` matches. */
export function budgetPoliciesFor(guardian: Guardian, resource: string): string[] {
  return guardian.listPolicies().filter((id) => {
    const policy = guardian.getPolicy(id);
    return (
      policy?.enabled === true &&
      policy.rules.some(
        (r) =>
          r.enabled &&
          r.budgets.some((b) => b.unit === "usd") &&
          (r.resource === undefined || compileGlobs(r.resource)(resource)),
      )
    );
  });
}

/** What settling a cost against one policy gave. */
type Settlement =
  | { readonly policyId: string; readonly spentUsd: number }
  | { readonly policyId: string; readonly reason: string };

/**
 * Adds `costUsd` to one policy's budgets through the Guardian's public API: a guarded
 * no-op call with no estimate (it reserves zero on each matching budget), settled with the
 * reported cost, which the budgets count in full even past their limit. A policy that
 * refuses the no-op call (a budget already spent, a rule that blocks) settles nothing.
 */
async function settle(
  guardian: Guardian,
  policyId: string,
  body: ProviderCallBody,
  costUsd: number,
): Promise<Settlement> {
  const call = guardian.check(policyId, {
    resource: body.resource,
    ...(body.action !== undefined && { operation: body.action }),
    context: body.model === undefined ? {} : { model: body.model },
    name: "provider_call",
    settle: () => costUsd,
  })(async () => undefined);
  try {
    await call();
    return { policyId, spentUsd: costUsd };
  } catch (err) {
    return { policyId, reason: (err as Error).message };
  }
}

/** Registers `POST /events/provider-calls` and `GET /events/provider-calls`. */
export function providerCallRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post<{ Body: ProviderCallBody }>(
    "/events/provider-calls",
    { schema: providerCallCreateSchema },
    async (request) => {
      const logger = auditLogOf(ctx);
      const body = request.body;
      const { resource, action, ok, metadata, ...rest } = body;
      const atMs = Date.now();
      const decisionId = uuidv7(atMs);
      await backend(LOG, async () =>
        logger.recordProviderCall({
          resource,
          ...(action !== undefined && { operation: action }),
          ...(ok !== undefined && { ok }),
          ...(request.identity && { actor: request.identity.actorId }),
          details: { ...(ok !== undefined && { ok }), ...rest },
          metadata: { ...metadata, via: "POST /events/provider-calls", requestId: request.id },
          atMs,
          decisionId,
        }),
      );
      const settled: { policyId: string; spentUsd: number }[] = [];
      const unsettled: { policyId: string; reason: string }[] = [];
      const cost = body.cost_usd ?? 0;
      if (cost > 0) {
        for (const policyId of budgetPoliciesFor(ctx.guardian, resource)) {
          const s = await settle(ctx.guardian, policyId, body, cost);
          if ("spentUsd" in s) settled.push(s);
          else unsettled.push(s);
        }
      }
      return { recorded: true, decisionId, settled, unsettled };
    },
  );

  app.get<{ Querystring: ProviderCallsQuery }>(
    "/events/provider-calls",
    { schema: providerCallListSchema },
    async (request) => {
      const q = request.query;
      const logger = auditLogOf(ctx);
      const records = await backend(LOG, () =>
        logger.getDecisionHistory({
          action: PROVIDER_CALL_ACTION,
          ...(q.resource !== undefined && { policyId: `provider:${q.resource}` }),
          limit: q.limit,
          offset: q.offset,
        }),
      );
      return {
        records,
        limit: q.limit,
        offset: q.offset,
        nextOffset: records.length === q.limit ? q.offset + q.limit : null,
      };
    },
  );
}
