/**
 * What a guarded HTTP request is answered when it may not proceed: RFC 9457 problem
 * details for refusals, the pending-approval body for `require_confirmation`, and the
 * rate-limit headers. Framework-neutral: the adapters only copy status, headers and body.
 *
 * @module
 */

import type { Decision, RateLimitRefusal } from "../../kernel/decision.ts";

/**
 * The `type` of each problem the guards answer: stable identifiers, to compare as strings
 * (RFC 9457 does not require a type URI to resolve).
 */
export const PROBLEM_TYPES = Object.freeze({
  /** 403: a policy refused the request. */
  policyViolation: "https://hexarch.dev/problems/policy-violation",
  /** 429: a rate limit refused the request; `Retry-After` says when to try again. */
  rateLimited: "https://hexarch.dev/problems/rate-limited",
  /** 403: the request carried a confirmation token that cannot confirm it (the reason says why). */
  confirmationRefused: "https://hexarch.dev/problems/confirmation-refused",
  /**
   * 403: the policy wants confirmation, but none can be asked for: the Guardian has no
   * `confirmations` store, or the request's context cannot be bound to a token.
   */
  confirmationUnavailable: "https://hexarch.dev/problems/confirmation-unavailable",
  /** 403: the guard's `context` function threw, so nothing was decided (fail closed). */
  contextError: "https://hexarch.dev/problems/context-error",
  /** 503: the decision backend, the audit log (durable mode) or the confirmation store failed. */
  unavailable: "https://hexarch.dev/problems/guardrail-unavailable",
} as const);

/** One of {@link PROBLEM_TYPES}. */
export type ProblemType = (typeof PROBLEM_TYPES)[keyof typeof PROBLEM_TYPES];

/** A refusal's body (`application/problem+json`, RFC 9457), with the policy's own fields. */
export interface PolicyProblem {
  /** One of {@link PROBLEM_TYPES}. */
  readonly type: ProblemType;
  /** Short, the same for every occurrence of the type. */
  readonly title: string;
  /** The HTTP status, repeated. */
  readonly status: 403 | 429 | 503;
  /** What happened to this request. */
  readonly detail: string;
  /** The policy the guard asked. */
  readonly policyId: string;
  /** The decision's reason (names the policy and the rule), or why nothing was decided. */
  readonly reason: string;
  /** The decision's id in the audit log, when a decision was made. */
  readonly decisionId?: string;
}

/** The 202 body of a request held for approval. */
export interface PendingApprovalBody {
  readonly status: "pending_approval";
  /** Retry the same request with `X-Confirmation-Token: <token>` once it is approved. */
  readonly confirmationToken: string;
  readonly policyId: string;
  /** The decision's reason. */
  readonly reason: string;
  /** The decision's id in the audit log. */
  readonly decisionId: string;
  /** When the token stops working (ISO 8601 UTC), when the store said. */
  readonly expiresAt?: string;
  /** What to do next, for a person reading the answer. */
  readonly detail: string;
}

/** The request header (and 202 answer header) carrying a confirmation token. */
export const CONFIRMATION_TOKEN_HEADER = "x-confirmation-token";
/** The answer header carrying a warned decision's reason (and monitor mode's would-be refusals). */
export const WARNING_HEADER = "x-guardrails-warning";

const PROBLEM_JSON = "application/problem+json";

/** A header value from free text: printable ASCII only (reasons may quote any context value). */
export function headerText(text: string, max = 512): string {
  const clean = text.replace(/[^\x20-\x7e]/g, "?");
  return clean.length > max ? `${clean.slice(0, max - 3)}...` : clean;
}

/** What a refusal answers: status, headers and body. */
export interface Refusal {
  readonly status: 202 | 403 | 429 | 503;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: PolicyProblem | PendingApprovalBody;
}

/** A problem answer. */
export function problem(
  status: PolicyProblem["status"],
  type: ProblemType,
  title: string,
  detail: string,
  policyId: string,
  reason: string,
  decision?: Decision,
  headers: Readonly<Record<string, string>> = {},
): Refusal {
  return {
    status,
    headers: { ...headers, "content-type": PROBLEM_JSON },
    body: {
      type,
      title,
      status,
      detail,
      policyId,
      reason,
      ...(decision && { decisionId: decision.decisionId }),
    },
  };
}

/**
 * `Retry-After` (seconds) and the rate-limit fields of draft-ietf-httpapi-ratelimit-headers-06
 * (`RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` in seconds, and
 * `RateLimit-Policy: <limit>;w=<window seconds>`).
 */
export function rateLimitHeaders(limit: RateLimitRefusal): Record<string, string> {
  const retry = String(Math.max(1, Math.ceil(limit.retryAfterMs / 1000)));
  return {
    "retry-after": retry,
    "ratelimit-limit": String(limit.limit),
    "ratelimit-remaining": "0",
    "ratelimit-reset": retry,
    "ratelimit-policy": `${limit.limit};w=${Math.max(1, Math.ceil(limit.windowMs / 1000))}`,
  };
}

/** The 429 of a rate-limit refusal. */
export function rateLimited(decision: Decision, limit: RateLimitRefusal): Refusal {
  const headers = rateLimitHeaders(limit);
  return problem(
    429,
    PROBLEM_TYPES.rateLimited,
    "Rate limit reached",
    `Too many requests: retry after ${headers["retry-after"]} seconds.`,
    decision.policyId,
    decision.reason,
    decision,
    headers,
  );
}

/** The 202 of a request held for approval. */
export function pendingApproval(
  decision: Decision,
  token: string,
  expiresAtMs: number | undefined,
): Refusal {
  return {
    status: 202,
    headers: { "content-type": "application/json", [CONFIRMATION_TOKEN_HEADER]: token },
    body: {
      status: "pending_approval",
      confirmationToken: token,
      policyId: decision.policyId,
      reason: decision.reason,
      decisionId: decision.decisionId,
      ...(expiresAtMs !== undefined && { expiresAt: new Date(expiresAtMs).toISOString() }),
      detail:
        "The request needs approval. Once it is approved, send the same request again with the header X-Confirmation-Token: <confirmationToken>; the token works once.",
    },
  };
}
