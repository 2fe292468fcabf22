/**
 * Retention as a chained record: what both SQL stores write when they prune (the runs of
 * removed entries and one prune record chained after the head), and the adoption of
 * pre-migration-9 tombstones and folded chain starts into such a record. Pure: each store
 * reads the rows and runs the statements in its own transaction.
 *
 * @module
 */

import { hostname, userInfo } from "node:os";
import { GENESIS, pruneHash, RunsDigest } from "../audit/hash-chain.ts";
import {
  AuditChainDamageError,
  type AuditOutcome,
  type PrunedRun,
  type PruneOptions,
  type PruneRecord,
} from "../audit/types.ts";
import { COUNTED_IN_STATS, type Row } from "./rows.ts";

/** A stretch of consecutive removed entries, by its edges. */
export interface RunEdges {
  readonly from: number;
  readonly to: number;
  /** The hash the first removed entry followed. */
  readonly prevHash: string;
  /** The hash of the last removed entry. */
  readonly lastHash: string;
}

/** A statement with `?` placeholders and its values. */
export type Statement = readonly [sql: string, params: readonly (string | number)[]];

/** The columns of `hexarch_prunes`, in {@link pruneStatements} order. */
const PRUNE_COLUMNS =
  "seq, prev_hash, hash, timestamp, actor, reason, from_seq, to_seq, removed, runs, runs_digest";

/**
 * The runs of the rows a prune matches (gaps and islands over `seq`), with their edge
 * hashes. `match` is `FROM <decisions table> WHERE …`; `table` the decisions table.
 */
export const runsSql = (match: string, table: string): string =>
  `SELECT r.from_seq, r.to_seq, a.prev_hash, b.hash AS last_hash FROM (
     SELECT min(seq) AS from_seq, max(seq) AS to_seq FROM (
       SELECT seq, seq - row_number() OVER (ORDER BY seq) AS g ${match}
     ) t GROUP BY g
   ) r JOIN ${table} a ON a.seq = r.from_seq JOIN ${table} b ON b.seq = r.to_seq ORDER BY r.from_seq`;

/**
 * Rows a prune matches that a stored checkpoint names (their `seq` and hash): runs are cut
 * after each, so the checkpoint's hash stays in the chain as a run's last hash.
 */
export const cutsSql = (match: string, checkpoints: string): string =>
  `SELECT DISTINCT seq, hash ${match} AND seq IN (SELECT seq FROM ${checkpoints}) ORDER BY seq`;

/**
 * The stats groups (policy, outcome, block reason, count) of the rows a prune matches, to
 * lower `hexarch_policy_counts` by ({@link lowerParams}). `match` as for {@link runsSql}.
 */
export const goneSql = (match: string): string =>
  `SELECT policy_id, decision, CASE WHEN decision = 'blocked' THEN reason ELSE '' END AS reason, count(*) AS n ${match} AND ${COUNTED_IN_STATS} GROUP BY 1, 2, 3`;

/**
 * The values of the statement that lowers one `hexarch_policy_counts` row by a
 * {@link goneSql} row: `n`, `policy_id`, `decision`, `reason`.
 */
export const lowerParams = (g: Row): [number, string, string, string] => [
  Number(g.n),
  String(g.policy_id),
  String(g.decision),
  String(g.reason),
];

/** Who prunes and when, as {@link pruneStatements} takes it. */
export interface PruneWho {
  readonly actor: string;
  readonly reason: string;
  readonly now: number;
}

/** The prune record's actor, reason (given, else their defaults) and time (now). */
export const pruneWho = (
  before: string,
  outcomes: readonly AuditOutcome[],
  options: PruneOptions,
): PruneWho => ({
  actor: options.actor ?? defaultActor(),
  reason: options.reason ?? defaultReason(before, outcomes),
  now: Date.now(),
});

/**
 * The head a prune record is chained after, from the `head_seq`, `head_hash` row of
 * `hexarch_chain`.
 *
 * @throws AuditChainDamageError when the row is missing.
 */
export function pruneHead(row: Row | undefined): { seq: number; hash: string } {
  if (!row)
    throw new AuditChainDamageError("the audit chain's state row (hexarch_chain) is missing");
  return { seq: Number(row.head_seq), hash: String(row.head_hash) };
}

/** The runs a prune removes: rows of {@link runsSql} cut at rows of {@link cutsSql}. */
export const prunedRuns = (runRows: readonly Row[], cutRows: readonly Row[]): RunEdges[] =>
  cutRuns(
    toRuns(runRows),
    cutRows.map((r) => ({ seq: Number(r.seq), hash: String(r.hash) })),
  );

/** Rows of {@link runsSql} as runs. */
export function toRuns(rows: readonly Record<string, unknown>[]): RunEdges[] {
  return rows.map((r) => ({
    from: Number(r.from_seq),
    to: Number(r.to_seq),
    prevHash: String(r.prev_hash),
    lastHash: String(r.last_hash),
  }));
}

/** Cuts runs after each checkpointed position inside them (`cuts` sorted by `seq`). */
export function cutRuns(
  runs: readonly RunEdges[],
  cuts: readonly { readonly seq: number; readonly hash: string }[],
): RunEdges[] {
  const out: RunEdges[] = [];
  let i = 0;
  for (const run of runs) {
    let current = run;
    while (i < cuts.length && (cuts[i] as { seq: number }).seq < current.from) i++;
    while (i < cuts.length) {
      const c = cuts[i] as { seq: number; hash: string };
      if (c.seq >= current.to) break;
      out.push({ from: current.from, to: c.seq, prevHash: current.prevHash, lastHash: c.hash });
      current = { from: c.seq + 1, to: current.to, prevHash: c.hash, lastHash: current.lastHash };
      i++;
    }
    out.push(current);
  }
  return out;
}

/** `user@host` of this process, for a prune's actor. */
export function defaultActor(): string {
  let user = "unknown";
  try {
    user = userInfo().username;
  } catch {
    user = process.env.USER ?? process.env.USERNAME ?? "unknown";
  }
  return `${user}@${hostname()}`;
}

/** The default reason of a prune: the rule applied. */
export const defaultReason = (before: string, outcomes: readonly AuditOutcome[]): string =>
  `retention: ${outcomes.join(", ")} records older than ${before}`;

/**
 * The prune record chained after `head` for `runs` (sorted, non-empty), its runs, and the
 * statements that store both and move the head (`?` placeholders, unqualified tables:
 * `prefix` qualifies them).
 */
export function pruneStatements(
  runs: readonly RunEdges[],
  head: { readonly seq: number; readonly hash: string },
  who: PruneWho,
  prefix = "",
): { readonly record: PruneRecord; readonly statements: Statement[] } {
  const seq = head.seq + 1;
  const digest = new RunsDigest();
  const chained: PrunedRun[] = runs.map((r) => ({
    kind: "pruned",
    seq: r.from,
    toSeq: r.to,
    pruneSeq: seq,
    prevHash: r.prevHash,
    hash: r.lastHash,
    decisionId: `pruned@${r.from}-${r.to}`,
  }));
  for (const r of chained) digest.add(r);
  const fields = {
    seq,
    prevHash: head.hash,
    timestamp: new Date(who.now).toISOString(),
    actor: who.actor,
    reason: who.reason,
    fromSeq: runs[0]?.from ?? seq,
    toSeq: runs[runs.length - 1]?.to ?? seq,
    removed: digest.removed,
    runs: digest.count,
    runsDigest: digest.digest(),
  };
  const record: PruneRecord = {
    kind: "prune",
    ...fields,
    hash: pruneHash(fields),
    decisionId: `prune@${seq}`,
  };
  const statements: Statement[] = chained.map((r) => [
    `INSERT INTO ${prefix}hexarch_pruned_runs (from_seq, to_seq, prune_seq, prev_hash, last_hash) VALUES (?, ?, ?, ?, ?)`,
    [r.seq, r.toSeq, seq, r.prevHash, r.hash],
  ]);
  statements.push(
    [
      `INSERT INTO ${prefix}hexarch_prunes (${PRUNE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        record.seq,
        record.prevHash,
        record.hash,
        record.timestamp,
        record.actor,
        record.reason,
        record.fromSeq,
        record.toSeq,
        record.removed,
        record.runs,
        record.runsDigest,
      ],
    ],
    [
      `UPDATE ${prefix}hexarch_chain SET head_seq = ?, head_hash = ? WHERE id = 1`,
      [record.seq, record.hash],
    ],
  );
  return { record, statements };
}

/** The actor of the prune record that adopts pre-migration-9 retention. */
export const ADOPTION_ACTOR = "audit migration 9";

/**
 * The statements that adopt pre-migration-9 retention into the chain: the folded start
 * (seq 1 to `start_seq`, after the genesis hash) and every tombstone become runs of one
 * prune record chained after the head; the start returns to the genesis and the tombstones
 * are deleted. Nothing when there is nothing to adopt (or no chain row).
 */
export function adoptionStatements(
  chain: Record<string, unknown> | undefined,
  tombstones: readonly Record<string, unknown>[],
  now: number,
): Statement[] {
  if (!chain) return [];
  const startSeq = Number(chain.start_seq);
  if (startSeq === 0 && tombstones.length === 0) return [];
  const runs: RunEdges[] = [];
  if (startSeq > 0)
    runs.push({ from: 1, to: startSeq, prevHash: GENESIS, lastHash: String(chain.start_hash) });
  for (const t of tombstones) {
    const seq = Number(t.seq);
    const last = runs[runs.length - 1];
    if (last && last.to + 1 === seq && last.lastHash === String(t.prev_hash))
      runs[runs.length - 1] = { ...last, to: seq, lastHash: String(t.hash) };
    else runs.push({ from: seq, to: seq, prevHash: String(t.prev_hash), lastHash: String(t.hash) });
  }
  const { statements } = pruneStatements(
    runs,
    { seq: Number(chain.head_seq), hash: String(chain.head_hash) },
    {
      actor: ADOPTION_ACTOR,
      reason: `retention before audit migration 9 adopted into the chain (${tombstones.length} tombstones, chain start at seq ${startSeq})`,
      now,
    },
  );
  statements.push(
    ["UPDATE hexarch_chain SET start_seq = 0, start_hash = ? WHERE id = 1", [GENESIS]],
    ["DELETE FROM hexarch_tombstones", []],
  );
  return statements;
}

/** `?` placeholders as PostgreSQL's `$1, $2, …` (the statements have no `?` of their own). */
export const numbered = (sql: string): string => {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
};
