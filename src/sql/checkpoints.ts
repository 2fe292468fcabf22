/**
 * The logic both SQL checkpoint stores share; a dialect supplies only a way to run a
 * statement.
 *
 * @module
 */

import type { AuditCheckpoint, AuditCheckpointStore } from "../audit/checkpoints/types.ts";
import type { SqlRunner } from "./confirmations.ts";

type Row = Record<string, unknown>;

const COLUMNS = "id, seq, head_hash, records, created_at, actor, key_id, signature";

function toCheckpoint(row: Row): AuditCheckpoint {
  return {
    id: String(row.id),
    seq: Number(row.seq),
    headHash: String(row.head_hash),
    records: Number(row.records),
    createdAt: String(row.created_at),
    actor: String(row.actor),
    keyId: String(row.key_id),
    signature: String(row.signature),
  };
}

/** Checkpoints over one table (`hexarch_audit_checkpoints`); each dialect's store wraps one. */
export class SqlAuditCheckpoints implements AuditCheckpointStore {
  readonly #table: string;
  readonly #db: SqlRunner;
  readonly #close: () => Promise<void>;

  /**
   * @param prefix Put before the table name (a quoted schema and a dot, or nothing).
   * @param db Runs the statements.
   * @param close Releases the connection.
   */
  constructor(prefix: string, db: SqlRunner, close: () => Promise<void>) {
    this.#table = `${prefix}hexarch_audit_checkpoints`;
    this.#db = db;
    this.#close = close;
  }

  /** {@inheritDoc AuditCheckpointStore.add} */
  async add(c: AuditCheckpoint): Promise<void> {
    await this.#db.run(`INSERT INTO ${this.#table} (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, [
      c.id,
      c.seq,
      c.headHash,
      c.records,
      c.createdAt,
      c.actor,
      c.keyId,
      c.signature,
    ]);
  }

  /** {@inheritDoc AuditCheckpointStore.list} */
  async list(
    options: { readonly limit?: number; readonly offset?: number } = {},
  ): Promise<AuditCheckpoint[]> {
    const rows = await this.#db.all(
      `SELECT ${COLUMNS} FROM ${this.#table} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`,
      [options.limit ?? 100, options.offset ?? 0],
    );
    return rows.map(toCheckpoint);
  }

  /** {@inheritDoc AuditCheckpointStore.latest} */
  async latest(): Promise<AuditCheckpoint | undefined> {
    return (await this.list({ limit: 1 }))[0];
  }

  /** {@inheritDoc AuditCheckpointStore.close} */
  close(): Promise<void> {
    return this.#close();
  }
}
