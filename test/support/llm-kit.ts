/**
 * Helpers for the LLM integration tests: a state store that tells what the budgets hold,
 * and an audit recorder that keeps the decisions.
 */

import {
  type ConsumeResult,
  type Counter,
  type CounterAdjustment,
  type DecisionEntry,
  type DecisionRecorder,
  MemoryStateStore,
  type StateStore,
} from "../../src/index.ts";

/** A memory store that also keeps each period counter's running total (micro-dollars or tokens). */
export class CountingStore implements StateStore {
  readonly inner = new MemoryStateStore();
  readonly totals = new Map<string, number>();

  consume(counters: readonly Counter[], nowMs: number): ConsumeResult {
    const r = this.inner.consume(counters, nowMs);
    if (r.admitted) {
      for (const c of counters) {
        if (c.kind === "period") this.totals.set(c.key, (this.totals.get(c.key) ?? 0) + c.amount);
      }
    }
    return r;
  }

  adjust(adjustments: readonly CounterAdjustment[]): void {
    this.inner.adjust(adjustments);
    for (const a of adjustments) this.totals.set(a.key, (this.totals.get(a.key) ?? 0) + a.delta);
  }

  /** What the USD budgets hold, in micro-dollars (all of them together). */
  usd(): number {
    return this.#sum(":$");
  }

  /** What the token budgets hold (all of them together). */
  tokens(): number {
    return this.#sum(":t");
  }

  #sum(marker: string): number {
    let n = 0;
    for (const [key, total] of this.totals) if (key.includes(marker)) n += total;
    return n;
  }
}

/** An audit recorder that keeps every entry. */
export function auditTrail(): DecisionRecorder & { entries: DecisionEntry[] } {
  const entries: DecisionEntry[] = [];
  return {
    entries,
    record(entry: DecisionEntry) {
      entries.push(entry);
    },
  };
}

/** Waits until `cond` holds (polling), for settlements that finish after a stream ends. */
export async function until(cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 2));
  }
}
