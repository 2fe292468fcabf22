/**
 * The `APIPromise` a guarded Anthropic method returns: the SDK's own class, whose request
 * is sent once the Guardian has allowed it.
 *
 * @module
 */

import type { BaseAnthropic } from "@anthropic-ai/sdk";
import { APIPromise } from "@anthropic-ai/sdk";
import type { DeferredRequest } from "../llm/deferred.ts";

type Props = ConstructorParameters<typeof APIPromise>[1];
type Parsed<T> = Awaited<APIPromise<T>>;
type WithResponse<T> = Awaited<ReturnType<APIPromise<T>["withResponse"]>>;

/** An `APIPromise` for a request decided (and sent) later. */
export class GuardedAPIPromise<T> extends APIPromise<T> {
  readonly #request: DeferredRequest<Parsed<T>>;
  readonly #owner: BaseAnthropic;

  constructor(client: BaseAnthropic, request: DeferredRequest<Parsed<T>>) {
    super(client, request.props() as Props);
    this.#request = request;
    this.#owner = client;
  }

  // biome-ignore lint/suspicious/noThenProperty: an APIPromise is a thenable; awaiting it parses the decided request.
  override then<R1 = Parsed<T>, R2 = never>(
    onfulfilled?: ((value: Parsed<T>) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.#request.parsed().then(onfulfilled, onrejected);
  }

  override catch<R = never>(
    onrejected?: ((reason: unknown) => R | PromiseLike<R>) | null,
  ): Promise<Parsed<T> | R> {
    return this.#request.parsed().catch(onrejected);
  }

  override finally(onfinally?: (() => void) | null): Promise<Parsed<T>> {
    return this.#request.parsed().finally(onfinally);
  }

  override asResponse(): Promise<Response> {
    return this.#request.asResponse();
  }

  override withResponse(): Promise<WithResponse<T>> {
    return this.#request.withResponse() as Promise<WithResponse<T>>;
  }

  override _thenUnwrap<U>(transform: (data: T, props: never) => U): APIPromise<U> {
    return new GuardedAPIPromise<U>(
      this.#owner,
      this.#request.map(transform as (data: Parsed<T>, props: never) => Parsed<U>),
    );
  }

  /** The request's metadata, for the SDK's thread helpers (an internal SDK method). */
  _responseProps(): Promise<unknown> {
    return this.#request.responseProps();
  }
}
