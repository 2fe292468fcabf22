/**
 * The audit log's data and the `AuditStore` contract every backend implements.
 *
 * @module
 */

import { defineErrorCode, GuardrailError } from "../kernel/errors.ts";

/** The three outcomes an audit record can have. */
export type AuditOutcome = "allowed" | "warned" | "blocked";

/** One decision as the audit log stores it (columns are snake_case in the databases). */
export interface AuditRecord {
  /** Time-ordered UUIDv7. */
  readonly decisionId: string;
  /** ISO 8601 UTC. */
  readonly timestamp: string;
  readonly policyId: string;
  readonly functionName: string | null;
  readonly decision: AuditOutcome;
  /** `allow`, `warn`, `block` or `require_confirmation`. */
  readonly action: string;
  readonly reason: string;
  /** The decision's context (confirmation tokens removed). */
  readonly context: Readonly<Record<string, unknown>>;
  readonly userId: string | null;
  readonly durationMs: number;
  readonly metadata: Readonly<Record<string, unknown>> | null;
  /** `monitor` for a would-be block that was let through. */
  readonly mode: "enforce" | "monitor";
  /** The canonical JSON of `context`, when already computed (it is what is stored and hashed). */
  readonly contextJson?: string;
  /** The canonical JSON of `metadata`, when already computed. */
  readonly metadataJson?: string;
}

/** A stored record with its place in the hash chain. */
export interface ChainedRecord extends AuditRecord {
  /** Position in the log (increasing). */
  readonly seq: number;
  /** Hash of the record before it (or of the anchor it follows). */
  readonly prevHash: string;
  /** SHA-256 over `prevHash` and the record's canonical encoding. */
  readonly hash: string;
}

/**
 * A record removed by retention before audit migration 9, remembered by its hashes. Since
 * migration 9 retention writes chained prune records instead, and any tombstone found is
 * reported by verification (anyone can write one).
 */
export interface Tombstone {
  readonly seq: number;
  readonly decisionId: string;
  readonly prevHash: string;
  readonly hash: string;
}

/**
 * A retention deletion, itself an entry of the hash chain (audit migration 9): what was
 * removed (its runs, summed up and digested), when, by whom and why. Verification accepts
 * a gap in the chain only where a prune record chained after it lists the gap exactly, so
 * removing rows without breaking the chain means appending a visible prune record.
 */
export interface PruneRecord {
  readonly kind: "prune";
  /** Its position in the log (after every record it removed). */
  readonly seq: number;
  readonly prevHash: string;
  /** SHA-256 over `prevHash` and every other field (see `pruneHash`). */
  readonly hash: string;
  /** A label for messages (`prune@<seq>`). */
  readonly decisionId: string;
  /** When it was made, ISO 8601 UTC. */
  readonly timestamp: string;
  /** Who pruned (an operator, a job, `audit migration 9`). */
  readonly actor: string;
  /** Why (the retention rule applied). */
  readonly reason: string;
  /** The lowest and highest `seq` removed. */
  readonly fromSeq: number;
  readonly toSeq: number;
  /** Entries removed. */
  readonly removed: number;
  /** Runs (stretches of consecutive removed entries) listed. */
  readonly runs: number;
  /** SHA-256 over the runs in order (see `runsDigest`). */
  readonly runsDigest: string;
}

/**
 * A stretch of consecutive entries a prune removed, at its place in the chain: the hash
 * the first one followed and the hash of the last, so the chain links across it.
 */
export interface PrunedRun {
  readonly kind: "pruned";
  /** The first removed `seq`. */
  readonly seq: number;
  /** The last removed `seq`. */
  readonly toSeq: number;
  /** The prune record that removed it. */
  readonly pruneSeq: number;
  /** The hash the first removed entry followed. */
  readonly prevHash: string;
  /** The hash of the last removed entry. */
  readonly hash: string;
  /** A label for messages (`pruned@<from>-<to>`). */
  readonly decisionId: string;
}

/**
 * One entry of the chain as `AuditStore.chain` gives it: a record, a prune record, a
 * pruned run, or a legacy tombstone (written before migration 9; none remain after it).
 */
export type ChainEntry = ChainedRecord | PruneRecord | PrunedRun | Tombstone;

/** Who prunes and why, recorded in the chained prune record. */
export interface PruneOptions {
  /** Count only, change nothing. */
  readonly dryRun?: boolean;
  /** Who prunes. @default the OS user and host (`user@host`) */
  readonly actor?: string;
  /** Why. @default a description of the rule (`retention: allowed, warned before <time>`) */
  readonly reason?: string;
}

/** Filters of `getDecisionHistory`. */
export interface AuditQuery {
  readonly policyId?: string;
  readonly userId?: string;
  readonly decision?: AuditOutcome;
  /** Only records with this `action` (`provider_call`, `confirmation_approve`, `block`…). */
  readonly action?: string;
  /** ISO timestamp or Date: records at or after it. */
  readonly since?: string | Date;
  /** ISO timestamp or Date: records before it. */
  readonly until?: string | Date;
  /** @default 100 */
  readonly limit?: number;
  /** @default 0 */
  readonly offset?: number;
  /** Only records after this position in the log (`seq`): keyset paging for exports. */
  readonly afterSeq?: number;
  /**
   * Only records before this position in the log (`seq`): keyset paging newest first (pass
   * the last `seq` of a page to get the next, older one).
   */
  readonly beforeSeq?: number;
  /** Only records of the guarded function with this name. */
  readonly functionName?: string;
  /**
   * Only records whose `reason` contains this text, ignoring case (ASCII letters in SQLite;
   * all letters in PostgreSQL). `%` and `_` are matched literally.
   */
  readonly text?: string;
  /** Only the record with this decision id (unique). */
  readonly decisionId?: string;
  /** `"desc"`: newest first (the default); `"asc"`: oldest first, in log order. */
  readonly order?: "asc" | "desc";
}

/**
 * The window of `AuditStore.timeseries` and `AuditStore.summary`: records at or after
 * `since` and before `until` (ISO 8601 UTC). Like the policy stats, they count decisions
 * only: confirmation events (`confirmation_*`) and provider calls are left out.
 */
export interface AuditWindow {
  /** ISO timestamp or Date: records at or after it. */
  readonly since: string | Date;
  /** ISO timestamp or Date: records before it. */
  readonly until: string | Date;
  /** Only this policy's decisions. */
  readonly policyId?: string;
}

/** The question of `AuditStore.timeseries`. */
export interface AuditTimeseriesQuery extends AuditWindow {
  /**
   * The bucket's length in ms, a whole number of seconds. Buckets are aligned to the Unix
   * epoch (a `3_600_000` bucket starts on the hour, a day's at midnight UTC).
   */
  readonly bucketMs: number;
}

/** Decisions of one outcome in one bucket (`AuditStore.timeseries`). */
export interface AuditBucketCount {
  /** The bucket's start, in ms since the epoch (a multiple of the bucket length). */
  readonly t: number;
  readonly decision: AuditOutcome;
  readonly n: number;
}

/** Decisions of one outcome for one policy in a window (`AuditStore.summary`). */
export interface AuditPolicyOutcomeCount {
  readonly policyId: string;
  readonly decision: AuditOutcome;
  readonly n: number;
}

/** What `AuditStore.summary` counts in a window. */
export interface AuditWindowCounts {
  /** Counts per policy and outcome (no row for a zero). */
  readonly outcomes: readonly AuditPolicyOutcomeCount[];
  /** The most frequent reasons of blocks, most frequent first (ties by reason). */
  readonly topBlockReasons: readonly { readonly reason: string; readonly count: number }[];
}

/** What a store counts for `getPolicyStats`. */
export interface PolicyCounts {
  readonly allowed: number;
  readonly warned: number;
  readonly blocked: number;
  readonly topBlockReasons: readonly { readonly reason: string; readonly count: number }[];
}

/** One migration's outcome (the migrator never throws: it reports). */
export interface MigrationResult {
  readonly version: number;
  readonly name: string;
  readonly direction: "up" | "down";
  readonly status: "applied" | "already applied" | "rolled back" | "failed";
  readonly error?: string;
}

/** Whether a migration has been applied to a store. */
export interface MigrationStatus {
  readonly version: number;
  readonly name: string;
  /** ISO timestamp of when it was applied, or `null` while pending. */
  readonly appliedAt: string | null;
}

/**
 * Where audit records live. `SqliteAuditStore` and `PostgresAuditStore` implement it and
 * pass one shared test suite; `NullAuditStore` keeps nothing.
 */
export interface AuditStore {
  /** Applies pending migrations (also done on first use). */
  migrate(): Promise<readonly MigrationResult[]>;
  /** Rolls the latest migration back. */
  rollback(): Promise<readonly MigrationResult[]>;
  /** Every migration this store knows, applied or pending, oldest first. Applies none. */
  migrationStatus(): Promise<readonly MigrationStatus[]>;
  /**
   * Appends records in one transaction, chaining each to the one before (the store reads
   * the last hash inside the transaction, so concurrent writers cannot fork the chain).
   */
  append(records: readonly AuditRecord[]): Promise<void>;
  /** Records matching a filter, newest first (in log order). */
  query(filter: AuditQuery): Promise<readonly ChainedRecord[]>;
  /** Counts for one policy. */
  counts(policyId: string, topReasons: number): Promise<PolicyCounts>;
  /** Ids of the policies with at least one stored decision, sorted. */
  policyIds(): Promise<readonly string[]>;
  /**
   * Decisions per time bucket and outcome in a window, counted by the database (only
   * buckets with decisions, in time order).
   */
  timeseries(query: AuditTimeseriesQuery): Promise<readonly AuditBucketCount[]>;
  /**
   * Decisions per policy and outcome in a window, and the `topReasons` most frequent block
   * reasons, counted by the database.
   */
  summary(window: AuditWindow, topReasons: number): Promise<AuditWindowCounts>;
  /**
   * Deletes records older than `before` whose outcome is in `outcomes` and appends one
   * chained {@link PruneRecord} listing what went (nothing when nothing matched). Returns
   * how many went, or with `dryRun` how many would go (and changes nothing).
   */
  prune(before: string, outcomes: readonly AuditOutcome[], options?: PruneOptions): Promise<number>;
  /**
   * The chain in order: entries with `seq` greater than `afterSeq` (a pruned run by its
   * first `seq`).
   */
  chain(afterSeq: number, limit: number): Promise<readonly ChainEntry[]>;
  /**
   * Where the chain starts (the last hash of a pruned prefix, else the genesis hash at
   * seq 0) and where it ends (the last appended record), kept in the same transactions as
   * the records, so removing the newest rows is detected too.
   */
  ends(): Promise<{
    readonly startSeq: number;
    readonly startHash: string;
    readonly headSeq: number;
    readonly headHash: string;
  }>;
  close(): Promise<void>;
}

/**
 * The chain's tables do not hold what a chain needs (a state row deleted, a value that is
 * not a position): damage that `verify` reports, where an unreachable database is thrown.
 */
export class AuditChainDamageError extends GuardrailError {}
defineErrorCode(AuditChainDamageError, "audit_chain_damaged");
