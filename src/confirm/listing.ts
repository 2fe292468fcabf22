/**
 * What every store's `list` shares: the filter, checked the same way by every backend.
 *
 * @module
 */

import { GuardrailError } from "../kernel/errors.ts";
import { describeValue } from "../util/describe.ts";
import type { ConfirmationListFilter, ConfirmationRecord, ConfirmationStatus } from "./types.ts";

/** The most requests one `list` answers. */
export const MAX_LIST_LIMIT = 1000;
/** How many requests `list` answers without a `limit`. */
export const DEFAULT_LIST_LIMIT = 100;

const STATUSES: ReadonlySet<string> = new Set([
  "pending",
  "approved",
  "denied",
  "consumed",
  "expired",
  "all",
]);

/** A list filter, checked, with its defaults filled in. */
export interface CheckedListFilter {
  readonly status: ConfirmationStatus | "all";
  readonly limit: number;
}

/**
 * Checks a `list` filter (a JavaScript caller may pass anything).
 * @throws GuardrailError with code `invalid_argument` for an unknown status or a limit
 *   that is not a whole number from 1 to {@link MAX_LIST_LIMIT}.
 */
export function checkListFilter(filter: ConfirmationListFilter | undefined): CheckedListFilter {
  const status = filter?.status ?? "all";
  const limit = filter?.limit ?? DEFAULT_LIST_LIMIT;
  if (typeof status !== "string" || !STATUSES.has(status))
    throw new GuardrailError(
      `status must be pending, approved, denied, consumed, expired or all, got ${describeValue(status)}`,
      { code: "invalid_argument" },
    );
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT)
    throw new GuardrailError(
      `limit must be a whole number from 1 to ${MAX_LIST_LIMIT}, got ${describeValue(limit)}`,
      { code: "invalid_argument" },
    );
  return { status, limit };
}

/** True when `record` (its status already read against the clock) passes `status`. */
export function statusMatches(
  record: ConfirmationRecord,
  status: CheckedListFilter["status"],
): boolean {
  return status === "all" || record.status === status;
}
