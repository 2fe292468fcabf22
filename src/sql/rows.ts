/**
 * Rows of the audit tables as both SQL stores read them.
 *
 * @module
 */

import { fieldsHash, GENESIS, recordFields } from "../audit/hash-chain.ts";
import {
  AuditChainDamageError,
  type AuditOutcome,
  type AuditQuery,
  type AuditRecord,
  type ChainEntry,
  type ChainedRecord,
  type PrunedRun,
  type PruneRecord,
  type Tombstone,
} from "../audit/types.ts";

/** A row as a driver returns it. */
export type Row = Record<string, unknown>;

/** A timestamp filter as stored: ISO 8601 UTC. */
export const isoTimestamp = (v: string | Date): string =>
  v instanceof Date ? v.toISOString() : new Date(v).toISOString();

/**
 * A stored JSON column. Text that is not JSON (an edited row) is kept under the key
 * `[unreadable]` rather than failing the read, so listing still works and the record's
 * hash, recomputed from it, no longer matches.
 */
function storedJson(text: unknown): Record<string, unknown> {
  try {
    return JSON.parse(String(text)) as Record<string, unknown>;
  } catch {
    return { "[unreadable]": String(text) };
  }
}

/**
 * A `hexarch_decisions` row as a record, every column as stored (nothing normalised), so
 * the hash recomputed from it covers what is in the database.
 */
export function rowToRecord(r: Row): ChainedRecord {
  return {
    seq: Number(r.seq),
    decisionId: String(r.decision_id),
    timestamp: String(r.timestamp),
    policyId: String(r.policy_id),
    functionName: r.function_name === null ? null : String(r.function_name),
    decision: r.decision as AuditOutcome,
    action: String(r.action),
    reason: String(r.reason),
    context: storedJson(r.context),
    userId: r.user_id === null ? null : String(r.user_id),
    durationMs: Number(r.duration_ms),
    metadata: r.metadata === null ? null : storedJson(r.metadata),
    mode: String(r.mode) as ChainedRecord["mode"],
    prevHash: String(r.prev_hash),
    hash: String(r.hash),
  };
}

/**
 * The `hexarch_chain` state row as the chain's ends (a missing start hash is the genesis).
 *
 * @throws AuditChainDamageError when the row is missing.
 */
export function chainEnds(r: Row | undefined): {
  startSeq: number;
  startHash: string;
  headSeq: number;
  headHash: string;
} {
  if (!r)
    throw new AuditChainDamageError("the audit chain's state row (hexarch_chain id 1) is missing");
  return {
    startSeq: Number(r.start_seq),
    startHash: String(r.start_hash ?? GENESIS),
    headSeq: Number(r.head_seq),
    headHash: String(r.head_hash),
  };
}

/** A `hexarch_tombstones` row. */
export function rowToTombstone(r: Row): Tombstone {
  return {
    seq: Number(r.seq),
    decisionId: String(r.decision_id),
    prevHash: String(r.prev_hash),
    hash: String(r.hash),
  };
}

/** A `hexarch_prunes` row (positions as stored: verification checks them). */
export function rowToPrune(r: Row): PruneRecord {
  return {
    kind: "prune",
    seq: Number(r.seq),
    prevHash: String(r.prev_hash),
    hash: String(r.hash),
    decisionId: `prune@${String(r.seq)}`,
    timestamp: String(r.timestamp),
    actor: String(r.actor),
    reason: String(r.reason),
    fromSeq: Number(r.from_seq),
    toSeq: Number(r.to_seq),
    removed: Number(r.removed),
    runs: Number(r.runs),
    runsDigest: String(r.runs_digest),
  };
}

/** A `hexarch_pruned_runs` row. */
export function rowToRun(r: Row): PrunedRun {
  return {
    kind: "pruned",
    seq: Number(r.from_seq),
    toSeq: Number(r.to_seq),
    pruneSeq: Number(r.prune_seq),
    prevHash: String(r.prev_hash),
    hash: String(r.last_hash),
    decisionId: `pruned@${String(r.from_seq)}-${String(r.to_seq)}`,
  };
}

/** Chain entries of several tables merged in chain order, at most `limit`. */
export function mergeChain(
  entries: readonly ChainEntry[],
  tombstones: readonly Tombstone[],
  limit: number,
): ChainEntry[] {
  return [...entries, ...tombstones].sort((a, b) => a.seq - b.seq).slice(0, limit);
}

/**
 * One page of the chain (`AuditStore.chain`), at most `limit` entries: the four tables that
 * hold chain positions, read in turn by `read` (a table and the column of its position, both
 * constants; `read` selects the rows past the page start in that column's order, at most
 * `limit`), merged in chain order. Both SQL stores page this way; only the driver differs.
 */
export async function readChainPage(
  limit: number,
  read: (table: string, seqColumn: "seq" | "from_seq") => Promise<readonly Row[]> | readonly Row[],
): Promise<ChainEntry[]> {
  const prunes = (await read("hexarch_prunes", "seq")).map(rowToPrune);
  const runs = (await read("hexarch_pruned_runs", "from_seq")).map(rowToRun);
  const records = (await read("hexarch_decisions", "seq")).map(rowToRecord);
  const tombs = (await read("hexarch_tombstones", "seq")).map(rowToTombstone);
  return mergeChain([...records, ...prunes, ...runs], tombs, limit);
}

/**
 * Whether a record of this action is a decision the stats count. Confirmation events
 * (`confirmation_*`) and reported provider calls (`provider_call`) are in the log, not in
 * the counts. {@link COUNTED_IN_STATS} says the same in SQL.
 */
export const countsInStats = (action: string): boolean =>
  !action.startsWith("confirmation_") && action !== "provider_call";

/** {@link countsInStats} as a SQL condition on `action` (both dialects). */
export const COUNTED_IN_STATS =
  "substr(action, 1, 13) <> 'confirmation_' AND action <> 'provider_call'";

/** The columns of `hexarch_decisions`, in the order {@link chainBatch} gives values. */
export const DECISION_COLUMNS =
  "seq, decision_id, timestamp, policy_id, function_name, decision, action, reason, context, user_id, duration_ms, metadata, mode, prev_hash, hash";

/** A batch chained after the log's head, ready to insert. */
export interface ChainedBatch {
  /** One array of 15 values per record, in {@link DECISION_COLUMNS} order. */
  readonly rows: (string | number | null)[][];
  /** `[policyId, decision, reason, n]` per group, for the counts table (reasons only for blocks). */
  readonly counts: [string, string, string, number][];
  readonly headSeq: number;
  readonly headHash: string;
}

/**
 * Numbers and hashes a batch after the head `(headSeq, headHash)`, encoding each record's
 * context once for both its hash and its stored value; both stores insert what it gives.
 */
export function chainBatch(
  records: readonly AuditRecord[],
  headSeq: number,
  headHash: string,
): ChainedBatch {
  const rows: (string | number | null)[][] = [];
  const counts = new Map<string, [string, string, string, number]>();
  let seq = headSeq;
  let prev = headHash;
  for (const r of records) {
    seq++;
    // The same values are hashed and stored.
    const fields = recordFields(r);
    const hash = fieldsHash(prev, fields);
    rows.push([seq, ...fields, prev, hash]);
    prev = hash;
    // Confirmation events and provider calls are in the log, not in the decision counts.
    if (!countsInStats(r.action)) continue;
    const reason = r.decision === "blocked" ? r.reason : "";
    const key = `${r.policyId}\u0000${r.decision}\u0000${reason}`;
    const c = counts.get(key);
    if (c) c[3]++;
    else counts.set(key, [r.policyId, r.decision, reason, 1]);
  }
  return { rows, counts: [...counts.values()], headSeq: seq, headHash: prev };
}

/** The SQL dialects the stores speak. */
export type SqlDialect = "sqlite" | "postgres";

/**
 * A `LIKE` pattern matching values that contain `text`, its `%`, `_` and backslash escaped
 * with a backslash (the statement says `ESCAPE '\'`), so they match themselves.
 */
export const containsPattern = (text: string): string =>
  `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * The `SELECT` of a history query, with its parameters; `mark(n)` writes the n-th
 * placeholder (`?` for SQLite, `$n` for PostgreSQL). The reason's text is matched with
 * `LIKE` in SQLite (case-insensitive for ASCII) and `ILIKE` in PostgreSQL.
 */
export function historySql(
  table: string,
  filter: AuditQuery,
  mark: (n: number) => string,
  dialect: SqlDialect = "sqlite",
): { readonly sql: string; readonly params: (string | number)[] } {
  const where: string[] = [];
  const params: (string | number)[] = [];
  const add = (condition: string, value: string | number, after = "") => {
    params.push(value);
    where.push(`${condition} ${mark(params.length)}${after}`);
  };
  // Pages are read in log order. Without a time window, a policy or an outcome is a large
  // share of the log: walking the primary key from the newest finds a page at once, where
  // SQLite, not knowing that, would read every row of the (policy_id, timestamp) or
  // (decision, timestamp) index and sort them (0.5 ms against 650 ms on a million rows).
  // A unary `+` keeps SQLite off those indexes; PostgreSQL plans with statistics.
  const noIndex =
    dialect === "sqlite" && filter.since === undefined && filter.until === undefined ? "+" : "";
  if (filter.decisionId !== undefined) add("decision_id =", filter.decisionId);
  if (filter.policyId !== undefined) add(`${noIndex}policy_id =`, filter.policyId);
  if (filter.userId !== undefined) add("user_id =", filter.userId);
  if (filter.decision !== undefined) add(`${noIndex}decision =`, filter.decision);
  if (filter.action !== undefined) add("action =", filter.action);
  if (filter.functionName !== undefined) add("function_name =", filter.functionName);
  if (filter.text !== undefined && filter.text !== "")
    add(
      dialect === "postgres" ? "reason ILIKE" : "reason LIKE",
      containsPattern(filter.text),
      " ESCAPE '\\'",
    );
  if (filter.since !== undefined) add("timestamp >=", isoTimestamp(filter.since));
  if (filter.until !== undefined) add("timestamp <", isoTimestamp(filter.until));
  if (filter.afterSeq !== undefined) add("seq >", filter.afterSeq);
  if (filter.beforeSeq !== undefined) add("seq <", filter.beforeSeq);
  const order = filter.order === "asc" ? "ASC" : "DESC";
  params.push(filter.limit ?? 100, filter.offset ?? 0);
  const sql = `SELECT * FROM ${table} ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY seq ${order} LIMIT ${mark(params.length - 1)} OFFSET ${mark(params.length)}`;
  return { sql, params };
}
