/**
 * One counter of one decision (`CounterRequest`), and the texts that explain what a
 * store's answer about it means: a refusal, a limit passed by a soft rule, a warning.
 *
 * @module
 */

import type { Counter } from "../state/types.ts";
import { describeValue } from "../util/describe.ts";
import { amountText, type CounterSpec } from "./compile-rule.ts";

function describeAmount(spec: CounterSpec, n: number): string {
  return amountText(spec.unit, n);
}

/** A counter of one decision, with what the check needs to explain the store's answer. */
export class CounterRequest implements Counter {
  readonly kind: "window" | "period";
  readonly key: string;
  readonly limit: number;
  readonly amount: number;
  readonly windowMs: number;
  readonly expiresAtMs: number;
  readonly hard: boolean;
  readonly spec: CounterSpec;
  readonly per: string;

  constructor(
    kind: "window" | "period",
    key: string,
    limit: number,
    amount: number,
    windowMs: number,
    expiresAtMs: number,
    hard: boolean,
    spec: CounterSpec,
    per: string,
  ) {
    this.kind = kind;
    this.key = key;
    this.limit = limit;
    this.amount = amount;
    this.windowMs = windowMs;
    this.expiresAtMs = expiresAtMs;
    this.hard = hard;
    this.spec = spec;
    this.per = per;
  }

  // Read only when a decision's reservation is built: no per-call field for them.
  get unit(): "requests" | "usd" | "tokens" {
    return this.spec.unit;
  }

  get refundOnError(): boolean {
    return this.spec.rule.refundOnError;
  }
}

export function refusalDetail(counter: CounterRequest, total: number): string {
  const spec = counter.spec;
  const who = spec.rule.perName ? ` for ${spec.rule.perName} ${describeValue(counter.per)}` : "";
  return spec.kind === "window"
    ? `limit of ${spec.limitText} ${spec.label} reached${who}`
    : `${spec.label} of ${spec.limitText} would be exceeded${who} (${describeAmount(spec, total)} used, this call ${describeAmount(spec, counter.amount)})`;
}

export function exceededDetail(spec: CounterSpec, total: number): string {
  return `${spec.label} of ${spec.limitText} exceeded (${describeAmount(spec, total)} used)`;
}

export function nearDetail(spec: CounterSpec, total: number): string {
  const pct = Math.floor((total / spec.nominalLimit) * 100);
  return `${pct}% of the ${spec.label} used (${describeAmount(spec, total)} of ${spec.nominalLimitText})`;
}
