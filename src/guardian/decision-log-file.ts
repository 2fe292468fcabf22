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
    record(entry) {
      const pending: Promise<void>[] = [];
      for (const r of recorders) {
        const result = r.record(entry);
        if (result) pending.push(result);
      }
      return pending.length > 0 ? Promise.all(pending).then(() => undefined) : undefined;
    },
    async close() {
      for (const r of recorders) await r.close?.();
    },
  };
}
