/**
 * Audit records as the log stores them: from a Guardian's decision, from a confirmation
 * event, and the durations the query API takes.
 *
 * @module
 */

import type { ConfirmationEvent } from "../confirm/events.ts";
import { uuidv7 } from "../util/uuid.ts";
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
  if (!m) throw new RangeError(`not a duration: '${text}' (expected e.g. 24h, 7d, 30d)`);
  return Number(m[1]) * (UNIT_MS[m[2] as string] as number);
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
    policyId: d.policyId,
    functionName: entry.functionName ?? null,
    decision: d.decision,
    action: d.action,
    reason: d.reason,
    context: entry.context,
    userId: entry.userId ?? null,
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
    policyId: event.binding.policyId,
    functionName: event.operation ?? null,
    decision: EVENT_OUTCOME[event.kind],
    action: `confirmation_${event.kind}`,
    reason: `Confirmation ${EVENT_VERB[event.kind]}${who}${why}`,
    context,
    userId: event.actor ?? null,
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
    policyId: `provider:${event.resource}`,
    functionName: event.operation ?? null,
    decision: failed ? "warned" : "allowed",
    action: PROVIDER_CALL_ACTION,
    reason: `Provider call to ${event.resource}${event.operation ? ` (${event.operation})` : ""} ${failed ? "failed" : "reported"}`,
    context: { resource: event.resource, ...event.details },
    userId: event.actor ?? null,
    durationMs: 0,
    metadata: event.metadata ?? null,
    mode: "enforce",
  };
}
