/**
 * `/events/provider-calls`: provider calls reported after the fact (the Python server's
 * provider-call events). Each is appended to the audit log (action `provider_call`, policy
 * id `provider:<resource>`, kept out of the stats); its `cost_usd` and tokens are added to
 * the budgets of every loaded policy with a rule on that resource, so the next
 * `/authorize` sees the spend. The answers carry the Python server's shapes: `id`,
 * `resource`, `action`, `ok` on a report, a bare list of records on a listing.
 *
 * @module
 */

import type { FastifyInstance } from "fastify";
import { PROVIDER_CALL_ACTION } from "../../audit/records.ts";
import type { Guardian } from "../../guardian/guardian.ts";
import { uuidv7 } from "../../kernel/uuid.ts";
import { bindSubject } from "../bound-subject.ts";
import { backend } from "../errors.ts";
import {
  type ProviderCallBody,
  type ProviderCallsQuery,
  providerCallCreateSchema,
  providerCallListSchema,
} from "../schemas/index.ts";
import { auditLogOf, type ServerContext } from "./context.ts";

const LOG = "audit log";

/** Ids of the enabled policies with an enabled budget rule (USD or tokens) whose `resource` matches. */
export function budgetPoliciesFor(guardian: Guardian, resource: string): string[] {
  return guardian.spendPolicies(resource);
}

/** What settling a call's spend against one policy gave. */
type Settlement =
  | { readonly policyId: string; readonly spentUsd: number; readonly tokens: number }
  | { readonly policyId: string; readonly reason: string };

/**
 * Counts a reported call's cost and tokens against one policy's budgets
 * (`Guardian.recordSpend`): no decision, no rate limit moved, and a budget already spent
 * still counts it (spent money is spent).
 */
async function settle(
  guardian: Guardian,
  policyId: string,
  body: ProviderCallBody,
  costUsd: number,
  tokens: number,
  subject: Readonly<Record<string, unknown>>,
): Promise<Settlement> {
  try {
    const { counters } = await guardian.recordSpend(policyId, {
      resource: body.resource,
      ...(body.action !== undefined && { operation: body.action }),
      ...((body.model !== undefined || Object.keys(subject).length > 0) && {
        context: { ...subject, ...(body.model !== undefined && { model: body.model }) },
      }),
      costUsd,
      tokens,
    });
    return counters > 0
      ? { policyId, spentUsd: costUsd, tokens }
      : { policyId, reason: "no budget of this policy applies to the call" };
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
      // A key bound to a subject reports for it: the user and tenant in its metadata are
      // replaced (what it claimed is kept beside), and its spend counts against them.
      const bound = bindSubject(request.identity, metadata ?? {});
      const subject = bindSubject(request.identity, {}).context;
      const atMs = Date.now();
      const decisionId = uuidv7(atMs);
      await backend(LOG, async () =>
        logger.recordProviderCall({
          resource,
          ...(action !== undefined && { operation: action }),
          ...(ok !== undefined && { ok }),
          ...(request.identity && { actor: request.identity.actorId }),
          details: { ...(ok !== undefined && { ok }), ...rest },
          metadata: {
            ...bound.context,
            ...bound.claimed,
            via: "POST /events/provider-calls",
            requestId: request.id,
          },
          atMs,
          decisionId,
        }),
      );
      const settled: { policyId: string; spentUsd: number; tokens: number }[] = [];
      const unsettled: { policyId: string; reason: string }[] = [];
      const cost = body.cost_usd ?? 0;
      const tokens = (body.tokens_in ?? 0) + (body.tokens_out ?? 0);
      if (cost > 0 || tokens > 0) {
        for (const policyId of budgetPoliciesFor(ctx.guardian, resource)) {
          const s = await settle(ctx.guardian, policyId, body, cost, tokens, subject);
          if ("spentUsd" in s) settled.push(s);
          else unsettled.push(s);
        }
      }
      // `id`, `resource`, `action`, `ok`: what the Python server answers, so its clients
      // (the Node-RED and n8n flows read `id`) keep working.
      return {
        id: decisionId,
        resource,
        action: action ?? null,
        ok: ok ?? true,
        recorded: true,
        decisionId,
        settled,
        unsettled,
      };
    },
  );

  // A bare list, as the Python server answers (its `node-red verify` counts it); the next
  // page goes in a `Link` header rather than an envelope.
  app.get<{ Querystring: ProviderCallsQuery }>(
    "/events/provider-calls",
    { schema: providerCallListSchema },
    async (request, reply) => {
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
      if (records.length === q.limit) {
        const next = new URLSearchParams({
          ...(q.resource !== undefined && { resource: q.resource }),
          limit: String(q.limit),
          offset: String(q.offset + q.limit),
        });
        reply.header("link", `</events/provider-calls?${next}>; rel="next"`);
      }
      return records;
    },
  );
}
