/**
 * The `APIPromise` a guarded OpenAI method returns: the SDK's own class, whose request is
 * sent once the Guardian has allowed it (built by `../llm/api-promise.ts`).
 *
 * @module
 */

import type { OpenAI } from "openai";
import { APIPromise } from "openai";
import { guardedAPIPromiseClass } from "../llm/api-promise.ts";
import type { DeferredRequest } from "../llm/deferred.ts";

/** An `APIPromise` for a request decided (and sent) later. */
export type GuardedAPIPromise<T> = APIPromise<T>;

/**
 * `new GuardedAPIPromise(client, request)`: a subclass of OpenAI's `APIPromise`. (A class
 * built by a function cannot stay generic, so its type is named here.)
 */
export const GuardedAPIPromise = guardedAPIPromiseClass<OpenAI>(APIPromise) as unknown as new <T>(
  client: OpenAI,
  request: DeferredRequest<Awaited<APIPromise<T>>>,
) => GuardedAPIPromise<T>;
