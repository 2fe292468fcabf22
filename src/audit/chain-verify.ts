/**
 * Verifying the audit log's hash chain: every record's and prune record's hash recomputed
 * from its stored columns, every link followed from the genesis hash to the recorded head,
 * and every gap matched against a chained prune record that lists it exactly. Damage
 * (a missing state row, a dropped column, garbage in a position) is reported, not thrown.
 *
 * @module
 */

import {
  type ChainProblem,
  GENESIS,
  PRUNE_RANGES_SHOWN,
  PRUNE_RECORDS_SHOWN,
  type PruneRecordSummary,
  pruneHash,
  RunsDigest,
  recordHash,
  type VerifyResult,
} from "./hash-chain.ts";
import {
  AuditChainDamageError,
  type AuditStore,
  type ChainEntry,
  type PrunedRun,
} from "./types.ts";

/** What {@link verifyChain} reports as it walks. */
export interface ChainWalkOptions {
  /** Entries walked so far, of the positions up to the head. */
  readonly onProgress?: (checked: number, total: number) => void;
  /**
   * Each position whose hash the walk established: the genesis (0), every record and prune
   * record, and the last position of every pruned run (its hash is linked to by the next).
   */
  readonly onEntry?: (seq: number, hash: string) => void;
  /** Each pruned run, as it is walked (a checkpoint inside one is explained by its prune). */
  readonly onPruned?: (run: PrunedRun) => void;
}

const HEX64 = /^[0-9a-f]{64}$/;
const PAGE = 1000;

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * Whether a failure to read the chain is damage to report (a table or column gone, a value
 * that cannot be read as what it should be) rather than a database that is unavailable
 * (down, locked, timed out), which is thrown: "the log is damaged" must not be said of a
 * log that could not be reached, nor "unavailable" of one that was tampered with.
 */
function isDamage(err: unknown): boolean {
  if (
    err instanceof AuditChainDamageError ||
    err instanceof TypeError ||
    err instanceof RangeError ||
    err instanceof SyntaxError
  )
    return true;
  const code = (err as { code?: unknown } | null)?.code;
  // PostgreSQL: undefined table or column, datatype mismatch, data exceptions (class 22).
  if (typeof code === "string" && /^(42P01|42703|42804|22)/.test(code)) return true;
  return /no such (table|column)|datatype mismatch|malformed|SQLITE_CORRUPT|SQLITE_MISMATCH/i.test(
    message(err),
  );
}

function fail(
  problem: ChainProblem,
  checked: number,
  text: string,
  firstBad?: string,
): VerifyResult {
  return {
    ok: false,
    checked,
    firstBadDecisionId: firstBad ?? `(${text})`,
    problem,
    message: text,
  };
}

/** A short label of an entry for messages. */
function label(e: ChainEntry): string {
  if ("kind" in e) return e.kind === "prune" ? `prune record at seq ${e.seq}` : e.decisionId;
  return "policyId" in e ? `record ${e.decisionId}` : `tombstone of ${e.decisionId}`;
}

/**
 * Walks the chain of `store` from the genesis hash to its recorded head. Fails on an edited
 * record, a broken link, positions missing without a chained prune record that lists them,
 * a prune record whose runs do not match its digest, a legacy tombstone, a start moved off
 * the genesis, a head that does not match the walk, an entry past the head, or tables that
 * cannot be read as a chain. Never throws for what is in the database.
 */
export async function verifyChain(
  store: AuditStore,
  options: ChainWalkOptions = {},
): Promise<VerifyResult> {
  let ends: Awaited<ReturnType<AuditStore["ends"]>>;
  try {
    ends = await store.ends();
  } catch (err) {
    if (!isDamage(err)) throw err;
    return fail("damaged", 0, `the chain's state (hexarch_chain) cannot be read: ${message(err)}`);
  }
  const { headSeq, headHash } = ends;
  if (!Number.isSafeInteger(headSeq) || headSeq < 0 || !HEX64.test(headHash))
    return fail(
      "damaged",
      0,
      `the chain's head (hexarch_chain) is damaged: head_seq '${String(headSeq)}', head_hash '${String(headHash).slice(0, 80)}'`,
    );
  if (ends.startSeq !== 0 || ends.startHash !== GENESIS)
    return fail(
      "start_moved",
      0,
      `the chain's start was moved to seq ${String(ends.startSeq)} (hexarch_chain.start_seq/start_hash): the chain starts at the genesis hash, and only a chained prune record explains removed first records`,
    );

  let prev = GENESIS;
  let after = 0;
  let checked = 0;
  let prunes = 0;
  let pruned = 0;
  /** Runs walked, by the prune record that claims them (checked when it is reached). */
  const pending = new Map<
    number,
    { digest: RunsDigest; first: PrunedRun; ranges: { from: number; to: number }[] }
  >();
  /** The last prune records walked, shown in the result (a forged one is accounted for). */
  const shown: PruneRecordSummary[] = [];
  options.onEntry?.(0, GENESIS);
  while (after < headSeq) {
    let page: readonly ChainEntry[];
    try {
      page = (await store.chain(after, PAGE)).filter((e) => !(e.seq > headSeq));
    } catch (err) {
      if (!isDamage(err)) throw err;
      return fail(
        "damaged",
        checked,
        `the chain's tables cannot be read after seq ${after}: ${message(err)}`,
      );
    }
    if (page.length === 0) break;
    for (const e of page) {
      if (!Number.isSafeInteger(e.seq))
        return fail(
          "damaged",
          checked,
          `an entry after seq ${after} has no valid position (seq '${String(e.seq)}')`,
        );
      if (e.seq <= after)
        return fail(
          "broken_link",
          checked,
          `two entries claim seq ${e.seq} (${label(e)} overlaps the entry before it)`,
          e.decisionId,
        );
      if (e.seq !== after + 1)
        return fail(
          "unexplained_gap",
          checked,
          `entries ${after + 1}..${e.seq - 1} are missing and no chained prune record lists them (next: ${label(e)})`,
          e.decisionId,
        );
      if (!HEX64.test(e.hash) || !HEX64.test(e.prevHash))
        return fail(
          "damaged",
          checked,
          `${label(e)} at seq ${e.seq} has no valid hash (hash '${String(e.hash).slice(0, 80)}', prev_hash '${String(e.prevHash).slice(0, 80)}'): the column is missing or damaged`,
          e.decisionId,
        );
      if (e.prevHash !== prev)
        return fail(
          "broken_link",
          checked,
          `${label(e)} at seq ${e.seq} does not follow the entry before it: entries were deleted, inserted or reordered`,
          e.decisionId,
        );
      if (!("kind" in e)) {
        if (!("policyId" in e))
          return fail(
            "unexplained_tombstone",
            checked,
            `a tombstone stands at seq ${e.seq} (${e.decisionId}) in hexarch_tombstones: since audit migration 9 retention leaves chained prune records, never tombstones, so the record was removed outside retention`,
            e.decisionId,
          );
        if (recordHash(e.prevHash, e) !== e.hash)
          return fail(
            "hash_mismatch",
            checked,
            `record ${e.decisionId} at seq ${e.seq} was edited: its stored fields no longer give its hash`,
            e.decisionId,
          );
        checked++;
        after = e.seq;
        options.onEntry?.(e.seq, e.hash);
      } else if (e.kind === "pruned") {
        if (!Number.isSafeInteger(e.toSeq) || e.toSeq < e.seq || !(e.pruneSeq > e.toSeq))
          return fail(
            "prune_mismatch",
            checked,
            `the pruned run at seq ${e.seq}..${String(e.toSeq)} names prune record ${String(e.pruneSeq)}, which does not come after it`,
            e.decisionId,
          );
        const p = pending.get(e.pruneSeq) ?? { digest: new RunsDigest(), first: e, ranges: [] };
        p.digest.add(e);
        if (p.ranges.length < PRUNE_RANGES_SHOWN) p.ranges.push({ from: e.seq, to: e.toSeq });
        pending.set(e.pruneSeq, p);
        options.onPruned?.(e);
        after = e.toSeq;
        options.onEntry?.(e.toSeq, e.hash);
      } else {
        const p = pending.get(e.seq);
        pending.delete(e.seq);
        const runs = p?.digest ?? new RunsDigest();
        const first = p?.first.seq ?? e.fromSeq;
        if (
          runs.count !== e.runs ||
          runs.removed !== e.removed ||
          first !== e.fromSeq ||
          runs.digest() !== e.runsDigest
        )
          return fail(
            "prune_mismatch",
            checked,
            `prune record at seq ${e.seq} lists ${e.runs} runs (${e.removed} entries from seq ${e.fromSeq}) but the chain holds ${runs.count} runs (${runs.removed} entries) for it: the pruned runs were edited, added or removed`,
            e.decisionId,
          );
        if (pruneHash(e) !== e.hash)
          return fail(
            "hash_mismatch",
            checked,
            `prune record at seq ${e.seq} was edited: its stored fields no longer give its hash`,
            e.decisionId,
          );
        checked++;
        prunes++;
        pruned += e.removed;
        if (shown.length === PRUNE_RECORDS_SHOWN) shown.shift();
        shown.push({
          seq: e.seq,
          at: String(e.timestamp),
          actor: String(e.actor),
          reason: String(e.reason),
          removed: e.removed,
          runs: e.runs,
          ranges: p?.ranges ?? [],
        });
        after = e.seq;
        options.onEntry?.(e.seq, e.hash);
      }
      prev = e.hash;
    }
    options.onProgress?.(after, headSeq);
  }
  if (after !== headSeq || prev !== headHash)
    return fail(
      "head_mismatch",
      checked,
      after < headSeq
        ? `the chain ends at seq ${after} but its recorded head is seq ${headSeq}: entries ${after + 1}..${headSeq} are missing`
        : `the chain's recorded head hash (hexarch_chain.head_hash) is not the hash of the entry at seq ${headSeq}`,
      `(records after seq ${after} are missing)`,
    );
  for (const [pruneSeq, p] of pending)
    return fail(
      "prune_mismatch",
      checked,
      `the pruned run at seq ${p.first.seq}..${p.first.toSeq} names prune record ${pruneSeq}, which is not in the chain`,
      p.first.decisionId,
    );
  // An entry past the head is in the chain only if the head has moved past it since (an
  // append commits its records and the new head together); otherwise it was written
  // around the chain.
  try {
    const past = (await store.chain(headSeq, 1))[0];
    if (past !== undefined && past.seq > (await store.ends()).headSeq)
      return fail(
        "head_mismatch",
        checked,
        `${label(past)} at seq ${past.seq} lies past the chain's head (seq ${headSeq}): it was written around the chain`,
        past.decisionId,
      );
  } catch (err) {
    if (!isDamage(err)) throw err;
    return fail("damaged", checked, `the chain's tables cannot be read: ${message(err)}`);
  }
  return {
    ok: true,
    checked,
    ...(prunes > 0 && { prunes, pruned, pruneRecords: shown }),
    ...(prunes > shown.length && { pruneRecordsOmitted: prunes - shown.length }),
  };
}
