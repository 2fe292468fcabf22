/**
 * One HTTP exchange bounded by a timeout, for the clients that ask a decision backend over
 * `fetch` (`RemoteDecisionClient`, `OpaDecisionClient`): the request sent with an
 * `AbortSignal.timeout`, the body read in full, and a failure handed back to the client to
 * put in its own words (its own error class and message).
 *
 * @module
 * @internal
 */

import { describeValue } from "./describe.ts";

/** An answer read in full: its HTTP status and its body as text. */
export interface FetchedText {
  readonly status: number;
  readonly text: string;
}

/**
 * Sends one request and reads its body, the whole exchange bounded by `timeoutMs`. The body
 * is always read: an unread body keeps its connection from being reused.
 *
 * @param init the request, without a `signal` (the timeout's is set here).
 * @param fail the error to throw when the request or the body fails: `timedOut` is true when
 *   the time ran out or the request was aborted, false when the server could not be reached.
 * @throws whatever `fail` returns.
 */
export async function fetchText(
  fetchFn: (url: string, init: RequestInit) => Promise<Response>,
  url: string,
  init: Omit<RequestInit, "signal">,
  timeoutMs: number,
  fail: (err: unknown, timedOut: boolean) => Error,
): Promise<FetchedText> {
  try {
    const res = await fetchFn(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    const status = res.status;
    return { status, text: await res.text() };
  } catch (err) {
    const name = (err as { name?: unknown } | null)?.name;
    throw fail(err, name === "TimeoutError" || name === "AbortError");
  }
}

/** What {@link parseJsonText} answers for a body that is not JSON. */
export const NOT_JSON: unique symbol = Symbol("not JSON");

/** A body parsed as JSON: `undefined` when it is empty, {@link NOT_JSON} when it is not JSON. */
export function parseJsonText(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return NOT_JSON;
  }
}

/** The most useful words of a fetch failure: `connect ECONNREFUSED 127.0.0.1:8181`. */
export function causeOf(err: unknown): string {
  let e: unknown = err;
  // fetch wraps the socket error: TypeError("fetch failed", { cause: Error("connect ECONNREFUSED …") }).
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  if (e instanceof AggregateError && e.errors[0] instanceof Error) e = e.errors[0];
  return e instanceof Error ? e.message || e.name : describeValue(e);
}
