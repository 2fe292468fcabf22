/**
 * A confirmation store shared by two owners that would both close it.
 *
 * @module
 */

import type { ConfirmationEvent } from "./events.ts";
import { auditedConfirmations, listingOf } from "./events.ts";
import type { ConfirmationStore } from "./types.ts";

/**
 * `store` for a second user that must not close it: every operation goes to `store`, and
 * `close` does nothing. The decision server closes the store it was given; its Guardian
 * (and each Guardian a policy reload makes) gets this view of the same store, so
 * `/authorize` consumes the tokens the approval routes approved, and nothing is closed
 * twice. With `emit`, uses and refusals of tokens are reported to it (the audit log).
 */
export function borrowedConfirmations(
  store: ConfirmationStore,
  emit?: (event: ConfirmationEvent) => void,
): ConfirmationStore {
  const view: ConfirmationStore = {
    create: (request) => store.create(request),
    approve: (token, by) => store.approve(token, by),
    deny: (token, by) => store.deny(token, by),
    get: (token) => store.get(token),
    consume: (token, binding) => store.consume(token, binding),
    ...listingOf(store),
    close: () => {},
  };
  return emit ? auditedConfirmations(view, emit) : view;
}
