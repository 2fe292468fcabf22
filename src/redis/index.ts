/**
 * `hexarch-guardrails/redis`: state shared through Redis by every process and host of a
 * service. Needs a Redis client: pass your own (node-redis or ioredis), or a URL and
 * install the `redis` package (an optional peer dependency).
 *
 * @module hexarch-guardrails/redis
 */

export type { IoRedisLike, NodeRedisLike, RedisLike, RedisTarget } from "./client.ts";
export {
  RedisConfirmationStore,
  type RedisConfirmationStoreOptions,
} from "./confirmation-store.ts";
export { RedisReplayGuard, type RedisReplayGuardOptions } from "./replay-guard.ts";
export {
  perPolicyHashTag,
  RedisStateStore,
  type RedisStateStoreOptions,
} from "./state-store.ts";
