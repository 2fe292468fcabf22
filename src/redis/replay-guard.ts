/**
 * `RedisReplayGuard`: single use for signed confirmation tokens across every process that
 * shares one Redis.
 *
 * @module
 */

import type { ReplayGuard } from "../confirm/signed-confirmation-store.ts";
import { InvalidOptionError } from "../kernel/errors.ts";
import {
  checkedElsewhere,
  checkOptions,
  functionRule,
  type OptionRules,
  stringRule,
} from "../util/check-options.ts";
import { describeValue } from "../util/describe.ts";
import { hashTaggedKey, RedisConnection, type RedisTarget } from "./client.ts";

/** Options of {@link RedisReplayGuard}. */
export type RedisReplayGuardOptions = RedisTarget & {
  /** @default "hexarch:used:" */
  readonly keyPrefix?: string;
  /** @default 2000 */
  readonly commandTimeoutMs?: number;
  /** How long commands wait for a `url` guard's first connection. @default 3000 */
  readonly connectTimeoutMs?: number;
  /** @default Date.now */
  readonly clock?: () => number;
};

const OPTION_RULES: OptionRules = {
  keyPrefix: stringRule(),
  clock: functionRule("a function returning the time in ms since the epoch"),
  // The connection's options, checked by RedisConnection.
  client: checkedElsewhere,
  url: checkedElsewhere,
  commandTimeoutMs: checkedElsewhere,
  connectTimeoutMs: checkedElsewhere,
};

/**
 * Remembers used token ids in Redis with `SET key 1 NX PX <ms until expiry>`: one round
 * trip, atomic, and the key goes when the token would have expired anyway.
 *
 * @example
 * ```ts
 * const confirmations = new SignedConfirmationStore({
 *   keys: [{ kid: "2026-11", secret: process.env.CONFIRM_KEY! }],
 *   replay: new RedisReplayGuard({ url: process.env.REDIS_URL! }),
 * });
 * ```
 */
export class RedisReplayGuard implements ReplayGuard {
  readonly #redis: RedisConnection;
  readonly #prefix: string;
  readonly #clock: () => number;

  /**
   * @throws InvalidOptionError for missing or conflicting `client`/`url`, or a URL that is not
   *   `redis://` or `rediss://`.
   * @throws MissingPeerDependencyError for a `url` when the `redis` package is not installed
   *   (checked here, not on the first call).
   */
  constructor(options: RedisReplayGuardOptions) {
    if (typeof options !== "object" || options === null) {
      throw new InvalidOptionError(
        `RedisReplayGuard needs { client } or { url }, got ${describeValue(options)}`,
        { option: "options", owner: "RedisReplayGuard" },
      );
    }
    checkOptions("RedisReplayGuard", options, OPTION_RULES);
    this.#prefix = options.keyPrefix ?? "hexarch:used:";
    this.#clock = options.clock ?? Date.now;
    this.#redis = new RedisConnection(options, {
      owner: "RedisReplayGuard",
      commandTimeoutMs: options.commandTimeoutMs,
      connectTimeoutMs: options.connectTimeoutMs,
    });
  }

  /**
   * {@inheritDoc hexarch-guardrails!ReplayGuard.claim}
   * @throws DecisionBackendError when Redis does not answer (the call is then refused).
   */
  async claim(tokenId: string, expiresAtMs: number): Promise<boolean> {
    const ttl = Math.max(1000, Math.ceil(expiresAtMs - this.#clock()));
    const reply = await this.#redis.command(
      ["SET", hashTaggedKey(this.#prefix, tokenId), "1", "NX", "PX", String(ttl)],
      "SET NX",
    );
    return reply === "OK";
  }

  /** Closes a connection the guard opened from a URL (a client passed in stays open). */
  async close(): Promise<void> {
    await this.#redis.close();
  }
}
