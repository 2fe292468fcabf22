/**
 * `EventHub`: the decision server's live events (`GET /events/stream`), fanned out in
 * this process to every open stream. Publishing never waits: each subscriber has a
 * bounded buffer, and one that falls behind is dropped, never the decision.
 *
 * @module
 */

import type { DecisionEntry } from "../audit/recorder.ts";
import type { ConfirmationEvent } from "../confirm/events.ts";
import {
  checkOptions,
  integerRule,
  positiveFiniteMsRule,
  type RulesFor,
} from "../util/check-options.ts";

/** What a `decision` event carries: the audit record's summary, never its context. */
export interface DecisionEventData {
  readonly decisionId: string;
  readonly timestamp: string;
  readonly policyId: string;
  /** `allowed`, `warned` or `blocked`. */
  readonly decision: string;
  readonly action: string;
  readonly reason: string;
  readonly userId: string | null;
  readonly functionName: string | null;
}

/** What a `confirmation` event carries: never the token. */
export interface ConfirmationEventData {
  /** The request's id (the approve and deny routes take it). */
  readonly id: string;
  /** Where the request stands after the event. */
  readonly status: "pending" | "approved" | "denied" | "consumed";
  readonly policyId?: string;
  readonly requestedBy?: string;
}

/** One event of the stream. */
export type ServerEvent =
  | { readonly type: "decision"; readonly data: DecisionEventData }
  | { readonly type: "confirmation"; readonly data: ConfirmationEventData };

/** Options of {@link EventHub}. */
export interface EventHubOptions {
  /**
   * How often an open stream gets a `: ping` comment (keeps proxies from closing it).
   * @default 15000
   */
  readonly heartbeatMs?: number;
  /**
   * Events one subscriber may have waiting to be written; one more and it is dropped
   * (its stream ends, the client reconnects).
   * @default 1000
   */
  readonly maxBuffered?: number;
  /**
   * Streams one principal may hold open at once (an API key by its id, the static token,
   * an anonymous caller by its IP address); one more is refused (`GET /events/stream`
   * answers 429 `too_many_streams`) until one of them ends.
   * @default 8
   */
  readonly maxStreamsPerPrincipal?: number;
  /**
   * Streams open at once, every principal together; one more is refused (429
   * `too_many_streams`) until one ends.
   * @default 256
   */
  readonly maxStreams?: number;
}

const OPTION_RULES = {
  heartbeatMs: positiveFiniteMsRule,
  maxBuffered: integerRule(1),
  maxStreamsPerPrincipal: integerRule(1),
  maxStreams: integerRule(1),
} satisfies RulesFor<EventHubOptions>;

/** The event types a subscription hears. */
export type ServerEventType = ServerEvent["type"];

/** Options of {@link EventHub.subscribe}. */
export interface SubscribeOptions {
  /**
   * Who holds the stream, for the per-principal cap ({@link EventHub.admits}); a
   * subscription without one counts towards the global cap only.
   */
  readonly principal?: string;
  /** The event types it hears (pings go to every subscription). @default every type */
  readonly types?: readonly ServerEventType[];
}

/** Why {@link EventHub.admits} refuses another stream: which cap is reached. */
export type StreamRefusal =
  | { readonly cap: "principal"; readonly limit: number }
  | { readonly cap: "global"; readonly limit: number };

/** One listener: a bounded queue of SSE text, read with {@link Subscription.next}. */
export interface Subscription {
  /** The next chunk of text to write, or `undefined` once the subscription has ended. */
  next(): Promise<string | undefined>;
  /** Ends the subscription (the client went away); `next` answers `undefined` from now on. */
  close(): void;
  /** Whether it ended because it fell more than `maxBuffered` events behind. */
  readonly dropped: boolean;
  /** Settles when the subscription ends (closed, dropped, or the hub closed). */
  readonly ended: Promise<void>;
}

/** The SSE text of one event. */
export function sseText(event: ServerEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`;
}

/** The `decision` event of an audit entry: the listed fields only. */
export function decisionEvent(entry: DecisionEntry): ServerEvent {
  const d = entry.decision;
  return {
    type: "decision",
    data: {
      decisionId: d.decisionId,
      timestamp: d.timestamp,
      policyId: d.policyId,
      decision: d.decision,
      action: d.action,
      reason: d.reason,
      userId: entry.userId ?? null,
      functionName: entry.functionName ?? null,
    },
  };
}

const STATUS_AFTER: Readonly<
  Partial<Record<ConfirmationEvent["kind"], ConfirmationEventData["status"]>>
> = {
  create: "pending",
  approve: "approved",
  deny: "denied",
  consume: "consumed",
};

/** The `confirmation` event of a store event, or `undefined` (a refused token is none). */
export function confirmationEvent(event: ConfirmationEvent): ServerEvent | undefined {
  const status = STATUS_AFTER[event.kind];
  if (status === undefined || event.confirmationId === undefined) return undefined;
  return {
    type: "confirmation",
    data: {
      id: event.confirmationId,
      status,
      ...(event.binding.policyId && { policyId: event.binding.policyId }),
      // On create the actor is the requester; otherwise it is who decided.
      ...(event.kind === "create" && event.actor !== undefined && { requestedBy: event.actor }),
    },
  };
}

class Subscriber implements Subscription {
  readonly principal: string | undefined;
  readonly types: ReadonlySet<ServerEventType> | undefined;
  readonly #queue: string[] = [];
  readonly #max: number;
  readonly #onEnd: (s: Subscriber) => void;
  #wake: (() => void) | undefined;
  #ended = false;
  #settle: () => void = () => {};
  dropped = false;
  readonly ended: Promise<void>;

  constructor(max: number, onEnd: (s: Subscriber) => void, options: SubscribeOptions) {
    this.principal = options.principal;
    this.types = options.types && new Set(options.types);
    this.#max = max;
    this.#onEnd = onEnd;
    this.ended = new Promise((resolve) => {
      this.#settle = resolve;
    });
  }

  push(text: string): void {
    if (this.#ended) return;
    if (this.#queue.length >= this.#max) {
      this.dropped = true;
      this.#queue.length = 0;
      this.close();
      return;
    }
    this.#queue.push(text);
    this.#wake?.();
  }

  async next(): Promise<string | undefined> {
    while (this.#queue.length === 0 && !this.#ended) {
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = undefined;
    }
    return this.#queue.shift();
  }

  close(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#queue.length = 0;
    this.#onEnd(this);
    this.#settle();
    this.#wake?.();
  }
}

/**
 * The server's live events: {@link EventHub.publish} hands each to every subscriber,
 * and every `heartbeatMs` each gets a `: ping`. `createServer` makes one unless given one
 * (`events` option), feeds it the decisions it records and the confirmation requests its
 * routes create, approve and deny, and closes it when the server closes.
 *
 * Requests used up by `/authorize` are the Guardian's doing: to stream them too, report
 * the Guardian's confirmation events to the hub (`hexarch-ctl serve api` does):
 * `borrowedConfirmations(store, (e) => hub.confirmation(e))`.
 */
export class EventHub {
  /** How often open streams get a `: ping`. */
  readonly heartbeatMs: number;
  readonly #maxBuffered: number;
  readonly #maxPerPrincipal: number;
  readonly #maxStreams: number;
  readonly #subscribers = new Set<Subscriber>();
  /** Open subscriptions per principal. */
  readonly #perPrincipal = new Map<string, number>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  /** @throws InvalidOptionError for an option out of range. */
  constructor(options: EventHubOptions = {}) {
    checkOptions("EventHub", options, OPTION_RULES);
    this.heartbeatMs = options.heartbeatMs ?? 15_000;
    this.#maxBuffered = options.maxBuffered ?? 1000;
    this.#maxPerPrincipal = options.maxStreamsPerPrincipal ?? 8;
    this.#maxStreams = options.maxStreams ?? 256;
  }

  /** Open subscriptions. */
  get size(): number {
    return this.#subscribers.size;
  }

  /** Whether {@link EventHub.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Whether one more stream of `principal` fits under the caps (`maxStreamsPerPrincipal`,
   * `maxStreams`): `undefined` when it does, else the cap it would exceed. Check it and
   * {@link EventHub.subscribe} in the same turn (nothing awaited between) for the cap to hold.
   */
  admits(principal: string | undefined): StreamRefusal | undefined {
    if (
      principal !== undefined &&
      (this.#perPrincipal.get(principal) ?? 0) >= this.#maxPerPrincipal
    )
      return { cap: "principal", limit: this.#maxPerPrincipal };
    if (this.#subscribers.size >= this.#maxStreams)
      return { cap: "global", limit: this.#maxStreams };
    return undefined;
  }

  /**
   * A new subscription (ended at once when the hub is closed). It counts towards the caps
   * {@link EventHub.admits} checks, but is not refused here.
   */
  subscribe(options: SubscribeOptions = {}): Subscription {
    const sub = new Subscriber(
      this.#maxBuffered,
      (s) => {
        this.#subscribers.delete(s);
        if (s.principal !== undefined) {
          const n = (this.#perPrincipal.get(s.principal) ?? 1) - 1;
          if (n <= 0) this.#perPrincipal.delete(s.principal);
          else this.#perPrincipal.set(s.principal, n);
        }
        if (this.#subscribers.size === 0) this.#stopHeartbeat();
      },
      options,
    );
    if (this.#closed) {
      sub.close();
      return sub;
    }
    this.#subscribers.add(sub);
    if (sub.principal !== undefined)
      this.#perPrincipal.set(sub.principal, (this.#perPrincipal.get(sub.principal) ?? 0) + 1);
    if (!this.#timer) {
      this.#timer = setInterval(() => {
        for (const s of this.#subscribers) s.push(": ping\n\n");
      }, this.heartbeatMs);
      this.#timer.unref?.();
    }
    return sub;
  }

  /** Hands `event` to every subscriber that hears its type; never throws, never waits. */
  publish(event: ServerEvent): void {
    if (this.#subscribers.size === 0) return;
    const text = sseText(event);
    for (const s of this.#subscribers) if (!s.types || s.types.has(event.type)) s.push(text);
  }

  /** Publishes the `decision` event of an audit entry. */
  decision(entry: DecisionEntry): void {
    if (this.#subscribers.size === 0) return;
    try {
      this.publish(decisionEvent(entry));
    } catch {
      // A malformed entry is the audit log's problem, not the stream's.
    }
  }

  /** Publishes the `confirmation` event of a confirmation store's event (refusals are none). */
  confirmation(event: ConfirmationEvent): void {
    if (this.#subscribers.size === 0) return;
    const e = confirmationEvent(event);
    if (e) this.publish(e);
  }

  /** Ends every subscription and refuses new ones (the server is closing). */
  close(): void {
    this.#closed = true;
    for (const s of [...this.#subscribers]) s.close();
    this.#stopHeartbeat();
  }

  #stopHeartbeat(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  v !== null &&
  (typeof v === "object" || typeof v === "function") &&
  typeof (v as { then?: unknown }).then === "function";

/**
 * `recorder` (a `DecisionLogger`), publishing the `decision` event of every decision
 * recorded through it to `hub`: once `record` returns, or, when it returns a promise (a
 * durable write), once that resolves; never for a record that failed (throws or rejects).
 * Every other property and method is the recorder's own (bound to it, so a class with
 * private fields keeps working); `instanceof` still holds.
 */
export function withDecisionEvents<T extends { record(entry: DecisionEntry): unknown }>(
  recorder: T,
  hub: EventHub,
): T {
  const record = (entry: DecisionEntry): unknown => {
    const written = recorder.record(entry);
    if (!isThenable(written)) {
      hub.decision(entry);
      return written;
    }
    // The caller gets the recorder's own promise (and its rejection); the event follows
    // the commit, and a rejected record publishes nothing.
    void Promise.resolve(written).then(
      () => hub.decision(entry),
      () => {},
    );
    return written;
  };
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(recorder, {
    get(target, prop) {
      if (prop === "record") return record;
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      let fn = bound.get(prop);
      if (fn === undefined) {
        fn = (value as (...args: unknown[]) => unknown).bind(target);
        bound.set(prop, fn);
      }
      return fn;
    },
  });
}
