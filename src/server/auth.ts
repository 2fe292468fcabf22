/**
 * Who is calling: the static bearer token, compared in constant time, or anonymous when
 * the server was started with `allowAnon`. API keys are checked beside it (`api-key-auth.ts`).
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import type { ApiKeyScope, ApiKeySubject } from "../api-keys/types.ts";
import { HttpError } from "./errors.ts";

/** The authenticated caller of a request. */
export interface Identity {
  /** How the caller authenticated. */
  readonly kind: "api-token" | "api-key" | "anonymous";
  /**
   * Who acts, for audit records and approvals: `X-Actor-Id` when the credential may name
   * someone, else the credential's own name (`api-token`, `anonymous`).
   */
  readonly actorId: string;
  /**
   * Whether the credential may act for any named person (the static token is an admin
   * credential: its holder may say who approves). Narrower credentials act as themselves.
   */
  readonly mayNameActor: boolean;
  /** Whether `actorId` was named by the caller (the `X-Actor-Id` header). */
  readonly actorNamed: boolean;
  /** For `api-key`: the key (its id is also the actor, `api-key:<id>`). */
  readonly apiKey?: {
    readonly id: string;
    readonly name: string;
    readonly scopes: readonly ApiKeyScope[];
  };
  /**
   * Who the caller acts for, when its credential is bound to someone (an API key made
   * with a `subject`): these replace the user and tenant its contexts claim
   * (`bindSubject`). Absent: the context's user and tenant are the caller's claims.
   */
  readonly subject?: ApiKeySubject;
}

/** What the `WWW-Authenticate` header says on a 401. */
const CHALLENGE = 'Bearer realm="hexarch-guardrails"';

/** Actor ids and request ids: printable, no spaces, nothing a log line could be bent with. */
export const SANE_ID = /^[A-Za-z0-9._:@+=/-]{1,128}$/;

const digest = (s: string): Buffer => createHash("sha256").update(s, "utf8").digest();

/**
 * Compares a presented token with the configured one in constant time: both are hashed
 * first, so neither their contents nor their lengths shape the comparison's timing.
 */
export function tokenMatches(presented: string, expectedDigest: Buffer): boolean {
  return timingSafeEqual(digest(presented), expectedDigest);
}

/** The token of an `Authorization: Bearer …` header; `undefined` when there is none. */
export function bearerOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== "string") return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m?.[1];
}

/** Checks credentials; built once per server. */
export interface Authenticator {
  /**
   * The caller of a request.
   * @throws HttpError 401 without credentials, 403 with wrong ones, 400 for a bad `X-Actor-Id`.
   */
  authenticate(request: FastifyRequest): Identity;
  /**
   * Whether the request carries the right token (for the rate limiter's key: a wrong token
   * must not buy a fresh bucket).
   */
  hasValidToken(request: FastifyRequest): boolean;
  /** Whether requests without credentials are let in. */
  readonly anonymous: boolean;
}

/** An authenticator for the static token (`undefined`: none configured, `allowAnon` then). */
export function staticTokenAuth(apiToken: string | undefined, allowAnon: boolean): Authenticator {
  const expected = apiToken === undefined ? undefined : digest(apiToken);
  const actor = (request: FastifyRequest, fallback: string) => {
    const named = request.headers["x-actor-id"];
    if (named === undefined) return { actorId: fallback, actorNamed: false };
    if (typeof named !== "string" || !SANE_ID.test(named)) {
      throw new HttpError(
        400,
        "invalid_header",
        "header.x-actor-id must be 1 to 128 letters, digits or ._:@+=/-",
        { extras: { field: "header.x-actor-id" } },
      );
    }
    return { actorId: named, actorNamed: true };
  };
  // The rate limiter's key and the authentication both ask: hash the token once per request.
  const checked = new WeakMap<FastifyRequest, boolean>();
  const hasValidToken = (request: FastifyRequest): boolean => {
    let valid = checked.get(request);
    if (valid === undefined) {
      const token = bearerOf(request);
      valid = expected !== undefined && token !== undefined && tokenMatches(token, expected);
      checked.set(request, valid);
    }
    return valid;
  };
  return {
    anonymous: allowAnon,
    hasValidToken,
    authenticate(request) {
      const token = bearerOf(request);
      if (token === undefined || expected === undefined) {
        // Anonymous mode admits callers without a token; a token it cannot check is refused
        // rather than ignored, so a client configured for a secured server notices.
        if (allowAnon && token === undefined)
          return { kind: "anonymous", mayNameActor: true, ...actor(request, "anonymous") };
        if (token === undefined) {
          throw new HttpError(
            401,
            "unauthenticated",
            request.headers.authorization === undefined
              ? "this route needs Authorization: Bearer <token>"
              : "the Authorization header must be Bearer <token>",
            { headers: { "www-authenticate": CHALLENGE } },
          );
        }
      }
      if (!hasValidToken(request)) {
        throw new HttpError(403, "forbidden", "the bearer token is not valid for this server");
      }
      return { kind: "api-token", mayNameActor: true, ...actor(request, "api-token") };
    },
  };
}
