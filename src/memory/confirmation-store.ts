/**
 * `MemoryConfirmationStore`: confirmations in this process's memory.
 *
 * @module
 */

import { randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { checkListFilter, statusMatches } from "../confirm/listing.ts";
import { refusal, refusalOf } from "../confirm/refusals.ts";
import {
  bindingMissing,
  confirmationNotFound,
  confirmationNotPending,
} from "../confirm/store-errors.ts";
import { checkTtl, ttlRule } from "../confirm/tokens.ts";
import type {
  ConfirmationBinding,
  ConfirmationListFilter,
  ConfirmationRecord,
  ConfirmationRequest,
  ConfirmationStore,
  ConsumeConfirmationResult,
} from "../confirm/types.ts";
import { checkOptions, functionRule, type RulesFor } from "../util/check-options.ts";

const SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/;

const OPTION_RULES = {
  clock: functionRule("a function returning the time in ms since the epoch"),
  ttlMs: ttlRule,
} satisfies RulesFor<MemoryConfirmationStoreOptions>;

interface Stored {
  record: ConfirmationRecord;
  secret: Buffer;
}

/** Options of {@link MemoryConfirmationStore}. */
export interface MemoryConfirmationStoreOptions {
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
 * Pending confirmations in memory, for one process (development, tests, single-process
 * services). A token is `<id>.<secret>`: the id finds the request, the 256-bit secret is
 * compared in constant time. Consuming is atomic (JavaScript runs it without interleaving).
 *
 * @example
 * ```ts
 * const confirmations = new MemoryConfirmationStore();
 * const guardian = new Guardian({ confirmations });
 * ```
 */
export class MemoryConfirmationStore implements ConfirmationStore {
  readonly #byId = new Map<string, Stored>();
  readonly #clock: () => number;
  readonly #ttlMs: number;
  #creates = 0;

  /** @throws InvalidOptionError for a `ttlMs` that is not a positive, finite number, or a `clock` that is not a function. */
  constructor(options: MemoryConfirmationStoreOptions = {}) {
    checkOptions("MemoryConfirmationStore", options, OPTION_RULES);
    this.#clock = options.clock ?? Date.now;
    this.#ttlMs = options.ttlMs ?? 15 * 60_000;
  }

  /** {@inheritDoc ConfirmationStore.create} */
  create(request: ConfirmationRequest): string {
    if (!request.policyId || !request.fingerprint) {
      throw bindingMissing();
    }
    const now = this.#clock();
    if (++this.#creates % 256 === 0) this.#sweep(now);
    const id = randomUUID();
    const secret = randomBytes(32);
    this.#byId.set(id, {
      secret,
      record: {
        id,
        policyId: request.policyId,
        fingerprint: request.fingerprint,
        status: "pending",
        requestedBy: request.requestedBy,
        reason: request.reason,
        operation: request.operation,
        metadata: request.metadata,
        createdAtMs: now,
        expiresAtMs: now + (request.ttlMs === undefined ? this.#ttlMs : checkTtl(request.ttlMs)),
      },
    });
    return `${id}.${secret.toString("base64url")}`;
  }

  /** {@inheritDoc ConfirmationStore.approve} */
  approve(
    token: string,
    by: { readonly approvedBy: string; readonly reason?: string },
  ): ConfirmationRecord {
    return this.#decide(token, "approved", by.approvedBy, by.reason);
  }

  /** {@inheritDoc ConfirmationStore.deny} */
  deny(
    token: string,
    by: { readonly deniedBy: string; readonly reason?: string },
  ): ConfirmationRecord {
    return this.#decide(token, "denied", by.deniedBy, by.reason);
  }

  /** {@inheritDoc ConfirmationStore.get} */
  get(token: string): ConfirmationRecord | undefined {
    const stored = this.#find(token);
    return stored && this.#current(stored);
  }

  /** {@inheritDoc ConfirmationStore.list} */
  list(filter?: ConfirmationListFilter): readonly ConfirmationRecord[] {
    const { status, limit } = checkListFilter(filter);
    const out: ConfirmationRecord[] = [];
    // Insertion order is creation order: walk it backwards for newest first.
    const all = [...this.#byId.values()];
    for (let i = all.length - 1; i >= 0 && out.length < limit; i--) {
      const record = this.#current(all[i] as Stored);
      if (statusMatches(record, status)) out.push(record);
    }
    return out;
  }

  /** {@inheritDoc ConfirmationStore.getById} */
  getById(id: string): ConfirmationRecord | undefined {
    const stored = typeof id === "string" ? this.#byId.get(id) : undefined;
    return stored && this.#current(stored);
  }

  /** {@inheritDoc ConfirmationStore.approveById} */
  approveById(
    id: string,
    by: { readonly approvedBy: string; readonly reason?: string },
  ): ConfirmationRecord {
    return this.#decideStored(this.#byId.get(id), "approved", by.approvedBy, by.reason);
  }

  /** {@inheritDoc ConfirmationStore.denyById} */
  denyById(
    id: string,
    by: { readonly deniedBy: string; readonly reason?: string },
  ): ConfirmationRecord {
    return this.#decideStored(this.#byId.get(id), "denied", by.deniedBy, by.reason);
  }

  /** {@inheritDoc ConfirmationStore.consume} */
  consume(token: string, binding: ConfirmationBinding): ConsumeConfirmationResult {
    const stored = this.#find(token);
    if (!stored) return refusal("unknown");
    const record = this.#current(stored);
    const refused = refusalOf(record, binding);
    if (refused) return refused;
    stored.record = { ...record, status: "consumed" };
    return { ok: true, record: stored.record };
  }

  #decide(
    token: string,
    status: "approved" | "denied",
    by: string,
    reason: string | undefined,
  ): ConfirmationRecord {
    return this.#decideStored(this.#find(token), status, by, reason);
  }

  #decideStored(
    stored: Stored | undefined,
    status: "approved" | "denied",
    by: string,
    reason: string | undefined,
  ): ConfirmationRecord {
    if (!stored) throw confirmationNotFound();
    const record = this.#current(stored);
    if (record.status !== "pending") throw confirmationNotPending(record.status);
    stored.record = {
      ...record,
      status,
      decidedBy: by,
      decidedAtMs: this.#clock(),
      decisionReason: reason,
    };
    return stored.record;
  }

  /** Finds a request by token, checking the secret in constant time. */
  #find(token: string): Stored | undefined {
    if (typeof token !== "string") return undefined;
    const dot = token.indexOf(".");
    if (dot < 0) return undefined;
    const stored = this.#byId.get(token.slice(0, dot));
    if (!stored) return undefined;
    // Exactly the 43 base64url characters issued: a decoder would skip stray characters.
    const secret = token.slice(dot + 1);
    if (!SECRET_PATTERN.test(secret)) return undefined;
    const given = Buffer.from(secret, "base64url");
    // The last character carries two unused bits: only the one canonical spelling counts.
    if (given.toString("base64url") !== secret) return undefined;
    return given.length === stored.secret.length && timingSafeEqual(given, stored.secret)
      ? stored
      : undefined;
  }

  #current(stored: Stored): ConfirmationRecord {
    const r = stored.record;
    if ((r.status === "pending" || r.status === "approved") && this.#clock() >= r.expiresAtMs) {
      stored.record = { ...r, status: "expired" };
    }
    return stored.record;
  }

  /** Drops requests that expired more than a day ago. */
  #sweep(now: number): void {
    for (const [id, s] of this.#byId) {
      if (s.record.expiresAtMs + 86_400_000 < now) this.#byId.delete(id);
    }
  }
}
