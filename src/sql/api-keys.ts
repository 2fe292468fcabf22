/**
 * The logic both SQL stores of API keys share; a dialect supplies only a way to run a
 * statement.
 *
 * @module
 */

import { randomBytes } from "node:crypto";
import { apiKeyIdOf, apiKeyMatches, generateApiKey, hashApiKey } from "../api-keys/keys.ts";
import type {
  ApiKey,
  ApiKeyCheck,
  ApiKeyScope,
  ApiKeyStore,
  ApiKeySubject,
  CreatedApiKey,
} from "../api-keys/types.ts";
import { GuardrailError, InvalidOptionError } from "../kernel/errors.ts";
import type { SqlRunner } from "./confirmations.ts";

/** Options the SQL key stores share. */
export interface ApiKeyStoreOptions {
  /**
   * The HMAC secret keys are hashed under (`HEXARCH_API_KEY_PEPPER` for the CLI). Without
   * it a random secret is made on first use and kept in the database (table
   * `hexarch_api_key_secrets`). Changing it invalidates every key.
   */
  readonly pepper?: string;
  /** Current time in ms since the epoch. @default Date.now */
  readonly clock?: () => number;
}

type Row = Record<string, unknown>;

const textOrNull = (v: unknown): string | null =>
  v === null || v === undefined ? null : String(v);

/** The subject with only its non-empty string fields; `undefined` when none is left. */
export function normalSubject(subject: ApiKeySubject | undefined): ApiKeySubject | undefined {
  if (subject === undefined || subject === null) return undefined;
  const out: { userId?: string; tenantId?: string } = {};
  if (typeof subject.userId === "string" && subject.userId !== "") out.userId = subject.userId;
  if (typeof subject.tenantId === "string" && subject.tenantId !== "")
    out.tenantId = subject.tenantId;
  return out.userId === undefined && out.tenantId === undefined ? undefined : out;
}

/** A stored subject (JSON text or NULL). Unreadable text throws: the key fails closed (503). */
function subjectOf(v: unknown): ApiKeySubject | undefined {
  if (v === null || v === undefined) return undefined;
  return normalSubject(JSON.parse(String(v)) as ApiKeySubject);
}

function toKey(row: Row): ApiKey {
  const subject = subjectOf(row.subject);
  return {
    id: String(row.id),
    name: String(row.name),
    scopes: JSON.parse(String(row.scopes)) as ApiKeyScope[],
    ...(subject && { subject }),
    created_at: String(row.created_at),
    revoked_at: textOrNull(row.revoked_at),
    last_used_at: textOrNull(row.last_used_at),
  };
}

/** `last_used_at` is written at most this often per key, so a busy key costs no write per request. */
const TOUCH_EVERY_MS = 60_000;

/** API keys over one table (and the database's secret in another); each dialect's store wraps one. */
export class SqlApiKeys implements ApiKeyStore {
  readonly #keys: string;
  readonly #secrets: string;
  readonly #db: SqlRunner;
  readonly #clock: () => number;
  readonly #close: () => Promise<void>;
  readonly #configuredPepper: string | undefined;
  #pepper: Promise<string> | undefined;

  /**
   * @param prefix Put before each table name (a quoted schema and a dot, or nothing).
   * @param db Runs the statements.
   * @param close Releases the connection.
   * @throws InvalidOptionError for a pepper under 16 characters.
   */
  constructor(
    prefix: string,
    db: SqlRunner,
    close: () => Promise<void>,
    options: ApiKeyStoreOptions = {},
  ) {
    if (options.pepper !== undefined && options.pepper.length < 16)
      // The pepper is a secret: the message gives its length only.
      throw new InvalidOptionError(
        `the API key pepper must be at least 16 characters, got ${options.pepper.length}`,
        { option: "pepper" },
      );
    this.#keys = `${prefix}hexarch_api_keys`;
    this.#secrets = `${prefix}hexarch_api_key_secrets`;
    this.#db = db;
    this.#clock = options.clock ?? Date.now;
    this.#close = close;
    this.#configuredPepper = options.pepper;
  }

  #now(): string {
    return new Date(this.#clock()).toISOString();
  }

  /** The configured pepper, else the database's (made on first call: the first writer wins). */
  #secret(): Promise<string> {
    if (this.#configuredPepper !== undefined) return Promise.resolve(this.#configuredPepper);
    this.#pepper ??= (async () => {
      const read = async () =>
        (await this.#db.all(`SELECT value FROM ${this.#secrets} WHERE name = ?`, ["pepper"]))[0];
      let row = await read();
      if (!row) {
        await this.#db.run(
          `INSERT INTO ${this.#secrets} (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`,
          ["pepper", randomBytes(32).toString("base64url")],
        );
        row = await read();
      }
      if (!row)
        throw new GuardrailError("the API key secret could not be stored", {
          code: "api_key_secret_unavailable",
        });
      return String(row.value);
    })().catch((err: unknown) => {
      this.#pepper = undefined;
      throw err;
    });
    return this.#pepper;
  }

  async create(input: {
    readonly name: string;
    readonly scopes: readonly ApiKeyScope[];
    readonly subject?: ApiKeySubject;
  }): Promise<CreatedApiKey> {
    const pepper = await this.#secret();
    const { id, key } = generateApiKey();
    const subject = normalSubject(input.subject);
    const apiKey: ApiKey = {
      id,
      name: input.name,
      scopes: [...new Set(input.scopes)],
      ...(subject && { subject }),
      created_at: this.#now(),
      revoked_at: null,
      last_used_at: null,
    };
    await this.#db.run(
      `INSERT INTO ${this.#keys} (id, name, scopes, subject, key_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
      [
        id,
        apiKey.name,
        JSON.stringify(apiKey.scopes),
        subject ? JSON.stringify(subject) : null,
        hashApiKey(pepper, key),
        apiKey.created_at,
      ],
    );
    return { apiKey, key };
  }

  async list(): Promise<ApiKey[]> {
    const rows = await this.#db.all(
      `SELECT id, name, scopes, subject, created_at, revoked_at, last_used_at FROM ${this.#keys} ORDER BY created_at, id`,
      [],
    );
    return rows.map(toKey);
  }

  async get(id: string): Promise<ApiKey | undefined> {
    const row = (
      await this.#db.all(
        `SELECT id, name, scopes, subject, created_at, revoked_at, last_used_at FROM ${this.#keys} WHERE id = ?`,
        [id],
      )
    )[0];
    return row && toKey(row);
  }

  async revoke(id: string): Promise<ApiKey | undefined> {
    await this.#db.run(
      `UPDATE ${this.#keys} SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`,
      [this.#now(), id],
    );
    return this.get(id);
  }

  async verify(presented: string): Promise<ApiKeyCheck> {
    const id = apiKeyIdOf(presented);
    if (id === undefined) return { status: "invalid" };
    // No row, no secret needed: an unknown key writes nothing (not even the database's pepper).
    const row = (await this.#db.all(`SELECT * FROM ${this.#keys} WHERE id = ?`, [id]))[0];
    if (!row) return { status: "invalid" };
    if (!apiKeyMatches(await this.#secret(), presented, String(row.key_hash)))
      return { status: "invalid" };
    const apiKey = toKey(row);
    if (apiKey.revoked_at !== null) return { status: "revoked", apiKey };
    const now = this.#clock();
    const last = apiKey.last_used_at === null ? Number.NaN : Date.parse(apiKey.last_used_at);
    if (!(now - last < TOUCH_EVERY_MS)) {
      const at = new Date(now).toISOString();
      await this.#db.run(`UPDATE ${this.#keys} SET last_used_at = ? WHERE id = ?`, [at, id]);
      return { status: "valid", apiKey: { ...apiKey, last_used_at: at } };
    }
    return { status: "valid", apiKey };
  }

  close(): Promise<void> {
    return this.#close();
  }
}
