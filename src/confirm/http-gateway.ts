/**
 * `HttpConfirmationGateway`: hands a pending approval to an external service (Slack, a
 * ticketing system, an approval UI) over a signed webhook, and checks the service's
 * signed answer.
 *
 * @module
 */

import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { DecisionBackendError, GuardrailError } from "../kernel/errors.ts";
import {
  checkOptions,
  functionRule,
  httpUrlRule,
  methodsRule,
  nonNegativeMsRule,
  objectRule,
  positiveFiniteMsRule,
  type RulesFor,
  required,
} from "../util/check-options.ts";
import { describeValue } from "../util/describe.ts";
import type { ConfirmationBinding, ConfirmationRecord, ConfirmationStore } from "./types.ts";

/** Header with the signing time (ms since the epoch). */
export const TIMESTAMP_HEADER = "x-hexarch-timestamp";
/** Header with `v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`. */
export const SIGNATURE_HEADER = "x-hexarch-signature";

/** Options of {@link HttpConfirmationGateway}. */
export interface HttpConfirmationGatewayOptions {
  /** Where pending approvals are POSTed. */
  readonly webhookUrl: string | URL;
  /** Shared with the approval service: signs requests and verifies callbacks (≥ 32 bytes). */
  readonly secret: string;
  /** Extra request headers (an API key of the approval service, say). */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Where the pending request is stored, so its token can confirm the call once approved.
   * Without one the token only correlates the webhook and the callback.
   */
  readonly store?: ConfirmationStore;
  /** Per attempt. @default 5000 */
  readonly timeoutMs?: number;
  /** Extra attempts after a network error, a timeout, a 429 or a 5xx. @default 2 */
  readonly retries?: number;
  /** First retry delay, doubled each time. @default 200 */
  readonly retryDelayMs?: number;
  /** How far a callback's timestamp may be from now. @default 300000 (5 minutes) */
  readonly toleranceMs?: number;
  /** @default Date.now */
  readonly clock?: () => number;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

/** What {@link HttpConfirmationGateway.notifyPendingApproval} sends. */
export interface PendingApprovalNotice {
  readonly reason: string;
  readonly operation?: string;
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** The refused call's binding (`ConfirmationRequired.binding`): needed for a usable token. */
  readonly binding?: ConfirmationBinding;
  readonly requestedBy?: string;
  readonly ttlMs?: number;
}

/** An approval service's answer, once its signature checks out. */
export interface ApprovalCallback {
  readonly token: string;
  readonly approved: boolean;
  /** Who decided (required). */
  readonly decidedBy: string;
  readonly reason?: string;
}

/** A request as `verifyCallback` reads it: any headers shape and the raw body. */
export interface CallbackRequest {
  readonly headers: Headers | Readonly<Record<string, string | readonly string[] | undefined>>;
  /** The raw body, exactly as received (the signature covers its bytes). */
  readonly body: string | Uint8Array;
}

const OPTION_RULES = {
  webhookUrl: required(httpUrlRule("an http(s) URL")),
  secret: required({
    expected: "a string of at least 32 bytes",
    test: (v) => typeof v === "string" && Buffer.byteLength(v) >= 32,
    // The secret itself never goes into a message: only its length.
    got: (v) => (typeof v === "string" ? `${Buffer.byteLength(v)} bytes` : describeValue(v)),
  }),
  headers: objectRule("an object of header names and values"),
  store: methodsRule("ConfirmationStore", ["create", "approve", "deny", "get", "consume"]),
  timeoutMs: positiveFiniteMsRule,
  retries: {
    expected: "a non-negative number of attempts",
    test: (v) => typeof v === "number" && Number.isFinite(v) && v >= 0,
  },
  retryDelayMs: nonNegativeMsRule,
  toleranceMs: nonNegativeMsRule,
  clock: functionRule("a function returning the time in ms since the epoch"),
  fetch: functionRule("a fetch function"),
} satisfies RulesFor<HttpConfirmationGatewayOptions>;

const sign = (secret: string, timestamp: string, body: string): string =>
  `v1=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;

function header(h: CallbackRequest["headers"], name: string): string | undefined {
  if (typeof (h as Headers).get === "function") return (h as Headers).get(name) ?? undefined;
  const rec = h as Record<string, string | readonly string[] | undefined>;
  const key = Object.keys(rec).find((k) => k.toLowerCase() === name);
  const v = key === undefined ? undefined : rec[key];
  return Array.isArray(v) ? v[0] : (v as string | undefined);
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/**
 * The Python README's HTTP callback pattern, signed both ways: `notifyPendingApproval`
 * POSTs `{ event, token, reason, operation, metadata, policyId, expiresAt }` with
 * `X-Hexarch-Timestamp` and `X-Hexarch-Signature: v1=HMAC-SHA256(secret, "<ts>.<body>")`,
 * retrying network errors, timeouts, 429 and 5xx a bounded number of times; the approval
 * service answers by POSTing `{ token, approved, decidedBy, reason? }` signed the same way,
 * which `verifyCallback` checks (signature in constant time, timestamp within the
 * tolerance) and `applyCallback` turns into an approval or denial in the store.
 *
 * @example
 * ```ts
 * const gateway = new HttpConfirmationGateway({ webhookUrl, secret, store });
 * const token = await gateway.notifyPendingApproval({ reason: err.reason, binding: err.binding });
 * res.status(202).json({ status: "pending_approval", token });
 * ```
 */
export class HttpConfirmationGateway {
  readonly #url: string;
  readonly #secret: string;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #store: ConfirmationStore | undefined;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #retryDelayMs: number;
  readonly #toleranceMs: number;
  readonly #clock: () => number;
  readonly #fetch: typeof fetch;

  /**
   * @throws InvalidOptionError for a secret shorter than 32 bytes, a URL that is not
   *   http(s), or an option of the wrong type.
   */
  constructor(options: HttpConfirmationGatewayOptions) {
    checkOptions("HttpConfirmationGateway", options, OPTION_RULES);
    const url = new URL(String(options.webhookUrl));
    this.#url = url.toString();
    this.#secret = options.secret;
    this.#headers = options.headers ?? {};
    this.#store = options.store;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#retries = Math.max(0, Math.floor(options.retries ?? 2));
    this.#retryDelayMs = options.retryDelayMs ?? 200;
    this.#toleranceMs = options.toleranceMs ?? 300_000;
    this.#clock = options.clock ?? Date.now;
    this.#fetch = options.fetch ?? globalThis.fetch;
  }

  /**
   * Creates the pending request (in the store, when there is one and the notice has a
   * binding) and POSTs it to the approval service. Resolves to the token.
   *
   * @throws DecisionBackendError when the service did not accept it after every attempt
   *   (the request stays pending until it expires).
   */
  async notifyPendingApproval(notice: PendingApprovalNotice): Promise<string> {
    let token: string;
    let record: ConfirmationRecord | undefined;
    if (this.#store && notice.binding) {
      token = await this.#store.create({
        ...notice.binding,
        reason: notice.reason,
        ...(notice.operation !== undefined && { operation: notice.operation }),
        ...(notice.metadata !== undefined && { metadata: notice.metadata }),
        ...(notice.requestedBy !== undefined && { requestedBy: notice.requestedBy }),
        ...(notice.ttlMs !== undefined && { ttlMs: notice.ttlMs }),
      });
      record = await this.#store.get(token);
    } else {
      token = randomBytes(32).toString("base64url");
    }
    const body = JSON.stringify({
      event: "confirmation.pending",
      token,
      reason: notice.reason,
      operation: notice.operation ?? null,
      metadata: notice.metadata ?? null,
      policyId: notice.binding?.policyId ?? null,
      requestedBy: notice.requestedBy ?? null,
      expiresAt: record ? new Date(record.expiresAtMs).toISOString() : null,
    });
    await this.#post(body);
    return token;
  }

  /**
   * Checks an approval service's callback: the signature over the raw body (constant
   * time) and a timestamp within the tolerance, then the payload's shape.
   *
   * @throws GuardrailError naming what failed (missing or bad signature, stale or future
   *   timestamp, malformed body); answer such a request with 401 or 400.
   */
  verifyCallback(request: CallbackRequest): ApprovalCallback {
    const timestamp = header(request.headers, TIMESTAMP_HEADER);
    const signature = header(request.headers, SIGNATURE_HEADER);
    if (!timestamp || !signature) {
      throw new GuardrailError(
        `callback refused: missing ${TIMESTAMP_HEADER} or ${SIGNATURE_HEADER}`,
        { code: "approval_callback_unauthenticated" },
      );
    }
    if (!/^\d{1,16}$/.test(timestamp))
      throw new GuardrailError("callback refused: bad timestamp", {
        code: "approval_callback_unauthenticated",
      });
    const body =
      typeof request.body === "string" ? request.body : Buffer.from(request.body).toString("utf8");
    const expected = Buffer.from(sign(this.#secret, timestamp, body));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new GuardrailError("callback refused: the signature does not match", {
        code: "approval_callback_unauthenticated",
      });
    }
    const skew = Math.abs(this.#clock() - Number(timestamp));
    if (skew > this.#toleranceMs) {
      throw new GuardrailError(
        `callback refused: timestamp is ${Math.round(skew / 1000)} s from now (tolerance ${this.#toleranceMs / 1000} s)`,
        { code: "approval_callback_unauthenticated" },
      );
    }
    let data: unknown;
    try {
      data = JSON.parse(body);
    } catch {
      throw new GuardrailError("callback refused: the body is not JSON", {
        code: "approval_callback_malformed",
      });
    }
    const d = data as Partial<ApprovalCallback> | null;
    if (
      d === null ||
      typeof d !== "object" ||
      typeof d.token !== "string" ||
      typeof d.approved !== "boolean" ||
      typeof d.decidedBy !== "string" ||
      d.decidedBy === "" ||
      (d.reason !== undefined && typeof d.reason !== "string")
    ) {
      throw new GuardrailError(
        "callback refused: expected { token: string, approved: boolean, decidedBy: string, reason?: string }",
        { code: "approval_callback_malformed" },
      );
    }
    return {
      token: d.token,
      approved: d.approved,
      decidedBy: d.decidedBy,
      ...(d.reason !== undefined && { reason: d.reason }),
    };
  }

  /** Verifies a callback and approves or denies its request in the store. */
  async applyCallback(request: CallbackRequest): Promise<ConfirmationRecord> {
    const store = this.#store;
    if (!store)
      throw new GuardrailError("applyCallback needs the gateway's store option", {
        code: "confirmation_store_missing",
      });
    const cb = this.verifyCallback(request);
    const why = cb.reason === undefined ? {} : { reason: cb.reason };
    return cb.approved
      ? store.approve(cb.token, { approvedBy: cb.decidedBy, ...why })
      : store.deny(cb.token, { deniedBy: cb.decidedBy, ...why });
  }

  /**
   * Signs a body the way the gateway does, as headers: for approval services written in
   * TypeScript, and for tests.
   */
  signedHeaders(body: string): Record<string, string> {
    const timestamp = String(this.#clock());
    return {
      [TIMESTAMP_HEADER]: timestamp,
      [SIGNATURE_HEADER]: sign(this.#secret, timestamp, body),
    };
  }

  async #post(body: string): Promise<void> {
    let lastError = "";
    for (let attempt = 0; attempt <= this.#retries; attempt++) {
      if (attempt > 0) await sleep(this.#retryDelayMs * 2 ** (attempt - 1));
      try {
        const res = await this.#fetch(this.#url, {
          method: "POST",
          headers: {
            ...this.#headers,
            "content-type": "application/json",
            ...this.signedHeaders(body),
          },
          body,
          signal: AbortSignal.timeout(this.#timeoutMs),
        });
        await res.arrayBuffer().catch(() => undefined); // release the connection
        if (res.ok) return;
        lastError = `answered ${res.status}`;
        if (res.status !== 429 && res.status < 500) break; // the service refused: no retry
      } catch (err) {
        lastError =
          (err as Error).name === "TimeoutError"
            ? `did not answer within ${this.#timeoutMs} ms`
            : (err as Error).message;
      }
    }
    throw new DecisionBackendError(`the approval webhook ${this.#url} ${lastError}`);
  }
}
