/**
 * The `APIPromise` a guarded OpenAI or Anthropic method returns, written once: a subclass of
 * the SDK's own `APIPromise` (so the value still is one) whose every method delegates to a
 * {@link DeferredRequest}, sent once the Guardian has allowed it. Each SDK's wrapper builds
 * its class here from its own `APIPromise` and names its type.
 *
 * @module
 * @internal
 */

import type { DeferredRequest } from "./deferred.ts";

/** The members of an SDK's `APIPromise` that the guarded class overrides (besides `Promise`'s). */
export interface SdkAPIPromise extends Promise<unknown> {
  asResponse(): Promise<Response>;
  withResponse(): Promise<unknown>;
  _thenUnwrap(transform: never): unknown;
}

/** What the guarded class needs of an SDK's `APIPromise` class: `new (client, responsePromise)`. */
export type SdkAPIPromiseClass<C> = new (
  client: C,
  responsePromise: Promise<never>,
) => SdkAPIPromise;

/**
 * A subclass of `Base` (an SDK's `APIPromise`) for a request decided (and sent) later:
 * `new Guarded(client, request)`. Awaiting it parses the decided request; `asResponse()`,
 * `withResponse()` and `_thenUnwrap()` (the SDK's own helpers use it) delegate too, and
 * `_responseProps()` (Anthropic's thread helpers read it) where the SDK's class has one.
 */
export function guardedAPIPromiseClass<C>(
  Base: SdkAPIPromiseClass<C>,
): new (
  client: C,
  request: DeferredRequest<unknown>,
) => SdkAPIPromise {
  let requestOf!: (p: GuardedAPIPromise) => DeferredRequest<unknown>;
  class GuardedAPIPromise extends Base {
    readonly #request: DeferredRequest<unknown>;
    readonly #owner: C;

    static {
      requestOf = (p) => p.#request;
    }

    constructor(client: C, request: DeferredRequest<unknown>) {
      super(client, request.props());
      this.#request = request;
      this.#owner = client;
    }

    // biome-ignore lint/suspicious/noThenProperty: an APIPromise is a thenable; awaiting it parses the decided request.
    override then<R1 = unknown, R2 = never>(
      onfulfilled?: ((value: unknown) => R1 | PromiseLike<R1>) | null,
      onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
    ): Promise<R1 | R2> {
      return this.#request.parsed().then(onfulfilled, onrejected);
    }

    override catch<R = never>(
      onrejected?: ((reason: unknown) => R | PromiseLike<R>) | null,
    ): Promise<unknown> {
      return this.#request.parsed().catch(onrejected);
    }

    override finally(onfinally?: (() => void) | null): Promise<unknown> {
      return this.#request.parsed().finally(onfinally);
    }

    override asResponse(): Promise<Response> {
      return this.#request.asResponse();
    }

    override withResponse(): Promise<{ data: unknown; response: Response }> {
      return this.#request.withResponse();
    }

    override _thenUnwrap<U>(transform: (data: unknown, props: never) => U): GuardedAPIPromise {
      return new GuardedAPIPromise(this.#owner, this.#request.map(transform));
    }
  }
  // The request's metadata, for Anthropic's thread helpers (an internal SDK method), only
  // where the SDK's class has one: Anthropic's does, OpenAI's does not.
  if ("_responseProps" in Base.prototype) {
    Object.defineProperty(GuardedAPIPromise.prototype, "_responseProps", {
      value(this: GuardedAPIPromise): Promise<unknown> {
        return requestOf(this).responseProps();
      },
      writable: true,
      configurable: true,
    });
  }
  return GuardedAPIPromise;
}
