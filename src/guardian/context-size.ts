/**
 * Capping what one decision may cost: the size of its context, measured before it is
 * evaluated and before it is written to the audit log.
 *
 * @module
 * @internal
 */

import { type Decision, makeDecision } from "../kernel/decision.ts";
import { invalidOption, type OptionRule } from "../util/check-options.ts";
import type { PreparedDecide } from "./decision-source.ts";

/** The default of `GuardianOptions.maxContextBytes`: 1 MiB. */
export const DEFAULT_MAX_CONTEXT_BYTES = 1024 * 1024;

/** The `maxContextBytes` option: a positive integer, or `Infinity` for no cap. */
export const maxContextBytesRule: OptionRule = {
  expected: "a positive whole number of bytes (or Infinity)",
  test: (v) => v === Number.POSITIVE_INFINITY || (Number.isSafeInteger(v) && (v as number) > 0),
};

/**
 * Checks the `maxContextBytes` option: a positive integer, or `Infinity` for no cap.
 * @throws InvalidOptionError otherwise.
 */
export function checkMaxContextBytes(bytes: number, owner?: string): number {
  if (maxContextBytesRule.test(bytes)) return bytes;
  throw invalidOption(owner, "maxContextBytes", maxContextBytesRule.expected, bytes);
}

/** The longest text of a JS number (`-1.2345678901234567e-308`). */
const NUMBER_MAX = 24;

/**
 * The size of `value` as JSON in UTF-8 bytes (escapes aside), counted until it passes
 * `budget`: the answer is exact when at most `budget`, else some number above it (the
 * walk stops there, so a huge or cyclic value costs no more than `budget` to measure).
 * With `exact` false, each string counts as 3 bytes per UTF-16 unit (its UTF-8 size is
 * at most that), which skips measuring strings on the hot path: a context under the
 * budget that way is under it for real.
 */
export function jsonSize(value: unknown, budget: number, exact: boolean): number {
  let size = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    switch (typeof v) {
      case "string":
        size += 2 + (exact ? Buffer.byteLength(v, "utf8") : v.length * 3);
        break;
      case "number":
        size += exact ? String(v).length : NUMBER_MAX;
        break;
      case "bigint":
        size += String(v).length;
        break;
      case "boolean":
        size += v ? 4 : 5;
        break;
      case "object":
        if (v === null) size += 4;
        else if (Array.isArray(v)) {
          size += v.length === 0 ? 2 : 1 + v.length; // brackets and commas
          for (let i = 0; i < v.length && size <= budget; i++) stack.push(v[i]);
        } else if (ArrayBuffer.isView(v)) {
          size += v.byteLength * 4; // `{"0":12,…}` or Buffer's `[12,…]`: a few bytes each
        } else if (v instanceof Date) {
          size += 26;
        } else {
          size += 1; // braces, less the comma the last key does not have
          let keys = 0;
          for (const k in v) {
            keys++;
            size += 4 + (exact ? Buffer.byteLength(k, "utf8") : k.length * 3); // "k":,
            stack.push((v as Record<string, unknown>)[k]);
            if (size > budget) break;
          }
          if (keys === 0) size += 1;
        }
        break;
      default: // undefined, functions and symbols are left out of JSON
        break;
    }
    if (size > budget) return size;
  }
  return size;
}

/**
 * {@link jsonSize} without `exact`, with the top level walked inline: a context of a few
 * scalar fields (the common case) is measured without allocating.
 */
function quickSize(ctx: object, budget: number): number {
  let size = 1;
  let nested: unknown[] | undefined;
  for (const k in ctx) {
    const v = (ctx as Record<string, unknown>)[k];
    size += 4 + k.length * 3;
    if (typeof v === "string") size += 2 + v.length * 3;
    else if (typeof v === "object" && v !== null) {
      nested ??= [];
      nested.push(v);
    } else size += NUMBER_MAX;
  }
  if (nested === undefined || size > budget) return size;
  return size + jsonSize(nested, budget - size, false);
}

/** Decisions refused for their context's size, with the size measured. */
const oversized = new WeakMap<Decision, number>();

/**
 * The measured size of the context of a decision refused for it; `undefined` for any
 * other decision. The audit record stores a marker of this size instead of the context.
 */
export function oversizedContextBytes(decision: Decision): number | undefined {
  return oversized.get(decision);
}

/**
 * Wraps a decide function so that a context larger than `maxBytes` is refused (blocked,
 * whatever the policy or its `fail_open`) without being evaluated. Costs one bounded walk
 * of the context per decision; `Infinity` turns the check off.
 */
export function capContext(
  decide: PreparedDecide,
  policyId: string,
  maxBytes: number,
  clock: () => number,
): PreparedDecide {
  if (maxBytes === Number.POSITIVE_INFINITY) return decide;
  return (ctx, input) => {
    if (quickSize(ctx, maxBytes) <= maxBytes) return decide(ctx, input);
    // Over the quick estimate: measure for real, and far enough to say how large it is.
    const ceiling = maxBytes * 8;
    const bytes = jsonSize(ctx, ceiling, true);
    if (bytes <= maxBytes) return decide(ctx, input);
    const shown = bytes > ceiling ? `more than ${ceiling}` : String(bytes);
    const decision = makeDecision({
      policyId,
      action: "block",
      reason: `Policy '${policyId}' blocked the call: the context is ${shown} bytes as JSON, over the limit of ${maxBytes} bytes (the Guardian's maxContextBytes option); it was not evaluated`,
      matchedRules: [],
      durationMs: 0,
      timestampMs: clock(),
    });
    oversized.set(decision, bytes);
    return decision;
  };
}
