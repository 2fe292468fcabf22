/**
 * What a `RedisStateStore` takes: its options, their rules, and the hash tags that place
 * its keys on a Redis Cluster.
 *
 * @module
 */

import { GuardrailError } from "../kernel/errors.ts";
import {
  checkedElsewhere,
  integerRule,
  nonNegativeMsRule,
  type OptionRules,
  stringRule,
} from "../util/check-options.ts";
import { isHashTag, type RedisTarget } from "./client.ts";
import type { RedisStateStore } from "./state-store.ts";

/** Options of {@link RedisStateStore}: `{ client }` or `{ url }`, and the settings below. */
export type RedisStateStoreOptions = RedisTarget & {
  /**
   * Prefix of every key. A counter lives at `<keyPrefix>{<hashTag>}:<counter key>`.
   * Stores that share counters must use the same prefix, hash tag and precision.
   * @default "hexarch:state:"
   */
  readonly keyPrefix?: string;
  /**
   * The Redis Cluster hash tag of the keys: a fixed string (every counter in one slot,
   * so any decision's counters can be consumed in one script), or a function of the
   * counter key, such as {@link perPolicyHashTag}, which must give every counter of one
   * decision the same tag. A decision whose counters get different tags is refused with
   * a `GuardrailError` before Redis is asked (a guarded call then fails closed).
   * Without Redis Cluster the tag changes nothing but the key names.
   * @default "all"
   */
  readonly hashTag?: string | ((counterKey: string) => string);
  /**
   * Buckets per rate-limit window, as `MemoryStateStore`'s `precision`.
   * @default 10
   */
  readonly precision?: number;
  /**
   * How far apart the clocks of the hosts sharing the store may be. Redis keeps each key
   * this much longer than its window or period lasts by the writing host's clock, so a
   * host whose clock is behind still finds it.
   * @default 1000
   */
  readonly clockToleranceMs?: number;
  /**
   * How long one command may take, once sent, before it fails with `DecisionBackendError`.
   * A low value refuses sooner when Redis stalls; too low refuses decisions under
   * ordinary load (a burst queues behind earlier commands). See docs/redis.md.
   * @default 2000
   */
  readonly commandTimeoutMs?: number;
  /**
   * How long commands wait for the connection a `url` store opens on first use (loading
   * the driver and connecting) before they fail with `DecisionBackendError`. Not counted
   * against `commandTimeoutMs`, so a new process's first burst is not refused.
   * @default 3000
   */
  readonly connectTimeoutMs?: number;
};

/**
 * A hash tag per policy, for the `hashTag` option of {@link RedisStateStoreOptions}: the
 * policy id at the head of the engine's counter keys (`<policy id>/<rule>:…`), with braces
 * replaced. It spreads policies over a Redis Cluster's slots, but a check that decides
 * several policies together (`LocalDecisionClient.check([a, b])`) then has counters in
 * several slots, and is refused.
 */
export function perPolicyHashTag(counterKey: string): string {
  const slash = counterKey.indexOf("/");
  const head = slash > 0 ? counterKey.slice(0, slash) : counterKey;
  return head.replace(/[{}]/g, "_") || "_";
}

/** The hash tag a `hashTag` function gave, checked. */
export function checkTag(tag: unknown): string {
  if (!isHashTag(tag)) {
    throw new GuardrailError(
      `a Redis hash tag must be a non-empty string without braces, got ${JSON.stringify(tag)}`,
      { code: "redis_hash_tag_invalid" },
    );
  }
  return tag;
}

/** The name errors give. */
export const OWNER = "RedisStateStore";

/** The rule for each {@link RedisStateStoreOptions} key. */
export const OPTION_RULES: OptionRules = {
  keyPrefix: stringRule(),
  hashTag: {
    expected:
      "a Redis hash tag (a non-empty string without braces) or a function of the counter key",
    test: (v) => typeof v === "function" || isHashTag(v),
  },
  precision: integerRule(1, 1000),
  clockToleranceMs: nonNegativeMsRule,
  // The connection's options, checked by RedisConnection.
  client: checkedElsewhere,
  url: checkedElsewhere,
  commandTimeoutMs: checkedElsewhere,
  connectTimeoutMs: checkedElsewhere,
};
