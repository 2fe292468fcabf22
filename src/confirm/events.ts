/**
 * Confirmation events for the audit log: every request created, approved, denied,
 * consumed or refused, recorded by wrapping a store.
 *
 * @module
 */

import type {
  ConfirmationBinding,
  ConfirmationRecord,
  ConfirmationRefusal,
  ConfirmationRequest,
  ConfirmationStore,
  ConsumeConfirmationResult,
  MaybePromise,
} from "./types.ts";

/** What happened to a confirmation request. */
export type ConfirmationEventKind = "create" | "approve" | "deny" | "consume" | "refuse";

/** One event, as the audit log receives it. It never carries the token. */
export interface ConfirmationEvent {
  readonly kind: ConfirmationEventKind;
  /** When it happened, ms since the epoch. */
  readonly atMs: number;
  /** The request's id (the part of the token before the dot), when known. */
  readonly confirmationId: string | undefined;
  /** The policy and call the request is (or the refused call was) bound to. */
  readonly binding: ConfirmationBinding;
  /** Who asked (create), approved or denied; the requester otherwise, when known. */
  readonly actor: string | undefined;
  /** The requester's reason (create), the approver's (approve, deny), or the refusal's message. */
  readonly reason: string | undefined;
  /** What would run, when the request says. */
  readonly operation: string | undefined;
  readonly metadata: Readonly<Record<string, unknown>> | undefined;
  /** For `refuse`: which check the token failed. */
  readonly refusal?: ConfirmationRefusal;
}

/**
 * The id part of a token (before the dot: not secret, safe for logs and audit records), or
 * `undefined` for something that is not shaped like one.
 */
export function confirmationIdOf(token: string): string | undefined {
  if (typeof token !== "string") return undefined;
  const dot = token.indexOf(".");
  return dot > 0 && dot <= 64 ? token.slice(0, dot) : undefined;
}

const then = <T>(value: MaybePromise<T>, fn: (v: T) => void): MaybePromise<T> => {
  if (value instanceof Promise)
    return value.then((v) => {
      fn(v);
      return v;
    });
  fn(value);
  return value;
};

/**
 * A store that reports each successful operation (and each refused token) to `emit`,
 * then answers as `store` does. `emit` must not throw; failures of the store are not
 * events (they reach the caller).
 */
export function auditedConfirmations(
  store: ConfirmationStore,
  emit: (event: ConfirmationEvent) => void,
  clock: () => number = Date.now,
): ConfirmationStore {
  const fromRecord = (
    kind: ConfirmationEventKind,
    r: ConfirmationRecord,
    actor: string | undefined,
    reason: string | undefined,
  ): ConfirmationEvent => ({
    kind,
    atMs: clock(),
    confirmationId: r.id,
    binding: { policyId: r.policyId, fingerprint: r.fingerprint },
    actor,
    reason,
    operation: r.operation,
    metadata: r.metadata,
  });
  const listing = listingOf(store);
  return {
    ...(listing.list && { list: listing.list }),
    ...(listing.getById && { getById: listing.getById }),
    ...(listing.approveById && {
      approveById: (id: string, by: { readonly approvedBy: string; readonly reason?: string }) =>
        then(listing.approveById?.(id, by) as MaybePromise<ConfirmationRecord>, (r) =>
          emit(fromRecord("approve", r, by.approvedBy, by.reason)),
        ),
    }),
    ...(listing.denyById && {
      denyById: (id: string, by: { readonly deniedBy: string; readonly reason?: string }) =>
        then(listing.denyById?.(id, by) as MaybePromise<ConfirmationRecord>, (r) =>
          emit(fromRecord("deny", r, by.deniedBy, by.reason)),
        ),
    }),
    create: (request: ConfirmationRequest) =>
      then(store.create(request), (token) =>
        emit({
          kind: "create",
          atMs: clock(),
          confirmationId: confirmationIdOf(token),
          binding: { policyId: request.policyId, fingerprint: request.fingerprint },
          actor: request.requestedBy,
          reason: request.reason,
          operation: request.operation,
          metadata: request.metadata,
        }),
      ),
    approve: (token, by) =>
      then(store.approve(token, by), (r) =>
        emit(fromRecord("approve", r, by.approvedBy, by.reason)),
      ),
    deny: (token, by) =>
      then(store.deny(token, by), (r) => emit(fromRecord("deny", r, by.deniedBy, by.reason))),
    get: (token) => store.get(token),
    close: () => store.close?.(),
    consume: (token, binding) =>
      then(store.consume(token, binding), (result: ConsumeConfirmationResult) => {
        if (result.ok) {
          emit(fromRecord("consume", result.record, result.record.requestedBy, undefined));
          return;
        }
        emit({
          kind: "refuse",
          atMs: clock(),
          confirmationId: confirmationIdOf(token),
          binding,
          actor: undefined,
          reason: result.message,
          operation: undefined,
          metadata: undefined,
          refusal: result.refusal,
        });
      }),
  };
}

/**
 * The optional listing methods of `store` (`list`, `getById`, `approveById`, `denyById`),
 * each bound to it, for a wrapper to pass on: only those the store has.
 */
export function listingOf(
  store: ConfirmationStore,
): Pick<ConfirmationStore, "list" | "getById" | "approveById" | "denyById"> {
  return {
    ...(store.list && { list: (filter) => store.list?.(filter) ?? [] }),
    ...(store.getById && { getById: (id) => store.getById?.(id) }),
    ...(store.approveById && {
      approveById: (id, by) => store.approveById?.(id, by) as MaybePromise<ConfirmationRecord>,
    }),
    ...(store.denyById && {
      denyById: (id, by) => store.denyById?.(id, by) as MaybePromise<ConfirmationRecord>,
    }),
  };
}

/**
 * The event sink of a recorder that takes confirmation events (`DecisionLogger` does), or
 * `undefined`. The sink never throws: a failing recorder is reported to `onError`.
 */
export function confirmationSink(
  recorder: { recordConfirmation?(event: ConfirmationEvent): void | Promise<void> } | undefined,
  onError: (err: unknown) => void,
): ((event: ConfirmationEvent) => void) | undefined {
  if (!recorder?.recordConfirmation) return undefined;
  return (event) => {
    try {
      void Promise.resolve(recorder.recordConfirmation?.(event)).catch(onError);
    } catch (err) {
      onError(err);
    }
  };
}
