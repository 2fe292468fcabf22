/**
 * The shapes of the Redis clients the `hexarch-guardrails/redis` stores accept (node-redis
 * and ioredis, seen structurally, so neither library's types are part of the API), and how
 * a command is sent through each and its reply read.
 *
 * @module
 */

import { DecisionBackendError } from "../kernel/errors.ts";

/**
 * A node-redis client (`redis` v4 and later, `createClient()`), connected by its owner.
 * Only `sendCommand` is used.
 */
export interface NodeRedisLike {
  sendCommand(args: string[], options?: Record<string, unknown>): Promise<unknown>;
}

/** An ioredis client (`new Redis()` or `new Redis.Cluster()`). Only `call` is used. */
export interface IoRedisLike {
  call(command: string, ...args: string[]): Promise<unknown>;
}

/**
 * A ready Redis client: node-redis (`sendCommand(args)`) or ioredis (`call(command, ...args)`),
 * recognised by shape. The stores never connect, reconnect or close a client they are given.
 */
export type RedisLike = NodeRedisLike | IoRedisLike;

/**
 * Where a store finds Redis: a ready client (yours to connect and close), or a URL
 * (`redis://[[user]:password@]host[:port][/db]`, or `rediss://` for TLS), in which case the
 * store opens its own connection with the `redis` package and closes it in `close()`.
 */
export type RedisTarget =
  | { readonly client: RedisLike; readonly url?: never }
  | { readonly url: string; readonly client?: never };

/** A reply, normalised: bulk strings as strings (also when a client returns Buffers), arrays, integers, nil. */
export type RedisValue = string | number | null | readonly RedisValue[];

/** The slice of a node-redis client the connection opened from a URL uses (v4, v5 and v6 differ in how they close). */
export interface OwnedNodeRedis extends NodeRedisLike {
  connect(): Promise<unknown>;
  on(event: "error", listener: (err: unknown) => void): unknown;
  on(event: "ready", listener: () => void): unknown;
  readonly isReady?: boolean;
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
  destroy?(): unknown;
  disconnect?(): Promise<unknown>;
}

/** What a command is sent through: one of the two client shapes, as a function. */
export type Send = (args: string[], signal: AbortSignal) => Promise<unknown>;

export function isIoRedis(client: RedisLike): client is IoRedisLike {
  return typeof (client as Partial<IoRedisLike>).call === "function";
}

export function sender(client: RedisLike): Send {
  if (isIoRedis(client)) {
    return (args) => client.call(args[0] as string, ...args.slice(1));
  }
  // node-redis drops a command still waiting in its offline queue when the signal aborts
  // (v4 reads `signal`, v5+ `abortSignal`), so a timed-out command never runs later.
  // `timeout: 0` turns off node-redis's own per-command timeout (v6+, 5 s by default):
  // `RedisConnection` times every command itself, and node-redis's `AbortSignal.timeout`
  // per command cost more client CPU than the rest of a decision.
  const options = (signal: AbortSignal) => ({ abortSignal: signal, signal, timeout: 0 });
  return (args, signal) => client.sendCommand(args, options(signal));
}

export function normalise(reply: unknown): RedisValue {
  if (reply === null || reply === undefined) return null;
  if (typeof reply === "string" || typeof reply === "number") return reply;
  if (typeof reply === "bigint") return Number(reply);
  if (reply instanceof Uint8Array) return Buffer.from(reply).toString("utf8");
  if (Array.isArray(reply)) return reply.map(normalise);
  throw new DecisionBackendError(`Redis answered with an unexpected ${typeof reply} reply`);
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
