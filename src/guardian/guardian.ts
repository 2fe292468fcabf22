/**
 * `Guardian`: one line to guard any function with a policy.
 *
 * @module
 */

import { AsyncLocalStorage } from "node:async_hooks";
import { resolve } from "node:path";
import type { DecisionEntry, DecisionRecorder } from "../audit/recorder.ts";
import { fingerprintCall } from "../confirm/fingerprint.ts";
import type {
  ConfirmationBinding,
  ConfirmationStore,
  ConsumeConfirmationResult,
} from "../confirm/types.ts";
import { LocalDecisionClient } from "../decision/local-decision-client.ts";
import type { DecisionClient } from "../decision/types.ts";
import type { Context, DecideInput } from "../engine/compile-rule.ts";
import { type Decision, makeDecision } from "../engine/decision.ts";
import {
  ConfirmationRequired,
  GuardrailError,
  PolicyViolation,
  UnknownPolicyError,
} from "../errors.ts";
import { loadPolicyFile, parsePolicies } from "../policy/load.ts";
import type { Policy, PolicySet } from "../policy/types.ts";
import { DecisionLogFile, fanOut } from "./decision-log-file.ts";
import { type PolicyServiceClient, type PreparedDecide, remoteDecide } from "./decision-source.ts";
import { type Guard, makeGuard } from "./guard.ts";
import type { CallInfo, CheckOptions, GuardianMode, GuardianOptions } from "./options.ts";

const MODES: readonly GuardianMode[] = ["enforce", "monitor", "off"];

function isThenable<T>(v: T | Promise<T>): v is Promise<T> {
  return (
    v !== null && typeof v === "object" && typeof (v as { then?: unknown }).then === "function"
  );
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

const defaultWarn = (decision: Decision, call: CallInfo): void => {
  const where = call.functionName ? ` ${call.functionName}()` : "";
  const what = call.mode === "monitor" ? "would block (monitor mode)" : "warning";
  process.stderr.write(`[hexarch]${where} ${what}: ${decision.reason}\n`);
};

/** A policy prepared for calls: how to decide it and what to tell the audit log. */
interface Prepared {
  readonly policyId: string;
  readonly decide: PreparedDecide;
  /** Whether deciding reads the call's arguments. */
  readonly usesArgs: boolean;
}

const NO_INPUT: DecideInput = Object.freeze({});

/**
 * Guards functions with the policies of a `hexarch.yaml`.
 *
 * @example
 * ```ts
 * import { Guardian } from "hexarch-guardrails";
 *
 * const guardian = new Guardian(); // finds hexarch.yaml
 * const cleanup = guardian.check("safe_delete")(async () => db.deleteOldUsers());
 * await cleanup(); // throws ConfirmationRequired: the policy wants confirm: true
 * ```
 */
export class Guardian {
  /** The mode in force. */
  readonly mode: GuardianMode;
  readonly #policies: PolicySet | undefined;
  readonly #local: LocalDecisionClient | undefined;
  readonly #remote: DecisionClient | PolicyServiceClient | undefined;
  readonly #audit: DecisionRecorder | undefined;
  readonly #onWarn: (decision: Decision, call: CallInfo) => void;
  readonly #onError: (error: Error) => void;
  readonly #clock: () => number;
  readonly #failOpen: boolean;
  readonly #timeoutMs: number;
  readonly #errorStacks: boolean;
  readonly #confirmations: ConfirmationStore | undefined;
  readonly #scope = new AsyncLocalStorage<Context>();
  /** Whether withContext was ever used: until then no call needs to look up a scope. */
  #scoped = false;
  readonly #prepared = new Map<string, Prepared>();
  readonly #reported = new Set<string>();

  /**
   * @throws PolicyFileError when the policy file cannot be found or is invalid (unless the
   * mode is `off`, or a `decisionClient` is given and no policies are).
   * @throws GuardrailError for an invalid `mode` or `HEXARCH_MODE`.
   */
  constructor(options: GuardianOptions = {}) {
    const env = options.env ?? process.env;
    this.#clock = options.clock ?? Date.now;
    this.#remote = options.decisionClient;
    this.#onWarn = options.onWarn ?? defaultWarn;
    this.#onError = options.onError ?? ((err) => this.#reportOnce(err));
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#errorStacks = options.errorStacks ?? true;
    this.#confirmations = options.confirmations;
    const failClosedEnv = env.HEXARCH_POLICY_FAIL_CLOSED?.trim().toLowerCase();
    this.#failOpen = options.failOpen ?? (failClosedEnv === "false" || failClosedEnv === "0");

    const envMode = env.HEXARCH_MODE?.trim().toLowerCase();
    if (envMode && !MODES.includes(envMode as GuardianMode)) {
      throw new GuardrailError(
        `HEXARCH_MODE must be enforce, monitor or off, not '${env.HEXARCH_MODE}'`,
      );
    }
    if (options.mode !== undefined && !MODES.includes(options.mode)) {
      throw new GuardrailError(
        `mode must be enforce, monitor or off, not '${String(options.mode)}'`,
      );
    }
    const early = options.mode ?? (envMode as GuardianMode | undefined);

    let policies: PolicySet | undefined;
    if (options.policies !== undefined) {
      policies = isPolicySet(options.policies) ? options.policies : parsePolicies(options.policies);
    } else if (!this.#remote || options.policyFile !== undefined) {
      try {
        policies = loadPolicyFile(options.policyFile, {
          env,
          ...(options.cwd !== undefined && { cwd: options.cwd }),
        });
      } catch (err) {
        // With guardrails off (a test suite, say) a missing file is no reason to fail.
        if (early !== "off") throw err;
      }
    }
    this.#policies = policies;
    this.mode = early ?? policies?.mode ?? "enforce";
    const logging = policies?.logging;
    const logFile =
      logging?.enabled && logging.file
        ? new DecisionLogFile(
            resolve(options.cwd ?? process.cwd(), logging.file),
            logging.level,
            (err) => this.#fail("decision log", err),
          )
        : undefined;
    this.#audit = fanOut(
      [options.auditLogger, logFile].filter((r): r is DecisionRecorder => r !== undefined),
    );
    this.#local =
      policies && !this.#remote
        ? new LocalDecisionClient({
            policies,
            clock: this.#clock,
            failOpen: this.#failOpen,
            ...(options.state && { state: options.state }),
          })
        : undefined;
  }

  /**
   * Guards a function (or decorates a method) with a policy. The returned guard keeps the
   * function's parameters, `this` and `name`, and returns a Promise of its result.
   * A list of policy ids decides them together: their counters move all or none.
   *
   * @throws UnknownPolicyError when the policy is not loaded (checked now, not at call time).
   */
  check(policyId: string | readonly string[], options: CheckOptions = {}): Guard {
    const prepared = this.mode === "off" ? undefined : this.#prepare(policyId);
    const label = typeof policyId === "string" ? policyId : policyId.join(",");
    return makeGuard((fn, methodName) => {
      const name = options.name ?? methodName ?? (fn.name || undefined);
      const call = prepared ? this.#caller(prepared, options, name, fn) : undefined;
      const wrapped = call
        ? function (this: unknown, ...args: unknown[]): Promise<unknown> {
            return call(this, args);
          }
        : async function (this: unknown, ...args: unknown[]): Promise<unknown> {
            return fn.apply(this, args);
          };
      Object.defineProperty(wrapped, "name", { value: fn.name, configurable: true });
      Object.defineProperty(wrapped, "length", { value: fn.length, configurable: true });
      return wrapped;
    }, label);
  }

  /**
   * Decides for a context without throwing. Like a guarded call, an admitted decision
   * consumes its rate-limit and budget counters. In `off` mode nothing is evaluated and the
   * answer is an allow.
   */
  async evaluate(policyId: string, context: Context = {}): Promise<Decision> {
    if (this.mode === "off") return offDecision(policyId, this.#clock());
    const prepared = this.#prepare(policyId);
    return prepared.decide(this.#withScope(context), {});
  }

  /**
   * Decides for a context and throws like a guarded call: `PolicyViolation`, or
   * `ConfirmationRequired` when the policy wants confirmation. Records the decision.
   */
  async enforce(policyId: string, context: Context = {}): Promise<Decision> {
    if (this.mode === "off") return offDecision(policyId, this.#clock());
    const ctx = this.#withScope(context);
    const prepared = this.#prepare(policyId);
    const binding = () => bindingOf(prepared.policyId, [withoutConfirmation(ctx)]);
    const decision = await this.#withToken(
      prepared,
      await prepared.decide(ctx, {}),
      ctx,
      {},
      binding,
    );
    this.#record(decision, ctx, undefined, undefined);
    if (!decision.allowed && this.mode === "enforce") {
      throw violation(
        decision,
        this.#errorStacks,
        decision.action === "require_confirmation" ? binding() : undefined,
      );
    }
    return decision;
  }

  /**
   * Runs `fn` with extra context for every guarded call inside it, across awaits and
   * nested calls (AsyncLocalStorage). Inner scopes add to outer ones.
   *
   * @example
   * ```ts
   * app.use((req, res, next) => guardian.withContext({ userId: req.user.id }, next));
   * ```
   */
  withContext<R>(context: Context, fn: () => R): R {
    this.#scoped = true;
    const outer = this.#scope.getStore();
    return this.#scope.run(outer ? { ...outer, ...context } : context, fn);
  }

  /** Ids of the loaded policies (the Python `list_policies`). */
  listPolicies(): string[] {
    return this.#policies?.policies.map((p) => p.id) ?? [];
  }

  /** A loaded policy, or `undefined` (the Python `get_policy`). */
  getPolicy(policyId: string): Policy | undefined {
    return this.#policies?.policies.find((p) => p.id === policyId);
  }

  /** Flushes the audit log and closes the state store and decision client. */
  async close(): Promise<void> {
    await this.#audit?.close?.();
    await this.#local?.close();
    await this.#remote?.close?.();
  }

  #prepare(ids: string | readonly string[]): Prepared {
    const key = typeof ids === "string" ? ids : JSON.stringify(ids);
    let prepared = this.#prepared.get(key);
    if (prepared) return prepared;
    const policyId = typeof ids === "string" ? ids : ids.join(",");
    if (this.#local) {
      const check = this.#local.check(ids); // throws UnknownPolicyError
      prepared = { policyId, decide: check.decide.bind(check), usesArgs: check.usesArgs };
    } else if (typeof ids !== "string") {
      throw new GuardrailError(
        "checking several policies at once needs the embedded engine (no decisionClient)",
      );
    } else if (this.#remote) {
      if (this.#policies && !this.#policies.policies.some((p) => p.id === policyId)) {
        throw new UnknownPolicyError(policyId, this.listPolicies());
      }
      const remote = this.#remote;
      if (
        "hasPolicy" in remote &&
        typeof remote.hasPolicy === "function" &&
        !remote.hasPolicy(policyId)
      ) {
        throw new UnknownPolicyError(policyId, this.listPolicies());
      }
      const failOpen = this.#failOpen || this.getPolicy(policyId)?.failOpen === true;
      prepared = {
        policyId,
        usesArgs: true,
        decide: remoteDecide(remote, policyId, {
          failOpen,
          timeoutMs: this.#timeoutMs,
          clock: this.#clock,
        }),
      };
    } else {
      throw new UnknownPolicyError(policyId, []);
    }
    this.#prepared.set(key, prepared);
    return prepared;
  }

  #withScope(context: Context): Context {
    const scoped = this.#scoped ? this.#scope.getStore() : undefined;
    return scoped ? { ...context, ...scoped } : context;
  }

  /** Builds the per-call function for one guarded function. */
  #caller(
    prepared: Prepared,
    options: CheckOptions,
    functionName: string | undefined,
    fn: (this: unknown, ...args: unknown[]) => unknown,
  ): (self: unknown, args: unknown[]) => Promise<unknown> {
    const contextOf = contextBuilder(options, functionName);
    const scope = this.#scope;
    const mode = this.mode as "enforce" | "monitor";
    const settleWith = options.settle as ((result: unknown) => unknown) | undefined;
    const proceed = (
      decision: Decision,
      ctx: Context,
      self: unknown,
      args: unknown[],
    ): Promise<unknown> => {
      this.#record(decision, ctx, functionName, options.metadata);
      if (!decision.allowed) {
        if (mode === "enforce") {
          const binding =
            decision.action === "require_confirmation"
              ? bindingOf(prepared.policyId, args)
              : undefined;
          return Promise.reject(violation(decision, this.#errorStacks, binding));
        }
        this.#warn(decision, prepared.policyId, functionName, "monitor");
      } else if (decision.action === "warn") {
        this.#warn(decision, prepared.policyId, functionName, "enforce");
      }
      let result: unknown;
      try {
        result = fn.apply(self, args);
      } catch (err) {
        this.#refund(decision);
        return Promise.reject(err);
      }
      const reserved = decision.reservation !== undefined;
      if (isThenable(result)) {
        // Chain only what is needed: most calls reserve nothing and settle nothing.
        if (!reserved) return result instanceof Promise ? result : Promise.resolve(result);
        return Promise.resolve(result).then(
          settleWith
            ? (value: unknown) => {
                this.#settle(decision, settleWith, value);
                return value;
              }
            : undefined,
          (err: unknown) => {
            this.#refund(decision);
            throw err;
          },
        );
      }
      if (settleWith && reserved) this.#settle(decision, settleWith, result);
      return Promise.resolve(result);
    };
    return (self, args) => {
      let ctx: Context;
      let decision: Decision | Promise<Decision>;
      try {
        ctx = contextOf(args, this.#scoped ? scope.getStore() : undefined);
        // The arguments are only read by `parameter:` rules.
        decision = prepared.decide(ctx, prepared.usesArgs ? { args } : NO_INPUT);
      } catch (err) {
        // A context function that throws is the caller's bug: surface it, run nothing.
        return Promise.reject(err);
      }
      const confirmable = (d: Decision): Decision | Promise<Decision> =>
        d.action === "require_confirmation" && this.#confirmations && tokenOf(ctx) !== undefined
          ? this.#withToken(prepared, d, ctx, { args }, () => bindingOf(prepared.policyId, args))
          : d;
      if (isThenable(decision)) {
        return decision.then(confirmable).then((d) => proceed(d, ctx, self, args));
      }
      const final = confirmable(decision);
      if (isThenable(final)) return final.then((d) => proceed(d, ctx, self, args));
      return proceed(final, ctx, self, args);
    };
  }

  /**
   * A decision that asks for confirmation, given a confirmation token in the context:
   * consumes the token (approved, unexpired, unused, for this policy and these arguments)
   * and decides again as confirmed, or says why the token was refused.
   */
  #withToken(
    prepared: Prepared,
    decision: Decision,
    ctx: Context,
    input: DecideInput,
    binding: () => ConfirmationBinding,
  ): Decision | Promise<Decision> {
    const store = this.#confirmations;
    const token = tokenOf(ctx);
    if (decision.action !== "require_confirmation" || !store || token === undefined)
      return decision;
    const refused = (why: string): Decision =>
      makeDecision({
        policyId: decision.policyId,
        action: "require_confirmation",
        reason: `${decision.reason}; confirmation token refused: ${why}`,
        matchedRules: decision.matchedRules,
        ruleId: decision.ruleId,
        durationMs: decision.durationMs,
        timestampMs: decision.timestampMs,
      });
    const after = (r: ConsumeConfirmationResult): Decision | Promise<Decision> =>
      r.ok ? prepared.decide({ ...ctx, confirm: true }, input) : refused(r.message);
    try {
      const result = store.consume(token, binding());
      if (isThenable(result)) {
        return result.then(after, (err: unknown) =>
          refused(`the confirmation store failed (${String(err)})`),
        );
      }
      return after(result);
    } catch (err) {
      return refused(
        `the confirmation store failed (${err instanceof Error ? err.message : String(err)})`,
      );
    }
  }

  #record(
    decision: Decision,
    context: Context,
    functionName: string | undefined,
    metadata: CheckOptions["metadata"],
  ): void {
    const audit = this.#audit;
    if (!audit) return;
    const entry: DecisionEntry = {
      decision,
      functionName,
      userId:
        typeof context.userId === "string"
          ? context.userId
          : typeof context.user_id === "string"
            ? context.user_id
            : undefined,
      context,
      metadata,
      mode: !decision.allowed && this.mode === "monitor" ? "monitor" : "enforce",
    };
    try {
      const r = audit.record(entry);
      if (isThenable(r)) r.then(undefined, (err: unknown) => this.#fail("audit", err));
    } catch (err) {
      this.#fail("audit", err);
    }
  }

  #warn(
    decision: Decision,
    policyId: string,
    functionName: string | undefined,
    mode: "enforce" | "monitor",
  ): void {
    try {
      this.#onWarn(decision, { policyId, functionName, mode });
    } catch (err) {
      this.#fail("onWarn", err);
    }
  }

  #settle(decision: Decision, settle: (result: unknown) => unknown, value: unknown): void {
    const local = this.#local;
    if (!local || !decision.reservation) return;
    try {
      const real = settle(value);
      const usage =
        typeof real === "number"
          ? { costUsd: real }
          : real !== null && typeof real === "object"
            ? (real as { costUsd?: number; tokens?: number })
            : undefined;
      if (!usage) return;
      const r = local.settle(decision, usage);
      if (isThenable(r)) r.then(undefined, (err: unknown) => this.#fail("settle", err));
    } catch (err) {
      this.#fail("settle", err);
    }
  }

  #refund(decision: Decision): void {
    const local = this.#local;
    if (!local || !decision.reservation) return;
    try {
      const r = local.refund(decision, { onError: true });
      if (isThenable(r)) r.then(undefined, (err: unknown) => this.#fail("refund", err));
    } catch (err) {
      this.#fail("refund", err);
    }
  }

  #fail(what: string, err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    const wrapped = new GuardrailError(`${what} failed: ${error.message}`, { cause: error });
    try {
      this.#onError(wrapped);
    } catch {
      // An error handler that throws must not take the host process down.
    }
  }

  #reportOnce(err: Error): void {
    const kind = err.message.split(":")[0] ?? "";
    if (this.#reported.has(kind)) return;
    this.#reported.add(kind);
    process.stderr.write(
      `[hexarch] ${err.message} (further '${kind}' failures are not reported)\n`,
    );
  }
}

function isPolicySet(v: unknown): v is PolicySet {
  return (
    isPlainObject(v) &&
    typeof v.source === "string" &&
    Array.isArray(v.policies) &&
    v.policies.every(
      (p) => isPlainObject(p) && Array.isArray(p.rules) && typeof p.enabled === "boolean",
    )
  );
}

function offDecision(policyId: string, now: number): Decision {
  return makeDecision({
    policyId,
    action: "allow",
    reason: `Policy '${policyId}' not evaluated: guardrails are off`,
    matchedRules: [],
    durationMs: 0,
    timestampMs: now,
  });
}

/** The confirmation token in a context (`confirmationToken`, or the Python `confirmation_token`). */
function tokenOf(ctx: Context): string | undefined {
  const t = ctx.confirmationToken ?? ctx.confirmation_token;
  return typeof t === "string" && t !== "" ? t : undefined;
}

/** A context without the confirmation fields, for binding `enforce` calls. */
function withoutConfirmation(ctx: Context): Context {
  const { confirm: _c, confirmationToken: _t, confirmation_token: _p, ...rest } = ctx;
  return rest;
}

function bindingOf(policyId: string, args: readonly unknown[]): ConfirmationBinding {
  return { policyId, fingerprint: fingerprintCall(policyId, args) };
}

/** The error a refused decision throws; without a stack trace when `stacks` is false. */
export function violation(
  decision: Decision,
  stacks = true,
  binding?: ConfirmationBinding,
): PolicyViolation {
  const make = () =>
    decision.action === "require_confirmation"
      ? new ConfirmationRequired(decision, binding)
      : new PolicyViolation(decision);
  if (stacks) return make();
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * Builds a call's context: the check's options, then the `withContext` scope, then — when
 * neither named a user — the first argument's `userId`/`user_id` if it is a plain object.
 * Allocates nothing when every option is static and no scope is active.
 */
function contextBuilder(
  options: CheckOptions,
  functionName: string | undefined,
): (args: unknown[], scoped: Context | undefined) => Context {
  const dynamic = <T>(v: T | ((...a: never[]) => T) | undefined) =>
    typeof v === "function" ? (v as (...a: unknown[]) => T) : undefined;
  const contextFn = dynamic(options.context);
  const costFn = dynamic(options.cost);
  const tokensFn = dynamic(options.tokens);
  const userFn = dynamic(options.userId);
  const base: Record<string, unknown> = {
    ...(typeof options.context === "object" && options.context),
    ...(options.resource !== undefined && { resource: options.resource }),
    ...(options.operation !== undefined && { operation: options.operation }),
    ...(typeof options.cost === "number" && { cost: options.cost }),
    ...(typeof options.tokens === "number" && { tokens: options.tokens }),
    ...(typeof options.userId === "string" && { userId: options.userId }),
    ...(options.metadata !== undefined && { metadata: options.metadata }),
    ...(functionName !== undefined && { functionName }),
  };
  Object.freeze(base);
  const baseEntries = Object.entries(base);
  const hasDynamic = contextFn || costFn || tokensFn || userFn;
  return (args, scoped) => {
    let ctx: Record<string, unknown> | Context = base;
    if (hasDynamic) {
      // One-source spread (V8 clones the object's shape), then the static options under it.
      const computed = contextFn?.(...args) as Context | undefined;
      const extra: Record<string, unknown> = computed ? { ...computed } : { ...base };
      if (computed) {
        for (const [k, v] of baseEntries) if (!(k in extra)) extra[k] = v;
      }
      if (costFn) extra.cost = costFn(...args);
      if (tokensFn) extra.tokens = tokensFn(...args);
      if (userFn) {
        const u = userFn(...args);
        if (u !== undefined) extra.userId = u;
      }
      ctx = extra;
    }
    if (scoped) ctx = { ...ctx, ...scoped };
    if (ctx.userId === undefined && ctx.user_id === undefined) {
      const first = args[0];
      if (isPlainObject(first)) {
        const id = first.userId ?? first.user_id;
        if (typeof id === "string" || typeof id === "number") ctx = { ...ctx, userId: String(id) };
      }
    }
    return ctx;
  };
}
