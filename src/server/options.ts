/**
 * Options of the decision server (`createServer`, `startServer`).
 *
 * @module
 */

import type { ApiKeyStore } from "../api-keys/types.ts";
import type { ApiPolicyStore } from "../api-policies/types.ts";
import type { AuditCheckpointStore } from "../audit/checkpoints/types.ts";
import type { DecisionLogger } from "../audit/decision-logger.ts";
import type { ConfirmationStore } from "../confirm/types.ts";
import type { Guardian } from "../guardian/guardian.ts";
import type { RedisTarget } from "../redis/client.ts";
import type { EventHub } from "./event-hub.ts";

/**
 * Which `X-Forwarded-For` entries the server believes: none (`false`), a number of proxy
 * hops, or the proxies' addresses and CIDR ranges (see `ServerOptions.trustProxy`).
 */
export type TrustProxy = false | number | string | readonly string[];

/** 1 MiB: the default and largest request body. */
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;

/** Rate limiting per caller (`@fastify/rate-limit`): in this process's memory, or in Redis. */
export interface RateLimitOptions {
  /**
   * Requests per window for each valid bearer token (and, with `allowAnon`, each client IP).
   * @default 6000
   */
  readonly max?: number;
  /**
   * Requests per window for each client IP without a valid token: public routes, and
   * attempts with a missing or wrong token (so guessing tokens is slow).
   * @default 600
   */
  readonly maxPerIp?: number;
  /**
   * The window, in ms.
   * @default 60000
   */
  readonly windowMs?: number;
  /**
   * Count in Redis, so every instance sharing it counts against the same buckets (a ready
   * node-redis or ioredis client, or a URL; `hexarch-ctl serve api --redis-url` passes its
   * URL). Without it each instance counts alone. When Redis fails, the instance counts
   * alone for 5 seconds, then tries again.
   */
  readonly redis?: RedisTarget;
  /**
   * Prefix of the Redis keys.
   * @default `hexarch:http-rate:<16 hex digits of a hash of the API token>:`
   */
  readonly redisKeyPrefix?: string;
}

/** Where the server logs: one JSON line per event (pino), with the request id in each. */
export interface ServerLoggerOptions {
  /**
   * `fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`.
   * @default "info"
   */
  readonly level?: string;
  /** Where lines go. @default process.stdout */
  readonly stream?: { write(line: string): unknown };
}

/** The state store behind the Guardian, for `GET /health`. */
export interface StateBackend {
  /** Its kind, shown in `/health` (`memory`, `redis`). */
  readonly kind: string;
  /** Rejects when it is down (a Redis `PING`). Without it the store counts as up. */
  readonly check?: () => Promise<unknown>;
}

/** Signed audit checkpoints (`/audit-logs/checkpoint`, `/audit-checkpoints`). */
export interface AuditCheckpointOptions {
  /**
   * The HMAC-SHA256 key checkpoints are signed with (`HEXARCH_AUDIT_HMAC_KEY`): at least 32
   * bytes, kept outside the audit database. It is never logged nor sent.
   */
  readonly key: string;
  /**
   * The key's id, stored with each checkpoint (`HEXARCH_AUDIT_HMAC_KEY_ID`).
   * @default the first 8 hex digits of the key's SHA-256
   */
  readonly keyId?: string;
  /**
   * Where `POST /audit-checkpoints` keeps checkpoints and `GET /audit-logs/verify` finds
   * them (a `SqliteAuditCheckpointStore` or `PostgresAuditCheckpointStore` on the audit
   * database). Without it only `GET /audit-logs/checkpoint` works (nothing is stored).
   */
  readonly store?: AuditCheckpointStore;
  /**
   * An append-only JSONL file each checkpoint `POST /audit-checkpoints` makes is also
   * appended to (one signed checkpoint a line, fsynced), and `GET /audit-logs/verify`
   * checks too (`serve api --checkpoint-file`). Keep it where the database's writers
   * cannot reach; `hexarch-ctl audit verify --checkpoints FILE` checks the log against it.
   */
  readonly file?: string;
}

/** Options of `createServer`. */
export interface ServerOptions {
  /** Decides every `/authorize` (its `evaluate`, which consumes quota like a call). */
  readonly guardian: Guardian;
  /**
   * Records each `/authorize` decision and each approval, and answers the audit routes.
   * Without it nothing is recorded and the audit routes answer 404 `audit_disabled`.
   */
  readonly auditLogger?: DecisionLogger;
  /**
   * Where the approval routes find confirmation requests, and where `/authorize` creates
   * one for each `require_confirmation` answer. Default: the Guardian's `confirmations`.
   * The Guardian must consume tokens from this same store (give it
   * `borrowedConfirmations(store)`), or `/authorize` issues and checks no tokens. Requests,
   * approvals and denials made here are recorded in `auditLogger`.
   */
  readonly confirmations?: ConfirmationStore;
  /**
   * The static bearer token every route but `GET /`, `GET /health` and `POST /echo`
   * requires. Without it the server refuses to start unless `allowAnon` is set.
   */
  readonly apiToken?: string;
  /**
   * Admit requests without a token (a warning is logged at start). A token that is
   * presented must still be the right one.
   * @default false
   */
  readonly allowAnon?: boolean;
  /**
   * Origins browsers may call from (CORS). None by default: cross-origin browser calls fail.
   * @default []
   */
  readonly corsOrigins?: readonly string[];
  /**
   * Largest request body, in bytes; larger bodies are answered 413.
   * @default 1048576
   */
  readonly bodyLimitBytes?: number;
  /** Rate limits, or `false` for none. @default {} (the defaults of {@link RateLimitOptions}) */
  readonly rateLimit?: false | RateLimitOptions;
  /** The version `/` and `/health` report. @default the package version */
  readonly version?: string;
  /** Logging, or `false` for none. @default { level: "info" } */
  readonly logger?: false | ServerLoggerOptions;
  /**
   * Which proxies in front to believe about the client's address (`X-Forwarded-For`, for
   * logs and rate limits): a hop count (`1` for one load balancer; only when nothing
   * reaches the server but through them), or the proxies' addresses and CIDR ranges (a
   * list, or a string with commas; `loopback`, `linklocal`, `uniquelocal` name ranges).
   * The client is the right-most address not trusted. `true` (believe every entry) is
   * refused: any client could pick its own address.
   * @default false
   */
  readonly trustProxy?: TrustProxy;
  /**
   * Serve the OpenAPI document of every route at `GET /openapi.json` (public).
   * @default false
   */
  readonly docs?: boolean;
  /**
   * Prometheus metrics at `GET /metrics` (behind the token unless `public`), or `false`.
   * @default { public: false }
   */
  readonly metrics?: false | { readonly public?: boolean };
  /** The state store, for `/health`. @default { kind: "memory" } */
  readonly state?: StateBackend;
  /**
   * How long `/health` waits for a backend before calling it down, in ms.
   * @default 2000
   */
  readonly healthTimeoutMs?: number;
  /**
   * Where rules and policies made over the API (`/rules`, `/policies`) live. Without it
   * those routes answer 404 `api_policies_disabled`, `GET /policies` lists the YAML
   * policies only, and `/authorize` without `policyId` denies (`no_applicable_policies`).
   */
  readonly apiPolicies?: ApiPolicyStore;
  /**
   * Builds a Guardian from the policy file the server was started with, for
   * `POST /policies/reload` (without it that route answers 409 `no_policy_file`). The new
   * Guardian decides every later `/authorize`; the replaced one is not closed (it may share
   * the state store), and `startServer` closes only the Guardian it was given — so share
   * the stores and give the new one no audit logger or confirmation store of its own.
   */
  readonly reloadPolicies?: () => Guardian | Promise<Guardian>;
  /**
   * API keys (`Authorization: Bearer hxk_…`) the server accepts beside the static token,
   * each limited to its scopes. A key's caller is the key: identity headers are ignored.
   */
  readonly apiKeys?: ApiKeyStore;
  /**
   * Serve `/api-keys` (create, list, revoke), for the static token only. Off: those routes
   * do not exist (404). Needs `apiKeys` and `apiToken`. The CLI sets it from
   * `HEXARCH_API_KEY_ADMIN_ENABLED=true`.
   * @default false
   */
  readonly apiKeyAdmin?: boolean;
  /**
   * Sign checkpoints of the audit log's hash chain, store them, and check the stored ones
   * in `GET /audit-logs/verify`. Needs `auditLogger`. Without it the checkpoint routes
   * answer 404 `checkpoints_disabled`.
   */
  readonly auditCheckpoints?: AuditCheckpointOptions;
  /**
   * Serve the console (the built web UI) at `/ui` (public static files; every data route
   * it calls keeps its authentication). Off: `/ui` answers 404. The files are read from
   * `HEXARCH_UI_DIR`, else `dist/ui` of the package; when they are missing `/ui` answers
   * 503 `ui_not_built`. `serve api --no-ui` (or `HEXARCH_API_UI=false`) turns it off.
   * @default true
   */
  readonly ui?: boolean;
  /**
   * The live events of `GET /events/stream`. The server feeds it the decisions it records
   * and the confirmation requests its routes create, approve and deny, and closes it when
   * it closes; give your own to publish more (the Guardian's confirmation events, so the
   * stream hears of tokens used: `borrowedConfirmations(store, (e) => events.confirmation(e))`)
   * or to set its heartbeat.
   * @default a new `EventHub()` (a `: ping` every 15 s)
   */
  readonly events?: EventHub;
  /**
   * How long `GET /audit/budgets` answers from its last computation (per `limit`), in ms;
   * `0` computes every request (concurrent requests still share one computation).
   * @default 10000
   * @internal For tests and benchmarks.
   */
  readonly budgetsCacheMs?: number;
}
