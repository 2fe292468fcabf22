/**
 * The behaviour of an SDK `APIPromise` whose request starts only once the Guardian has
 * decided. The OpenAI and Anthropic wrappers subclass their SDK's `APIPromise` (so the
 * value is still an `APIPromise`) and delegate every method here: awaiting it parses the
 * response, `asResponse()` gives the raw `Response` untouched, `withResponse()` both, and
 * `_thenUnwrap()` (which the SDKs' own helpers use) maps it. A refusal rejects all of them
 * with the Guardian's error; a failure seen through any of them fails the call (refund).
 *
 * @module
 */

import type { Started } from "./guard.ts";

/** The public face of an SDK `APIPromise` that the delegation needs. */
export interface ApiPromiseLike<T> extends PromiseLike<T> {
  asResponse(): Promise<Response>;
  withResponse(): Promise<{ data: T; response: Response }>;
  _thenUnwrap<U>(transform: (data: T, props: never) => U): ApiPromiseLike<U>;
  /** Anthropic's request metadata accessor (used by its thread helpers). */
  _responseProps?(): Promise<unknown>;
}

const ignore = (): void => {};
const NEVER = new Promise<never>(() => {});

/** A decided-later provider request. */
export class DeferredRequest<T> {
  readonly started: Promise<Started<ApiPromiseLike<T>>>;
  #parsed: Promise<T> | undefined;

  constructor(started: Promise<Started<ApiPromiseLike<T>>>) {
    this.started = started;
  }

  /** A rejected request (a request that could not be planned: no price, no model). */
  static failed<T>(error: unknown): DeferredRequest<T> {
    const started = Promise.reject(error);
    started.catch(ignore);
    return new DeferredRequest<T>(started);
  }

  /**
   * What the SDK base class keeps as its response promise. Every method of the base that
   * reads it is overridden to delegate here, so it is a shared promise that never settles
   * (allocating the real one on each call would cost for nothing).
   */
  props(): Promise<never> {
    return NEVER;
  }

  /** The parsed body (parsed once). */
  parsed(): Promise<T> {
    // The SDK promise's own `then` (not `Promise.resolve` of it, which adds a thenable job).
    this.#parsed ??= this.started.then((s) => watchLike(s, s.value));
    return this.#parsed;
  }

  asResponse(): Promise<Response> {
    return this.started.then((s) => watch(s, s.value.asResponse()));
  }

  withResponse(): Promise<{ data: T; response: Response }> {
    return this.started.then((s) => watch(s, s.value.withResponse()));
  }

  /** The request metadata (Anthropic's thread helpers read it). */
  responseProps(): Promise<unknown> {
    return this.started.then((s) => {
      const value = s.value as ApiPromiseLike<T> & { responsePromise?: Promise<unknown> };
      // Anthropic exposes it; OpenAI keeps it in a (TypeScript-)private field.
      return watch(
        s,
        Promise.resolve(value._responseProps ? value._responseProps() : value.responsePromise),
      );
    });
  }

  map<U>(transform: (data: T, props: never) => U): DeferredRequest<U> {
    return new DeferredRequest<U>(
      this.started.then((s) => ({ value: s.value._thenUnwrap(transform), life: s.life })),
    );
  }
}

/** `p`, failing the call when it rejects (a refund; a no-op once the call settled). */
function watch<V>(s: Started<unknown>, p: Promise<V>): Promise<V> {
  return p.then(undefined, (err: unknown) => {
    s.life.fail(err);
    throw err;
  });
}

/** `watch` for the SDK's own promise: its `then` parses the response and returns a `Promise`. */
function watchLike<V>(s: Started<unknown>, p: PromiseLike<V>): Promise<V> {
  const r = p.then(undefined, (err: unknown) => {
    s.life.fail(err);
    throw err;
  });
  return r instanceof Promise ? r : Promise.resolve(r);
}
