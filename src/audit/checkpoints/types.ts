/**
 * Audit checkpoints: the hash chain's head at one moment, signed with a key the database
 * does not hold. A chain rewritten later, with every hash recomputed, still verifies link
 * by link; it no longer matches a checkpoint taken before the rewrite.
 *
 * @module
 */

/** A signed checkpoint of the audit log's hash chain. */
export interface AuditCheckpoint {
  /** Time-ordered UUIDv7. */
  readonly id: string;
  /** The position (`seq`) of the chain's head: its last entry, or its start when empty. */
  readonly seq: number;
  /** The hash of the entry at `seq` (the genesis hash of an empty log). */
  readonly headHash: string;
  /** Entries (records and prune records) checked from the genesis to `seq`. */
  readonly records: number;
  /** When it was taken, ISO 8601 UTC. */
  readonly createdAt: string;
  /** Who asked for it: the authenticated caller (`api-token`, `api-key:<id>`, …). */
  readonly actor: string;
  /** The id of the key it is signed with. */
  readonly keyId: string;
  /** Hex HMAC-SHA256 over the canonical encoding of every other field. */
  readonly signature: string;
}

/** A checkpoint before it is signed. */
export type UnsignedCheckpoint = Omit<AuditCheckpoint, "signature">;

/** Where checkpoints are kept: beside the audit log, in its database (audit migration 7). */
export interface AuditCheckpointStore {
  /** Stores a checkpoint. */
  add(checkpoint: AuditCheckpoint): Promise<void>;
  /** Checkpoints, newest first. */
  list(options?: { readonly limit?: number; readonly offset?: number }): Promise<AuditCheckpoint[]>;
  /** The newest checkpoint, or `undefined` when there is none. */
  latest(): Promise<AuditCheckpoint | undefined>;
  /** Releases the connection. */
  close(): Promise<void>;
}

/** Why a stored checkpoint fails verification. */
export type CheckpointProblem =
  /** Its signature is not the key's signature of its fields (a field or the signature was edited). */
  | "bad_signature"
  /** The chain's entry at its `seq` has another hash: the chain was rewritten after it. */
  | "hash_mismatch"
  /** The chain now ends before its `seq`: entries it covered were removed. */
  | "truncated"
  /** A line of a checkpoint file is not a checkpoint: the file was edited or torn. */
  | "bad_line";

/** What checking the stored checkpoints against the chain found. */
export interface CheckpointVerifyResult {
  /** True when every checkpoint that could be checked checks out. */
  readonly ok: boolean;
  /** Checkpoints checked (signature and place in the chain). */
  readonly checked: number;
  /**
   * Checkpoints that could not be checked: signed with another key id, or past the first
   * broken record.
   */
  readonly skipped: number;
  /**
   * Of those checked, checkpoints whose position a chained prune record removed (only when
   * there are any): explained by the prune's listing, not by the entry itself.
   */
  readonly pruned?: number;
  /** The first failing checkpoint, by position in the chain. */
  readonly firstBadCheckpointId?: string;
  /** Why it fails. */
  readonly problem?: CheckpointProblem;
  /** The failure in one sentence, when there is one the codes do not say. */
  readonly message?: string;
}
