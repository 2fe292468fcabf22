/**
 * `hexarch-guardrails/testing`: what you need to test your own guarded code without any
 * backend — a controllable clock and in-memory stores.
 *
 * @module hexarch-guardrails/testing
 */

export { MemoryConfirmationStore } from "../memory/confirmation-store.ts";
export { MemoryStateStore, type MemoryStateStoreOptions } from "../memory/state-store.ts";
export { ManualClock } from "../util/manual-clock.ts";
