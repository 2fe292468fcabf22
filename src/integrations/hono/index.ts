/**
 * `hexarch-guardrails/integrations/hono`: a policy in front of Hono 4 routes.
 *
 * `guard(guardian, { policyId, context })` is a middleware: the policy decides before the
 * route's handler runs. An allowed request goes on (`next()`); a refused one is answered
 * here — 403 problem+json, 429 with `Retry-After` and `RateLimit-*`, 202 with a
 * confirmation token, 503 when a backend failed — and the handler never runs. The
 * middleware never throws. What each answer looks like: `docs/integrations.md`.
 *
 * Only types are imported from Hono: this module loads nothing of it at run time.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { guard } from "hexarch-guardrails/integrations/hono";
 *
 * const app = new Hono();
 * app.delete(
 *   "/projects/:id",
 *   guard(guardian, { policyId: "safe_delete", context: (c) => ({ userId: c.req.header("x-user-id") }) }),
 *   (c) => c.body(null, 204),
 * );
 * ```
 *
 * @module hexarch-guardrails/integrations/hono
 */

import type { Env, Context as HonoContext, MiddlewareHandler } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
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
 * Options of {@link guard}: the context function receives Hono's `Context` (`c.req`,
 * `c.get(...)` for what earlier middleware set, `c.env`).
 */
export type GuardOptions<E extends Env = Env, P extends string = string> = HttpGuardOptions<
  HonoContext<E, P>
>;

/**
 * The pattern of the route that will answer (`/projects/:id`): the last matched route
 * registered for a method, which skips `app.use`/`app.all` middleware (method `ALL`).
 * Read from `c.req.matchedRoutes`, present in every Hono 4 (the `hono/route` helpers
 * that replace it need 4.8 or later).
 */
function routeOf(c: HonoContext): string | undefined {
  const routes: unknown = Reflect.get(c.req, "matchedRoutes");
  if (!Array.isArray(routes)) return undefined;
  for (let i = routes.length - 1; i >= 0; i--) {
    const r = routes[i] as { method?: unknown; path?: unknown } | undefined;
    if (r?.method !== "ALL" && typeof r?.path === "string") return r.path;
  }
  return undefined;
}

/** Methods whose body is read and bound to confirmation tokens. */
const NO_BODY = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * A Hono middleware deciding each request with the policy `options.policyId`.
 *
 * The decision context is `{ operation, resource, method, path, bodyDigest? }` —
 * `operation` from the method (`DELETE` → `delete`, see `OPERATION_OF_METHOD`), `resource`
 * the pattern of the route that will answer (`/projects/:id`), `bodyDigest` a SHA-256 of
 * the raw body (read once and cached by Hono, so the handler can still read it) — with
 * `options.context(c)` merged over it.
 *
 * @throws UnknownPolicyError now, when the Guardian's policies have no such id.
 */
export function guard<E extends Env = Env, P extends string = string>(
  guardian: Guardian,
  options: GuardOptions<E, P>,
): MiddlewareHandler<E, P> {
  const decide = httpGuard(guardian, options);
  const bindBody = options.bindBody ?? true;
  return async (c, next) => {
    const method = c.req.method.toUpperCase();
    let body: Uint8Array | undefined;
    if (bindBody && !NO_BODY.has(method) && c.req.raw.body !== null) {
      try {
        body = new Uint8Array(await c.req.arrayBuffer());
      } catch {
        // An aborted or already-used body: bind to something no retry can repeat.
        body = crypto.getRandomValues(new Uint8Array(32));
      }
    }
    let route: string | undefined;
    try {
      route = routeOf(c);
    } catch {
      route = undefined; // the path stands in for it
    }
    const result = await decide(
      {
        method,
        path: c.req.path,
        query: queryOf(c.req.url),
        route,
        headers: c.req.header(),
        ...(body !== undefined && { body }),
      },
      c,
    );
    if (result.pass) {
      for (const [name, value] of Object.entries(result.headers)) c.header(name, value);
      await next();
      return;
    }
    return c.body(
      JSON.stringify(result.body),
      result.status as ContentfulStatusCode,
      result.headers as Record<string, string>,
    );
  };
}

/** The query string of a URL, without `?` (and without a fragment). */
function queryOf(url: string): string | undefined {
  const q = url.indexOf("?");
  if (q === -1) return undefined;
  const hash = url.indexOf("#", q);
  return hash === -1 ? url.slice(q + 1) : url.slice(q + 1, hash);
}
