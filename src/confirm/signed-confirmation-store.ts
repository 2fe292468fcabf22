/**
 * `SignedConfirmationStore`: confirmations as signed JWTs (via `jose`), for setups
 * without a shared store. The token carries its own state; the signature proves an
 * approver with the key issued it.
 *
 * @module
 */

import { createPrivateKey, createPublicKey, type KeyObject, randomUUID } from "node:crypto";
import type { JWTPayload } from "jose";
import { GuardrailError } from "../kernel/errors.ts";
import {
  anyOfRule,
  checkOptions,
  describeSecret,
  functionRule,
  invalidOption,
  methodsRule,
  nonEmptyStringRule,
  nonNegativeMsRule,
  type RulesFor,
  required,
} from "../util/check-options.ts";
import { refusal, refusalOf } from "./refusals.ts";
import { bindingMissing, confirmationNotFound, confirmationNotPending } from "./store-errors.ts";
import { checkTtl, ttlRule } from "./tokens.ts";
import type {
  ConfirmationBinding,
  ConfirmationRecord,
  ConfirmationRequest,
  ConfirmationStatus,
  ConfirmationStore,
  ConsumeConfirmationResult,
} from "./types.ts";

/** A key that signs with HMAC-SHA256: a secret of at least 32 bytes. */
export interface HmacSigningKey {
  /** Key id, written in each token's header; verification picks the key by it. */
  readonly kid: string;
  readonly alg?: "HS256";
  readonly secret: string | Uint8Array;
}

/** An asymmetric key pair; without `privateKey` the store only verifies. */
export interface AsymmetricSigningKey {
  readonly kid: string;
  readonly alg: "ES256" | "EdDSA" | "RS256" | "PS256";
  /** PEM (PKCS#8) or a `KeyObject`. */
  readonly privateKey?: string | KeyObject;
  /** PEM (SPKI) or a `KeyObject`. */
  readonly publicKey: string | KeyObject;
}

/** A signing key. */
export type SigningKey = HmacSigningKey | AsymmetricSigningKey;

/**
 * Remembers which tokens were used, so a signed token works once. `claim` answers `true`
 * the first time for a token id and `false` after; the id may be forgotten after
 * `expiresAtMs`.
 */
export interface ReplayGuard {
  /**
   * Claims a token id: `true` the first time, `false` for every later claim of the same id.
   * The id may be forgotten after `expiresAtMs` (the token is refused as expired by then).
   */
  claim(tokenId: string, expiresAtMs: number): boolean | Promise<boolean>;
}

/** A {@link ReplayGuard} for one process. Processes that share tokens need a shared guard. */
export class MemoryReplayGuard implements ReplayGuard {
  readonly #seen = new Map<string, number>();
  readonly #clock: () => number;
  #claims = 0;

  constructor(clock: () => number = Date.now) {
    this.#clock = clock;
  }

  /** {@inheritDoc ReplayGuard.claim} */
  claim(tokenId: string, expiresAtMs: number): boolean {
    const now = this.#clock();
    if (++this.#claims % 256 === 0) {
      for (const [id, until] of this.#seen) if (until < now) this.#seen.delete(id);
    }
    if (this.#seen.has(tokenId)) return false;
    this.#seen.set(tokenId, expiresAtMs);
    return true;
  }
}

/** Options of {@link SignedConfirmationStore}. */
export interface SignedConfirmationStoreOptions {
  /**
   * Keys, newest first: the first with a private part (or secret) signs; all verify. Rotate
   * by putting a new key first and keeping the old one until its tokens have expired.
   */
  readonly keys: readonly SigningKey[];
  /**
   * Single use. The default remembers used tokens in this process only: with several
   * processes, pass a shared guard or keep `ttlMs` short — see docs/confirmations.md.
   * `false` turns replay protection off (a token then works until it expires).
   */
  readonly replay?: ReplayGuard | false;
  /** @default "hexarch-guardrails" */
  readonly issuer?: string;
  /** @default 900000 (15 minutes) */
  readonly ttlMs?: number;
  /**
   * Accepted difference between the signer's clock and ours, for tokens another store
   * (another process, an approval service) signed. Tokens this store signed itself are
   * judged with no tolerance: one clock cannot disagree with itself, and a tolerance would
   * only lengthen every token's life.
   * @default 30000
   */
  readonly clockToleranceMs?: number;
  /** @default Date.now */
  readonly clock?: () => number;
}

/** A record with the token that carries it (`approve` and `deny` issue a new token). */
export type SignedConfirmationRecord = ConfirmationRecord & { readonly token: string };

const TYP = "hexarch-confirmation+jwt";
const TEN_YEARS_S = 10 * 365 * 86_400;

interface Claims extends JWTPayload {
  st: "pending" | "approved" | "denied";
  pol: string;
  fp: string;
  cms: number;
  ems: number;
  rb?: string;
  rsn?: string;
  op?: string;
  md?: Record<string, unknown>;
  /** The signing store instance (random per store): same store, no clock tolerance. */
  sid?: string;
  by?: string;
  byr?: string;
  dms?: number;
}

interface ReadyKey {
  readonly kid: string;
  readonly alg: string;
  readonly sign: Uint8Array | KeyObject | undefined;
  readonly verify: Uint8Array | KeyObject;
}

/**
 * `jose`, imported with the first token signed or read: it is a large module graph that
 * `import "hexarch-guardrails"` should not pay for when no signed store is used.
 */
const loadJose = (): Promise<typeof import("jose")> => import("jose");

const OWNER = "SignedConfirmationStore";

const OPTION_RULES = {
  keys: required({
    expected: "a non-empty list of signing keys ({ kid, secret } or { kid, alg, publicKey })",
    test: (v) => Array.isArray(v) && v.length > 0,
  }),
  replay: anyOfRule("a ReplayGuard (an object with a claim method) or false", [
    methodsRule("ReplayGuard", ["claim"]),
    { expected: "false", test: (v) => v === false },
  ]),
  issuer: nonEmptyStringRule(),
  ttlMs: ttlRule,
  clockToleranceMs: nonNegativeMsRule,
  clock: functionRule("a function returning the time in ms since the epoch"),
} satisfies RulesFor<SignedConfirmationStoreOptions>;

function prepareKey(k: SigningKey, i: number): ReadyKey {
  const at = `keys[${i}]`;
  if (k === null || typeof k !== "object") {
    // A bare string here is most likely the secret itself: never echo it.
    throw invalidOption(
      OWNER,
      at,
      "a signing key ({ kid, secret } or { kid, alg, publicKey })",
      k,
      describeSecret(k),
    );
  }
  if (typeof k.kid !== "string" || !k.kid) {
    throw invalidOption(OWNER, `${at}.kid`, "a non-empty key id string", k.kid);
  }
  if ("secret" in k) {
    if (typeof k.secret !== "string" && !(k.secret instanceof Uint8Array)) {
      throw invalidOption(
        OWNER,
        `${at}.secret`,
        "a string or Uint8Array of at least 32 bytes",
        k.secret,
        describeSecret(k.secret),
      );
    }
    const secret = typeof k.secret === "string" ? new TextEncoder().encode(k.secret) : k.secret;
    if (secret.length < 32) {
      // The secret itself never goes into a message: only its length.
      throw invalidOption(
        OWNER,
        `${at}.secret`,
        `at least 32 bytes (HMAC key '${k.kid}')`,
        undefined,
        `${secret.length} bytes`,
      );
    }
    return { kid: k.kid, alg: "HS256", sign: secret, verify: secret };
  }
  const priv = typeof k.privateKey === "string" ? createPrivateKey(k.privateKey) : k.privateKey;
  const pub = typeof k.publicKey === "string" ? createPublicKey(k.publicKey) : k.publicKey;
  return { kid: k.kid, alg: k.alg, sign: priv, verify: pub };
}

/**
 * Confirmations as signed tokens: no store to run. `create` signs a pending request;
 * `approve` (or {@link SignedConfirmationStore.issue} on an approval service) signs the
 * approval as a new token, returned in `record.token`; `consume` checks the signature,
 * expiry, policy and argument fingerprint, and uses the token once through the replay
 * guard.
 *
 * @example
 * ```ts
 * const confirmations = new SignedConfirmationStore({
 *   keys: [{ kid: "2026-11", secret: process.env.CONFIRM_KEY! }],
 * });
 * const guardian = new Guardian({ confirmations });
 * ```
 */
export class SignedConfirmationStore implements ConfirmationStore {
  readonly #keys: readonly ReadyKey[];
  readonly #signer: ReadyKey | undefined;
  readonly #replay: ReplayGuard | undefined;
  readonly #issuer: string;
  readonly #ttlMs: number;
  readonly #toleranceMs: number;
  readonly #clock: () => number;
  /** This store's instance id, signed into its tokens (`sid`). */
  readonly #sid = randomUUID();

  /** @throws InvalidOptionError for no keys, a key without a kid, a short HMAC secret, or a bad `ttlMs`. */
  constructor(options: SignedConfirmationStoreOptions) {
    checkOptions(OWNER, options, OPTION_RULES);
    this.#keys = options.keys.map(prepareKey);
    this.#signer = this.#keys.find((k) => k.sign !== undefined);
    this.#clock = options.clock ?? Date.now;
    this.#replay =
      options.replay === false ? undefined : (options.replay ?? new MemoryReplayGuard(this.#clock));
    this.#issuer = options.issuer ?? "hexarch-guardrails";
    this.#ttlMs = options.ttlMs ?? 15 * 60_000;
    this.#toleranceMs = options.clockToleranceMs ?? 30_000;
  }

  /**
   * Signs a pending request and returns it as the token (nothing is stored); give it to the
   * caller and the approver ({@link ConfirmationStore.create}).
   */
  async create(request: ConfirmationRequest): Promise<string> {
    checkBinding(request);
    const now = this.#clock();
    return this.#sign({
      st: "pending",
      pol: request.policyId,
      fp: request.fingerprint,
      cms: now,
      ems: now + (request.ttlMs === undefined ? this.#ttlMs : checkTtl(request.ttlMs)),
      ...(request.requestedBy !== undefined && { rb: request.requestedBy }),
      ...(request.reason !== undefined && { rsn: request.reason }),
      ...(request.operation !== undefined && { op: request.operation }),
      ...(request.metadata !== undefined && { md: { ...request.metadata } }),
      jti: randomUUID(),
    });
  }

  /**
   * Signs an approval directly, without a pending token: what an approval service does
   * when it is told the binding (`ConfirmationRequired.binding`) of a refused call.
   */
  async issue(
    request: ConfirmationRequest & {
      readonly approvedBy: string;
      readonly approvalReason?: string;
    },
  ): Promise<string> {
    checkBinding(request);
    const now = this.#clock();
    return this.#sign({
      st: "approved",
      pol: request.policyId,
      fp: request.fingerprint,
      cms: now,
      ems: now + (request.ttlMs === undefined ? this.#ttlMs : checkTtl(request.ttlMs)),
      ...(request.requestedBy !== undefined && { rb: request.requestedBy }),
      ...(request.reason !== undefined && { rsn: request.reason }),
      ...(request.operation !== undefined && { op: request.operation }),
      ...(request.metadata !== undefined && { md: { ...request.metadata } }),
      by: request.approvedBy,
      ...(request.approvalReason !== undefined && { byr: request.approvalReason }),
      dms: now,
      jti: randomUUID(),
    });
  }

  /** Signs the approval of a pending token; the new token is `record.token`. */
  async approve(
    token: string,
    by: { readonly approvedBy: string; readonly reason?: string },
  ): Promise<SignedConfirmationRecord> {
    return this.#decide(token, "approved", by.approvedBy, by.reason);
  }

  /** Signs the denial of a pending token; the new token is `record.token`. */
  async deny(
    token: string,
    by: { readonly deniedBy: string; readonly reason?: string },
  ): Promise<SignedConfirmationRecord> {
    return this.#decide(token, "denied", by.deniedBy, by.reason);
  }

  /** {@inheritDoc ConfirmationStore.get} */
  async get(token: string): Promise<ConfirmationRecord | undefined> {
    const claims = await this.#verify(token);
    return claims && this.#record(claims);
  }

  /** {@inheritDoc ConfirmationStore.consume} */
  async consume(token: string, binding: ConfirmationBinding): Promise<ConsumeConfirmationResult> {
    const claims = await this.#verify(token);
    if (!claims) {
      return {
        ok: false,
        refusal: "unknown",
        message: "the confirmation token is unknown (bad signature, unknown key or malformed)",
      };
    }
    const record = this.#record(claims);
    const refused = refusalOf(record, binding);
    if (refused) return refused;
    if (
      this.#replay &&
      !(await this.#replay.claim(record.id, record.expiresAtMs + this.#toleranceOf(claims)))
    )
      return refusal("used", record);
    return { ok: true, record: { ...record, status: "consumed" } };
  }

  async #decide(
    token: string,
    status: "approved" | "denied",
    by: string,
    reason: string | undefined,
  ): Promise<SignedConfirmationRecord> {
    const claims = await this.#verify(token);
    if (!claims) throw confirmationNotFound();
    const current = this.#record(claims);
    if (current.status !== "pending") throw confirmationNotPending(current.status);
    // The pending token stays valid after a decision (it is signed, not stored): remember
    // that this request was decided, so a denial cannot be turned into an approval by a
    // second approver, nor an approval into a second approved token.
    if (
      this.#replay &&
      !(await this.#replay.claim(
        `decided:${claims.jti as string}`,
        current.expiresAtMs + this.#toleranceOf(claims),
      ))
    )
      throw confirmationNotPending("decided");
    const decided: Claims = {
      ...claims,
      st: status,
      by,
      dms: this.#clock(),
      ...(reason !== undefined && { byr: reason }),
    };
    const next = await this.#sign(decided);
    return { ...this.#record(decided), token: next };
  }

  async #sign(claims: Claims): Promise<string> {
    const key = this.#signer;
    if (!key?.sign) {
      throw new GuardrailError("this SignedConfirmationStore only verifies: no key can sign", {
        code: "confirmation_store_read_only",
      });
    }
    const { iss: _i, exp: _e, iat: _t, ...rest } = claims;
    const body: Claims = { ...rest, sid: this.#sid };
    const { SignJWT } = await loadJose();
    return new SignJWT(body)
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: TYP })
      .setIssuer(this.#issuer)
      .setIssuedAt(Math.floor(claims.cms / 1000))
      .setExpirationTime(Math.ceil(claims.ems / 1000))
      .sign(key.sign);
  }

  /** The claims of a genuine token of ours, or `undefined`. Never throws. */
  async #verify(token: string): Promise<Claims | undefined> {
    if (typeof token !== "string" || token.length > 8192) return undefined;
    // Outside the try: a jose that fails to load is an error, not an unknown token.
    const { decodeProtectedHeader, jwtVerify } = await loadJose();
    try {
      const { kid } = decodeProtectedHeader(token);
      const key = this.#keys.find((k) => k.kid === kid);
      if (!key) return undefined;
      const now = this.#clock();
      const { payload } = await jwtVerify(token, key.verify, {
        algorithms: [key.alg],
        issuer: this.#issuer,
        typ: TYP,
        // Expiry is judged by #record, to the millisecond, so an expired token is refused as
        // expired rather than unknown: jose's own check is widened out of the way.
        currentDate: new Date(now),
        clockTolerance: TEN_YEARS_S,
      });
      const c = payload as Claims;
      if (
        typeof c.pol !== "string" ||
        typeof c.fp !== "string" ||
        typeof c.cms !== "number" ||
        typeof c.ems !== "number" ||
        typeof c.jti !== "string" ||
        !["pending", "approved", "denied"].includes(c.st)
      )
        return undefined;
      // Issued in the future beyond the tolerance: a skewed or forged clock.
      if (c.cms > now + this.#toleranceOf(c)) return undefined;
      return c;
    } catch {
      return undefined;
    }
  }

  /** The clock tolerance for a token: none for this store's own tokens. */
  #toleranceOf(c: Claims): number {
    return c.sid === this.#sid ? 0 : this.#toleranceMs;
  }

  #record(c: Claims): ConfirmationRecord {
    const expired = c.st !== "denied" && this.#clock() >= c.ems + this.#toleranceOf(c);
    const status: ConfirmationStatus = expired ? "expired" : c.st;
    return {
      id: c.jti as string,
      policyId: c.pol,
      fingerprint: c.fp,
      status,
      requestedBy: c.rb,
      reason: c.rsn,
      operation: c.op,
      metadata: c.md,
      createdAtMs: c.cms,
      expiresAtMs: c.ems,
      decidedBy: c.by,
      decidedAtMs: c.dms,
      decisionReason: c.byr,
    };
  }
}

function checkBinding(request: ConfirmationBinding): void {
  if (!request.policyId || !request.fingerprint) throw bindingMissing();
}
