/**
 * The SQLite audit log's append transaction, shared by `SqliteAuditStore` (on the calling
 * thread) and its writer thread (`writer-worker.ts`), and the compact form a batch takes
 * to reach that thread.
 *
 * @module
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import { recordFields } from "../audit/hash-chain.ts";
import type { AuditRecord } from "../audit/types.ts";
import { chainBatch, DECISION_COLUMNS, type Row } from "../sql/rows.ts";

/** The pragmas every connection to an audit database runs first. */
export const SQLITE_PRAGMAS =
  "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;";

const ROWS_PER_INSERT = 50;

/** Runs `fn` in a transaction: committed when it returns, rolled back when it throws. */
export function transaction<T>(
  db: DatabaseSync,
  fn: () => T,
  mode: "DEFERRED" | "IMMEDIATE" = "DEFERRED",
): T {
  db.exec(`BEGIN ${mode}`);
  try {
    const result = fn();
    db.exec("COMMIT");
    return result;
  } catch (err) {
    db.exec("ROLLBACK");
    throw err;
  }
}

/**
 * Appends batches to one connection's `hexarch_decisions`, chained after the head it reads
 * under the write lock (`BEGIN IMMEDIATE`), skipping records already stored (a retried
 * batch). The schema must be migrated.
 */
export class SqliteAppender {
  readonly #db: DatabaseSync;
  readonly #inserts = new Map<number, StatementSync>();

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Appends `batch` in one transaction (committed when it returns). */
  append(batch: readonly AuditRecord[]): void {
    if (batch.length === 0) return;
    const db = this.#db;
    transaction(
      db,
      () => {
        // A batch retried after a failure must not be stored twice.
        const stored = new Set<string>();
        for (let i = 0; i < batch.length; i += 500) {
          const ids = batch.slice(i, i + 500).map((r) => r.decisionId);
          const found = db
            .prepare(
              `SELECT decision_id FROM hexarch_decisions WHERE decision_id IN (${ids.map(() => "?").join(", ")})`,
            )
            .all(...ids) as Row[];
          for (const r of found) stored.add(String(r.decision_id));
        }
        const records = stored.size === 0 ? batch : batch.filter((r) => !stored.has(r.decisionId));
        if (records.length === 0) return;
        const head = db
          .prepare("SELECT head_seq, head_hash FROM hexarch_chain WHERE id = 1")
          .get() as Row;
        const chained = chainBatch(records, Number(head.head_seq), String(head.head_hash));
        // Multi-row statements: one call into SQLite per 50 records instead of per record.
        for (let start = 0; start < chained.rows.length; start += ROWS_PER_INSERT) {
          const chunk = chained.rows.slice(start, start + ROWS_PER_INSERT);
          this.#insert(chunk.length).run(...chunk.flat());
        }
        const upsert = db.prepare(
          "INSERT INTO hexarch_policy_counts VALUES (?, ?, ?, ?) ON CONFLICT (policy_id, decision, reason) DO UPDATE SET n = n + excluded.n",
        );
        for (const c of chained.counts) upsert.run(...c);
        db.prepare("UPDATE hexarch_chain SET head_seq = ?, head_hash = ? WHERE id = 1").run(
          chained.headSeq,
          chained.headHash,
        );
      },
      "IMMEDIATE",
    );
  }

  /** A prepared multi-row insert for `rows` records (cached per size). */
  #insert(rows: number): StatementSync {
    let st = this.#inserts.get(rows);
    if (!st) {
      const tuple = `(${Array.from({ length: 15 }, () => "?").join(", ")})`;
      st = this.#db.prepare(
        `INSERT INTO hexarch_decisions (${DECISION_COLUMNS}) VALUES ${Array.from({ length: rows }, () => tuple).join(", ")}`,
      );
      this.#inserts.set(rows, st);
    }
    return st;
  }
}

/** Values per record in a {@link WireBatch}. */
const WIRE_FIELDS = 12;

/**
 * A batch as it is posted to the writer thread: the records' fields one after another in
 * one flat array of primitives, context and metadata as their canonical JSON (what is
 * hashed and stored), which costs far less to clone than the record objects.
 */
export type WireBatch = (string | number | null)[];

/** A batch in its {@link WireBatch} form. */
export function encodeBatch(records: readonly AuditRecord[]): WireBatch {
  // Filled by push: an array made with `new Array(n)` stays "holey", and V8 clones a holey
  // array key by key, about twice as slowly.
  const out: WireBatch = [];
  for (const r of records) out.push(...recordFields(r));
  return out;
}

/**
 * The records of a {@link WireBatch}, enough to chain and store them: `contextJson` and
 * `metadataJson` carry the encodings (`context` and `metadata` are empty placeholders).
 */
export function decodeBatch(wire: WireBatch): AuditRecord[] {
  const out: AuditRecord[] = [];
  for (let i = 0; i + WIRE_FIELDS <= wire.length; i += WIRE_FIELDS) {
    const metadataJson = wire[i + 10] as string | null;
    out.push({
      decisionId: wire[i] as string,
      timestamp: wire[i + 1] as string,
      policyId: wire[i + 2] as string,
      functionName: wire[i + 3] as string | null,
      decision: wire[i + 4] as AuditRecord["decision"],
      action: wire[i + 5] as string,
      reason: wire[i + 6] as string,
      context: {},
      contextJson: wire[i + 7] as string,
      userId: wire[i + 8] as string | null,
      durationMs: wire[i + 9] as number,
      metadata: metadataJson === null ? null : {},
      ...(metadataJson !== null && { metadataJson }),
      mode: wire[i + 11] as AuditRecord["mode"],
    });
  }
  return out;
}
