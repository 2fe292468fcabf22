/**
 * `RedisConfirmationStore`: confirmations shared by every process that reaches one Redis.
 *
 * @module
 */

import { checkListFilter, statusMatches } from "../confirm/listing.ts";
import { refusal } from "../confirm/refusals.ts";
import {
  bindingMissing,
  confirmationNotFound,
  confirmationNotPending,
} from "../confirm/store-errors.ts";
import { checkTtl, digestMatches, issueToken, parseToken, ttlRule } from "../confirm/tokens.ts";
import type {
  ConfirmationBinding,
  ConfirmationListFilter,
  ConfirmationRecord,
  ConfirmationRefusal,
  ConfirmationRequest,
  ConfirmationStatus,
  ConfirmationStore,
  ConsumeConfirmationResult,
} from "../confirm/types.ts";
import { DecisionBackendError, GuardrailError, InvalidOptionError } from "../kernel/errors.ts";
import {
  checkedElsewhere,
  checkOptions,
  functionRule,
  type OptionRules,
  stringRule,
} from "../util/check-options.ts";
import { describeValue } from "../util/describe.ts";
import {
  hashTaggedKey,
  isHashTag,
  RedisConnection,
  type RedisTarget,
  type RedisValue,
} from "./client.ts";
import {
  CONSUME,
  CREATE,
  DECIDE,
  DIGEST_FIELD,
  FIELDS,
  KEEP_AFTER_EXPIRY_MS,
} from "./confirm-scripts.ts";

/** Options of {@link RedisConfirmationStore}: `{ client }` or `{ url }`, and the settings below. */
export type RedisConfirmationStoreOptions = RedisTarget & {
  /**
   * Prefix of every key; a request lives at `<keyPrefix>{<id>}`.
   * @default "hexarch:confirm:"
   */
  readonly keyPrefix?: string;
  /**
   * Default token lifetime.
   * @default 900000 (15 minutes)
   */
  readonly ttlMs?: number;
  /**
   * Current time in ms since the epoch, for creation, decisions and expiry (Redis's own
   * clock only decides when an old request is forgotten).
   * @default Date.now
   */
  readonly clock?: () => number;
  /**
   * How long one command may take, once sent, before it fails with `DecisionBackendError`.
   * A low value refuses sooner when Redis stalls; too low refuses decisions under
   * ordinary load (a burst queues behind earlier commands). See docs/redis.md.
   * @default 2000
   */
  readonly commandTimeoutMs?: number;
  /**
   * How long commands wait for the connection a `url` store opens on first use (loading
   * the driver and connecting) before they fail with `DecisionBackendError`. Not counted
   * against `commandTimeoutMs`, so a new process's first burst is not refused.
   * @default 3000
   */
  readonly connectTimeoutMs?: number;
};

const OPTION_RULES: OptionRules = {
  keyPrefix: stringRule(),
  ttlMs: ttlRule,
  clock: functionRule("a function returning the time in ms since the epoch"),
  // The connection's options, checked by RedisConnection.
  client: checkedElsewhere,
  url: checkedElsewhere,
  commandTimeoutMs: checkedElsewhere,
  connectTimeoutMs: checkedElsewhere,
};

/**
 * Pending confirmations in Redis, shared by every process and host that uses the same
 * Redis and `keyPrefix`. A token is `<id>.<secret>`, like {@link hexarch-guardrails!MemoryConfirmationStore}'s;
 * Redis keeps only the SHA-256 of the secret. Each request is one hash; `create`,
 * `approve`, `deny` and `consume` are one Lua script each, so a token is consumed once even
 * by many processes at the same time. Requests are forgotten a day after they expire.
 * `list` reads an index of request ids by creation time (a sorted set at
 * `<keyPrefix>{index}`, written before each request's hash, so no request is missing
 * from it; ids whose request Redis has forgotten are dropped from it as they are met).
 *
 * Given `{ url }`, the store connects with the `redis` package on first use and
 * {@link RedisConfirmationStore.close} closes that connection; a `{ client }` you pass
 * stays yours to close. A command that gets no answer within `commandTimeoutMs` fails
 * with `DecisionBackendError` (a guarded call then fails closed).
 *
 * @example
 * ```ts
 * import { RedisConfirmationStore } from "hexarch-guardrails/redis";
 *
 * const confirmations = new RedisConfirmationStore({ url: process.env.REDIS_URL! });
 * const guardian = new Guardian({ confirmations });
 * // …
 * await confirmations.close();
 * ```
 */
export class RedisConfirmationStore implements ConfirmationStore {
  readonly #redis: RedisConnection;
  readonly #prefix: string;
  readonly #clock: () => number;
  readonly #ttlMs: number;
  #creates = 0;

  /**
   * @throws InvalidOptionError for missing or conflicting `client`/`url`, a URL that is not
   *   `redis://` or `rediss://`, or a `ttlMs` or `commandTimeoutMs` that is not a positive,
   *   finite number.
   * @throws MissingPeerDependencyError for a `url` when the `redis` package is not installed
   *   (checked here, not on the first call).
   */
  constructor(options: RedisConfirmationStoreOptions) {
    if (typeof options !== "object" || options === null) {
      throw new InvalidOptionError(
        `RedisConfirmationStore needs { client } or { url }, got ${describeValue(options)}`,
        { option: "options", owner: "RedisConfirmationStore" },
      );
    }
    checkOptions("RedisConfirmationStore", options, OPTION_RULES);
    this.#ttlMs = options.ttlMs ?? 15 * 60_000;
    this.#clock = options.clock ?? Date.now;
    this.#prefix = options.keyPrefix ?? "hexarch:confirm:";
    this.#redis = new RedisConnection(options, {
      owner: "RedisConfirmationStore",
      commandTimeoutMs: options.commandTimeoutMs,
      connectTimeoutMs: options.connectTimeoutMs,
    });
  }

  /** {@inheritDoc hexarch-guardrails!ConfirmationStore.create} */
  async create(request: ConfirmationRequest): Promise<string> {
    if (!request?.policyId || !request.fingerprint) {
      throw bindingMissing();
    }
    const ttlMs = request.ttlMs === undefined ? this.#ttlMs : checkTtl(request.ttlMs);
    let metadata: string | undefined;
    if (request.metadata !== undefined) {
      try {
        metadata = JSON.stringify(request.metadata);
      } catch (err) {
        throw new GuardrailError("confirmation metadata must be JSON-serializable", {
          code: "confirmation_request_invalid",
          cause: err,
        });
      }
    }
    const now = this.#clock();
    const { id, token, secretHash } = issueToken();
    const fields: string[] = [
      DIGEST_FIELD,
      secretHash,
      "policyId",
      request.policyId,
      "fingerprint",
      request.fingerprint,
      "status",
      "pending",
      "createdAtMs",
      String(now),
      "expiresAtMs",
      String(now + ttlMs),
    ];
    for (const [name, value] of [
      ["requestedBy", request.requestedBy],
      ["reason", request.reason],
      ["operation", request.operation],
      ["metadata", metadata],
    ] as const) {
      if (value !== undefined) fields.push(name, String(value));
    }
    // Relative to Redis's clock, not `clock`: an injected clock (tests, replays) must not
    // make Redis drop a request at once or keep it for years.
    const keepMs = String(Math.ceil(ttlMs + KEEP_AFTER_EXPIRY_MS));
    // The index is in another cluster slot than the request, so not in the script: written
    // first, a request is never missing from it (an id without a request is dropped later).
    await this.#redis.command(["ZADD", this.#index(), String(now), id], "ZADD (confirm index)");
    if (++this.#creates % TRIM_EVERY === 0) await this.#trim();
    const created = await this.#redis.evalScript(CREATE, [this.#key(id)], [keepMs, ...fields]);
    if (created !== 1) throw new DecisionBackendError("Redis refused to store the confirmation");
    return token;
  }

  /** {@inheritDoc hexarch-guardrails!ConfirmationStore.approve} */
  async approve(
    token: string,
    by: { readonly approvedBy: string; readonly reason?: string },
  ): Promise<ConfirmationRecord> {
    return this.#decide(token, "approved", by?.approvedBy, by?.reason);
  }

  /** {@inheritDoc hexarch-guardrails!ConfirmationStore.deny} */
  async deny(
    token: string,
    by: { readonly deniedBy: string; readonly reason?: string },
  ): Promise<ConfirmationRecord> {
    return this.#decide(token, "denied", by?.deniedBy, by?.reason);
  }

  /** {@inheritDoc hexarch-guardrails!ConfirmationStore.get} */
  async get(token: string): Promise<ConfirmationRecord | undefined> {
    const parsed = parseToken(token);
    if (!parsed) return undefined;
    const reply = await this.#redis.command(
      ["HMGET", this.#key(parsed.id), DIGEST_FIELD, ...FIELDS],
      "HMGET (confirm get)",
    );
    if (!Array.isArray(reply)) throw unexpected(reply);
    const [digest, ...values] = reply as readonly RedisValue[];
    if (!digestMatches(digest, parsed.secretHash)) return undefined;
    const record = toRecord(parsed.id, values);
    if (
      (record.status === "pending" || record.status === "approved") &&
      this.#clock() >= record.expiresAtMs
    ) {
      return { ...record, status: "expired" };
    }
    return record;
  }

  /** {@inheritDoc hexarch-guardrails!ConfirmationStore.list} */
  async list(filter?: ConfirmationListFilter): Promise<readonly ConfirmationRecord[]> {
    const { status, limit } = checkListFilter(filter);
    const out: ConfirmationRecord[] = [];
    const seen = new Set<string>();
    let start = 0;
    for (;;) {
      const reply = await this.#redis.command(
        ["ZREVRANGE", this.#index(), String(start), String(start + LIST_PAGE - 1)],
        "ZREVRANGE (confirm list)",
      );
      if (!Array.isArray(reply)) throw unexpected(reply);
      const ids = (reply as readonly RedisValue[]).filter(
        (id): id is string => typeof id === "string",
      );
      const records = await Promise.all(ids.map((id) => this.#byId(id)));
      const gone: string[] = [];
      ids.forEach((id, i) => {
        const record = records[i];
        if (!record) gone.push(id);
        else if (!seen.has(id) && out.length < limit && statusMatches(record, status)) {
          seen.add(id);
          out.push(record);
        }
      });
      if (gone.length > 0)
        await this.#redis.command(["ZREM", this.#index(), ...gone], "ZREM (confirm index)");
      if (out.length >= limit || ids.length < LIST_PAGE) return out;
      start += LIST_PAGE - gone.length;
    }
  }

  /** {@inheritDoc hexarch-guardrails!ConfirmationStore.getById} */
  async getById(id: string): Promise<ConfirmationRecord | undefined> {
    return isHashTag(id) ? this.#byId(id) : undefined;
  }

  /** {@inheritDoc hexarch-guardrails!ConfirmationStore.approveById} */
  async approveById(
    id: string,
    by: { readonly approvedBy: string; readonly reason?: string },
  ): Promise<ConfirmationRecord> {
    return this.#decideOne(
      isHashTag(id) ? id : undefined,
      "",
      "approved",
      by?.approvedBy,
      by?.reason,
    );
  }

  /** {@inheritDoc hexarch-guardrails!ConfirmationStore.denyById} */
  async denyById(
    id: string,
    by: { readonly deniedBy: string; readonly reason?: string },
  ): Promise<ConfirmationRecord> {
    return this.#decideOne(isHashTag(id) ? id : undefined, "", "denied", by?.deniedBy, by?.reason);
  }

  /** {@inheritDoc hexarch-guardrails!ConfirmationStore.consume} */
  async consume(token: string, binding: ConfirmationBinding): Promise<ConsumeConfirmationResult> {
    const parsed = parseToken(token);
    if (!parsed) return unknownToken();
    const reply = await this.#redis.evalScript(
      CONSUME,
      [this.#key(parsed.id)],
      [
        parsed.secretHash,
        String(this.#clock()),
        String(binding?.policyId ?? ""),
        String(binding?.fingerprint ?? ""),
      ],
    );
    const [outcome, values] = scriptReply(reply);
    if (outcome === "unknown") return unknownToken();
    const record = toRecord(parsed.id, values);
    if (outcome === "ok") return { ok: true, record };
    if (!REFUSALS.has(outcome)) throw unexpected(reply);
    return refusal(outcome as ConfirmationRefusal, record);
  }

  /**
   * Closes the connection the store opened from a URL; a client passed in stays open.
   * The store cannot be used afterwards.
   */
  async close(): Promise<void> {
    await this.#redis.close();
  }

  async #decide(
    token: string,
    status: "approved" | "denied",
    by: string | undefined,
    reason: string | undefined,
  ): Promise<ConfirmationRecord> {
    const parsed = parseToken(token);
    return this.#decideOne(parsed?.id, parsed?.secretHash, status, by, reason);
  }

  /** Decides the request `id`: its token's secret must have `digest`, unless `digest` is `""` (by id). */
  async #decideOne(
    id: string | undefined,
    digest: string | undefined,
    status: "approved" | "denied",
    by: string | undefined,
    reason: string | undefined,
  ): Promise<ConfirmationRecord> {
    if (typeof by !== "string") {
      throw new GuardrailError(
        `${status === "approved" ? "approvedBy" : "deniedBy"} must be a string naming who decided`,
        { code: "confirmation_request_invalid" },
      );
    }
    if (id === undefined || digest === undefined) throw confirmationNotFound();
    const reply = await this.#redis.evalScript(
      DECIDE,
      [this.#key(id)],
      [
        digest,
        String(this.#clock()),
        status,
        by,
        reason === undefined ? "0" : "1",
        reason === undefined ? "" : String(reason),
        digest === "" ? "1" : "0",
      ],
    );
    const [outcome, values] = scriptReply(reply);
    if (outcome === "ok") return toRecord(id, values);
    if (outcome === "unknown") throw confirmationNotFound();
    throw confirmationNotPending(outcome);
  }

  /** The request with this id, its status read against the clock, or `undefined`. */
  async #byId(id: string): Promise<ConfirmationRecord | undefined> {
    if (!isHashTag(id)) return undefined;
    const reply = await this.#redis.command(
      ["HMGET", this.#key(id), DIGEST_FIELD, ...FIELDS],
      "HMGET (confirm get)",
    );
    if (!Array.isArray(reply)) throw unexpected(reply);
    const [digest, ...values] = reply as readonly RedisValue[];
    if (typeof digest !== "string") return undefined;
    return this.#current(toRecord(id, values));
  }

  /** `record`, `expired` when it was pending or approved and its time is up. */
  #current(record: ConfirmationRecord): ConfirmationRecord {
    return (record.status === "pending" || record.status === "approved") &&
      this.#clock() >= record.expiresAtMs
      ? { ...record, status: "expired" }
      : record;
  }

  /** Drops the oldest index entries whose request Redis has forgotten. */
  async #trim(): Promise<void> {
    const reply = await this.#redis.command(
      ["ZRANGE", this.#index(), "0", String(LIST_PAGE - 1)],
      "ZRANGE (confirm index)",
    );
    if (!Array.isArray(reply)) return;
    const ids = (reply as readonly RedisValue[]).filter(
      (id): id is string => typeof id === "string",
    );
    const present = await Promise.all(
      ids.map((id) =>
        isHashTag(id)
          ? this.#redis.command(["EXISTS", this.#key(id)], "EXISTS (confirm index)")
          : Promise.resolve(0),
      ),
    );
    const gone = ids.filter((_, i) => present[i] !== 1);
    if (gone.length > 0)
      await this.#redis.command(["ZREM", this.#index(), ...gone], "ZREM (confirm index)");
  }

  #key(id: string): string {
    return hashTaggedKey(this.#prefix, id);
  }

  /** The sorted set of request ids, scored by creation time. */
  #index(): string {
    return hashTaggedKey(this.#prefix, "index");
  }
}

/** Index entries read per round trip by `list`, and looked at per trim. */
const LIST_PAGE = 200;
/** Trim the index on every this many creates. */
const TRIM_EVERY = 256;

function unknownToken(): ConsumeConfirmationResult {
  return refusal("unknown");
}

const REFUSALS: ReadonlySet<string> = new Set([
  "pending",
  "denied",
  "expired",
  "used",
  "wrong_policy",
  "wrong_arguments",
]);

function unexpected(reply: RedisValue): DecisionBackendError {
  return new DecisionBackendError(
    `Redis answered a confirmation script with an unexpected reply: ${JSON.stringify(reply)?.slice(0, 200)}`,
  );
}

/** Splits a script's `{ outcome, fields? }` answer. */
function scriptReply(reply: RedisValue): [string, readonly RedisValue[]] {
  if (!Array.isArray(reply) || typeof reply[0] !== "string") throw unexpected(reply);
  const values = (reply as readonly RedisValue[])[1];
  return [reply[0], Array.isArray(values) ? (values as readonly RedisValue[]) : []];
}

const STATUSES: ReadonlySet<string> = new Set<ConfirmationStatus>([
  "pending",
  "approved",
  "denied",
  "consumed",
  "expired",
]);

/** Builds a record from the values of {@link FIELDS}, leaving out fields that are not set. */
function toRecord(id: string, values: readonly RedisValue[]): ConfirmationRecord {
  const v: Partial<Record<(typeof FIELDS)[number], string>> = {};
  FIELDS.forEach((name, i) => {
    const value = values[i];
    if (typeof value === "string") v[name] = value;
  });
  const { policyId, fingerprint, status, createdAtMs, expiresAtMs } = v;
  if (
    policyId === undefined ||
    fingerprint === undefined ||
    status === undefined ||
    !STATUSES.has(status) ||
    createdAtMs === undefined ||
    expiresAtMs === undefined
  ) {
    throw new DecisionBackendError(`the confirmation ${id} in Redis is incomplete or damaged`);
  }
  let metadata: Record<string, unknown> | undefined;
  if (v.metadata !== undefined) {
    try {
      metadata = JSON.parse(v.metadata) as Record<string, unknown>;
    } catch (err) {
      throw new DecisionBackendError(`the confirmation ${id} in Redis has damaged metadata`, {
        cause: err,
      });
    }
  }
  return {
    id,
    policyId,
    fingerprint,
    status: status as ConfirmationStatus,
    ...(v.requestedBy !== undefined && { requestedBy: v.requestedBy }),
    ...(v.reason !== undefined && { reason: v.reason }),
    ...(v.operation !== undefined && { operation: v.operation }),
    ...(metadata !== undefined && { metadata }),
    createdAtMs: Number(createdAtMs),
    expiresAtMs: Number(expiresAtMs),
    ...(v.decidedBy !== undefined && { decidedBy: v.decidedBy }),
    ...(v.decidedAtMs !== undefined && { decidedAtMs: Number(v.decidedAtMs) }),
    ...(v.decisionReason !== undefined && { decisionReason: v.decisionReason }),
  };
}
