/**
 * What a Redis store was given to talk to: a ready client (node-redis or ioredis), or a
 * `redis://` URL to open with the `redis` package, checked when the store is created.
 *
 * @module
 */

import { InvalidOptionError } from "../kernel/errors.ts";
import { describeUrl, invalidOption } from "../util/check-options.ts";
import { describeValue } from "../util/describe.ts";
import { requirePeers } from "../util/optional-peer.ts";
import {
  type IoRedisLike,
  type NodeRedisLike,
  type RedisLike,
  type RedisTarget,
  type Send,
  sender,
} from "./client-shapes.ts";

/** A client to send through now, or a URL to connect to on first use. */
export type ConnectionTarget =
  | { readonly send: Send; readonly url: undefined }
  | { readonly send: undefined; readonly url: string };

/**
 * Checks `target` for the store `owner`: `{ client }` or `{ url }`, not both, neither or
 * anything else. For a URL, the `redis` package must be installed (unless the caller
 * brings its own driver loader): a missing driver is a setup error, and the first command
 * may come long after start (or only in production).
 *
 * @throws InvalidOptionError for a target that is neither a client nor a redis:// URL.
 * @throws MissingPeerDependencyError for a URL when the `redis` package is not installed.
 */
export function connectionTarget(
  owner: string,
  target: RedisTarget,
  driverGiven: boolean,
): ConnectionTarget {
  const { client, url } = (target ?? {}) as { client?: unknown; url?: unknown };
  if (client !== undefined && url !== undefined) {
    throw new InvalidOptionError(`${owner} takes { client } or { url }, not both`, {
      option: "url",
      owner,
    });
  }
  if (client !== undefined) {
    const c = client as Partial<IoRedisLike & NodeRedisLike> | null;
    if (
      c === null ||
      typeof c !== "object" ||
      (typeof c.call !== "function" && typeof c.sendCommand !== "function")
    ) {
      throw invalidOption(
        owner,
        "client",
        "a node-redis client (sendCommand) or an ioredis client (call)",
        client,
      );
    }
    return { send: sender(c as RedisLike), url: undefined };
  }
  if (typeof url === "string") {
    let protocol: string;
    try {
      protocol = new URL(url).protocol;
    } catch {
      protocol = "";
    }
    if (protocol !== "redis:" && protocol !== "rediss:") {
      throw invalidOption(owner, "url", "a redis:// or rediss:// URL", url, describeUrl(url));
    }
    if (!driverGiven) requirePeers(owner, ["redis"]);
    return { send: undefined, url };
  }
  throw new InvalidOptionError(
    `${owner} needs { client } (a connected Redis client) or { url }, got ${url === undefined ? "neither" : `url ${describeValue(url)}`}`,
    { option: "url", owner },
  );
}
