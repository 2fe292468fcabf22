/**
 * The server benchmark's stream of calls, and the request bodies both servers get for it.
 *
 * The engine benchmark's mix (70/20/10 read/write/delete, half the deletes confirmed,
 * `openai` with a cost on half the calls) over 1,000 users, skewed so that a few users are
 * hot: `user-0` alone makes about a tenth of the calls, so the per-user rate limit refuses
 * some of them while most users stay under it.
 */

import { COST_PER_CALL, prng } from "../workload.ts";

/** One call of the stream. */
export interface Call {
  readonly userId: string;
  readonly operation: "read" | "write" | "delete";
  readonly resource: "openai" | "postgres";
  readonly confirm: boolean;
}

/** Which of the README's three policies the call asks about over `POST /authorize`. */
export type PolicyId = "api_budget" | "rate_limit" | "safe_delete";

/**
 * A client asks about the policy guarding its call: deletes ask `safe_delete`, calls to
 * OpenAI `api_budget`, everything else `rate_limit`.
 */
export function policyOf(call: Call): PolicyId {
  if (call.operation === "delete") return "safe_delete";
  return call.resource === "openai" ? "api_budget" : "rate_limit";
}

/** `count` calls from a seeded PRNG (the same stream in every run). */
export function makeCalls(count: number, seed = 11): Call[] {
  const rand = prng(seed);
  return Array.from({ length: count }, () => {
    const userId = `user-${Math.floor(1000 * rand() ** 3)}`;
    const r = rand();
    const operation = r < 0.7 ? "read" : r < 0.9 ? "write" : "delete";
    const resource = rand() < 0.5 ? "openai" : "postgres";
    return { userId, operation, resource, confirm: operation === "delete" && rand() < 0.5 };
  });
}

/** The body of `POST /authorize` (native shape) for a call. */
export function hexarchBody(call: Call): string {
  return JSON.stringify({
    policyId: policyOf(call),
    context: {
      userId: call.userId,
      operation: call.operation,
      resource: call.resource,
      ...(call.confirm && { confirm: true }),
      ...(call.resource === "openai" && { cost: COST_PER_CALL }),
    },
  });
}

/** The body of Cerbos's `POST /api/check/resources` for a call: may this user do this to a document? */
export function cerbosBody(call: Call): string {
  return JSON.stringify({
    requestId: "bench",
    principal: { id: call.userId, roles: ["user"] },
    resources: [
      {
        actions: [call.operation],
        resource: {
          kind: "document",
          id: "doc-1",
          attr: { confirmed: call.confirm, backend: call.resource },
        },
      },
    ],
  });
}

/** What a correct server answers about a call, where that does not depend on counters. */
export function expectedStateless(call: Call): "allow" | "deny" | "depends" {
  if (call.operation === "delete") return call.confirm ? "allow" : "deny";
  return "depends";
}

/**
 * The Cerbos resource policy equivalent to `safe_delete`: users may read and write
 * documents, and delete one only when the request says the delete was confirmed.
 */
export const CERBOS_POLICY = `apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: document
  rules:
    - actions: ["read", "write"]
      effect: EFFECT_ALLOW
      roles: ["user"]
    - actions: ["delete"]
      effect: EFFECT_ALLOW
      roles: ["user"]
      condition:
        match:
          expr: request.resource.attr.confirmed == true
`;
