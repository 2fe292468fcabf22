/**
 * Who may confirm its own calls over HTTP: a `confirm: true` in a context is honoured only
 * for them, so a client that merely decides cannot wave its calls past a policy that asks
 * for someone else's approval.
 *
 * @module
 */

import { scopesGrant } from "./api-key-auth.ts";
import type { Identity } from "./auth.ts";

/**
 * Whether `identity` may confirm its own calls (`confirm: true` in the context of
 * `POST /authorize`): the static token (an admin credential), or an API key whose scopes
 * grant `self-confirm` ({@link scopesGrant}: `self-confirm`, `admin` or `*`). Anonymous
 * callers and every other key may not: they ask for approval and get a confirmation token
 * instead.
 */
export function maySelfConfirm(identity: Identity | null | undefined): boolean {
  if (!identity) return false;
  if (identity.kind === "api-token") return true;
  return identity.kind === "api-key" && scopesGrant(identity.apiKey?.scopes ?? [], "self-confirm");
}
