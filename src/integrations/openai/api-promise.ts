/**
 * The `APIPromise` a guarded OpenAI method returns: the SDK's own class, whose request is
 * sent once the Guardian has allowed it.
 *
 * @module
 */

import type { OpenAI } from "openai";
import { APIPromise } from "openai";
import type { DeferredRequest } from "../llm/deferred.ts";

type Props = ConstructorParameters<typeof APIPromise>[1];
type Parsed<T> = Awaited<APIPromise<T>>;

/** An `APIPromise` for a request decided (and sent) later. */
export class GuardedAPIPromise<T> extends APIPromise<T> {
  readonly #request: DeferredRequest<Parsed<T>>;
  readonly #owner: OpenAI;

  constructor(client: OpenAI, request: DeferredRequest<Parsed<T>>) {
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

  override withResponse(): Promise<{ data: T; response: Response; request_id: string | null }> {
    return this.#request.withResponse() as Promise<{
      data: T;
      response: Response;
      request_id: string | null;
    }>;
  }

  override _thenUnwrap<U>(transform: (data: T, props: never) => U): APIPromise<U> {
    return new GuardedAPIPromise<U>(
      this.#owner,
      this.#request.map(transform as (data: Parsed<T>, props: never) => Parsed<U>),
    );
  }
}
