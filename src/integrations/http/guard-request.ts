/**
 * The framework-neutral half of the web-framework guards: from a request's description to
 * a decision context, from the Guardian's decision to an answer. The Express, Fastify and
 * Hono guards describe their request, call this, and copy the answer's status, headers
 * and body. Nothing here throws or rejects on the request path.
 *
 * @module
 */

import { type RequestedApproval, requestApproval } from "../../confirm/request-approval.ts";
import type { ConfirmationStore } from "../../confirm/types.ts";
import type { Guardian } from "../../guardian/guardian.ts";
import type { Context } from "../../kernel/context.ts";
import type { Decision } from "../../kernel/decision.ts";
import { DecisionBackendError, GuardrailError } from "../../kernel/errors.ts";
import { describeValue } from "../../util/describe.ts";
import { checkTimeout } from "../../util/timeout.ts";
import { isPlainObject, isThenable } from "../../util/values.ts";
import { bodyDigest, queryDigest } from "./body-digest.ts";
import { ownQueryDigest, withoutConfirmationKeys } from "./context-keys.ts";
import {
  CONFIRMATION_TOKEN_HEADER,
  headerText,
  PROBLEM_TYPES,
  pendingApproval,
  problem,
  type Refusal,
  rateLimited,
  WARNING_HEADER,
} from "./problems.ts";

/** A request as the guard reads it. */
export interface HttpRequestInfo {
  /** The HTTP method, any case. */
  readonly method: string;
  /** The path, without the query string. */
  readonly path: string;
  /**
   * The query string (without `?`), when there is one: bound into confirmation tokens
   * (as `queryDigest`), so an approval of `DELETE /items?id=1` does not pass `?id=2`.
   */
  readonly query?: string | undefined;
  /** The route's pattern (`/projects/:id`), when the framework knows it. */
  readonly route?: string | undefined;
  /** Request headers, names in lower case (Node's `IncomingHttpHeaders` fits). */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /**
   * The body to bind confirmation tokens to: raw bytes or text, or what a body parser
   * made of it; `undefined` for none.
   */
  readonly body?: unknown;
}

/**
 * Options of `guard(guardian, options)` in every framework integration; `Req` is what the
 * framework's handlers receive (Express `Request`, Fastify `FastifyRequest`, Hono `Context`).
 */
export interface HttpGuardOptions<Req> {
  /** The policy that decides each request. */
  readonly policyId: string;
  /**
   * More context for the decision, from the framework's request: a user id, roles, a
   * tenant, the client address for `per: ip`. May be async. Merged over the default
   * context `{ operation, resource, method, path, bodyDigest? }` (its keys win).
   *
   * A confirmation token is bound to the whole context, so keep values that change from
   * one attempt to the next (request ids, timestamps) out of it. A function that throws
   * refuses the request (403, `context-error`): the guard never decides on half a context.
   *
   * @example
   * ```ts
   * context: (req) => ({ userId: req.get("x-user-id"), ip: req.ip })
   * ```
   */
  readonly context?: (req: Req) => Context | Promise<Context>;
  /**
   * Bind confirmation tokens to a digest of the request body (`bodyDigest` in the
   * context), so a token approved for one body cannot send another. Express and Fastify
   * digest the parsed body (mount the body parser before the guard); Hono reads the raw
   * body (it stays readable by the handler through `c.req.json()`, `c.req.text()` and
   * friends). Turn it off for streamed uploads.
   * @default true
   */
  readonly bindBody?: boolean;
  /**
   * How long a confirmation token asked for by a 202 answer stays usable.
   * @default the store's default (15 minutes for the built-in stores)
   */
  readonly confirmationTtlMs?: number;
  /**
   * How long to wait for the confirmation store when creating a token.
   * @default 5000
   */
  readonly storeTimeoutMs?: number;
  /**
   * Hears failures the answer does not detail (a context function that threw, a backend
   * that failed, a store that could not create a token). Default: one line on stderr per
   * kind of failure. It must not throw; if it does, the error is ignored.
   */
  readonly onError?: (error: GuardrailError) => void;
}

/** The request may proceed. */
export interface HttpGuardPass {
  readonly pass: true;
  readonly decision: Decision;
  /** Headers to add to the answer (`X-Guardrails-Warning` on a warned decision). */
  readonly headers: Readonly<Record<string, string>>;
}

/** The request is answered by the guard: 202, 403, 429 or 503. */
export interface HttpGuardRefusal extends Refusal {
  readonly pass: false;
  /** The decision, when one was made (not when the context function threw). */
  readonly decision: Decision | undefined;
}

/** What the guard makes of a request. */
export type HttpGuardResult = HttpGuardPass | HttpGuardRefusal;

/** The default `operation` per method; other methods use their name in lower case. */
export const OPERATION_OF_METHOD: Readonly<Record<string, string>> = Object.freeze({
  GET: "read",
  HEAD: "read",
  OPTIONS: "read",
  POST: "create",
  PUT: "update",
  PATCH: "update",
  DELETE: "delete",
});

/** The default decision context of a request (before the `context` function's keys). */
export function requestContext(request: HttpRequestInfo): Record<string, unknown> {
  const method = request.method.toUpperCase();
  const digest = request.body === undefined ? undefined : bodyDigest(request.body);
  const query = request.query ? queryDigest(request.query) : undefined;
  return {
    operation: OPERATION_OF_METHOD[method] ?? method.toLowerCase(),
    resource: request.route ?? request.path,
    method,
    path: request.path,
    ...(digest !== undefined && { bodyDigest: digest }),
    ...(query !== undefined && { queryDigest: query }),
  };
}

function tokenIn(headers: HttpRequestInfo["headers"]): string | undefined {
  const raw = headers[CONFIRMATION_TOKEN_HEADER];
  const value = typeof raw === "string" ? raw : raw?.[0];
  const token = value?.trim();
  return token ? token : undefined;
}

function reporter(onError: ((error: GuardrailError) => void) | undefined, policyId: string) {
  const reported = new Set<string>();
  return (what: string, err: unknown): void => {
    const message = err instanceof Error ? err.message : describeValue(err);
    const error = new GuardrailError(`http guard for policy '${policyId}': ${what}: ${message}`, {
      code: "http_guard_failed",
      cause: err,
    });
    try {
      if (onError) {
        const r: unknown = onError(error);
        if (isThenable(r)) r.then(undefined, () => {});
      } else if (!reported.has(what)) {
        reported.add(what);
        process.stderr.write(
          `[hexarch] ${error.message} (further such failures are not reported)\n`,
        );
      }
    } catch {
      // A failing error handler must not turn a refusal into a crash.
    }
  };
}

const refuse = (r: Refusal, decision?: Decision): HttpGuardRefusal => ({
  ...r,
  pass: false,
  decision,
});

/**
 * The guard of one route (or one group of routes): decides each request with
 * `guardian.decide` — which records the decision to the Guardian's audit log, checks and
 * uses a confirmation token, and calls `onWarn` as a guarded call does — and answers:
 *
 * - allow, warn (and monitor mode's would-be refusals): pass, a warning in
 *   `X-Guardrails-Warning`;
 * - a refusal by rate-limit windows: 429 with `Retry-After` and `RateLimit-*` headers;
 * - `require_confirmation`: 202 with a new token (body `confirmationToken`, header
 *   `X-Confirmation-Token`), bound to the request's context (method, path, body digest and
 *   the `context` function's keys); a retry with the approved token passes, once. Without a
 *   `confirmations` store on the Guardian: 403 (fail closed);
 * - another refusal: 403; a failed backend (failing closed): 503.
 *
 * @throws UnknownPolicyError now (not per request) when the policies are local and have no
 *   such id.
 * @example
 * ```ts
 * const decide = httpGuard(guardian, { policyId: "safe_delete" });
 * const result = await decide({ method: "DELETE", path: "/projects/7", headers }, rawRequest);
 * if (!result.pass) return send(result.status, result.headers, JSON.stringify(result.body));
 * ```
 */
export function httpGuard<Req>(
  guardian: Guardian,
  options: HttpGuardOptions<Req>,
): (request: HttpRequestInfo, source: Req) => Promise<HttpGuardResult> {
  const { policyId, context } = options;
  if (typeof policyId !== "string" || policyId === "") {
    throw new GuardrailError("guard() needs a policyId", { code: "policy_id_missing" });
  }
  guardian.check(policyId); // an unknown id fails at startup, as guardian.check does
  const report = reporter(options.onError, policyId);
  const storeTimeoutMs = checkTimeout(options.storeTimeoutMs ?? 5000, "storeTimeoutMs");

  const unavailable = (reason: string, decision?: Decision) =>
    refuse(
      problem(
        503,
        PROBLEM_TYPES.unavailable,
        "Guardrail unavailable",
        "The request could not be checked against its policy, so it was refused. Try again later.",
        policyId,
        reason,
        decision,
      ),
      decision,
    );

  const askForConfirmation = async (
    decision: Decision,
    ctx: Context,
    request: HttpRequestInfo,
  ): Promise<HttpGuardRefusal> => {
    const store: ConfirmationStore | undefined = guardian.confirmations;
    const cannot = (detail: string) =>
      refuse(
        problem(
          403,
          PROBLEM_TYPES.confirmationUnavailable,
          "Confirmation unavailable",
          detail,
          decision.policyId,
          decision.reason,
          decision,
        ),
        decision,
      );
    if (!store) {
      return cannot(
        "The policy requires confirmation, and this server has no confirmation store to ask for one with (the Guardian's `confirmations` option), so the request was refused.",
      );
    }
    const binding = guardian.confirmationBinding(policyId, ctx);
    if (!binding) {
      return cannot(
        "The policy requires confirmation, and this request's context cannot be bound to a token (the context function returned something other than plain data).",
      );
    }
    const method = request.method.toUpperCase();
    let asked: RequestedApproval;
    try {
      asked = await requestApproval(
        store,
        {
          ...binding,
          reason: decision.reason,
          operation: `${method} ${request.path}`,
          metadata: { method, path: request.path },
          ...(typeof ctx.userId === "string" && { requestedBy: ctx.userId }),
          ...(options.confirmationTtlMs !== undefined && { ttlMs: options.confirmationTtlMs }),
        },
        storeTimeoutMs,
      );
    } catch (err) {
      // The store's own failure (the cause), as onError has always been told it.
      report(
        "the confirmation store failed to create a request",
        err instanceof DecisionBackendError && err.cause !== undefined ? err.cause : err,
      );
      return unavailable(
        "the confirmation store could not create a confirmation request",
        decision,
      );
    }
    return refuse(pendingApproval(decision, asked.token, asked.expiresAtMs), decision);
  };

  const refused = (decision: Decision, hadToken: boolean): HttpGuardRefusal => {
    if (decision.error !== undefined) {
      report("the decision backend failed", decision.error);
      return unavailable(
        `Policy '${decision.policyId}' could not decide: the decision backend failed, failing closed`,
        decision,
      );
    }
    if (decision.action === "require_confirmation" && hadToken) {
      return refuse(
        problem(
          403,
          PROBLEM_TYPES.confirmationRefused,
          "Confirmation token refused",
          "The X-Confirmation-Token does not confirm this request (the reason says which check failed).",
          decision.policyId,
          decision.reason,
          decision,
        ),
        decision,
      );
    }
    if (decision.action === "block" && decision.rateLimit !== undefined) {
      return refuse(rateLimited(decision, decision.rateLimit), decision);
    }
    return refuse(
      problem(
        403,
        PROBLEM_TYPES.policyViolation,
        "Refused by policy",
        decision.reason,
        decision.policyId,
        decision.reason,
        decision,
      ),
      decision,
    );
  };

  return async (request, source) => {
    let ctx: Context;
    try {
      const base = requestContext(request);
      const extra: unknown = context ? await context(source) : undefined;
      if (extra !== undefined && extra !== null && !isPlainObject(extra)) {
        throw new GuardrailError(
          `the context function returned ${describeValue(extra)}, not an object`,
          { code: "context_invalid" },
        );
      }
      // Confirmation comes only from an approved token in the header: a context function
      // passing request data through (`...req.query`) must not let `?confirm=true` skip it.
      ctx = extra ? { ...base, ...withoutConfirmationKeys(extra), ...ownQueryDigest(base) } : base;
    } catch (err) {
      report("the context function failed", err);
      return refuse(
        problem(
          403,
          PROBLEM_TYPES.contextError,
          "Request context unavailable",
          "The guard could not build this request's decision context, so the request was refused.",
          policyId,
          "the guard's context function failed; nothing was decided",
        ),
      );
    }
    const token = tokenIn(request.headers);
    let decision: Decision;
    try {
      decision = await guardian.decide(
        policyId,
        token === undefined ? ctx : { ...ctx, confirmationToken: token },
        { record: { functionName: `${request.method} ${request.route ?? request.path}` } },
      );
    } catch (err) {
      // A durable audit log that could not write, or a bug: fail closed, never crash.
      report("the Guardian failed", err);
      return unavailable(`Policy '${policyId}' could not decide: the Guardian failed`);
    }
    // Monitor mode lets refusals through (with a warning below); enforce answers them.
    if (!decision.allowed && guardian.mode === "enforce") {
      // A new request for approval; with a token, only when no store could have checked it.
      if (
        decision.action === "require_confirmation" &&
        (token === undefined || !guardian.confirmations)
      ) {
        return askForConfirmation(decision, ctx, request);
      }
      return refused(decision, token !== undefined);
    }
    if (decision.action === "warn" || !decision.allowed) {
      const what = decision.allowed
        ? decision.reason
        : `would refuse (monitor mode): ${decision.reason}`;
      return { pass: true, decision, headers: { [WARNING_HEADER]: headerText(what) } };
    }
    return { pass: true, decision, headers: {} };
  };
}
