/**
 * `hexarch-guardrails/integrations/fastify`: a policy in front of Fastify 5 routes.
 *
 * `guard(guardian, { policyId, context })` is a `preHandler` hook: the policy decides after
 * the body is parsed and before the route's handler runs. An allowed request goes on; a
 * refused one is answered here — 403 problem+json, 429 with `Retry-After` and
 * `RateLimit-*`, 202 with a confirmation token, 503 when a backend failed — and the
 * handler never runs. The hook never rejects. What each answer looks like:
 * `docs/integrations.md`.
 *
 * Only types are imported from Fastify: this module loads nothing of it at run time.
 *
 * @example
 * ```ts
 * import Fastify from "fastify";
 * import { guard } from "hexarch-guardrails/integrations/fastify";
 *
 * const app = Fastify();
 * app.delete(
 *   "/projects/:id",
 *   { preHandler: guard(guardian, { policyId: "safe_delete", context: (req) => ({ userId: req.headers["x-user-id"] }) }) },
 *   async (req, reply) => reply.code(204).send(),
 * );
 * // every route of a scope: scope.addHook("preHandler", guard(guardian, { policyId: "rate_limit" }))
 * ```
 *
 * @module hexarch-guardrails/integrations/fastify
 */

import type { FastifyReply, FastifyRequest, RouteGenericInterface } from "fastify";
import type { Guardian } from "../../guardian/guardian.ts";
import { type HttpGuardOptions, httpGuard } from "../http/guard-request.ts";

export {
  type HttpGuardResult,
  OPERATION_OF_METHOD,
  type PendingApprovalBody,
  type PolicyProblem,
  PROBLEM_TYPES,
} from "../http/index.ts";

/**
 * Options of {@link guard}: the context function receives the `FastifyRequest` (typed by
 * the route's generic, so `req.params` and `req.body` keep their types).
 */
export type GuardOptions<RouteGeneric extends RouteGenericInterface = RouteGenericInterface> =
  HttpGuardOptions<FastifyRequest<RouteGeneric>>;

/** The `preHandler` hook {@link guard} returns. */
export type GuardHook<RouteGeneric extends RouteGenericInterface = RouteGenericInterface> = (
  request: FastifyRequest<RouteGeneric>,
  reply: FastifyReply<RouteGeneric>,
) => Promise<void>;

/**
 * A Fastify `preHandler` hook deciding each request with the policy `options.policyId`.
 *
 * The decision context is `{ operation, resource, method, path, bodyDigest? }` —
 * `operation` from the method (`DELETE` → `delete`, see `OPERATION_OF_METHOD`), `resource`
 * the route pattern (`/projects/:id`), `bodyDigest` a digest of the parsed body — with
 * `options.context(request)` merged over it.
 *
 * @throws UnknownPolicyError now, when the Guardian's policies have no such id.
 */
export function guard<RouteGeneric extends RouteGenericInterface = RouteGenericInterface>(
  guardian: Guardian,
  options: GuardOptions<RouteGeneric>,
): GuardHook<RouteGeneric> {
  const decide = httpGuard(guardian, options);
  const bindBody = options.bindBody ?? true;
  return async (request, reply) => {
    const q = request.url.indexOf("?");
    const route: unknown = request.routeOptions.url;
    const result = await decide(
      {
        method: request.method,
        path: q === -1 ? request.url : request.url.slice(0, q),
        query: q === -1 ? undefined : request.url.slice(q + 1),
        route: typeof route === "string" ? route : undefined,
        headers: request.headers,
        ...(bindBody && { body: request.body as unknown }),
      },
      request,
    );
    reply.headers(result.headers);
    if (result.pass) return;
    // An async hook that answers must wait for the answer to be sent: Fastify then skips the handler.
    // The route's reply type describes its handler's answers, not the guard's.
    await (reply as FastifyReply).code(result.status).send(JSON.stringify(result.body));
  };
}
