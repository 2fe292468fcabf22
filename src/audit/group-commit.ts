/**
 * The durable mode's group commit: each record is written before its caller goes on, and
 * records taken while one append is in flight share the next transaction (up to the batch
 * size). Each caller's promise settles with its batch; a failed group is retried a record
 * at a time ({@link commitOneByOne}), so a poison record fails only its own caller.
 *
 * @module
 * @internal
 */

import { commitOneByOne, type PendingRecord, storeUnreachable } from "./poison.ts";
import type { AuditRecord, AuditStore } from "./types.ts";
import type { WriteTally } from "./write-tally.ts";

/** Durable records, written in shared transactions; see the module. */
export class GroupCommit {
  readonly #store: AuditStore;
  readonly #batchSize: number;
  readonly #tally: WriteTally;
  /** Records waiting for the next group commit. */
  #pending: PendingRecord[] = [];
  /** The group-commit loop, while it runs. */
  #committing: Promise<void> | undefined;
  /** Records in the append in flight. */
  #inFlight = 0;
  /** Records taken, and settled (written or refused), since the start. */
  #taken = 0;
  #settled = 0;
  /** {@link whenSettled} calls waiting until `#settled` reaches their mark. */
  #settleWaiters: { readonly mark: number; readonly done: () => void }[] = [];

  constructor(store: AuditStore, batchSize: number, tally: WriteTally) {
    this.#store = store;
    this.#batchSize = batchSize;
    this.#tally = tally;
  }

  /** Records waiting for (or in) a commit. */
  get pending(): number {
    return this.#pending.length + this.#inFlight;
  }

  /** Takes a record; the promise settles when its group commits or fails. */
  take(record: AuditRecord): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ record, resolve, reject });
      this.#taken++;
      this.#committing ??= this.#run();
    });
  }

  /** Resolves once every record taken before this call has settled (never rejects). */
  whenSettled(): Promise<void> {
    const mark = this.#taken;
    if (this.#settled >= mark) return Promise.resolve();
    return new Promise<void>((done) => this.#settleWaiters.push({ mark, done }));
  }

  /**
   * Appends the records waiting, up to the batch size at a time, until none wait. Those
   * taken during an append go together in the next one.
   */
  async #run(): Promise<void> {
    try {
      while (this.#pending.length > 0) {
        const batch = this.#pending.splice(0, this.#batchSize);
        this.#inFlight = batch.length;
        try {
          await this.#store.append(batch.map((p) => p.record));
          this.#tally.wrote(batch.length);
          for (const p of batch) p.resolve();
        } catch (err) {
          this.#tally.failed(err);
          // One record, or a store that could not be reached: nothing to single out.
          if (batch.length === 1 || storeUnreachable(err)) {
            this.#tally.refused += batch.length;
            for (const p of batch) p.reject(err);
          } else await commitOneByOne(this.#store, batch, this.#tally);
        } finally {
          this.#inFlight = 0;
          this.#settled += batch.length;
          this.#wake();
        }
      }
    } finally {
      this.#committing = undefined;
    }
  }

  #wake(): void {
    const settled = this.#settled;
    this.#settleWaiters = this.#settleWaiters.filter((w) => {
      if (w.mark > settled) return true;
      w.done();
      return false;
    });
  }
}
