/**
 * `GET /audit/budgets`: every budget of the loaded policy file, spent this period (counted
 * from the audit log, so `hexarch-ctl audit stats` answers the same), with its rate and
 * projected run-out.
 *
 * @module
 */

import type { FastifyInstance } from "fastify";
import { budgetForecast } from "../../decision/budget-forecast.ts";
import type { Policy, PolicySet } from "../../policy/types.ts";
import { backend } from "../errors.ts";
import { type AuditBudgetsQuery, auditBudgetsSchema } from "../schemas/index.ts";
import { auditLogOf, type ServerContext } from "./context.ts";

const LOG = "audit log";

/** The policies the server's Guardian decides with, as a policy set. */
function servedPolicies(ctx: ServerContext): PolicySet {
  const g = ctx.guardian;
  return {
    source: "<server>",
    policies: g
      .listPolicies()
      .map((id) => g.getPolicy(id))
      .filter((p): p is Policy => p !== undefined),
  };
}

/** Registers `GET /audit/budgets`. */
export function budgetRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get<{ Querystring: AuditBudgetsQuery }>(
    "/audit/budgets",
    { schema: auditBudgetsSchema },
    async (request) => {
      const logger = auditLogOf(ctx);
      const q = request.query;
      // Every policy is replayed (a check of two policies decides through both); the
      // filter applies to what is listed.
      const report = await backend(LOG, async () => {
        await logger.flush();
        return budgetForecast(logger.store, servedPolicies(ctx), { maxPerBudget: q.limit });
      });
      if (q.policy_id === undefined) return report;
      const mine = (b: { readonly policyId: string }) => b.policyId === q.policy_id;
      return {
        ...report,
        budgets: report.budgets.filter(mine),
        truncated: report.truncated.filter(mine),
      };
    },
  );
}
