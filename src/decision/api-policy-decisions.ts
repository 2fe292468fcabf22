/**
 * {@link ApiPolicyDecisions}: an {@link ApiPolicyStore} that also decides. Reads and writes
 * go through to the store; the policies in force are read, compiled
 * (`api-policy-client.ts`) and cached, dropped at once by a write through this object and
 * read again once older than `maxAgeMs` (for writes by another instance).
 *
 * @module
 */

import type {
  ApiPolicy,
  ApiPolicyInput,
  ApiPolicyStore,
  ApiRule,
  ApiRuleInput,
} from "../api-policies/types.ts";
import type { CompiledCondition } from "../engine/conditions.ts";
import { GuardrailError, InvalidOptionError } from "../kernel/errors.ts";
import {
  type ApiPolicyClient,
  apiPolicyClient,
  compileRuleCondition,
  type ReadyRule,
} from "./api-policy-client.ts";

/** Options of {@link ApiPolicyDecisions}. */
export interface ApiPolicyDecisionsOptions {
  /**
   * How long the policies read from the store are decided on before they are read again,
   * in ms. A write through the {@link ApiPolicyDecisions} itself takes effect at once; one
   * by another process sharing the store (a second server instance) within this long.
   * `0` reads the store for every decision (conditions stay compiled while unchanged).
   * @default 1000
   */
  readonly maxAgeMs?: number;
  /** The decisions' clock (ms since the epoch). @default Date.now */
  readonly clock?: () => number;
  /** A monotonic clock for the age of the cache, in ms. @default performance.now */
  readonly monotonic?: () => number;
}

interface Cached {
  readonly client: ApiPolicyClient;
  readonly loadedAt: number;
  readonly generation: number;
}

/**
 * An {@link ApiPolicyStore} that also decides: every call goes through to `store`, and
 * {@link ApiPolicyDecisions.client} gives the compiled policies in force. The policies
 * are read again after a write through this object, and otherwise once they are older
 * than `maxAgeMs` (the bound on how stale a write by another instance can be); a rule's
 * condition is compiled once and kept while the rule's condition is unchanged.
 *
 * @example
 * ```ts
 * const apiPolicies = new ApiPolicyDecisions(new SqliteApiPolicyStore("decisions.db"));
 * const decision = await guardian.decide(API_POLICIES_ID, envelope, {
 *   client: await apiPolicies.client(),
 * });
 * ```
 */
export class ApiPolicyDecisions implements ApiPolicyStore {
  readonly #store: ApiPolicyStore;
  readonly #maxAgeMs: number;
  readonly #clock: () => number;
  readonly #monotonic: () => number;
  /** Bumped by every write: a read begun before it is not cached. */
  #generation = 0;
  #cached: Cached | undefined;
  #loading: { readonly promise: Promise<ApiPolicyClient>; readonly generation: number } | undefined;
  /** Compiled conditions by their JSON text. */
  #compiled = new Map<string, CompiledCondition | GuardrailError>();

  /**
   * @throws InvalidOptionError for a `maxAgeMs` that is not a finite number of ms, 0 or more.
   */
  constructor(store: ApiPolicyStore, options: ApiPolicyDecisionsOptions = {}) {
    const maxAgeMs = options.maxAgeMs ?? 1000;
    if (typeof maxAgeMs !== "number" || !Number.isFinite(maxAgeMs) || maxAgeMs < 0) {
      throw new InvalidOptionError(
        `ApiPolicyDecisions: maxAgeMs must be a finite number of ms, 0 or more, not ${String(maxAgeMs)}`,
        { option: "maxAgeMs", owner: "ApiPolicyDecisions" },
      );
    }
    this.#store = store;
    this.#maxAgeMs = maxAgeMs;
    this.#clock = options.clock ?? Date.now;
    this.#monotonic = options.monotonic ?? (() => performance.now());
  }

  /**
   * The compiled policies in force: cached, read from the store again after a write
   * through this object or once older than `maxAgeMs`. Concurrent callers share one read.
   *
   * @throws whatever the store throws when it cannot be read (nothing is cached then).
   */
  client(): Promise<ApiPolicyClient> {
    const now = this.#monotonic();
    const cached = this.#cached;
    if (cached && cached.generation === this.#generation && now - cached.loadedAt < this.#maxAgeMs)
      return Promise.resolve(cached.client);
    const loading = this.#loading;
    if (loading && loading.generation === this.#generation) return loading.promise;
    const generation = this.#generation;
    const promise = this.#load().then((client) => {
      if (generation === this.#generation) this.#cached = { client, loadedAt: now, generation };
      return client;
    });
    const settled = () => {
      if (this.#loading?.promise === promise) this.#loading = undefined;
    };
    promise.then(settled, settled);
    this.#loading = { promise, generation };
    return promise;
  }

  /** Drops the cached policies: the next {@link ApiPolicyDecisions.client} reads the store. */
  invalidate(): void {
    this.#generation++;
    this.#cached = undefined;
  }

  async #load(): Promise<ApiPolicyClient> {
    const policies = (await this.#store.listPolicies()).filter((p) => p.enabled);
    const ids = [...new Set(policies.flatMap((p) => p.rule_ids))];
    const rules = new Map(
      (ids.length > 0 ? await this.#store.getRules(ids) : []).map((r) => [r.id, r]),
    );
    const previous = this.#compiled;
    const compiled = new Map<string, CompiledCondition | GuardrailError>();
    const ready = (rule: ApiRule): ReadyRule => {
      const key = JSON.stringify(rule.condition);
      let c = compiled.get(key) ?? previous.get(key);
      if (c === undefined) {
        try {
          c = compileRuleCondition(rule.condition);
        } catch (err) {
          c =
            err instanceof GuardrailError
              ? err
              : new GuardrailError((err as Error).message, {
                  code: "invalid_rule_condition",
                  cause: err,
                });
        }
      }
      compiled.set(key, c);
      return { rule, compiled: c };
    };
    const client = apiPolicyClient(
      policies.map((policy) => ({
        policy,
        missing: policy.rule_ids.filter((id) => !rules.has(id)),
        rules: policy.rule_ids
          .map((id) => rules.get(id))
          .filter((r): r is ApiRule => r?.enabled === true)
          .sort((a, b) => a.priority - b.priority || a.created_at.localeCompare(b.created_at))
          .map(ready),
      })),
      this.#clock,
    );
    // Only the conditions in force stay compiled.
    this.#compiled = compiled;
    return client;
  }

  /** Runs a write, then drops the cached policies (also when the write failed: it may have landed). */
  async #write<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } finally {
      this.invalidate();
    }
  }

  /** Every rule, by priority then creation time. */
  listRules(): Promise<ApiRule[]> {
    return this.#store.listRules();
  }
  /** A rule by id. */
  getRule(id: string): Promise<ApiRule | undefined> {
    return this.#store.getRule(id);
  }
  /** Rules by id (those that exist), in no particular order. */
  getRules(ids: readonly string[]): Promise<ApiRule[]> {
    return this.#store.getRules(ids);
  }
  /** Creates a rule; the cached policies are read again. */
  createRule(input: ApiRuleInput): Promise<ApiRule> {
    return this.#write(() => this.#store.createRule(input));
  }
  /** Replaces a rule's fields; the cached policies are read again. */
  updateRule(id: string, input: ApiRuleInput): Promise<ApiRule | undefined> {
    return this.#write(() => this.#store.updateRule(id, input));
  }
  /** Deletes a rule; the cached policies are read again. */
  deleteRule(id: string): Promise<boolean> {
    return this.#write(() => this.#store.deleteRule(id));
  }
  /** Every policy, by creation time. */
  listPolicies(): Promise<ApiPolicy[]> {
    return this.#store.listPolicies();
  }
  /** A policy by id. */
  getPolicy(id: string): Promise<ApiPolicy | undefined> {
    return this.#store.getPolicy(id);
  }
  /** Creates a policy; the cached policies are read again. */
  createPolicy(input: ApiPolicyInput): Promise<ApiPolicy> {
    return this.#write(() => this.#store.createPolicy(input));
  }
  /** Replaces a policy's fields; the cached policies are read again. */
  updatePolicy(id: string, input: ApiPolicyInput): Promise<ApiPolicy | undefined> {
    return this.#write(() => this.#store.updatePolicy(id, input));
  }
  /** Deletes a policy; the cached policies are read again. */
  deletePolicy(id: string): Promise<boolean> {
    return this.#write(() => this.#store.deletePolicy(id));
  }
  /** Closes the store. */
  close(): Promise<void> {
    return this.#store.close();
  }
}
