/**
 * `GET /audit/budgets`: every budget of the loaded policy file, spent this period (counted
 * from the audit log, so `hexarch-ctl audit stats` answers the same), with its rate and
 * projected run-out.
 *
 * Counting replays the whole period, so the answer is kept for a while (`cacheMs`, 10 s)
 * per `limit`, requests that arrive while it is computed share that one computation, and
 * the replay yields to the event loop between pages: a read key, or several consoles open
 * on the overview, cannot stall `/authorize`. The answer says when it was computed
 * (`computedAt`).
 *
 * @module
 */

import type { FastifyInstance } from "fastify";
import { type BudgetForecastReport, budgetForecast } from "../../decision/budget-forecast.ts";
import type { Guardian } from "../../guardian/guardian.ts";
import type { Policy, PolicySet } from "../../policy/types.ts";
import { backend } from "../errors.ts";
import { type AuditBudgetsQuery, auditBudgetsSchema } from "../schemas/index.ts";
import { auditLogOf, type ServerContext } from "./context.ts";

const LOG = "audit log";

/** How long an answer is kept by default, in ms. */
export const DEFAULT_BUDGETS_CACHE_MS = 10_000;

/** The policies the server's Guardian decides with, as a policy set. */
function servedPolicies(g: Guardian): PolicySet {
  return {
    source: "<server>",
    policies: g
      .listPolicies()
      .map((id) => g.getPolicy(id))
      .filter((p): p is Policy => p !== undefined),
  };
}

/** A report, with when it was computed. */
type Answer = BudgetForecastReport & { readonly computedAt: string };

/** One computation, finished or under way. */
interface Entry {
  /** When it was computed (ms), once it is; it answers until `cacheMs` after that. */
  settledAtMs: number | undefined;
  readonly guardian: Guardian;
  readonly answer: Promise<Answer>;
}

/** Options of {@link budgetRoutes}. */
export interface BudgetRouteOptions {
  /**
   * How long an answer is reused (per `limit`), in ms; `0`: computed for every request,
   * concurrent ones still sharing one computation.
   * @default 10000
   */
  readonly cacheMs?: number | undefined;
}

/** Registers `GET /audit/budgets`. */
export function budgetRoutes(
  app: FastifyInstance,
  ctx: ServerContext,
  options: BudgetRouteOptions = {},
): void {
  const cacheMs = options.cacheMs ?? DEFAULT_BUDGETS_CACHE_MS;
  // Per `limit` (the policy filter applies to the answer): at most the schema's 500 keys.
  const cache = new Map<number, Entry>();

  const compute = (limit: number): Promise<Answer> => {
    const now = Date.now();
    const guardian = ctx.guardian;
    const held = cache.get(limit);
    // A reload replaces the Guardian: its policies are counted afresh.
    if (
      held &&
      held.guardian === guardian &&
      (held.settledAtMs === undefined || now - held.settledAtMs < cacheMs)
    )
      return held.answer;
    const logger = auditLogOf(ctx);
    const entry: Entry = {
      settledAtMs: undefined,
      guardian,
      answer: (async () => {
        await logger.flush();
        const report = await budgetForecast(logger.store, servedPolicies(guardian), {
          maxPerBudget: limit,
        });
        return { ...report, computedAt: new Date().toISOString() };
      })(),
    };
    cache.set(limit, entry);
    void entry.answer.then(
      () => {
        entry.settledAtMs = Date.now();
      },
      () => {
        // A failure is not kept: the next request tries again.
        if (cache.get(limit) === entry) cache.delete(limit);
      },
    );
    return entry.answer;
  };

  app.get<{ Querystring: AuditBudgetsQuery }>(
    "/audit/budgets",
    { schema: auditBudgetsSchema },
    async (request) => {
      const q = request.query;
      auditLogOf(ctx);
      // Every policy is replayed (a check of two policies decides through both); the
      // filter applies to what is listed.
      const report = await backend(LOG, () => compute(q.limit));
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
