/**
 * The logic both SQL confirmation stores share: one statement per state change, so a
 * token is approved, denied or consumed at most once across any number of processes.
 * A dialect supplies only a way to run a statement.
 *
 * @module
 */

import { checkListFilter } from "../confirm/listing.ts";
import { refusal, refusalOf } from "../confirm/refusals.ts";
import {
  bindingMissing,
  confirmationNotFound,
  confirmationNotPending,
} from "../confirm/store-errors.ts";
import {
  checkTtl,
  digestMatches,
  issueToken,
  type ParsedToken,
  parseToken,
} from "../confirm/tokens.ts";
import type {
  ConfirmationBinding,
  ConfirmationListFilter,
  ConfirmationRecord,
  ConfirmationRequest,
  ConfirmationStatus,
  ConfirmationStore,
  ConsumeConfirmationResult,
} from "../confirm/types.ts";
import { GuardrailError } from "../kernel/errors.ts";

/** A row as a driver returns it. */
export type ConfirmationRow = Record<string, unknown>;

/** A value bound to a statement parameter. */
export type SqlValue = string | number | null;

/** Runs statements with `?` parameters (after migrating the schema on first use). */
export interface SqlRunner {
  /** Runs a statement and answers the rows it returns (a `SELECT`'s, or `RETURNING`'s). */
  all(sql: string, params: readonly SqlValue[]): Promise<readonly ConfirmationRow[]>;
  /** Runs a statement and answers how many rows it changed. */
  run(sql: string, params: readonly SqlValue[]): Promise<number>;
}

/** Default token lifetime: 15 minutes. */
export const DEFAULT_TTL_MS = 15 * 60_000;
/** Expired requests are kept this long (so a late caller hears "expired"), then pruned. */
const KEEP_EXPIRED_MS = 86_400_000;
/** Prune on every this many creates. */
const PRUNE_EVERY = 256;

const UNKNOWN = refusal("unknown");

const text = (v: unknown): string | undefined =>
  v === null || v === undefined ? undefined : String(v);
const ms = (v: unknown): number | undefined =>
  v === null || v === undefined ? undefined : Number(v);

/** Who decided, checked at run time (a JavaScript caller may pass anything). */
function checkDecider(value: unknown, field: string): string {
  if (typeof value !== "string")
    throw new GuardrailError(`${field} must be a string naming who decided`, {
      code: "confirmation_request_invalid",
    });
  return value;
}

/** JSON text of a request's metadata. */
function metadataText(metadata: ConfirmationRequest["metadata"]): string | null {
  if (metadata === undefined) return null;
  try {
    return JSON.stringify(metadata);
  } catch (err) {
    throw new GuardrailError("confirmation metadata must be JSON-serializable", {
      code: "confirmation_request_invalid",
      cause: err,
    });
  }
}

/** A stored row as a record; `pending` and `approved` rows past their expiry read `expired`. */
function toRecord(row: ConfirmationRow, now: number): ConfirmationRecord {
  const expiresAtMs = Number(row.expires_at_ms);
  const stored = String(row.status) as ConfirmationStatus;
  const status =
    (stored === "pending" || stored === "approved") && now >= expiresAtMs ? "expired" : stored;
  const metadata = text(row.metadata);
  return {
    id: String(row.id),
    policyId: String(row.policy_id),
    fingerprint: String(row.fingerprint),
    status,
    requestedBy: text(row.requested_by),
    reason: text(row.reason),
    operation: text(row.operation),
    metadata:
      metadata === undefined
        ? undefined
        : (JSON.parse(metadata) as Readonly<Record<string, unknown>>),
    createdAtMs: Number(row.created_at_ms),
    expiresAtMs,
    decidedBy: text(row.decided_by),
    decidedAtMs: ms(row.decided_at_ms),
    decisionReason: text(row.decision_reason),
  };
}

/** The confirmation logic over one table; each store wraps one. */
export class SqlConfirmations implements ConfirmationStore {
  readonly #table: string;
  readonly #db: SqlRunner;
  readonly #close: () => Promise<void>;
  readonly #clock: () => number;
  readonly #ttlMs: number;
  #creates = 0;

  /**
   * @param table The table name as it goes into SQL (qualified with a schema if need be).
   * @param db Runs the statements.
   * @param close Releases the connection behind `db`.
   */
  constructor(
    table: string,
    db: SqlRunner,
    options: { readonly clock?: () => number; readonly ttlMs?: number },
    close: () => Promise<void> = async () => {},
  ) {
    this.#table = table;
    this.#db = db;
    this.#close = close;
    this.#clock = options.clock ?? Date.now;
    this.#ttlMs = checkTtl(options.ttlMs ?? DEFAULT_TTL_MS);
  }

  /** Whole milliseconds: the columns are integers. */
  #now(): number {
    return Math.floor(this.#clock());
  }

  async create(request: ConfirmationRequest): Promise<string> {
    if (!request.policyId || !request.fingerprint) {
      throw bindingMissing();
    }
    const ttlMs = request.ttlMs === undefined ? this.#ttlMs : checkTtl(request.ttlMs);
    const metadata = metadataText(request.metadata);
    const now = this.#now();
    if (++this.#creates % PRUNE_EVERY === 0) await this.#prune(now);
    const issued = issueToken();
    await this.#db.run(
      `INSERT INTO ${this.#table} (id, secret_hash, policy_id, fingerprint, status, requested_by, reason, operation, metadata, created_at_ms, expires_at_ms) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?)`,
      [
        issued.id,
        issued.secretHash,
        request.policyId,
        request.fingerprint,
        text(request.requestedBy) ?? null,
        text(request.reason) ?? null,
        text(request.operation) ?? null,
        metadata,
        now,
        Math.ceil(now + ttlMs),
      ],
    );
    return issued.token;
  }

  /** Approves or denies the pending request behind a token. */
  async decide(
    token: string,
    status: "approved" | "denied",
    by: string,
    reason: string | undefined,
  ): Promise<ConfirmationRecord> {
    return this.#decide(token, status, by, reason, false);
  }

  /** Approves or denies the pending request behind a token, or (`byId`) with that id. */
  async #decide(
    token: string,
    status: "approved" | "denied",
    by: string,
    reason: string | undefined,
    byId: boolean,
  ): Promise<ConfirmationRecord> {
    const parsed: ParsedToken | undefined = byId
      ? typeof token === "string"
        ? { id: token, secretHash: "" }
        : undefined
      : parseToken(token);
    if (!parsed) throw confirmationNotFound();
    const now = this.#now();
    // Only a pending, unexpired request moves, in one statement: of two deciders, one wins.
    const rows = await this.#db.all(
      `UPDATE ${this.#table} SET status = ?, decided_by = ?, decided_at_ms = ?, decision_reason = ? WHERE id = ?${byId ? "" : " AND secret_hash = ?"} AND status = 'pending' AND expires_at_ms > ? RETURNING *`,
      [status, by, now, text(reason) ?? null, parsed.id, ...(byId ? [] : [parsed.secretHash]), now],
    );
    const moved = rows[0];
    if (moved && (byId || digestMatches(moved.secret_hash, parsed.secretHash)))
      return toRecord(moved, now);
    const record = byId ? await this.getById(parsed.id) : await this.#read(parsed, now);
    if (!record) throw confirmationNotFound();
    throw confirmationNotPending(record.status);
  }

  /** {@inheritDoc hexarch-guardrails!ConfirmationStore.list} */
  async list(filter?: ConfirmationListFilter): Promise<readonly ConfirmationRecord[]> {
    const { status, limit } = checkListFilter(filter);
    const now = this.#now();
    const where: Record<typeof status, [string, SqlValue[]]> = {
      all: ["", []],
      pending: [" WHERE status = 'pending' AND expires_at_ms > ?", [now]],
      approved: [" WHERE status = 'approved' AND expires_at_ms > ?", [now]],
      expired: [" WHERE status IN ('pending', 'approved') AND expires_at_ms <= ?", [now]],
      denied: [" WHERE status = 'denied'", []],
      consumed: [" WHERE status = 'consumed'", []],
    };
    const [clause, params] = where[status];
    const rows = await this.#db.all(
      `SELECT * FROM ${this.#table}${clause} ORDER BY created_at_ms DESC, id DESC LIMIT ?`,
      [...params, limit],
    );
    return rows.map((row) => toRecord(row, now));
  }

  /** {@inheritDoc hexarch-guardrails!ConfirmationStore.getById} */
  async getById(id: string): Promise<ConfirmationRecord | undefined> {
    if (typeof id !== "string") return undefined;
    const rows = await this.#db.all(`SELECT * FROM ${this.#table} WHERE id = ?`, [id]);
    const row = rows[0];
    return row && toRecord(row, this.#now());
  }

  /** {@inheritDoc hexarch-guardrails!ConfirmationStore.approveById} */
  async approveById(
    id: string,
    by: { readonly approvedBy: string; readonly reason?: string },
  ): Promise<ConfirmationRecord> {
    return this.#decide(id, "approved", checkDecider(by.approvedBy, "approvedBy"), by.reason, true);
  }

  /** {@inheritDoc hexarch-guardrails!ConfirmationStore.denyById} */
  async denyById(
    id: string,
    by: { readonly deniedBy: string; readonly reason?: string },
  ): Promise<ConfirmationRecord> {
    return this.#decide(id, "denied", checkDecider(by.deniedBy, "deniedBy"), by.reason, true);
  }

  async approve(
    token: string,
    by: { readonly approvedBy: string; readonly reason?: string },
  ): Promise<ConfirmationRecord> {
    return this.decide(token, "approved", checkDecider(by.approvedBy, "approvedBy"), by.reason);
  }

  async deny(
    token: string,
    by: { readonly deniedBy: string; readonly reason?: string },
  ): Promise<ConfirmationRecord> {
    return this.decide(token, "denied", checkDecider(by.deniedBy, "deniedBy"), by.reason);
  }

  async get(token: string): Promise<ConfirmationRecord | undefined> {
    const parsed = parseToken(token);
    return parsed && this.#read(parsed, this.#now());
  }

  async consume(token: string, binding: ConfirmationBinding): Promise<ConsumeConfirmationResult> {
    const parsed = parseToken(token);
    if (!parsed) return UNKNOWN;
    const now = this.#now();
    // A request moves only forward (pending → approved → consumed), so one retry settles
    // the one race left: an approval landing between the update and the read.
    for (let attempt = 0; attempt < 2; attempt++) {
      const rows = await this.#db.all(
        `UPDATE ${this.#table} SET status = 'consumed' WHERE id = ? AND secret_hash = ? AND status = 'approved' AND expires_at_ms > ? AND policy_id = ? AND fingerprint = ? RETURNING *`,
        [parsed.id, parsed.secretHash, now, String(binding.policyId), String(binding.fingerprint)],
      );
      const used = rows[0];
      if (used && digestMatches(used.secret_hash, parsed.secretHash))
        return { ok: true, record: toRecord(used, now) };
      // Nothing moved: read the request to say why, as the memory store would.
      const record = await this.#read(parsed, now);
      if (!record) return UNKNOWN;
      const refused = refusalOf(record, binding);
      if (refused) return refused;
    }
    return refusal("pending");
  }

  /** Releases the connection the store opened; the store is unusable afterwards. */
  close(): Promise<void> {
    return this.#close();
  }

  /** Deletes requests that expired more than a day ago; answers how many. */
  async prune(): Promise<number> {
    return this.#prune(this.#now());
  }

  async #prune(now: number): Promise<number> {
    return this.#db.run(`DELETE FROM ${this.#table} WHERE expires_at_ms < ?`, [
      now - KEEP_EXPIRED_MS,
    ]);
  }

  /** The request behind a well-formed token, when its secret matches (constant time). */
  async #read(parsed: ParsedToken, now: number): Promise<ConfirmationRecord | undefined> {
    const rows = await this.#db.all(`SELECT * FROM ${this.#table} WHERE id = ?`, [parsed.id]);
    const row = rows[0];
    return row && digestMatches(row.secret_hash, parsed.secretHash)
      ? toRecord(row, now)
      : undefined;
  }
}
