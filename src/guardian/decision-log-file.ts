/**
 * The `logging:` section of a policy file: one JSON line per decision appended to a file.
 *
 * @module
 */

import { createWriteStream, type WriteStream } from "node:fs";
import type { DecisionEntry, DecisionRecorder } from "../audit/recorder.ts";
import type { PolicyLogging } from "../policy/types.ts";

const RANK = { allowed: 0, warned: 1, blocked: 2 } as const;
const THRESHOLD = { info: 0, warning: 1, error: 2 } as const;

/**
 * Appends decisions to a JSON-lines file. `level` `info` logs every decision, `warning`
 * warned and blocked ones, `error` blocked ones. The context is not written (it may hold
 * secrets); the audit log keeps it.
 */
export class DecisionLogFile implements DecisionRecorder {
  readonly path: string;
  readonly #threshold: number;
  readonly #onError: (error: Error) => void;
  #stream: WriteStream | undefined;

  constructor(path: string, level: PolicyLogging["level"], onError: (error: Error) => void) {
    this.path = path;
    this.#threshold = THRESHOLD[level];
    this.#onError = onError;
  }

  record(entry: DecisionEntry): void {
    const d = entry.decision;
    if (RANK[d.decision] < this.#threshold) return;
    if (!this.#stream) {
      this.#stream = createWriteStream(this.path, { flags: "a" });
      this.#stream.on("error", (err) => this.#onError(err));
    }
    const line = {
      timestamp: d.timestamp,
      decision_id: d.decisionId,
      policy_id: d.policyId,
      function_name: entry.functionName ?? null,
      decision: d.decision,
      action: d.action,
      reason: d.reason,
      user_id: entry.userId ?? null,
      duration_ms: d.durationMs,
      mode: entry.mode,
    };
    this.#stream.write(`${JSON.stringify(line)}\n`);
  }

  /** Flushes and closes the file. */
  close(): Promise<void> {
    const stream = this.#stream;
    this.#stream = undefined;
    if (!stream) return Promise.resolve();
    return new Promise((resolve) => stream.end(resolve));
  }
}

/** Records to several recorders. */
export function fanOut(recorders: readonly DecisionRecorder[]): DecisionRecorder | undefined {
  if (recorders.length <= 1) return recorders[0];
  return {
    durable: recorders.some((r) => r.durable === true),
    record(entry) {
      // Every recorder gets the entry, even when one before it fails.
      const pending: Promise<void>[] = [];
      for (const r of recorders) {
        try {
          const result = r.record(entry);
          if (result) pending.push(result);
        } catch (err) {
          pending.push(Promise.reject(err));
        }
      }
      return pending.length > 0 ? Promise.all(pending).then(() => undefined) : undefined;
    },
    async close() {
      const results = await Promise.allSettled(recorders.map(async (r) => r.close?.()));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
    },
  };
}
