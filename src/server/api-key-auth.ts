/**
 * API keys at the door: which scope each route needs, checking a presented key, and
 * recording the refusals of keys that exist.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { apiKeyIdOf } from "../api-keys/keys.ts";
import type { ApiKey, ApiKeyScope, ApiKeyStore } from "../api-keys/types.ts";
import type { DecisionLogger } from "../audit/decision-logger.ts";
import { refusingClient } from "../decision/refusing-client.ts";
import type { Guardian } from "../guardian/guardian.ts";
import type { Identity } from "./auth.ts";
import { backend, HttpError } from "./errors.ts";

/**
 * What a route (or a feature) asks of its caller: a scope a key can hold, or the static
 * token itself (`token`), or only that the caller authenticated (`authenticated`: any
 * credential the server admits, whatever its scopes). The legacy `write` and the wildcard
 * `*` are never asked for: they only grant (see {@link scopesGrant}).
 */
export type RouteScope = Exclude<ApiKeyScope, "write" | "*"> | "token" | "authenticated";

/**
 * The scope a route needs (by method and route pattern), so a key holds only what its
 * client does: a key that decides cannot change the policies that judge it.
 *
 * | route                                          | needs   |
 * | ---------------------------------------------- | ------- |
 * | `/api-keys…` (any method)                      | `token` (the static token; no API key) |
 * | `POST /policies/reload`                        | `admin` |
 * | `GET /whoami`                                  | `authenticated` (any credential, whatever its scopes) |
 * | `GET /approvals` (the inbox)                   | `approve` |
 * | `GET`/`HEAD /events/stream`                    | `read` (every event) or `approve` (confirmation events only): see {@link acceptedScopes} |
 * | `GET`/`HEAD /approvals/:token`                 | `read` or `approve` by token; by id, `approve` (the route checks it): see {@link acceptedScopes} |
 * | any other `GET`/`HEAD` (audit, rules, policies, metrics) | `read` |
 * | `POST /authorize`, `POST /events/provider-calls` | `decide` |
 * | `POST /approvals/:token/approve\|deny`        | `approve` |
 * | `POST/PUT/PATCH/DELETE` on `/rules…`, `/policies…`; `POST /audit-checkpoints` | `policy` |
 * | any other method on any other route            | `admin` (fail closed: a new route is not open to narrower keys by accident) |
 *
 * Where a route admits one of several scopes, this answers the first (what a refusal names
 * as `requiredScope`); the door checks {@link acceptedScopes}.
 */
export function requiredScope(method: string, url: string): RouteScope {
  if (url === "/api-keys" || url.startsWith("/api-keys/")) return "token";
  if (url === "/policies/reload") return "admin";
  if (url === "/whoami") return "authenticated";
  if (url === "/approvals" && (method === "GET" || method === "HEAD")) return "approve";
  if (method === "GET" || method === "HEAD") return "read";
  if (url === "/authorize" || url === "/events/provider-calls") return "decide";
  if (url.startsWith("/approvals/")) return "approve";
  if (
    url === "/rules" ||
    url.startsWith("/rules/") ||
    url === "/policies" ||
    url.startsWith("/policies/") ||
    url === "/audit-checkpoints"
  )
    return "policy";
  return "admin";
}

/**
 * The scopes any one of which admits a caller to a route: `GET`/`HEAD /events/stream`
 * admits `read` (the stream carries every event) or `approve` (it carries confirmation
 * events only: an approver's inbox stays live); `GET`/`HEAD /approvals/:token` admits
 * `read` or `approve` (the route asks `approve` of a lookup by id); every other route only
 * its {@link requiredScope}.
 */
export function acceptedScopes(method: string, url: string): readonly RouteScope[] {
  if (
    (url === "/events/stream" || url === "/approvals/:token") &&
    (method === "GET" || method === "HEAD")
  )
    return ["read", "approve"];
  return [requiredScope(method, url)];
}

/** What the legacy `write` scope grants: everything it used to (`write` = these three). */
const WRITE_GRANTS: ReadonlySet<RouteScope> = new Set(["decide", "approve", "policy"]);

/**
 * Whether scopes grant what a route needs: `*` and `admin` grant every scope; the legacy
 * `write` grants `decide`, `approve` and `policy` (keys made before the split keep
 * working); any other scope grants only itself (a key that decides need not read the
 * audit log, nor change policies, nor confirm its own calls). No scope grants `token`;
 * every scope list, the empty one too, grants `authenticated`.
 */
export function scopesGrant(scopes: readonly ApiKeyScope[], need: RouteScope): boolean {
  if (need === "token") return false;
  if (need === "authenticated") return true;
  return scopes.some(
    (s) => s === "*" || s === "admin" || s === need || (s === "write" && WRITE_GRANTS.has(need)),
  );
}

/** The policy id refusals of API keys carry in the audit log. */
export const API_KEY_AUDIT_POLICY = "hexarch:api-key";

/** Checks API keys for one server. */
export interface ApiKeyAuth {
  /**
   * The caller behind a key-shaped bearer token.
   * @throws HttpError 403 for a key that does not exist, does not match, or was revoked
   *   (only the last is recorded: the caller proved it holds a real key).
   */
  authenticate(request: FastifyRequest, token: string): Promise<Identity>;
  /**
   * Refuses a request whose caller lacks the route's scope: 403 for an API key (recorded),
   * 401 for an anonymous caller on a token-only route.
   */
  authorize(request: FastifyRequest): Promise<void>;
  /** The rate limiter's bucket for a key checked before (`key:<id>`), else `undefined`. */
  bucketOf(token: string): string | undefined;
  /** Forgets a revoked key's bucket. */
  forget(id: string): void;
}

const digest = (s: string): string => createHash("sha256").update(s, "utf8").digest("hex");

/** Keys remembered for the rate limiter, at most (then it starts over). */
const MAX_REMEMBERED = 10_000;

/**
 * Builds the API key checks over a store; refusals are decided by the Guardian in force
 * (`guardian()`: a reload replaces it) and recorded in `auditLogger` when there is one.
 */
export function apiKeyAuth(
  store: ApiKeyStore,
  auditLogger: DecisionLogger | undefined,
  guardian: () => Guardian,
  onRecordError: (err: unknown) => void,
): ApiKeyAuth {
  // Digests of keys that matched, for the rate limiter (which cannot wait for the store).
  const known = new Map<string, string>();
  const record = async (
    request: FastifyRequest,
    apiKey: Pick<ApiKey, "id" | "name">,
    code: string,
    reason: string,
  ): Promise<void> => {
    if (!auditLogger) return;
    const route = `${request.method} ${request.routeOptions.url ?? ""}`;
    try {
      await guardian().decide(
        API_KEY_AUDIT_POLICY,
        { route },
        {
          client: refusingClient(reason, code),
          warn: false,
          record: {
            to: auditLogger,
            functionName: route,
            metadata: {
              via: "api-key",
              requestId: request.id,
              actor: `api-key:${apiKey.id}`,
              keyId: apiKey.id,
              keyName: apiKey.name,
              code,
            },
          },
        },
      );
    } catch (err) {
      onRecordError(err);
    }
  };
  return {
    async authenticate(request, token) {
      const check = await backend("API key store", () => store.verify(token));
      if (check.status === "invalid") {
        const id = apiKeyIdOf(token);
        for (const [d, k] of known) if (k === id) known.delete(d);
        throw new HttpError(403, "forbidden", "the API key is not valid for this server");
      }
      const { apiKey } = check;
      if (check.status === "revoked") {
        this.forget(apiKey.id);
        await record(request, apiKey, "revoked_key", `API key '${apiKey.id}' is revoked`);
        throw new HttpError(403, "revoked_key", `the API key '${apiKey.id}' was revoked`);
      }
      if (known.size >= MAX_REMEMBERED) known.clear();
      known.set(digest(token), apiKey.id);
      return {
        kind: "api-key",
        actorId: `api-key:${apiKey.id}`,
        mayNameActor: false,
        actorNamed: false,
        apiKey: { id: apiKey.id, name: apiKey.name, scopes: apiKey.scopes },
        ...(apiKey.subject && { subject: apiKey.subject }),
      };
    },
    async authorize(request) {
      const identity = request.identity;
      if (!identity) return;
      const url = request.routeOptions.url ?? "";
      const need = requiredScope(request.method, url);
      const accepted = acceptedScopes(request.method, url);
      if (identity.kind === "api-token") return;
      if (identity.kind === "anonymous") {
        if (need === "token")
          throw new HttpError(401, "unauthenticated", "this route needs the server's API token", {
            headers: { "www-authenticate": 'Bearer realm="hexarch-guardrails"' },
          });
        return;
      }
      const key = identity.apiKey;
      if (key && accepted.some((s) => scopesGrant(key.scopes, s))) return;
      const message =
        need === "token"
          ? "API keys cannot manage API keys: use the server's API token"
          : `the API key lacks the ${accepted.map((s) => `'${s}'`).join(" or ")} scope this route needs`;
      if (key) {
        await record(request, key, "insufficient_scope", `API key '${key.id}' refused: ${message}`);
      }
      throw new HttpError(403, "insufficient_scope", message, {
        extras: { requiredScope: need },
      });
    },
    bucketOf(token) {
      const id = known.get(digest(token));
      return id === undefined ? undefined : `key:${id}`;
    },
    forget(id) {
      for (const [d, k] of known) if (k === id) known.delete(d);
    },
  };
}
