/**
 * The `ConfirmationStore` contract: pending approvals for `require_confirmation`, and the
 * single-use tokens that prove one.
 *
 * @module
 */

import type { ConfirmationBinding } from "../kernel/decision.ts";

export type { ConfirmationBinding } from "../kernel/decision.ts";

/** A request for approval. */
export interface ConfirmationRequest extends ConfirmationBinding {
  /** Who asked (a user id, a service). */
  readonly requestedBy?: string;
  /** Why approval is needed (the decision's reason). */
  readonly reason?: string;
  /** What would run, for the approver (e.g. `delete_user`). */
  readonly operation?: string;
  readonly metadata?: Readonly<Record<string, unknown>>;
  /**
   * How long the token stays usable, from its creation.
   * @default 900000 (15 minutes)
   */
  readonly ttlMs?: number;
}

/** Where a request stands. */
export type ConfirmationStatus = "pending" | "approved" | "denied" | "consumed" | "expired";

/** A stored request, as `get` returns it (never the token's secret). */
export interface ConfirmationRecord extends ConfirmationBinding {
  readonly id: string;
  readonly status: ConfirmationStatus;
  readonly requestedBy?: string | undefined;
  readonly reason?: string | undefined;
  readonly operation?: string | undefined;
  readonly metadata?: Readonly<Record<string, unknown>> | undefined;
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
  /** Who approved or denied it, when, and why. */
  readonly decidedBy?: string | undefined;
  readonly decidedAtMs?: number | undefined;
  readonly decisionReason?: string | undefined;
}

/** Why a token was refused. */
export type ConfirmationRefusal =
  | "unknown"
  | "pending"
  | "denied"
  | "expired"
  | "used"
  | "wrong_policy"
  | "wrong_arguments";

/** What `consume` answers. */
export type ConsumeConfirmationResult =
  | { readonly ok: true; readonly record: ConfirmationRecord }
  | { readonly ok: false; readonly refusal: ConfirmationRefusal; readonly message: string };

/** Which requests {@link ConfirmationStore.list} answers. */
export interface ConfirmationListFilter {
  /**
   * Only requests in this status (`expired`: pending or approved, and past `expiresAtMs`).
   * @default "all"
   */
  readonly status?: ConfirmationStatus | "all";
  /**
   * At most this many (a whole number from 1 to 1000).
   * @default 100
   */
  readonly limit?: number;
}

/** Answers of a store may be synchronous (memory) or asynchronous (Redis, SQL). */
export type MaybePromise<T> = T | Promise<T>;

/**
 * Pending confirmations and their tokens. Implementations: `MemoryConfirmationStore`;
 * Redis and SQL stores share this shape.
 */
export interface ConfirmationStore {
  /** Stores a pending request and returns its token (give it to the caller and the approver). */
  create(request: ConfirmationRequest): MaybePromise<string>;
  /**
   * Approves a pending request.
   *
   * @throws GuardrailError with code `confirmation_not_found` for a token no request has,
   *   `confirmation_not_pending` for a request already decided, used or expired: every
   *   store throws these two codes, and the decision server answers by them.
   */
  approve(
    token: string,
    by: { readonly approvedBy: string; readonly reason?: string },
  ): MaybePromise<ConfirmationRecord>;
  /**
   * Denies a pending request.
   *
   * @throws GuardrailError with the codes `approve` throws.
   */
  deny(
    token: string,
    by: { readonly deniedBy: string; readonly reason?: string },
  ): MaybePromise<ConfirmationRecord>;
  /** The request behind a token, or `undefined`. */
  get(token: string): MaybePromise<ConfirmationRecord | undefined>;
  /**
   * Uses an approved token for a call, atomically and once: it must be approved, unexpired,
   * unused, and issued for this policy and these arguments.
   */
  consume(token: string, binding: ConfirmationBinding): MaybePromise<ConsumeConfirmationResult>;
  /**
   * The stored requests, newest first (by `createdAtMs`), for an approvals inbox. Records
   * never carry a token or its secret: a listing names requests (`id`), it cannot be used
   * to confirm a call. Stores that keep no list (a `SignedConfirmationStore`) leave it out.
   * Every built-in store with shared state has it, with `getById`, `approveById` and
   * `denyById`.
   *
   * @throws GuardrailError with code `invalid_argument` for a `limit` that is not a whole
   *   number from 1 to 1000, or an unknown `status`.
   */
  list?(filter?: ConfirmationListFilter): MaybePromise<readonly ConfirmationRecord[]>;
  /** The request with this id (the part of its token before the dot), or `undefined`. */
  getById?(id: string): MaybePromise<ConfirmationRecord | undefined>;
  /**
   * Approves a pending request named by its id, for an approver who found it in `list`
   * (the id only names the request: approving it does not let anyone use it; the caller
   * still needs the token).
   *
   * @throws GuardrailError with the codes `approve` throws.
   */
  approveById?(
    id: string,
    by: { readonly approvedBy: string; readonly reason?: string },
  ): MaybePromise<ConfirmationRecord>;
  /**
   * Denies a pending request named by its id.
   *
   * @throws GuardrailError with the codes `approve` throws.
   */
  denyById?(
    id: string,
    by: { readonly deniedBy: string; readonly reason?: string },
  ): MaybePromise<ConfirmationRecord>;
  /** Releases connections the store opened (`Guardian.close()` calls it). */
  close?(): void | Promise<void>;
}
