/**
 * `hexarch-guardrails/integrations/express`: a policy in front of Express 5 routes.
 *
 * `guard(guardian, { policyId, context })` is a middleware: the policy decides before the
 * route's handler runs. An allowed request goes on (`next()`); a refused one is answered
 * here — 403 problem+json, 429 with `Retry-After` and `RateLimit-*`, 202 with a
 * confirmation token, 503 when a backend failed — and the handler never runs. The
 * middleware never rejects and never calls `next(err)`. What each answer looks like:
 * `docs/integrations.md`.
 *
 * Only types are imported from Express: this module loads nothing of it at run time.
 *
 * @example
 * ```ts
 * import express from "express";
 * import { Guardian } from "hexarch-guardrails";
 * import { guard } from "hexarch-guardrails/integrations/express";
 *
 * const guardian = new Guardian({ confirmations: new MemoryConfirmationStore() });
 * const app = express().use(express.json()); // before the guard: the body is bound to tokens
 * app.delete(
 *   "/projects/:id",
 *   guard(guardian, { policyId: "safe_delete", context: (req) => ({ userId: req.get("x-user-id") }) }),
 *   (req, res) => void res.status(204).end(),
 * );
 * ```
 *
 * @module hexarch-guardrails/integrations/express
 */

import type { NextFunction, Request, Response } from "express";
import type { Guardian } from "../../guardian/guardian.ts";
import { type HttpGuardOptions, httpGuard } from "../http/guard-request.ts";

export {
  type HttpGuardResult,
  OPERATION_OF_METHOD,
  type PendingApprovalBody,
  type PolicyProblem,
  PROBLEM_TYPES,
} from "../http/index.ts";

/** Options of {@link guard}: the context function receives Express's `Request`. */
export type GuardOptions = HttpGuardOptions<Request>;

/** The middleware {@link guard} returns. */
export type GuardMiddleware = (req: Request, res: Response, next: NextFunction) => Promise<void>;

/** The path of the request's URL, without the query string (mount paths included). */
function pathOf(req: Request): string {
  const url = req.originalUrl || req.url;
  const q = url.indexOf("?");
  return q === -1 ? url : url.slice(0, q);
}

/** The query string of the request's URL, without `?`. */
function queryOf(req: Request): string | undefined {
  const url = req.originalUrl || req.url;
  const q = url.indexOf("?");
  return q === -1 ? undefined : url.slice(q + 1);
}

/** The route pattern, when the middleware runs as part of a route (`app.delete(path, guard, …)`). */
function routeOf(req: Request): string | undefined {
  const path: unknown = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === "string" ? `${req.baseUrl}${path}` : undefined;
}

/**
 * An Express middleware deciding each request with the policy `options.policyId`.
 *
 * The decision context is `{ operation, resource, method, path, bodyDigest? }` —
 * `operation` from the method (`DELETE` → `delete`, see `OPERATION_OF_METHOD`), `resource`
 * the route pattern (`/projects/:id`; the path when used with `app.use`), `bodyDigest` a
 * digest of `req.body` as your body parser left it — with `options.context(req)` merged over it.
 *
 * @throws UnknownPolicyError now, when the Guardian's policies have no such id.
 */
export function guard(guardian: Guardian, options: GuardOptions): GuardMiddleware {
  const decide = httpGuard(guardian, options);
  const bindBody = options.bindBody ?? true;
  return async (req, res, next) => {
    const result = await decide(
      {
        method: req.method,
        path: pathOf(req),
        query: queryOf(req),
        route: routeOf(req),
        headers: req.headers,
        ...(bindBody && { body: req.body as unknown }),
      },
      req,
    );
    for (const [name, value] of Object.entries(result.headers)) res.setHeader(name, value);
    if (result.pass) {
      next();
      return;
    }
    res.status(result.status).send(JSON.stringify(result.body));
  };
}
