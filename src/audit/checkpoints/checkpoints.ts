/**
 * Taking checkpoints of the audit log and checking stored ones against the chain, in the
 * same walk that verifies the chain itself.
 *
 * @module
 */

import { uuidv7 } from "../../kernel/uuid.ts";
import type { DecisionLogger } from "../decision-logger.ts";
import type { VerifyResult } from "../hash-chain.ts";
import type { PrunedRun } from "../types.ts";
import type { CheckpointSigner } from "./signing.ts";
import type {
  AuditCheckpoint,
  AuditCheckpointStore,
  CheckpointProblem,
  CheckpointVerifyResult,
} from "./types.ts";

/** What {@link verifyWithCheckpoints} answers. */
export interface AuditVerification {
  /** The chain walk's result (as `DecisionLogger.verify` gives it). */
  readonly chain: VerifyResult;
  /** The stored checkpoints' check. */
  readonly checkpoints: CheckpointVerifyResult;
  /** Where the walk ended: the head it verified (`seq`, hash). Only when the chain checks out. */
  readonly head?: { readonly seq: number; readonly hash: string };
}

/** Whether `seq` lies inside (not at the end of) one of the runs, sorted by `seq`. */
function insideRun(runs: readonly PrunedRun[], seq: number): boolean {
  let lo = 0;
  let hi = runs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = runs[mid] as PrunedRun;
    if (seq < r.seq) hi = mid - 1;
    else if (seq >= r.toSeq) lo = mid + 1;
    else return true;
  }
  return false;
}

/** Reads page by page: every stored checkpoint, newest first. */
export async function allCheckpoints(store: AuditCheckpointStore): Promise<AuditCheckpoint[]> {
  const out: AuditCheckpoint[] = [];
  const pageSize = 1000;
  for (let offset = 0; ; offset += pageSize) {
    const page = await store.list({ limit: pageSize, offset });
    out.push(...page);
    if (page.length < pageSize) return out;
  }
}

/**
 * Walks the chain once (recomputing every record's hash from its stored columns) and checks
 * each checkpoint on the way: its signature must be the signer's, and the entry at its
 * `seq` must still have its `headHash`. A chain rewritten with every hash recomputed passes
 * the walk but not a checkpoint taken before the rewrite. A checkpoint whose position a
 * chained prune record removed is accounted for (`pruned`): exactly at a run's end (prunes
 * cut their runs at stored checkpoints), by the run's listing inside one. Checkpoints under
 * another key id or past a broken record are counted as `skipped`.
 *
 * List the checkpoints before calling (as {@link allCheckpoints} does): the walk then ends
 * at a head no older than any of them.
 */
export async function verifyWithCheckpoints(
  logger: DecisionLogger,
  signer: CheckpointSigner,
  checkpoints: readonly AuditCheckpoint[],
): Promise<AuditVerification> {
  const failures: { readonly checkpoint: AuditCheckpoint; readonly problem: CheckpointProblem }[] =
    [];
  const bySeq = new Map<number, AuditCheckpoint[]>();
  let checked = 0;
  let skipped = 0;
  for (const c of checkpoints) {
    if (c.keyId !== signer.keyId) {
      skipped++;
    } else if (!signer.verify(c)) {
      checked++;
      failures.push({ checkpoint: c, problem: "bad_signature" });
    } else {
      const at = bySeq.get(c.seq);
      if (at) at.push(c);
      else bySeq.set(c.seq, [c]);
    }
  }
  let last: { seq: number; hash: string } | undefined;
  const runs: PrunedRun[] = [];
  let pruned = 0;
  const chain = await logger.verify({
    onPruned: (run) => runs.push(run),
    onEntry: (seq, hash) => {
      last = { seq, hash };
      const here = bySeq.get(seq);
      if (!here) return;
      bySeq.delete(seq);
      for (const c of here) {
        checked++;
        if (c.headHash !== hash) failures.push({ checkpoint: c, problem: "hash_mismatch" });
      }
    },
  });
  for (const [seq, left] of bySeq) {
    for (const c of left) {
      if (!chain.ok) {
        skipped++;
      } else if (insideRun(runs, seq)) {
        // Removed by a chained prune record that lists its run: accounted for, though only
        // a run's last hash (where prunes cut at stored checkpoints) can be compared.
        checked++;
        pruned++;
      } else {
        checked++;
        const beyond = last === undefined || seq > last.seq;
        failures.push({ checkpoint: c, problem: beyond ? "truncated" : "hash_mismatch" });
      }
    }
  }
  failures.sort(
    (a, b) =>
      a.checkpoint.seq - b.checkpoint.seq ||
      a.checkpoint.createdAt.localeCompare(b.checkpoint.createdAt),
  );
  const first = failures[0];
  return {
    chain,
    checkpoints: {
      ok: first === undefined,
      checked,
      skipped,
      ...(pruned > 0 && { pruned }),
      ...(first && { firstBadCheckpointId: first.checkpoint.id, problem: first.problem }),
    },
    ...(chain.ok && last && { head: last }),
  };
}

/** What {@link takeCheckpoint} answers. */
export type TakeCheckpointResult =
  /** The chain (and every stored checkpoint) checks out: a signed checkpoint of its head. */
  | { readonly ok: true; readonly checkpoint: AuditCheckpoint }
  /** It does not: no checkpoint, and why. */
  | { readonly ok: false; readonly verification: AuditVerification };

/**
 * Verifies the log (and the stored `checkpoints` given, listed first with
 * {@link allCheckpoints}) and signs a checkpoint of the head the walk ended at. It is not
 * stored: `store.add` it to keep it. A log that does not verify gets no checkpoint, so a
 * checkpoint never vouches for a broken chain.
 *
 * @example
 * ```ts
 * const checkpoints = await allCheckpoints(store);
 * const taken = await takeCheckpoint(auditLogger, signer, { actor: "nightly-job", checkpoints });
 * if (taken.ok) await store.add(taken.checkpoint);
 * ```
 */
export async function takeCheckpoint(
  logger: DecisionLogger,
  signer: CheckpointSigner,
  options: {
    /** Who asks for it. */
    readonly actor: string;
    /** The stored checkpoints, checked on the way. @default [] */
    readonly checkpoints?: readonly AuditCheckpoint[];
    /** Current time in ms since the epoch. @default Date.now */
    readonly clock?: () => number;
  },
): Promise<TakeCheckpointResult> {
  const verification = await verifyWithCheckpoints(logger, signer, options.checkpoints ?? []);
  const head = verification.head;
  if (!verification.chain.ok || !verification.checkpoints.ok || head === undefined)
    return { ok: false, verification };
  const now = (options.clock ?? Date.now)();
  return {
    ok: true,
    checkpoint: signer.sign({
      id: uuidv7(now),
      seq: head.seq,
      headHash: head.hash,
      records: verification.chain.checked,
      createdAt: new Date(now).toISOString(),
      actor: options.actor,
    }),
  };
}
