/**
 * `LocalDecisionClient`: decisions made in this process from a loaded policy set.
 *
 * @module
 */

import { type CompiledRule, compileRule, type DecideInput } from "../engine/compile-rule.ts";
import { PolicyCheck } from "../engine/policy-check.ts";
import {
  type ActualUsage,
  type RefundOptions,
  refundReservation,
  settleReservation,
} from "../engine/reservations.ts";
import type { Context } from "../kernel/context.ts";
import type { Decision } from "../kernel/decision.ts";
import { GuardrailError, UnknownPolicyError } from "../kernel/errors.ts";
import { MemoryStateStore } from "../memory/state-store.ts";
import type { Policy, PolicySet } from "../policy/types.ts";
import type { StateStore } from "../state/types.ts";
import {
  booleanRule,
  checkOptions,
  functionRule,
  methodsRule,
  positiveMsRule,
  type RulesFor,
  required,
} from "../util/check-options.ts";
import { isThenable } from "../util/values.ts";
import type { DecisionClient } from "./types.ts";

/** Options of {@link LocalDecisionClient}. */
export interface LocalDecisionClientOptions {
  /** The policies, from `loadPolicyFile` or `parsePolicies`. */
  readonly policies: PolicySet;
  /**
   * Where counters live.
   * @default new MemoryStateStore()
   */
  readonly state?: StateStore;
  /**
   * Current time in ms since the epoch (inject one in tests).
   * @default Date.now
   */
  readonly clock?: () => number;
  /**
   * When the state store fails: `false` blocks the call (fail closed), `true` lets it through.
   * @default false
   */
  readonly failOpen?: boolean;
  /**
   * Give up on an asynchronous state store after this long, deciding by `failOpen`.
   * @default 5000
   */
  readonly timeoutMs?: number;
}

const OPTION_RULES = {
  policies: required({
    expected: "a PolicySet (from loadPolicyFile or parsePolicies)",
    test: (v) =>
      v !== null && typeof v === "object" && Array.isArray((v as { policies?: unknown }).policies),
  }),
  state: methodsRule("StateStore", ["consume", "adjust"]),
  clock: functionRule("a function returning the time in ms since the epoch"),
  failOpen: booleanRule,
  timeoutMs: positiveMsRule,
} satisfies RulesFor<LocalDecisionClientOptions>;

export type { ActualUsage } from "../engine/reservations.ts";

/**
 * Decides from compiled policies in this process. Each policy is compiled once; each
 * check (a policy id or a list of them) is prepared once and cached.
 *
 * @example
 * ```ts
 * const client = new LocalDecisionClient({ policies: loadPolicyFile() });
 * const decision = await client.decide("rate_limit", { userId: "u1" });
 * ```
 */
export class LocalDecisionClient implements DecisionClient {
  readonly policies: PolicySet;
  readonly state: StateStore;
  readonly #byId = new Map<string, Policy>();
  readonly #compiled = new Map<string, readonly CompiledRule[]>();
  readonly #checks = new Map<string, PolicyCheck>();
  readonly #settings;

  /** @throws InvalidOptionError for missing `policies` or an option of the wrong type. */
  constructor(options: LocalDecisionClientOptions) {
    checkOptions("LocalDecisionClient", options, OPTION_RULES);
    this.policies = options.policies;
    this.state = options.state ?? new MemoryStateStore();
    for (const p of options.policies.policies) this.#byId.set(p.id, p);
    this.#settings = {
      state: this.state,
      clock: options.clock ?? Date.now,
      failOpen: options.failOpen ?? false,
      timeoutMs: options.timeoutMs ?? 5000,
    };
  }

  /** Ids of every loaded policy, in file order. */
  listPolicies(): string[] {
    return [...this.#byId.keys()];
  }

  /** The loaded policy, or `undefined`. */
  getPolicy(policyId: string): Policy | undefined {
    return this.#byId.get(policyId);
  }

  /** Whether a policy id is loaded. */
  hasPolicy(policyId: string): boolean {
    return this.#byId.has(policyId);
  }

  /**
   * Prepares a check of one policy, or of several decided together (their counters are
   * consumed atomically: a call refused by one policy consumes nothing from another).
   *
   * @throws UnknownPolicyError when an id is not loaded.
   */
  check(policyIds: string | readonly string[]): PolicyCheck {
    const ids = typeof policyIds === "string" ? [policyIds] : [...new Set(policyIds)];
    if (ids.length === 0)
      throw new GuardrailError("check() needs at least one policy id", {
        code: "policy_id_missing",
      });
    // Cached by a key no id can forge: ["a","b"] and a policy named "a,b" stay apart.
    const cacheKey = typeof policyIds === "string" ? policyIds : JSON.stringify(ids);
    const key = ids.join(",");
    let check = this.#checks.get(cacheKey);
    if (check) return check;
    const rules: CompiledRule[] = [];
    const disabled: string[] = [];
    // A check fails open only when every policy in it says so (or the client does).
    let allFailOpen = ids.length > 0;
    for (const id of ids) {
      const policy = this.#byId.get(id);
      if (!policy) throw new UnknownPolicyError(id, this.listPolicies());
      allFailOpen &&= policy.failOpen;
      if (!policy.enabled) {
        disabled.push(id);
        continue;
      }
      let compiled = this.#compiled.get(id);
      if (!compiled) {
        compiled = policy.rules.filter((r) => r.enabled).map((r) => compileRule(r, id));
        this.#compiled.set(id, compiled);
      }
      rules.push(...compiled);
    }
    const allowReason =
      disabled.length === ids.length
        ? `Policy '${key}' is disabled; the call is allowed`
        : `Policy '${key}' allowed the call`;
    const settings =
      allFailOpen && !this.#settings.failOpen
        ? { ...this.#settings, failOpen: true }
        : this.#settings;
    check = new PolicyCheck(key, rules, settings, allowReason);
    this.#checks.set(cacheKey, check);
    return check;
  }

  /**
   * Decides for a context. Synchronous with a synchronous state store. With
   * `input.dryRun`, counters are only read (the store's `peek`) and nothing is reserved.
   */
  decide(
    policyIds: string | readonly string[],
    context: Context,
    input?: DecideInput,
  ): Decision | Promise<Decision> {
    return this.check(policyIds).decide(context, input);
  }

  /**
   * Corrects an admitted decision's budget reservation with what the call really used.
   * Amounts not given keep their estimate. Settling again replaces the previous amounts
   * (it does not add to them); settling after a refund does nothing.
   * Delegates to the engine's {@link settleReservation}, in this client's store.
   */
  settle(decision: Decision, actual: ActualUsage): void | Promise<void> {
    return settleReservation(decision, actual, this.state);
  }

  /**
   * Counts spend reported after the fact (a provider call billed elsewhere, a workflow
   * reporting its cost) against the USD and token budgets of every rule of `policyIds` that
   * applies to `context`, without deciding or refusing anything. Answers how many budget
   * counters moved.
   *
   * @throws UnknownPolicyError when an id is not loaded; GuardrailError (code
   *   `invalid_argument`) for a negative or non-finite amount.
   */
  recordSpend(
    policyIds: string | readonly string[],
    context: Context,
    usage: ActualUsage,
  ): number | Promise<number> {
    const amount = (v: number | undefined, name: string, scale: number): number => {
      if (v === undefined) return 0;
      if (typeof v !== "number" || !Number.isFinite(v) || v < 0)
        throw new GuardrailError(`${name} must be a non-negative number, got ${String(v)}`, {
          code: "invalid_argument",
        });
      return Math.round(v * scale);
    };
    const costMicroUsd = amount(usage.costUsd, "costUsd", 1_000_000);
    const tokens = amount(usage.tokens, "tokens", 1);
    const adjustments = this.check(policyIds).spendAdjustments(context, { costMicroUsd, tokens });
    if (adjustments.length === 0) return 0;
    const r = this.state.adjust(adjustments);
    return isThenable(r) ? r.then(() => adjustments.length) : adjustments.length;
  }

  /**
   * Gives an admitted decision's budget back: what it currently counts (the estimate, or
   * the settled amount). With `onError`, only amounts whose rule says `refund_on_error`
   * (the default). Refunding twice does nothing. Delegates to the engine's
   * {@link refundReservation}, in this client's store.
   */
  refund(decision: Decision, options: RefundOptions = {}): void | Promise<void> {
    return refundReservation(decision, this.state, options);
  }

  /** Closes the state store. */
  async close(): Promise<void> {
    await this.state.close?.();
  }
}
