/**
 * The bound subject of a credential applied to what it sends: a key made for one user (or
 * tenant) decides for that user only, whatever its context claims.
 *
 * Context fields are the caller's claims: the static token and unbound keys may say any
 * `userId`, and policies keyed on it (`allowed_users`, `per: userId` limits) trust them. A
 * key bound to a subject cannot: its `userId`/`user_id`/`user.id` and
 * `tenantId`/`tenant_id`/`tenant.id` are replaced with the bound values before anything is
 * decided, its role and ownership claims (`roles`, `role`, `ownerId`, `owner_id`) are
 * removed, and what it claimed instead goes to the audit record.
 *
 * @module
 */

import type { Identity } from "./auth.ts";

/** A context (or event metadata) as a route receives it. */
type Fields = Readonly<Record<string, unknown>>;

/**
 * What a bound caller claimed that was overridden, for the audit record's metadata: the
 * key (`apiKey`, its id) and the replaced values. Empty when nothing was overridden.
 */
export interface SubjectClaims {
  /** The id of the bound key whose claims were overridden. */
  readonly apiKey?: string;
  /** The user the context named (`userId`, else `user_id`) instead of the bound one. */
  readonly claimedUserId?: unknown;
  /** The tenant the context named (`tenantId`, else `tenant_id`) instead of the bound one. */
  readonly claimedTenantId?: unknown;
  /**
   * Roles, ownership and other identity claims a bound caller sent, removed before deciding
   * (by field name: `roles`, `role`, `ownerId`, `owner_id`).
   */
  readonly claimedIdentity?: Readonly<Record<string, unknown>>;
}

/** The fields one part of a subject lives in, in the order a claim is read from them. */
const USER_FIELDS = ["userId", "user_id"] as const;
const TENANT_FIELDS = ["tenantId", "tenant_id"] as const;
/**
 * Claims about who the caller is that a bound subject does not cover: roles (`@role`
 * entries of `allowed_users`) and resource ownership (`@self`). A bound caller's are
 * removed, so those entries never pass on its word (fail closed).
 */
const UNBOUND_IDENTITY_FIELDS = ["roles", "role", "ownerId", "owner_id"] as const;

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** `context[field].id` set to `bound` when `context[field]` is an object; the old id, if it differed. */
function bindNestedId(bound: Record<string, unknown>, field: string, value: string): unknown {
  const nested = bound[field];
  if (!isPlainObject(nested)) return undefined;
  const claim = nested.id;
  bound[field] = { ...nested, id: value };
  return claim !== undefined && claim !== value ? claim : undefined;
}

/** The first claim in `fields` that differs from `bound`, else `undefined`. */
function overridden(context: Fields, fields: readonly string[], bound: string): unknown {
  for (const f of fields) {
    const v = context[f];
    if (v !== undefined && v !== bound) return v;
  }
  return undefined;
}

/**
 * The context a caller's decision is made on: for a caller bound to a subject, its user
 * fields (`userId` and `user_id`) and tenant fields (`tenantId` and `tenant_id`) set to the
 * bound values (both spellings, so no policy reads a claim the other left); otherwise the
 * context unchanged. `claimed` lists what the caller said instead, for the audit record.
 *
 * @example
 * ```ts
 * const { context, claimed } = bindSubject(request.identity, request.body.context ?? {});
 * const decision = await guardian.decide(policyId, context, {
 *   record: { to: logger, metadata: { ...claimed, via: "POST /authorize" } },
 * });
 * ```
 */
export function bindSubject<T extends Fields>(
  identity: Identity | null | undefined,
  context: T,
): { readonly context: T; readonly claimed: SubjectClaims } {
  const subject = identity?.subject;
  if (subject === undefined || (subject.userId === undefined && subject.tenantId === undefined))
    return { context, claimed: {} };
  const bound: Record<string, unknown> = { ...context };
  const claimed: {
    apiKey?: string;
    claimedUserId?: unknown;
    claimedTenantId?: unknown;
    claimedIdentity?: Record<string, unknown>;
  } = {};
  if (subject.userId !== undefined) {
    // `user.id` too: `per:` and conditions read dotted paths.
    const nestedClaim = bindNestedId(bound, "user", subject.userId);
    const claim = overridden(context, USER_FIELDS, subject.userId) ?? nestedClaim;
    if (claim !== undefined) claimed.claimedUserId = claim;
    for (const f of USER_FIELDS) bound[f] = subject.userId;
  }
  if (subject.tenantId !== undefined) {
    const nestedClaim = bindNestedId(bound, "tenant", subject.tenantId);
    const claim = overridden(context, TENANT_FIELDS, subject.tenantId) ?? nestedClaim;
    if (claim !== undefined) claimed.claimedTenantId = claim;
    for (const f of TENANT_FIELDS) bound[f] = subject.tenantId;
  }
  for (const f of UNBOUND_IDENTITY_FIELDS) {
    if (!(f in bound)) continue;
    claimed.claimedIdentity = { ...claimed.claimedIdentity, [f]: bound[f] };
    delete bound[f];
  }
  if (
    identity?.apiKey &&
    (claimed.claimedUserId !== undefined ||
      claimed.claimedTenantId !== undefined ||
      claimed.claimedIdentity !== undefined)
  )
    claimed.apiKey = identity.apiKey.id;
  return { context: bound as T, claimed };
}
