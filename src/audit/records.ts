/**
 * Audit records as the log stores them: from a Guardian's decision, from a confirmation
 * event, and the durations the query API takes.
 *
 * @module
 */

import type { ConfirmationEvent } from "../confirm/events.ts";
import { GuardrailError } from "../kernel/errors.ts";
import { uuidv7 } from "../kernel/uuid.ts";
import { canonicalJson } from "./hash-chain.ts";
import type { DecisionEntry } from "./recorder.ts";
import type { AuditRecord } from "./types.ts";

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** Parses `"24h"`, `"7d"`, `"30d"`, `"90m"`, `"2w"` into ms. */
export function parseDuration(text: string): number {
  const m = DURATION.exec(text.trim());
  if (!m)
    throw new GuardrailError(`not a duration: '${text}' (expected e.g. 24h, 7d, 30d)`, {
      code: "invalid_argument",
    });
  return Number(m[1]) * (UNIT_MS[m[2] as string] as number);
}

/** A NUL, or a UTF-16 surrogate without its other half. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what it looks for
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Text as the stores give it back: lone UTF-16 surrogates become U+FFFD (as encoding to
 * UTF-8 makes them) and so do NUL characters (PostgreSQL's `text` refuses them). Applied to
 * a record's text columns before it is hashed, so the hash covers what is read back and
 * no caller-supplied string (a user id, an operation) can break the chain or the insert.
 */
export function storableText(text: string): string {
  return text.replace(UNSTORABLE, "\ufffd");
}

/**
 * The longest value, in UTF-16 code units, stored in an indexed text column (`user_id`,
 * `policy_id`, `function_name`). PostgreSQL refuses an index row above 2704 bytes; 256
 * units are at most 768 UTF-8 bytes, so no caller-supplied id can make an insert fail.
 */
export const MAX_INDEXED_TEXT = 256;

/** Caller-supplied text as text: numbers etc. via `String()`, objects as JSON; never throws. */
function asText(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "object" && value !== null) {
    try {
      return JSON.stringify(value) ?? String(value);
    } catch {
      return Object.prototype.toString.call(value); // cyclic, or a BigInt inside
    }
  }
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value); // e.g. an object without a prototype
  }
}

/**
 * Text for an indexed column, as it is stored and read back: coerced to a string
 * ({@link asText}), made storable ({@link storableText}), and cut to
 * {@link MAX_INDEXED_TEXT} units, ending with `…[+N chars]` (N: the units cut). The same
 * input always gives the same text, so the hash chain covers exactly what is stored.
 */
export function indexedText(value: unknown): string {
  const text = asText(value);
  if (text.length <= MAX_INDEXED_TEXT) return storableText(text);
  const keep = MAX_INDEXED_TEXT - 20; // room for the marker: "…[+", up to 10 digits, " chars]"
  return storableText(`${text.slice(0, keep)}…[+${text.length - keep} chars]`);
}

const indexedOrNull = (value: unknown): string | null =>
  value === null || value === undefined ? null : indexedText(value);

/**
 * What an audit record stores instead of a context too large to evaluate (the Guardian's
 * `maxContextBytes`): `{ "$truncated": true, "bytes": N }`, its measured size, never the
 * value, so one oversized call cannot bloat the log.
 */
export function truncatedContext(bytes: number): Readonly<Record<string, unknown>> {
  return { $truncated: true, bytes };
}

/**
 * Turns a Guardian's decision into an audit record. The context and metadata are encoded
 * now, so later changes to those objects do not change what is stored.
 */
export function toAuditRecord(entry: DecisionEntry): AuditRecord {
  const d = entry.decision;
  const contextJson = canonicalJson(entry.context);
  const metadataJson = entry.metadata ? canonicalJson(entry.metadata) : undefined;
  return {
    decisionId: d.decisionId,
    timestamp: d.timestamp,
    policyId: indexedText(d.policyId),
    functionName: indexedOrNull(entry.functionName),
    decision: d.decision,
    action: d.action,
    reason: storableText(asText(d.reason)),
    context: entry.context,
    userId: indexedOrNull(entry.userId),
    // To the nanosecond: float noise (0.0215019999…) says nothing and costs bytes.
    durationMs: Math.round(d.durationMs * 1e6) / 1e6,
    metadata: entry.metadata ?? null,
    mode: entry.mode,
    contextJson,
    ...(metadataJson !== undefined && { metadataJson }),
  };
}

const EVENT_OUTCOME: Record<ConfirmationEvent["kind"], AuditRecord["decision"]> = {
  create: "blocked", // the operation waits for approval
  approve: "allowed",
  deny: "blocked",
  consume: "allowed",
  refuse: "blocked",
};

const EVENT_VERB: Record<ConfirmationEvent["kind"], string> = {
  create: "requested",
  approve: "approved",
  deny: "denied",
  consume: "used",
  refuse: "refused",
};

/** A confirmation event as an audit record (no token, ever). */
export function confirmationRecord(event: ConfirmationEvent): AuditRecord {
  const who = event.actor === undefined ? "" : ` by ${event.actor}`;
  const why = event.reason === undefined ? "" : `: ${event.reason}`;
  const context: Record<string, unknown> = {
    fingerprint: event.binding.fingerprint,
    ...(event.confirmationId !== undefined && { confirmationId: event.confirmationId }),
    ...(event.refusal !== undefined && { refusal: event.refusal }),
  };
  return {
    decisionId: uuidv7(event.atMs),
    timestamp: new Date(event.atMs).toISOString(),
    policyId: indexedText(event.binding.policyId),
    functionName: indexedOrNull(event.operation),
    decision: EVENT_OUTCOME[event.kind],
    action: `confirmation_${event.kind}`,
    reason: storableText(`Confirmation ${EVENT_VERB[event.kind]}${who}${why}`),
    context,
    userId: indexedOrNull(event.actor),
    durationMs: 0,
    metadata: event.metadata ?? null,
    mode: "enforce",
  };
}

/** The `action` of provider-call records (kept out of `getPolicyStats`, like confirmation events). */
export const PROVIDER_CALL_ACTION = "provider_call";

/** A call to a model provider, reported after the fact (`POST /events/provider-calls`). */
export interface ProviderCallEvent {
  /** What was called (the resource policies match), e.g. `openai`. */
  readonly resource: string;
  /** The operation, e.g. `chat.completions`. */
  readonly operation?: string;
  /** Whether the call succeeded; a failed call is recorded as `warned`. */
  readonly ok?: boolean;
  /** Who reported it. */
  readonly actor?: string;
  /** Every reported field (model, tokens, cost, status, error), stored as the record's context. */
  readonly details: Readonly<Record<string, unknown>>;
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** When it was reported (ms since the epoch). */
  readonly atMs: number;
  /** The record's id. Default: a new UUIDv7 of `atMs`. */
  readonly decisionId?: string;
}

/** A provider call as an audit record: policy id `provider:<resource>`, action `provider_call`. */
export function providerCallRecord(event: ProviderCallEvent): AuditRecord {
  const failed = event.ok === false;
  return {
    decisionId: event.decisionId ?? uuidv7(event.atMs),
    timestamp: new Date(event.atMs).toISOString(),
    policyId: indexedText(`provider:${event.resource}`),
    functionName: indexedOrNull(event.operation),
    decision: failed ? "warned" : "allowed",
    action: PROVIDER_CALL_ACTION,
    reason: storableText(
      `Provider call to ${event.resource}${event.operation ? ` (${event.operation})` : ""} ${failed ? "failed" : "reported"}`,
    ),
    context: { resource: event.resource, ...event.details },
    userId: indexedOrNull(event.actor),
    durationMs: 0,
    metadata: event.metadata ?? null,
    mode: "enforce",
  };
}
