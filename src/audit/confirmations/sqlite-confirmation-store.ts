/**
 * `SqliteConfirmationStore`: confirmations in the audit log's SQLite file.
 *
 * @module
 */

import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import type {
  ConfirmationBinding,
  ConfirmationRecord,
  ConfirmationRequest,
  ConfirmationStore,
  ConsumeConfirmationResult,
} from "../../confirm/types.ts";
import { GuardrailError } from "../../errors.ts";
import { SqliteAuditStore } from "../sqlite/sqlite-audit-store.ts";
import { type ConfirmationRow, SqlConfirmations, type SqlRunner } from "./sql-confirmations.ts";

/** Options of {@link SqliteConfirmationStore}. */
export interface SqliteConfirmationStoreOptions {
  /**
   * Current time in ms since the epoch.
   * @default Date.now
   */
  readonly clock?: () => number;
  /**
   * Default token lifetime.
   * @default 900000 (15 minutes)
   */
  readonly ttlMs?: number;
}

/**
 * Pending confirmations in a SQLite file — the one `SqliteAuditStore` writes decisions to
 * (table `hexarch_confirmations`, audit migration 4, applied on first use). Every process
 * that opens the file sees the same requests; approving, denying and consuming are each
 * one statement, so a token is used once however many processes try. Tokens are those
 * of `MemoryConfirmationStore`; only the SHA-256 digest of a token's secret is stored.
 * Requests that expired more than a day ago are pruned now and then on `create`.
 *
 * @example
 * ```ts
 * import { DecisionLogger, SqliteAuditStore, SqliteConfirmationStore } from "hexarch-guardrails/audit";
 * const guardian = new Guardian({
 *   auditLogger: new DecisionLogger(new SqliteAuditStore("decisions.db")),
 *   confirmations: new SqliteConfirmationStore("decisions.db"),
 * });
 * ```
 */
export class SqliteConfirmationStore implements ConfirmationStore {
  /** The database file. */
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #sql: SqlConfirmations;
  readonly #statements = new Map<string, StatementSync>();
  #migrated: Promise<void> | undefined;

  /**
   * Opens (or creates) the file; the schema is migrated on first use.
   * @throws GuardrailError for an in-memory database (use `MemoryConfirmationStore`) or a
   *   `ttlMs` that is not a positive, finite number.
   */
  constructor(path = "decisions.db", options: SqliteConfirmationStoreOptions = {}) {
    if (path === "" || path === ":memory:") {
      throw new GuardrailError(
        "SqliteConfirmationStore needs a database file (shared with the audit log); for confirmations in memory use MemoryConfirmationStore",
      );
    }
    this.path = path;
    const statement = async (sql: string): Promise<StatementSync> => {
      await this.#ready();
      if (!this.#db.isOpen) throw new GuardrailError("the confirmation store is closed");
      let st = this.#statements.get(sql);
      if (!st) {
        st = this.#db.prepare(sql);
        this.#statements.set(sql, st);
      }
      return st;
    };
    const db: SqlRunner = {
      all: async (sql, params) =>
        (await statement(sql)).all(...(params as SQLInputValue[])) as ConfirmationRow[],
      run: async (sql, params) =>
        Number((await statement(sql)).run(...(params as SQLInputValue[])).changes),
    };
    this.#sql = new SqlConfirmations("hexarch_confirmations", db, options);
    this.#db = new DatabaseSync(path);
    this.#db.exec(
      "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;",
    );
  }

  /** {@inheritDoc ConfirmationStore.create} */
  create(request: ConfirmationRequest): Promise<string> {
    return this.#sql.create(request);
  }

  /** {@inheritDoc ConfirmationStore.approve} */
  approve(
    token: string,
    by: { readonly approvedBy: string; readonly reason?: string },
  ): Promise<ConfirmationRecord> {
    return this.#sql.approve(token, by);
  }

  /** {@inheritDoc ConfirmationStore.deny} */
  deny(
    token: string,
    by: { readonly deniedBy: string; readonly reason?: string },
  ): Promise<ConfirmationRecord> {
    return this.#sql.deny(token, by);
  }

  /** {@inheritDoc ConfirmationStore.get} */
  get(token: string): Promise<ConfirmationRecord | undefined> {
    return this.#sql.get(token);
  }

  /** {@inheritDoc ConfirmationStore.consume} */
  consume(token: string, binding: ConfirmationBinding): Promise<ConsumeConfirmationResult> {
    return this.#sql.consume(token, binding);
  }

  /** Deletes requests that expired more than a day ago; resolves to how many. */
  prune(): Promise<number> {
    return this.#sql.prune();
  }

  /** Closes the database; the store is unusable afterwards. */
  async close(): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
  }

  /** Applies the audit migrations once, through the audit store's own migrator. */
  #ready(): Promise<void> {
    this.#migrated ??= (async () => {
      const audit = new SqliteAuditStore(this.path);
      try {
        const failed = (await audit.migrate()).find((r) => r.status === "failed");
        if (failed)
          throw new GuardrailError(
            `audit schema migration ${failed.version} failed: ${failed.error}`,
          );
      } finally {
        await audit.close();
      }
    })().catch((err: unknown) => {
      this.#migrated = undefined; // try again on the next call
      throw err;
    });
    return this.#migrated;
  }
}
