/**
 * API keys of the decision server: named credentials with scopes, stored beside the audit
 * log (audit migrations 6 and 8) as keyed hashes only. The secret is shown once, at creation.
 *
 * @module
 */

/**
 * What a key may do:
 * - `read`: GET routes (audit log, rules, policies, approvals, metrics);
 * - `decide`: ask for decisions (`POST /authorize`) and report provider calls;
 * - `approve`: answer confirmation requests (`POST /approvals/{token}/approve|deny`);
 * - `policy`: create, change and delete API rules and policies;
 * - `self-confirm`: a `confirm: true` in the context this key sends is honoured;
 * - `admin`: everything, reloading the policy file included; `*`: everything;
 * - `write` (legacy, kept so existing keys keep working): `decide` + `approve` + `policy`.
 */
export type ApiKeyScope =
  | "read"
  | "decide"
  | "approve"
  | "policy"
  | "self-confirm"
  | "write"
  | "admin"
  | "*";

/** Every scope, in the order the documentation lists them. */
export const API_KEY_SCOPES: readonly ApiKeyScope[] = [
  "read",
  "decide",
  "approve",
  "policy",
  "self-confirm",
  "write",
  "admin",
  "*",
];

/**
 * Who a key acts for, fixed when it is made: the server puts these values in place of
 * the `userId`/`user_id` and `tenantId`/`tenant_id` a bound key sends in a context, so a
 * key for one user cannot pass as another (`allowed_users`, per-user limits).
 */
export interface ApiKeySubject {
  /** The user every decision of this key is for. */
  readonly userId?: string;
  /** The tenant every decision of this key is for. */
  readonly tenantId?: string;
}

/** A stored key, as listed: never its secret nor its hash. */
export interface ApiKey {
  /** The key id: not secret, part of the key itself (`hxk_<id>…`). */
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly ApiKeyScope[];
  /** Who the key acts for; absent for a key bound to no one (its context claims stand). */
  readonly subject?: ApiKeySubject;
  /** ISO 8601 UTC. */
  readonly created_at: string;
  /** ISO 8601 UTC; `null` while the key is in force. */
  readonly revoked_at: string | null;
  /** ISO 8601 UTC, updated at most once a minute; `null` before first use. */
  readonly last_used_at: string | null;
}

/** A key just created: the only time its secret (`key`) is known. */
export interface CreatedApiKey {
  readonly apiKey: ApiKey;
  /** The whole key (`hxk_…`), to hand to the client. It is not stored. */
  readonly key: string;
}

/** What a presented key turned out to be. */
export type ApiKeyCheck =
  /** The key matches a stored one in force. */
  | { readonly status: "valid"; readonly apiKey: ApiKey }
  /** The key matches a stored one that was revoked. */
  | { readonly status: "revoked"; readonly apiKey: ApiKey }
  /** No stored key has this id, or the secret does not match. */
  | { readonly status: "invalid" };

/** Creating, listing, revoking and checking API keys. */
export interface ApiKeyStore {
  /** Creates a key; the result holds the secret, which is not kept. */
  create(input: {
    readonly name: string;
    readonly scopes: readonly ApiKeyScope[];
    /** Who the key acts for (an empty subject binds nothing). */
    readonly subject?: ApiKeySubject;
  }): Promise<CreatedApiKey>;
  /** Every key, by creation time. */
  list(): Promise<ApiKey[]>;
  get(id: string): Promise<ApiKey | undefined>;
  /** Revokes a key (a revoked one keeps its first `revoked_at`); `undefined` when there is none. */
  revoke(id: string): Promise<ApiKey | undefined>;
  /**
   * Checks a presented key: looked up by its id, compared in constant time. Writes nothing
   * unless the key matches (then `last_used_at`, at most once a minute).
   */
  verify(presented: string): Promise<ApiKeyCheck>;
  /** Releases the connection. */
  close(): Promise<void>;
}
