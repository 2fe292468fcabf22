/**
 * `redactUrl`: request URLs for the server's log, with confirmation secrets cut. A module
 * of its own, free of Fastify, so the server's entry can export it without loading
 * Fastify (which `createServer` checks for and loads when it is called).
 *
 * @module
 */

import { confirmationIdOf } from "../confirm/events.ts";

/**
 * Anything shaped like a token (an id, a dot, then 16 or more token characters: stored and
 * signed confirmation tokens, JWTs), wherever it stands in a URL and however the path
 * around it is spelt (`/%61pprovals/…`, `//approvals/…` reach a handler or a 404 alike).
 */
const TOKEN_SHAPED = /([A-Za-z0-9_%-]{0,64})(?:\.|%2[Ee])[A-Za-z0-9_%.=-]{16,}/g;

/**
 * A request URL for the log, with confirmation tokens cut to their id: the segment after
 * `/approvals/` always, and any token-shaped text anywhere (an encoded or misspelt path
 * must not put a token in the log).
 *
 * @example
 * ```ts
 * redactUrl("/approvals/abc.def?x=1"); // "/approvals/abc.***?x=1"
 * ```
 */
export function redactUrl(url: string): string {
  return url
    .replace(
      /^(\/+approvals\/)([^/?#]+)/i,
      (_m, prefix: string, token: string) => `${prefix}${confirmationIdOf(token) ?? ""}.***`,
    )
    .replace(TOKEN_SHAPED, (_m, id: string) => `${id}.***`);
}
