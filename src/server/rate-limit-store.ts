/**
 * The HTTP request limiter's counters in Redis (`@fastify/rate-limit`'s store interface),
 * so every instance of a fleet that shares Redis counts against the same buckets: a token
 * gets its allowance once per window, not once per instance.
 *
 * One EVALSHA per request (INCR, and PEXPIRE when the window starts): the plugin's fixed
 * window, the same as its in-memory store. When Redis fails or does not answer within
 * 500 ms, the instance counts alone (its own window per bucket, as without Redis) for the
 * next 5 seconds and then tries Redis again, so a Redis outage neither lets every request
 * through nor turns every answer (`/health` included) into an error.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from "@fastify/rate-limit";
import { RedisConnection, RedisScript, type RedisTarget } from "../redis/client.ts";

/** What the plugin's stores answer: the count in the window, and ms until it ends. */
interface Count {
  readonly current: number;
  readonly ttl: number;
}

type Callback = (error: Error | null, result?: Count) => void;

/** The route options the plugin passes to `child` (its types name them otherwise). */
type ChildOptions = Parameters<FastifyRateLimitStore["child"]>[0];

const INCR = new RedisScript(
  "http rate limit",
  `local current = redis.call('INCR', KEYS[1])
local ttl = -1
if current > 1 then ttl = redis.call('PTTL', KEYS[1]) end
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {current, ttl}`,
);

/** How long the instance counts alone after Redis failed, in ms. */
const FALLBACK_MS = 5000;
/** Local buckets kept before expired ones are swept. */
const SWEEP_AT = 10_000;
/** Most local buckets kept at all: past it, the oldest go (many clients during an outage). */
const MAX_BUCKETS = 100_000;
/** Sweeps are at least this far apart, so a crowd of new keys never sweeps on every request. */
const SWEEP_EVERY_MS = 1000;

/** Fixed windows in a Map: the counts of an instance while Redis is away. */
class LocalWindows {
  readonly #buckets = new Map<string, { count: number; endsAt: number }>();
  #nextSweepAt = 0;

  incr(key: string, windowMs: number, now: number): Count {
    let b = this.#buckets.get(key);
    if (b === undefined || b.endsAt <= now) {
      if (b === undefined && this.#buckets.size >= SWEEP_AT && now >= this.#nextSweepAt) {
        this.#sweep(now);
        this.#nextSweepAt = now + SWEEP_EVERY_MS;
      }
      if (b === undefined && this.#buckets.size >= MAX_BUCKETS) {
        // Insertion order is roughly expiry order: the oldest bucket goes first.
        this.#buckets.delete(this.#buckets.keys().next().value as string);
      }
      b = { count: 0, endsAt: now + windowMs };
      this.#buckets.set(key, b);
    }
    b.count++;
    return { current: b.count, ttl: b.endsAt - now };
  }

  #sweep(now: number): void {
    for (const [key, b] of this.#buckets) if (b.endsAt <= now) this.#buckets.delete(key);
  }
}

/** Options of {@link redisRateLimitStore}. */
export interface RedisRateLimitStoreOptions {
  /** Prefix of every key: `<keyPrefix><bucket>`. */
  readonly keyPrefix: string;
  /** Told once per fallback (Redis failed; the instance counts alone for a while). */
  readonly onFallback?: (error: unknown) => void;
  /** @default 500 */
  readonly commandTimeoutMs?: number;
  /**
   * How long requests wait for the first connection before the instance counts alone: a
   * request limiter must not hold requests for long.
   * @default 500
   */
  readonly connectTimeoutMs?: number;
}

/** A Redis-backed store class for `@fastify/rate-limit`, and how to close its connection. */
export interface RedisRateLimitStore {
  /** The class to give the plugin as its `store` option. */
  readonly Store: FastifyRateLimitStoreCtor;
  /** Closes the connection opened from a URL (a client passed in stays open). */
  close(): Promise<void>;
}

/**
 * The default key prefix of a server: `hexarch:http-rate:<16 hex digits>:`, the digits from
 * a hash of its API token, so instances with the same token share buckets and other
 * deployments on the same Redis do not.
 */
export function httpRateLimitPrefix(apiToken: string | undefined): string {
  const digest = createHash("sha256")
    .update(`hexarch-http-rate:${apiToken ?? ""}`)
    .digest("hex");
  return `hexarch:http-rate:${digest.slice(0, 16)}:`;
}

/**
 * A `@fastify/rate-limit` store counting in Redis (see the module's description).
 *
 * @throws GuardrailError for a target that is neither a client nor a redis:// URL.
 *
 * @example
 * ```ts
 * const shared = redisRateLimitStore({ url: "redis://redis:6379" }, { keyPrefix: "api:" });
 * await app.register(rateLimit, { max: 100, timeWindow: 60_000, store: shared.Store });
 * app.addHook("onClose", () => shared.close());
 * ```
 */
export function redisRateLimitStore(
  target: RedisTarget,
  options: RedisRateLimitStoreOptions,
): RedisRateLimitStore {
  const redis = new RedisConnection(target, {
    owner: "the HTTP rate limiter",
    commandTimeoutMs: options.commandTimeoutMs ?? 500,
    connectTimeoutMs: options.connectTimeoutMs ?? 500,
  });
  const local = new LocalWindows();
  let aloneUntil = 0;

  const incr = (key: string, callback: Callback, windowMs: number) => {
    const now = Date.now();
    if (now < aloneUntil) return callback(null, local.incr(key, windowMs, now));
    redis.evalScript(INCR, [key], [String(Math.max(1, Math.trunc(windowMs)))]).then(
      (reply) => {
        const [current, ttl] = Array.isArray(reply) ? reply : [];
        if (typeof current !== "number" || typeof ttl !== "number")
          return callback(null, local.incr(key, windowMs, Date.now()));
        callback(null, { current, ttl });
      },
      (err: unknown) => {
        if (Date.now() >= aloneUntil) options.onFallback?.(err);
        aloneUntil = Date.now() + FALLBACK_MS;
        callback(null, local.incr(key, windowMs, Date.now()));
      },
    );
  };

  const storeAt = (prefix: string): FastifyRateLimitStore => ({
    incr: (key, callback, timeWindow) => incr(prefix + key, callback, timeWindow),
    // A route with limits of its own counts in buckets of its own, as in the plugin's stores.
    child: (routeOptions: ChildOptions) => {
      const route = (routeOptions as { routeInfo?: { method?: unknown; url?: unknown } }).routeInfo;
      return storeAt(`${prefix}${String(route?.method ?? "")}${String(route?.url ?? "")}-`);
    },
  });
  const root = storeAt(options.keyPrefix);
  // The plugin instantiates the class; every instance shares this connection.
  class Store implements FastifyRateLimitStore {
    incr(key: string, callback: Callback, timeWindow: number, max: number): void {
      root.incr(key, callback, timeWindow, max);
    }
    child(routeOptions: ChildOptions): FastifyRateLimitStore {
      return root.child(routeOptions);
    }
  }
  return { Store, close: () => redis.close() };
}
