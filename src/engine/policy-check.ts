/**
 * Evaluates one compiled check (one policy, or several decided together) against a context.
 *
 * Order of work, cheapest first: matchers, stateless triggers, then — only if nothing
 * blocked — one call to the state store with every counter of every applying rule, which
 * consumes all of them or none. The path is synchronous when the store answers
 * synchronously (the memory store does), so an in-process decision allocates a handful of
 * small objects and never waits for a microtask.
 *
 * @module
 */

import type { Context } from "../kernel/context.ts";
import { type Decision, makeDecision, type RateLimitRefusal } from "../kernel/decision.ts";
import { DecisionBackendError, GuardrailError } from "../kernel/errors.ts";
import type { ConsumeResult, CounterAdjustment, StateStore } from "../state/types.ts";
import { describeValue } from "../util/describe.ts";
import { settleWithin } from "../util/timeout.ts";
import { isThenable } from "../util/values.ts";
import type { CompiledRule, CounterSpec, DecideInput, Outcome } from "./compile-rule.ts";
import { CounterRequest, exceededDetail, nearDetail, refusalDetail } from "./counter-request.ts";

/** Options shared by every check of a client. */
export interface CheckSettings {
  readonly state: StateStore;
  readonly clock: () => number;
  /** Let calls through when the state store fails. */
  readonly failOpen: boolean;
  /** Give up on an asynchronous state store after this long (`Infinity`: wait). */
  readonly timeoutMs: number;
}

const beats = (a: Outcome, b: Outcome | undefined): boolean =>
  b === undefined ||
  a.severity > b.severity ||
  (a.severity === b.severity && a.priority > b.priority);

/** A `per` value as a key part: `""` when missing, `undefined` when it cannot key a counter. */
function keyPart(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
  return v === undefined || v === null ? "" : undefined;
}

/** Reads a non-negative amount (`cost` in USD → micro-dollars, `tokens`); `NaN` when invalid. */
function amountOf(ctx: Context, field: "cost" | "tokens", scale: number): number {
  const v = ctx[field];
  if (v === undefined || v === null) return 0;
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? Math.round(v * scale) : Number.NaN;
}

/** A prepared check: the rules of one or more policies, ready to decide. */
export class PolicyCheck {
  /** The policy id, or ids joined with `,`. */
  readonly policyId: string;
  readonly #rules: readonly CompiledRule[];
  /** Whether any rule reads the call's arguments (`parameter:` rules). */
  readonly usesArgs: boolean;
  readonly #settings: CheckSettings;
  readonly #allowReason: string;
  readonly #matchedByMask = new Map<number, readonly string[]>();
  readonly #matchedSmall: (readonly string[] | undefined)[] = [];

  /** @internal Built by the engine's compiler; not constructed by users. */
  constructor(
    policyId: string,
    rules: readonly CompiledRule[],
    settings: CheckSettings,
    allowReason: string,
  ) {
    this.policyId = policyId;
    this.#rules = rules;
    this.usesArgs = rules.some((r) => r.readsArgs);
    this.#settings = settings;
    this.#allowReason = allowReason;
  }

  /**
   * Decides for a context. Synchronous when the state store is. Never throws: a context
   * that cannot be read (a throwing getter, say) blocks with the error kept.
   */
  decide(ctx: Context, input?: DecideInput): Decision | Promise<Decision> {
    const started = performance.now();
    let now = 0;
    try {
      now = this.#settings.clock();
      return this.#decide(ctx ?? {}, input, started, now);
    } catch (err) {
      return this.#failed(err, [], started, now, "the context could not be evaluated", false);
    }
  }

  #decide(
    ctx: Context,
    input: DecideInput | undefined,
    started: number,
    now: number,
  ): Decision | Promise<Decision> {
    // Read only when a rule asks for confirmation: most calls never need it.
    let confirmed: boolean | undefined;
    const rules = this.#rules;
    // Which rules applied: a bit mask (lists are cached per mask) for up to 30 rules.
    let mask = 0;
    let wide: string[] | undefined;
    let best: Outcome | undefined;
    let counters: CounterRequest[] | undefined;
    let cost = -1;
    let tokens = -1;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i] as CompiledRule;
      // 0 = does not apply; 2 = applies because a `when:` condition is unknown (fail closed).
      const applies = rule.applies === undefined ? 1 : rule.applies(ctx);
      if (applies === 0) continue;
      if (i < 30) {
        mask |= 1 << i;
      } else {
        wide ??= [];
        wide.push(rule.id);
      }
      let o = applies === 2 && rule.always !== undefined ? rule.unknown(ctx) : rule.always;
      const triggers = rule.triggers;
      for (let t = 0; t < triggers.length; t++) {
        const r = (triggers[t] as (typeof triggers)[number])(ctx, now, input);
        if (r !== undefined && (o === undefined || r.severity > o.severity)) o = r;
      }
      if (o !== undefined) {
        if (o.action === "require_confirmation") {
          confirmed ??= ctx.confirm === true;
          if (confirmed) o = rule.confirmed;
        }
        if (beats(o, best)) best = o;
      }
      const ruleCounters = rule.counters;
      if (ruleCounters.length === 0) continue;
      const perRaw = rule.per === undefined ? "" : rule.per(ctx);
      const per = rule.per === undefined ? "" : keyPart(perRaw);
      if (per === undefined) {
        const detail = `'${rule.perName}' must be a string or a number to key a counter, got ${describeValue(perRaw)}`;
        return this.#finish(rule.invalid(detail), this.#matched(mask, wide), started, now);
      }
      let hard = rule.action === "block";
      if (rule.action === "require_confirmation") {
        confirmed ??= ctx.confirm === true;
        hard = !confirmed;
      }
      counters ??= [];
      for (let c = 0; c < ruleCounters.length; c++) {
        const spec = ruleCounters[c] as CounterSpec;
        if (spec.kind === "window") {
          counters.push(
            new CounterRequest(
              "window",
              spec.keys.key(per, 0),
              spec.limit,
              1,
              spec.windowMs,
              0,
              hard,
              spec,
              per,
            ),
          );
          continue;
        }
        let amount: number;
        if (spec.unit === "usd") {
          if (cost < 0) cost = amountOf(ctx, "cost", 1_000_000);
          amount = cost;
        } else {
          if (tokens < 0) tokens = amountOf(ctx, "tokens", 1);
          amount = tokens;
        }
        if (Number.isNaN(amount)) {
          const field = spec.unit === "usd" ? "cost" : "tokens";
          const detail = `${field} must be a non-negative number, got ${describeValue(ctx[field])}`;
          return this.#finish(rule.invalid(detail), this.#matched(mask, wide), started, now);
        }
        const period = (spec.period as NonNullable<CounterSpec["period"]>).at(now);
        counters.push(
          new CounterRequest(
            "period",
            spec.keys.key(per, period.index),
            spec.limit,
            amount,
            0,
            period.endMs,
            hard,
            spec,
            per,
          ),
        );
      }
    }
    const matched = this.#matched(mask, wide);
    if (counters === undefined || (best !== undefined && best.severity >= 2)) {
      // Blocked before any counter: nothing is consumed.
      return this.#finish(best, matched, started, now);
    }
    const cs = counters;
    const dryRun = input !== undefined && input.dryRun === true;
    const after = (r: ConsumeResult): Decision => {
      try {
        return this.#afterConsume(r, cs, best, matched, started, now, dryRun);
      } catch (err) {
        return this.#failed(err, matched, started, now);
      }
    };
    let result: ConsumeResult | Promise<ConsumeResult>;
    const state = this.#settings.state;
    try {
      if (!dryRun) {
        result = state.consume(counters, now);
      } else if (typeof state.peek === "function") {
        result = state.peek(counters, now);
      } else {
        return this.#dryRunUnsupported(matched, started, now);
      }
    } catch (err) {
      return this.#failed(err, matched, started, now);
    }
    if (isThenable(result)) {
      const timeoutMs = this.#settings.timeoutMs;
      return settleWithin(
        result,
        timeoutMs,
        after,
        () =>
          this.#failed(
            new DecisionBackendError(`no answer within ${timeoutMs} ms`),
            matched,
            started,
            now,
          ),
        (err) => this.#failed(err, matched, started, now),
      );
    }
    return after(result);
  }

  /**
   * The corrections that count spend reported after the fact (`costMicroUsd`, `tokens`)
   * against the budgets of every rule that applies to `ctx`, in the period of the current
   * time. Nothing is decided and nothing refuses: spent money is spent, so stateless
   * triggers (schedules, conditions) are not consulted and limits may be passed. Rules
   * whose `per` value cannot key a counter add nothing.
   */
  spendAdjustments(
    ctx: Context,
    usage: { readonly costMicroUsd: number; readonly tokens: number },
  ): CounterAdjustment[] {
    const now = this.#settings.clock();
    const out: CounterAdjustment[] = [];
    for (const rule of this.#rules) {
      if (rule.counters.length === 0) continue;
      if (rule.applies !== undefined && !rule.applies(ctx)) continue;
      const per = rule.per === undefined ? "" : keyPart(rule.per(ctx));
      if (per === undefined) continue;
      for (const spec of rule.counters) {
        if (spec.kind !== "period" || spec.period === undefined) continue;
        const delta =
          spec.unit === "usd" ? usage.costMicroUsd : spec.unit === "tokens" ? usage.tokens : 0;
        if (delta === 0) continue;
        const period = spec.period.at(now);
        out.push({ key: spec.keys.key(per, period.index), delta, expiresAtMs: period.endMs });
      }
    }
    return out;
  }

  #afterConsume(
    result: ConsumeResult,
    counters: readonly CounterRequest[],
    best: Outcome | undefined,
    matched: readonly string[],
    started: number,
    now: number,
    dryRun: boolean,
  ): Decision {
    if (result === null || typeof result !== "object" || !Array.isArray(result.totals)) {
      throw new DecisionBackendError(
        `state store answered ${describeValue(result)}, not a consume result`,
      );
    }
    if (!result.admitted) {
      // Of every counter that refuses, the most severe rule decides (as for stateless rules).
      let refusal: Outcome | undefined;
      // The longest full window, while only windows refuse: waiting it out admits the call.
      let window: CounterRequest | undefined;
      let onlyWindows = true;
      const refusing = (counter: CounterRequest) => {
        if (counter.kind !== "window") onlyWindows = false;
        else if (window === undefined || counter.windowMs > window.windowMs) window = counter;
      };
      for (let i = 0; i < counters.length; i++) {
        const counter = counters[i] as CounterRequest;
        const total = result.totals[i] as number;
        if (!counter.hard || (total < counter.limit && total + counter.amount <= counter.limit))
          continue;
        refusing(counter);
        const o = counter.spec.rule.refusal(() => refusalDetail(counter, total));
        if (beats(o, refusal)) refusal = o;
      }
      if (refusal === undefined) {
        const counter = counters[result.refusedIndex] as CounterRequest | undefined;
        if (!counter)
          throw new DecisionBackendError("state store refused without naming a counter");
        const total = result.totals[result.refusedIndex] as number;
        refusing(counter);
        refusal = counter.spec.rule.refusal(() => refusalDetail(counter, total));
      }
      const full = onlyWindows ? window : undefined;
      return this.#finish(
        refusal,
        matched,
        started,
        now,
        undefined,
        full && { limit: full.limit, windowMs: full.windowMs, retryAfterMs: full.windowMs },
      );
    }
    for (let i = 0; i < counters.length; i++) {
      const counter = counters[i] as CounterRequest;
      const spec = counter.spec;
      const total = result.totals[i] as number;
      let o: Outcome | undefined;
      if (total > spec.limit) {
        const rule = spec.rule;
        o =
          rule.action === "warn"
            ? rule.warning(() => exceededDetail(spec, total))
            : rule.action === "require_confirmation"
              ? rule.confirmed
              : undefined;
      } else if (total >= spec.warnAt) {
        o = spec.rule.warning(() => nearDetail(spec, total));
      }
      if (o !== undefined && beats(o, best)) best = o;
    }
    // A dry run reserved nothing: its decision carries no reservation to settle or refund.
    return this.#finish(best, matched, started, now, dryRun ? undefined : counters);
  }

  /**
   * A dry run the state store cannot answer (it has no `peek`): refused, whatever
   * `failOpen` says (a dry run must not be taken for an allow), and nothing consumed.
   */
  #dryRunUnsupported(matched: readonly string[], started: number, now: number): Decision {
    const message =
      "the state store cannot answer a dry run (it has no peek method); nothing was consumed";
    return makeDecision({
      policyId: this.policyId,
      action: "block",
      reason: `Policy '${this.policyId}' blocked the call: ${message}`,
      matchedRules: matched,
      durationMs: performance.now() - started,
      timestampMs: now,
      error: new GuardrailError(message, { code: "dry_run_unsupported" }),
      failedOpen: false,
    });
  }

  /** The ids of the rules in `mask`; lists are shared between decisions with the same mask. */
  #matched(mask: number, wide?: readonly string[]): readonly string[] {
    if (wide !== undefined) return [...this.#matched(mask), ...wide];
    let ids = mask < 1024 ? this.#matchedSmall[mask] : this.#matchedByMask.get(mask);
    if (ids === undefined) {
      ids = Object.freeze(
        this.#rules.filter((_, i) => i < 30 && (mask & (1 << i)) !== 0).map((r) => r.id),
      );
      if (mask < 1024) this.#matchedSmall[mask] = ids;
      else this.#matchedByMask.set(mask, ids);
    }
    return ids;
  }

  #finish(
    best: Outcome | undefined,
    matched: readonly string[],
    started: number,
    now: number,
    counters?: readonly CounterRequest[],
    rateLimit?: RateLimitRefusal,
  ): Decision {
    return makeDecision({
      policyId: this.policyId,
      action: best === undefined ? "allow" : best.action,
      reason: best === undefined ? this.#allowReason : best.reason,
      matchedRules: matched,
      ruleId: best?.ruleId,
      durationMs: performance.now() - started,
      timestampMs: now,
      counters,
      rateLimit,
    });
  }

  #failed(
    err: unknown,
    matched: readonly string[],
    started: number,
    now: number,
    what = "state store unavailable",
    mayOpen = true,
  ): Decision {
    let message: string;
    try {
      message = err instanceof Error ? err.message : String(err);
    } catch {
      message = "unknown error";
    }
    const error = new DecisionBackendError(`${what}: ${message}`, { cause: err });
    const open = mayOpen && this.#settings.failOpen;
    return makeDecision({
      policyId: this.policyId,
      action: open ? "allow" : "block",
      reason: open
        ? `Policy '${this.policyId}' allowed the call: ${what}, failing open (${message})`
        : `Policy '${this.policyId}' blocked the call: ${what}, failing closed (${message})`,
      matchedRules: matched,
      durationMs: performance.now() - started,
      timestampMs: now,
      error,
      failedOpen: open,
    });
  }
}
