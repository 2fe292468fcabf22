/**
 * `RedisStateStore`: rate limits and budgets shared by every process and host that reaches
 * one Redis.
 *
 * @module
 */

import { DecisionBackendError, GuardrailError, InvalidOptionError } from "../kernel/errors.ts";
import type { ConsumeResult, Counter, CounterAdjustment, StateStore } from "../state/types.ts";
import { checkOptions } from "../util/check-options.ts";
import { describeValue } from "../util/describe.ts";
import { RedisConnection, type RedisValue } from "./client.ts";
import { messageOf } from "./client-shapes.ts";
import {
  checkTag,
  OPTION_RULES,
  OWNER,
  type RedisStateStoreOptions,
} from "./redis-state-options.ts";

export { perPolicyHashTag, type RedisStateStoreOptions } from "./redis-state-options.ts";

import { MAX_BATCH, settleBatch, unexpected, type Waiting } from "./state-replies.ts";
import { ADJUST_SCRIPT, CONSUME_SCRIPT } from "./state-scripts.ts";

/** One decision's part of a consume script, made by `RedisStateStore#ask`. */
interface Asked {
  readonly tag: string;
  readonly keys: string[];
  readonly numbers: string;
  readonly kinds: string;
}

/** Whether a failed command's Redis error starts with `prefix` (`NOSCRIPT`, `ERR unknown command`). */
function redisSaid(err: unknown, prefix: string): boolean {
  return err instanceof DecisionBackendError && messageOf(err.cause).startsWith(prefix);
}

/**
 * Formats a number for a script argument: JavaScript's shortest round-trip spelling, which
 * `tonumber` and `cjson` (both `strtod`) read back exactly; `1e999` overflows to infinity.
 */
function num(n: number): string {
  if (Number.isFinite(n)) return String(n);
  return Number.isNaN(n) ? "NaN" : n > 0 ? "1e999" : "-1e999";
}

/**
 * Rate-limit windows and budgets in Redis, shared by every process and host that uses the
 * same Redis, `keyPrefix`, `hashTag` and `precision`. Same semantics as
 * `MemoryStateStore` (a sliding window of `precision` buckets; calendar-period budgets),
 * checked and consumed by one Lua script per decision: one round trip, every counter of
 * the decision consumed or none, however many processes decide at once. Decisions asked
 * in the same turn of the event loop share one script, which decides them in order (see
 * {@link RedisStateStore.consume}). `adjust` (settling or refunding a budget) is one
 * script too.
 *
 * Time is the caller's `nowMs` (the Guardian's clock), not Redis's: hosts sharing a store
 * need synchronized clocks (NTP), as any sliding window does. Redis's own clock only
 * decides when an idle key is forgotten (`SET … PX`: a window and one bucket after its
 * last request, a budget at the end of its period, plus `clockToleranceMs`).
 *
 * Given `{ url }`, the store connects with the `redis` package on first use and
 * {@link RedisStateStore.close} closes that connection; a `{ client }` you pass stays
 * yours. A command that gets no answer within `commandTimeoutMs` fails with
 * `DecisionBackendError`, and the guarded call fails closed (or open, if configured).
 *
 * @example
 * ```ts
 * import { Guardian } from "hexarch-guardrails";
 * import { RedisStateStore } from "hexarch-guardrails/redis";
 *
 * const state = new RedisStateStore({ url: process.env.REDIS_URL! });
 * const guardian = new Guardian({ state });
 * // …
 * await guardian.close(); // closes the store's connection
 * ```
 */
export class RedisStateStore implements StateStore {
  readonly #redis: RedisConnection;
  readonly #prefix: string;
  /** `<prefix>{<tag>}:` for a fixed tag. */
  readonly #head: string | undefined;
  readonly #tagOf: ((counterKey: string) => string) | undefined;
  readonly #precision: number;
  readonly #grace: number;
  /** {@link #grace} as a script argument. */
  readonly #graceArg: string;
  #lastNowMs = 0;
  /** Decisions asked and not yet sent, in order, by hash tag ("" for a fixed tag). */
  readonly #waiting = new Map<string, Waiting[]>();
  /** When {@link #flush} is due: this turn's end, the next turn, or not scheduled. */
  #flushAt: "tick" | "immediate" | undefined;
  /** Consume scripts sent and not yet answered. */
  #scripts = 0;
  /** Whether peeks try `EVALSHA_RO` (until Redis says it does not know it). */
  #readOnlyScripts = true;

  /**
   * @throws InvalidOptionError for missing or conflicting `client`/`url`, a URL that is not
   *   `redis://` or `rediss://`, a hash tag that is empty or has braces, a `precision` that
   *   is not an integer from 1 to 1000, or a `clockToleranceMs` or `commandTimeoutMs` that
   *   is not a non-negative (positive, for the timeout) finite number.
   * @throws MissingPeerDependencyError for a `url` when the `redis` package is not installed
   *   (checked here, not on the first call).
   */
  constructor(options: RedisStateStoreOptions) {
    if (typeof options !== "object" || options === null) {
      throw new InvalidOptionError(
        `RedisStateStore needs { client } or { url }, got ${describeValue(options)}`,
        { option: "options", owner: OWNER },
      );
    }
    checkOptions(OWNER, options, OPTION_RULES);
    const prefix = options.keyPrefix ?? "hexarch:state:";
    this.#prefix = prefix;
    const tag = options.hashTag ?? "all";
    if (typeof tag === "function") {
      this.#tagOf = tag;
    } else {
      this.#head = `${prefix}{${tag}}:`;
    }
    this.#precision = options.precision ?? 10;
    const tolerance = options.clockToleranceMs ?? 1000;
    this.#grace = Math.ceil(tolerance);
    this.#graceArg = String(this.#grace);
    this.#redis = new RedisConnection(options, {
      owner: "RedisStateStore",
      commandTimeoutMs: options.commandTimeoutMs,
      connectTimeoutMs: options.connectTimeoutMs,
    });
  }

  /**
   * Checks every counter and consumes all of them, or none when any hard counter would go
   * past its limit ({@link hexarch-guardrails!StateStore.consume}).
   *
   * One `EVALSHA` for the whole decision — and for every other decision asked of this
   * store in the same turn of the event loop (up to `MAX_BATCH`, 128): they are decided
   * one after another, in the order asked, by one script, so each still waits for exactly
   * one round trip and each is still all or nothing, while Redis parses, dispatches and
   * answers one command instead of many, and reads and writes a key they share (a
   * budget every call counts against) once.
   *
   * @throws DecisionBackendError when Redis does not answer within `commandTimeoutMs`,
   *   fails, or answers nonsense (every decision of that script fails alike), or when this
   *   decision's keys hold something else than counters. A decision that timed out may
   *   still be counted once a slow Redis runs it: that errs on the side of refusing.
   * @throws GuardrailError when a `hashTag` function gives the counters different tags,
   *   or a window counter's `windowMs` is not a positive number.
   */
  consume(counters: readonly Counter[], nowMs: number): Promise<ConsumeResult> {
    const n = counters.length;
    if (n === 0) return Promise.resolve({ admitted: true, totals: [], refusedIndex: -1 });
    let asked: Asked;
    try {
      asked = this.#ask(counters, nowMs);
    } catch (err) {
      return Promise.reject(err);
    }
    this.#lastNowMs = nowMs;
    const { tag, keys, numbers, kinds } = asked;
    return new Promise<ConsumeResult>((resolve, reject) => {
      let waiting = this.#waiting.get(tag);
      if (waiting === undefined) {
        waiting = [];
        this.#waiting.set(tag, waiting);
      }
      waiting.push({ n, keys, numbers, kinds, resolve, reject });
      if (waiting.length >= MAX_BATCH) {
        this.#waiting.delete(tag);
        this.#send(waiting);
      } else if (this.#flushAt === undefined) {
        this.#flushAt = "tick";
        process.nextTick(this.#flush);
      }
    });
  }

  /**
   * What {@link RedisStateStore.consume} would answer, moving nothing
   * ({@link hexarch-guardrails!StateStore.peek}): the consume script itself, run with its
   * peek flag, which checks the counters exactly as a consume would (a window's ring read
   * as advanced to `nowMs`, an ended period as zero) and writes nothing. One round trip,
   * as `EVALSHA_RO` (a read-only script, which a replica may answer) when Redis knows it
   * (7.0 and later), else `EVALSHA`. Decisions asked before the peek reach Redis before
   * it, so it sees what they consumed. Not batched with other decisions.
   *
   * @throws DecisionBackendError and GuardrailError as {@link RedisStateStore.consume}.
   */
  peek(counters: readonly Counter[], nowMs: number): Promise<ConsumeResult> {
    const n = counters.length;
    if (n === 0) return Promise.resolve({ admitted: true, totals: [], refusedIndex: -1 });
    let asked: Asked;
    try {
      asked = this.#ask(counters, nowMs);
    } catch (err) {
      return Promise.reject(err);
    }
    // Decisions asked before this peek are counted before it.
    this.#sendWaiting();
    const { keys, numbers, kinds } = asked;
    const args = [`[${this.#precision},${this.#grace},1${numbers}]`, kinds, "1"];
    return new Promise<ConsumeResult>((resolve, reject) => {
      this.#evalReadOnly(keys, args).then(
        (reply) => settleBatch([{ n, keys, numbers, kinds, resolve, reject }], reply),
        reject,
      );
    });
  }

  /**
   * Runs the consume script read-only (`EVALSHA_RO`, `EVAL_RO` on NOSCRIPT); on a Redis
   * that does not know those commands (before 7.0), as a plain script from then on.
   */
  async #evalReadOnly(keys: readonly string[], args: readonly string[]): Promise<RedisValue> {
    if (this.#readOnlyScripts) {
      const rest = [String(keys.length), ...keys, ...args];
      const what = `script ${CONSUME_SCRIPT.name} (peek)`;
      try {
        try {
          return await this.#redis.command(["EVALSHA_RO", CONSUME_SCRIPT.sha1, ...rest], what);
        } catch (err) {
          if (!redisSaid(err, "NOSCRIPT")) throw err;
          return await this.#redis.command(["EVAL_RO", CONSUME_SCRIPT.source, ...rest], what);
        }
      } catch (err) {
        if (!redisSaid(err, "ERR unknown command")) throw err;
        this.#readOnlyScripts = false;
      }
    }
    return this.#redis.evalScript(CONSUME_SCRIPT, keys, args);
  }

  /**
   * One decision's counters as the consume script reads them (see CONSUME_SCRIPT): their
   * hash tag ("" for a fixed tag), Redis keys, numbers and kinds.
   *
   * @throws GuardrailError when a `hashTag` function gives the counters different tags,
   *   or a window counter's `windowMs` is not a positive number.
   */
  #ask(counters: readonly Counter[], nowMs: number): Asked {
    const n = counters.length;
    // Decisions whose keys carry different hash tags cannot share a script.
    const tag = this.#tagOf ? this.#sameTag(counters) : "";
    const keys = this.#keys(counters, tag);
    // This decision's numbers, as the script reads them (see CONSUME_SCRIPT).
    let numbers = `,${num(nowMs)},${n}`;
    let kinds = "";
    for (let i = 0; i < n; i++) {
      const c = counters[i] as Counter;
      const window = c.kind === "window";
      if (window && !(c.windowMs > 0 && Number.isFinite(c.windowMs))) {
        // The script would fail on it, and with it every decision sharing the script.
        throw new GuardrailError(
          `RedisStateStore: window '${c.key}' must last a positive number of ms, got ${String(c.windowMs)}`,
          { code: "counter_window_invalid" },
        );
      }
      kinds += window ? (c.hard ? "W" : "w") : c.hard ? "P" : "p";
      numbers += `,${num(c.limit)},${num(c.amount)},${num(window ? c.windowMs : c.expiresAtMs)}`;
    }
    return { tag, keys, numbers, kinds };
  }

  /**
   * Sends the decisions waiting (those asked in this turn of the event loop), in the order
   * asked. When no script is out, several go as two scripts: the first half now, the rest
   * (and whatever is asked meanwhile, behind it) a turn later, so that two are out from
   * then on: this process settles one script's decisions (and asks the next ones) while
   * Redis runs the other. With one script at a time the two would take turns, each idle
   * while the other works (measured: a third fewer decisions per second at 64 in flight).
   */
  readonly #flush = () => {
    this.#flushAt = undefined;
    for (const [tag, waiting] of this.#waiting) {
      if (this.#scripts === 0 && waiting.length >= 2) {
        const half = waiting.length >> 1;
        this.#send(waiting.slice(0, half));
        this.#waiting.set(tag, waiting.slice(half));
        if (this.#flushAt !== "immediate") {
          this.#flushAt = "immediate";
          setImmediate(this.#flush);
        }
      } else {
        this.#waiting.delete(tag);
        this.#send(waiting);
      }
    }
  };

  /** Sends every decision waiting now, in order (before a correction, or on close). */
  #sendWaiting(): void {
    for (const waiting of this.#waiting.values()) this.#send(waiting);
    this.#waiting.clear();
  }

  /** Decides a batch with one script, and settles each of its decisions. */
  #send(batch: readonly Waiting[]): void {
    let keys: readonly string[];
    let numbers = `[${this.#precision},${this.#grace},${batch.length}`;
    let kinds = "";
    if (batch.length === 1) {
      const only = batch[0] as Waiting;
      keys = only.keys;
      numbers += only.numbers;
      kinds = only.kinds;
    } else {
      const all: string[] = [];
      keys = all;
      for (const w of batch) {
        for (const k of w.keys) all.push(k);
        numbers += w.numbers;
        kinds += w.kinds;
      }
    }
    numbers += "]";
    this.#scripts++;
    this.#redis.evalScript(CONSUME_SCRIPT, keys, [numbers, kinds]).then(
      (reply) => {
        this.#scripts--;
        settleBatch(batch, reply);
      },
      (err: unknown) => {
        this.#scripts--;
        for (const w of batch) w.reject(err);
      },
    );
  }

  /**
   * Applies corrections to period counters; never refuses
   * ({@link hexarch-guardrails!StateStore.adjust}).
   *
   * One `EVALSHA` for all adjustments. A budget missing from Redis is created only for a
   * positive delta whose period has not ended by the time of this store's latest decision.
   *
   * @throws DecisionBackendError when Redis does not answer or fails.
   */
  async adjust(adjustments: readonly CounterAdjustment[]): Promise<void> {
    const n = adjustments.length;
    if (n === 0) return;
    // Every key must share the tag of the decision it settles, so one script serves.
    const keys = this.#keys(adjustments, this.#tagOf ? this.#sameTag(adjustments) : "");
    const args = new Array<string>(3 + 2 * n);
    // As MemoryStateStore: "now" is the time of this store's latest decision (0 before any).
    args[0] = num(this.#lastNowMs);
    args[1] = this.#graceArg;
    args[2] = num(this.#lastNowMs || Date.now());
    for (let i = 0; i < n; i++) {
      const a = adjustments[i] as CounterAdjustment;
      args[3 + 2 * i] = num(a.delta);
      args[4 + 2 * i] = num(a.expiresAtMs);
    }
    // Decisions asked before this correction reach Redis before it.
    this.#sendWaiting();
    const reply = await this.#redis.evalScript(ADJUST_SCRIPT, keys, args);
    if (reply !== n) throw unexpected(reply);
  }

  /**
   * Closes the connection the store opened from a URL; a client passed in stays open.
   * The store cannot be used afterwards. Safe to call more than once.
   */
  async close(): Promise<void> {
    // Decisions asked before close are sent first, and answered.
    this.#sendWaiting();
    await this.#redis.close();
  }

  /** The Redis key of a counter key (`<keyPrefix>{<hashTag>}:<key>`), for inspection and tests. */
  redisKey(counterKey: string): string {
    return this.#key(counterKey);
  }

  #key(counterKey: string): string {
    if (this.#head !== undefined) return this.#head + counterKey;
    const tagOf = this.#tagOf as (counterKey: string) => string;
    return `${this.#prefix}{${checkTag(tagOf(counterKey))}}:${counterKey}`;
  }

  /** The Redis keys of items that share `tag` (checked by {@link #sameTag}; "" for the fixed tag). */
  #keys(items: readonly { readonly key: string }[], tag: string): string[] {
    const head = this.#head ?? `${this.#prefix}{${tag}}:`;
    const keys = new Array<string>(items.length);
    for (let i = 0; i < items.length; i++) keys[i] = head + (items[i] as { key: string }).key;
    return keys;
  }

  /** The hash tag the items share; refuses items whose keys would lie in different cluster slots. */
  #sameTag(items: readonly { readonly key: string }[]): string {
    const tagOf = this.#tagOf as (counterKey: string) => string;
    const first = checkTag(tagOf((items[0] as { key: string }).key));
    for (let i = 1; i < items.length; i++) {
      const key = (items[i] as { key: string }).key;
      const tag = checkTag(tagOf(key));
      if (tag !== first) {
        throw new GuardrailError(
          `RedisStateStore: the counters of one decision must share a hash tag, but '${(items[0] as { key: string }).key}' has {${first}} and '${key}' has {${tag}}`,
          { code: "redis_hash_tag_mismatch" },
        );
      }
    }
    return first;
  }
}
