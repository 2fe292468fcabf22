/**
 * Watching a provider's event stream for its usage without changing what the caller
 * reads: the SDK's stream object is rebuilt around an observing iterator, so it keeps its
 * class, its `controller` and its helpers (`tee()`, `toReadableStream()`).
 *
 * @module
 */

import type { CallLife } from "./guard.ts";
import type { TokenUsage } from "./pricing.ts";

/** What an observer does with a stream's events. */
export interface StreamObserver<T> {
  /** Looks at one event; answers whether the caller sees it (false drops it). */
  see(event: T): boolean;
  /** The usage seen so far, once the stream has reported its final usage. */
  usage(): TokenUsage | undefined;
}

/** The shape shared by the OpenAI and Anthropic SDKs' `Stream` class. */
export interface SdkStream<T> extends AsyncIterable<T> {
  readonly controller: AbortController;
}

type StreamClass<T> = new (
  iterator: () => AsyncIterator<T>,
  controller: AbortController,
  client?: never,
) => SdkStream<T>;

/**
 * A stream of the same class as `stream` whose events pass through `observer`. When it
 * ends, the call settles at the reported usage (or keeps its estimate when none came);
 * when the caller stops early or aborts, the usage seen so far settles it if final, else
 * the estimate stays; when it fails, the call fails unless its usage was already final.
 */
export function observeStream<T, S extends SdkStream<T>>(
  stream: S,
  observer: StreamObserver<T>,
  life: CallLife,
  client: unknown,
): S {
  // A plain iterator rather than an async generator: one extra `then` per event, nothing more.
  const observed = (): AsyncIterator<T> => {
    const source = stream[Symbol.asyncIterator]();
    let finished = false;
    // Whether any event arrived: output the provider bills for, even if the stream breaks.
    let delivered = false;
    const end = (): void => {
      if (finished) return;
      finished = true;
      const usage = observer.usage();
      if (usage) life.settle(usage);
      else life.keepEstimate();
    };
    const onError = (err: unknown): never => {
      if (!finished) {
        finished = true;
        const usage = observer.usage();
        if (usage) life.settle(usage);
        // Broken after output began: tokens were generated (and billed), so the estimate stays.
        else if (delivered) life.keepEstimate();
        else life.fail(err);
      }
      throw err;
    };
    const onResult = (r: IteratorResult<T>): IteratorResult<T> | Promise<IteratorResult<T>> => {
      if (r.done) {
        end();
        return r;
      }
      delivered = true;
      // A dropped event: read the next one instead.
      return observer.see(r.value) ? r : source.next().then(onResult, onError);
    };
    return {
      next: () => source.next().then(onResult, onError),
      // The caller broke out of its loop, or returned the iterator (tee, toReadableStream).
      return: (value?: unknown) => {
        end();
        return source.return
          ? source.return(value)
          : Promise.resolve({ done: true, value } as IteratorResult<T>);
      },
      throw: (err?: unknown) => {
        end();
        return source.throw ? source.throw(err) : Promise.reject(err);
      },
    };
  };
  const Class = stream.constructor as StreamClass<T>;
  return new Class(observed, stream.controller, client as never) as S;
}
