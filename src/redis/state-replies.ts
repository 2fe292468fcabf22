/**
 * The decisions `RedisStateStore` sends in one consume script, and how the script's reply
 * (see `CONSUME_SCRIPT`) is read back into each decision's result.
 *
 * @module
 * @internal
 */

import { DecisionBackendError } from "../kernel/errors.ts";
import type { ConsumeResult } from "../state/types.ts";
import type { RedisValue } from "./client.ts";

/** Decisions one script decides at most; more asked in one turn go in several scripts. */
export const MAX_BATCH = 128;

/** A decision waiting for its batch's script. */
export interface Waiting {
  /** Its number of counters. */
  readonly n: number;
  readonly keys: readonly string[];
  /** Its part of the script's JSON numbers, from a leading comma. */
  readonly numbers: string;
  readonly kinds: string;
  readonly resolve: (result: ConsumeResult) => void;
  readonly reject: (err: unknown) => void;
}

/** Reads a batch's reply (see CONSUME_SCRIPT) and settles each decision with its part. */
export function settleBatch(batch: readonly Waiting[], reply: RedisValue): void {
  let expected = 0;
  for (const w of batch) expected += w.n + 1;
  if (!Array.isArray(reply) || reply.length !== expected) {
    const err = unexpected(reply);
    for (const w of batch) w.reject(err);
    return;
  }
  let at = 0;
  for (const w of batch) {
    const n = w.n;
    const head = reply[at];
    const start = at + 1;
    at += n + 1;
    if (typeof head === "string") {
      // The script's reason this decision could not be decided (it moved nothing).
      w.reject(new DecisionBackendError(`Redis could not decide the counters: ${head}`));
      continue;
    }
    const totals = new Array<number>(n);
    let bad = typeof head !== "number" || !Number.isInteger(head) || head < -1 || head >= n;
    for (let i = 0; i < n && !bad; i++) {
      // Integers come as integers, other totals as strings (see the script).
      const total = reply[start + i];
      if (typeof total === "number") totals[i] = total;
      else if (typeof total === "string") totals[i] = numberOf(total);
      else bad = true;
    }
    if (bad) {
      w.reject(unexpected(reply));
    } else {
      const refusedIndex = head as number;
      w.resolve({ admitted: refusedIndex < 0, totals, refusedIndex });
    }
  }
}

/** A total the script sent as text (`%.17g`, which spells infinities `inf`). */
function numberOf(text: string): number {
  const n = Number(text);
  if (!Number.isNaN(n)) return n;
  if (text === "inf") return Number.POSITIVE_INFINITY;
  if (text === "-inf") return Number.NEGATIVE_INFINITY;
  return Number.NaN;
}

export function unexpected(reply: RedisValue): DecisionBackendError {
  return new DecisionBackendError(
    `Redis answered the state script with an unexpected reply: ${JSON.stringify(reply)?.slice(0, 200)}`,
  );
}
