/**
 * A batch whose append failed: a store that is down, or one record the store refuses (a
 * "poison" record, e.g. one an index cannot hold) among records it would take. The
 * searches here write what can be written and single out the poison records, so one of
 * them cannot wedge the log (batched mode) nor fail innocent callers (durable mode),
 * while a store that is down loses nothing and is not hammered.
 *
 * @module
 * @internal
 */

import { GuardrailError } from "../kernel/errors.ts";
import type { AuditRecord, AuditStore } from "./types.ts";
import { toError, type WriteTally } from "./write-tally.ts";

/**
 * Failed single-record appends in a row, with none written, after which a failing batch
 * is taken for a store that is down (not a poison record): the records stay queued
 * (batched mode) or are refused (durable mode) without trying each one.
 */
const DOWN_AFTER = 8;

/** Node's codes for a connection that could not be opened. */
const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
]);

/** `pg`'s (code-less) messages for a connection that could not be opened in time. */
const PG_CONNECT_TIMEOUT =
  /^(timeout exceeded when trying to connect|Connection terminated due to connection timeout)/;

/**
 * Whether an append failed before any record reached the store: the connection could not
 * be opened (refused, unknown host, unreachable, the connect timeout, or PostgreSQL
 * refusing the connection: SQLSTATE classes 08 and 28, 53300, 57P03). No record can be
 * poison then, so no search is made: each of its appends would wait out the same failure.
 * Failures after a statement was sent (a statement timeout, a dropped connection) are not
 * counted here: a record may have caused them.
 */
export function storeUnreachable(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (
      typeof code === "string" &&
      (UNREACHABLE_CODES.has(code) || /^(08|28|53300$|57P03$)/.test(code))
    )
      return true;
    if (PG_CONNECT_TIMEOUT.test(e.message)) return true;
  }
  return false;
}

/** A durable record waiting for its group commit, with its caller's promise. */
export interface PendingRecord {
  readonly record: AuditRecord;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * A durable group whose append failed, retried a record at a time, so one record the
 * store refuses (a poison record) fails only its own caller. When the first
 * {@link DOWN_AFTER} all fail and none was written, the store is down: the rest are
 * refused with the last error, without an append each.
 */
export async function commitOneByOne(
  store: AuditStore,
  batch: readonly PendingRecord[],
  tally: WriteTally,
): Promise<void> {
  let anyWritten = false;
  let lastError: unknown;
  for (const [i, p] of batch.entries()) {
    if (!anyWritten && i >= DOWN_AFTER) {
      tally.refused++;
      p.reject(lastError);
      continue;
    }
    try {
      await store.append([p.record]);
      tally.wrote(1);
      anyWritten = true;
      p.resolve();
    } catch (err) {
      lastError = err;
      tally.failures++;
      tally.refused++;
      p.reject(err);
    }
  }
}

/**
 * A queued batch whose append failed, written in halves (recursively, in order) to find
 * the records the store refuses alone. One that fails while a record after it is
 * written is retried once, then dropped as poison (counted, reported through
 * `onError`). Records after the last one written stay queued, and so does the batch
 * when none is written: a store that is down loses nothing. Gives up after
 * log2(n) + {@link DOWN_AFTER} failed appends in a row, or at once when the store cannot
 * be reached ({@link storeUnreachable}).
 * @returns The records written or dropped, to take off the queue (none: the store looks down).
 */
export async function isolatePoison(
  store: AuditStore,
  batch: readonly AuditRecord[],
  tally: WriteTally,
): Promise<ReadonlySet<AuditRecord>> {
  const written = new Set<AuditRecord>();
  const suspects: { readonly record: AuditRecord; readonly at: number }[] = [];
  const budget = Math.ceil(Math.log2(batch.length)) + DOWN_AFTER;
  let failedInRow = 0;
  const attempt = async (part: readonly AuditRecord[]): Promise<void> => {
    if (failedInRow >= budget) return;
    try {
      await store.append(part);
      for (const r of part) written.add(r);
      tally.wrote(part.length);
      failedInRow = 0;
    } catch (error) {
      tally.failures++;
      failedInRow = storeUnreachable(error) ? budget : failedInRow + 1;
      if (part.length === 1) {
        suspects.push({ record: part[0] as AuditRecord, at: written.size });
        return;
      }
      const mid = Math.ceil(part.length / 2);
      await attempt(part.slice(0, mid));
      await attempt(part.slice(mid));
    }
  };
  const mid = Math.ceil(batch.length / 2); // the whole batch already failed
  await attempt(batch.slice(0, mid));
  await attempt(batch.slice(mid));
  const gone = new Set<AuditRecord>(written);
  for (const s of suspects) {
    if (s.at === written.size) continue; // nothing written after it: keep it queued
    try {
      await store.append([s.record]); // a blip, not poison?
      tally.wrote(1);
    } catch (err) {
      tally.failures++;
      if (storeUnreachable(err)) continue; // the store went down meanwhile: keep it queued
      tally.dropped++;
      tally.poisoned++;
      const error = toError(err);
      tally.report(
        new GuardrailError(
          `audit record ${s.record.decisionId} (policy '${s.record.policyId}') dropped: the store refuses it while the records around it are written (${error.message})`,
          { code: "audit_record_dropped", cause: error },
        ),
      );
    }
    gone.add(s.record);
  }
  return gone;
}
