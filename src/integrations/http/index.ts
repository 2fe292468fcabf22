/**
 * `hexarch-guardrails/integrations/http`: the framework-neutral core of the web-framework
 * guards, for a framework without its own integration (Koa, a bare `node:http` server, a
 * route handler of a meta-framework). Describe the request, call the guard, and send the
 * answer it gives; `/integrations/express`, `/integrations/fastify` and
 * `/integrations/hono` do exactly this.
 *
 * @example
 * ```ts
 * import { httpGuard } from "hexarch-guardrails/integrations/http";
 *
 * const decide = httpGuard<IncomingMessage>(guardian, { policyId: "safe_delete" });
 * const result = await decide({ method: req.method ?? "GET", path, headers: req.headers, body }, req);
 * if (!result.pass) {
 *   res.writeHead(result.status, result.headers).end(JSON.stringify(result.body));
 *   return;
 * }
 * ```
 *
 * @module hexarch-guardrails/integrations/http
 */

export { bodyDigest, queryDigest } from "./body-digest.ts";
export {
  type HttpGuardOptions,
  type HttpGuardPass,
  type HttpGuardRefusal,
  type HttpGuardResult,
  type HttpRequestInfo,
  httpGuard,
  OPERATION_OF_METHOD,
  requestContext,
} from "./guard-request.ts";
export {
  CONFIRMATION_TOKEN_HEADER,
  type PendingApprovalBody,
  type PolicyProblem,
  PROBLEM_TYPES,
  type ProblemType,
  type Refusal,
  WARNING_HEADER,
} from "./problems.ts";
