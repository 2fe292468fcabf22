/**
 * The Redis client layer of `hexarch-guardrails/redis`, shared by its stores: a structural
 * view of node-redis and ioredis clients, a connection opened from a URL with the `redis`
 * package (an optional peer dependency, loaded only here), a timeout on every command,
 * Lua scripts run with EVALSHA and a NOSCRIPT fallback, and cluster-safe key names.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { DecisionBackendError, GuardrailError } from "../kernel/errors.ts";
import { checkOption, type OptionRule } from "../util/check-options.ts";
import { importPeer } from "../util/optional-peer.ts";
import {
  messageOf,
  normalise,
  type OwnedNodeRedis,
  type RedisTarget,
  type RedisValue,
  type Send,
  sender,
} from "./client-shapes.ts";
import { CommandDeadlines } from "./command-deadlines.ts";
import { connectionTarget } from "./connection-target.ts";

/** The two timeouts: a finite, positive number of milliseconds. */
const REDIS_MS_RULE: OptionRule = {
  expected: "a positive number of milliseconds",
  test: (v) => typeof v === "number" && Number.isFinite(v) && v > 0,
};

export type {
  IoRedisLike,
  NodeRedisLike,
  RedisLike,
  RedisTarget,
  RedisValue,
} from "./client-shapes.ts";

/** What `import("redis")` provides that this layer uses. */
interface NodeRedisModule {
  createClient(options: Record<string, unknown>): OwnedNodeRedis;
}

/**
 * Loads the `redis` package. `importer` is replaceable for tests.
 *
 * @throws MissingPeerDependencyError naming the package to install when it is missing.
 * @internal
 */
export async function loadNodeRedis(
  owner: string,
  importer: () => Promise<unknown> = () => import("redis"),
): Promise<NodeRedisModule> {
  const mod = (await importPeer(owner, "redis", importer)) as {
    createClient?: unknown;
    default?: { createClient?: unknown };
  };
  const createClient = mod.createClient ?? mod.default?.createClient;
  if (typeof createClient !== "function") {
    throw new GuardrailError("the 'redis' package has no createClient export", {
      code: "peer_dependency_unusable",
    });
  }
  return { createClient: createClient as NodeRedisModule["createClient"] };
}

/**
 * A Lua script run by {@link RedisConnection.evalScript}; its SHA-1 is computed once.
 * @internal
 */
export class RedisScript {
  /** Name used in error messages. */
  readonly name: string;
  /** The Lua source, sent with EVAL when Redis does not know the SHA-1. */
  readonly source: string;
  /** SHA-1 of `source`, hex, as EVALSHA wants it. */
  readonly sha1: string;

  constructor(name: string, source: string) {
    this.name = name;
    this.source = source;
    this.sha1 = createHash("sha1").update(source).digest("hex");
  }
}

/**
 * A usable Redis Cluster hash tag: a non-empty string without braces (Redis hashes only
 * what stands between the first `{` and the next `}`).
 *
 * @internal
 */
export function isHashTag(tag: unknown): tag is string {
  return typeof tag === "string" && tag !== "" && !/[{}]/.test(tag);
}

/**
 * A key whose Redis Cluster slot is decided by `tag` alone: `<prefix>{<tag>}<suffix>`.
 * Keys one request touches share a tag, so a script using them runs on one node. Redis
 * hashes only the first `{…}` of a key, so a prefix with braces of its own puts every key
 * in one slot.
 *
 * @throws GuardrailError when `tag` is empty or contains a brace.
 * @internal
 */
export function hashTaggedKey(prefix: string, tag: string, suffix = ""): string {
  if (!isHashTag(tag))
    throw new GuardrailError(`invalid Redis hash tag '${tag}'`, { code: "redis_hash_tag_invalid" });
  return `${prefix}{${tag}}${suffix}`;
}

/** Options of {@link RedisConnection}. @internal */
export interface RedisConnectionOptions {
  /** Class name for messages (`RedisConfirmationStore needs the 'redis' package`). */
  readonly owner: string;
  /** @default 2000 */
  readonly commandTimeoutMs?: number | undefined;
  /** @default 3000 */
  readonly connectTimeoutMs?: number | undefined;
  /** Replaces `import("redis")`, for tests. */
  readonly importRedis?: () => Promise<unknown>;
}

/**
 * One Redis client as the stores use it: every command has a timeout and fails with a
 * {@link DecisionBackendError}; scripts go by EVALSHA, falling back to EVAL (which also
 * caches the script) when Redis answers NOSCRIPT. Built from a ready client, or from a URL,
 * in which case it connects on first use and owns (closes) the connection.
 *
 * Reconnecting is the client's job (node-redis and ioredis both reconnect by default);
 * a command issued while the client is disconnected waits for it at most the timeout.
 *
 * Opening the URL's connection (importing the driver, connecting) is not counted against
 * the command timeout: the commands asked meanwhile wait for it at most
 * `connectTimeoutMs`, and their own deadline starts when they are sent. A new process's
 * first burst is therefore not refused because the driver took 300 ms to load.
 *
 * @internal
 */
export class RedisConnection {
  readonly #owner: string;
  readonly #timeoutMs: number;
  readonly #url: string | undefined;
  readonly #importRedis: (() => Promise<unknown>) | undefined;
  #send: Send | undefined;
  #owned: OwnedNodeRedis | undefined;
  #connecting: Promise<Send> | undefined;
  /** The current wait for {@link #connecting}, bounded by `connectTimeoutMs`. */
  #waiting: Promise<Send> | undefined;
  readonly #connectTimeoutMs: number;
  #lastError: unknown;
  #closed = false;
  readonly #deadlines: CommandDeadlines;

  /**
   * @throws InvalidOptionError for a target that is neither a client nor a redis:// URL, or a bad timeout.
   * @throws MissingPeerDependencyError for a URL when the `redis` package is not installed.
   */
  constructor(target: RedisTarget, options: RedisConnectionOptions) {
    this.#owner = options.owner;
    this.#importRedis = options.importRedis;
    const timeout = checkOption(
      options.owner,
      "commandTimeoutMs",
      options.commandTimeoutMs ?? 2000,
      REDIS_MS_RULE,
    );
    this.#timeoutMs = timeout;
    this.#connectTimeoutMs = checkOption(
      options.owner,
      "connectTimeoutMs",
      options.connectTimeoutMs ?? 3000,
      REDIS_MS_RULE,
    );
    this.#deadlines = new CommandDeadlines(timeout, (what) => {
      const last = this.#lastError;
      return new DecisionBackendError(
        `Redis did not answer ${what} within ${timeout} ms${last ? ` (last connection error: ${messageOf(last)})` : ""}`,
        last ? { cause: last } : undefined,
      );
    });
    const resolved = connectionTarget(this.#owner, target, this.#importRedis !== undefined);
    this.#send = resolved.send;
    this.#url = resolved.url;
  }

  /** The command timeout in ms. */
  get timeoutMs(): number {
    return this.#timeoutMs;
  }

  /**
   * Sends one command and returns its normalised reply.
   *
   * @throws DecisionBackendError when Redis does not answer in time, the client fails, or
   *   Redis answers with an error (kept as `cause`).
   */
  async command(args: readonly string[], what?: string): Promise<RedisValue> {
    return this.#run([...args], what ?? String(args[0]));
  }

  /**
   * Runs a Lua script: EVALSHA, then EVAL when Redis does not have it cached (NOSCRIPT is
   * answered before anything runs, so the retry cannot run the script twice). Keys should
   * share a hash tag ({@link hashTaggedKey}) to work on Redis Cluster.
   */
  async evalScript(
    script: RedisScript,
    keys: readonly string[],
    args: readonly string[],
  ): Promise<RedisValue> {
    const rest = [String(keys.length), ...keys, ...args];
    try {
      return await this.#run(["EVALSHA", script.sha1, ...rest], `script ${script.name}`);
    } catch (err) {
      if (!(err instanceof DecisionBackendError) || !messageOf(err.cause).startsWith("NOSCRIPT")) {
        throw err;
      }
      return this.#run(["EVAL", script.source, ...rest], `script ${script.name}`);
    }
  }

  /**
   * Closes the connection when this layer opened it (from a URL); a client that was passed
   * in is left open. Afterwards every command fails. Safe to call more than once.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const owned = this.#owned;
    this.#owned = undefined;
    this.#send = undefined;
    this.#connecting = undefined;
    if (!owned) return;
    try {
      if (owned.isReady) {
        await (owned.close ?? owned.quit)?.call(owned);
        return;
      }
    } catch {
      // fall through to the forceful way
    }
    try {
      if (owned.destroy) owned.destroy();
      else await owned.disconnect?.();
    } catch {
      // already closed
    }
  }

  /** Sends one command, watched by the shared deadlines (see {@link CommandDeadlines}). */
  #run(args: string[], what: string): Promise<RedisValue> {
    if (this.#closed) return Promise.reject(new DecisionBackendError(`${this.#owner} is closed`));
    const send = this.#send;
    // Not connected yet: the command's deadline starts once the connection is open.
    if (send === undefined) {
      return this.#whenConnected().then(
        (s) => this.#sendNow(s, args, what),
        (err: unknown) => {
          throw err instanceof GuardrailError
            ? err
            : new DecisionBackendError(`Redis failed on ${what}: ${messageOf(err)}`, {
                cause: err,
              });
        },
      );
    }
    return this.#sendNow(send, args, what);
  }

  /** Sends one command on an open connection, watched by the shared deadlines. */
  #sendNow(send: Send, args: string[], what: string): Promise<RedisValue> {
    if (this.#closed) return Promise.reject(new DecisionBackendError(`${this.#owner} is closed`));
    return new Promise<RedisValue>((resolve, reject) => {
      const entry = this.#deadlines.watch(what, reject);
      const onReply = (reply: unknown) => {
        if (entry.settled) return;
        this.#deadlines.settle(entry);
        try {
          resolve(normalise(reply));
        } catch (err) {
          reject(err);
        }
      };
      // After a timeout the command may still fail later (aborted, disconnected): ignored.
      const onError = (err: unknown) => {
        if (entry.settled) return;
        this.#deadlines.settle(entry);
        reject(
          err instanceof GuardrailError
            ? err
            : new DecisionBackendError(`Redis failed on ${what}: ${messageOf(err)}`, {
                cause: err,
              }),
        );
      };
      try {
        send(args, entry.signal).then(onReply, onError);
      } catch (err) {
        onError(err);
      }
    });
  }

  /**
   * The open connection, waited for at most `connectTimeoutMs` (one timer for every command
   * waiting). A wait that timed out is forgotten, so later commands wait afresh while the
   * client keeps trying to connect.
   */
  #whenConnected(): Promise<Send> {
    if (this.#waiting !== undefined) return this.#waiting;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const last = this.#lastError;
        reject(
          new DecisionBackendError(
            `${this.#owner} could not connect to Redis within ${this.#connectTimeoutMs} ms${last ? ` (last connection error: ${messageOf(last)})` : ""}`,
            last ? { cause: last } : undefined,
          ),
        );
      }, this.#connectTimeoutMs);
    });
    const waiting = Promise.race([this.#connect(), timedOut]).finally(() => {
      clearTimeout(timer);
      if (this.#waiting === waiting) this.#waiting = undefined;
    });
    this.#waiting = waiting;
    return waiting;
  }

  /** Opens the URL's connection once; a failed attempt is forgotten so the next command retries. */
  #connect(): Promise<Send> {
    this.#connecting ??= (async () => {
      const { createClient } = await loadNodeRedis(this.#owner, this.#importRedis);
      if (this.#closed) throw new DecisionBackendError(`${this.#owner} is closed`);
      const client = createClient({ url: this.#url, name: "hexarch-guardrails" });
      // Without a listener an `error` event would crash the process; the client reconnects
      // by itself, and the last error explains a timeout.
      client.on("error", (err) => {
        this.#lastError = err;
      });
      client.on("ready", () => {
        this.#lastError = undefined;
      });
      this.#owned = client;
      try {
        await client.connect();
      } catch (err) {
        if (this.#owned === client) this.#owned = undefined;
        throw err;
      }
      if (this.#closed) throw new DecisionBackendError(`${this.#owner} is closed`);
      this.#send = sender(client);
      return this.#send;
    })();
    const attempt = this.#connecting;
    attempt.catch(() => {
      if (this.#connecting === attempt) this.#connecting = undefined;
    });
    return attempt;
  }
}
