/**
 * `Guardian`: one line to guard any function with a policy.
 *
 * @module
 */

import { AsyncLocalStorage } from "node:async_hooks";
import { resolve } from "node:path";
import type { DecisionRecorder } from "../audit/recorder.ts";
import {
  auditedConfirmations,
  type ConfirmationEvent,
  confirmationSink,
} from "../confirm/events.ts";
import type { ConfirmationBinding, ConfirmationStore } from "../confirm/types.ts";
import { LocalDecisionClient } from "../decision/local-decision-client.ts";
import type { DecisionClient } from "../decision/types.ts";
import type { DecideInput } from "../engine/compile-rule.ts";
import type { Context } from "../kernel/context.ts";
import type { Decision } from "../kernel/decision.ts";
import { GuardrailError } from "../kernel/errors.ts";
import { compileGlobs } from "../policy/glob.ts";
import type { Policy, PolicySet } from "../policy/types.ts";
import { checkTimeout } from "../util/timeout.ts";
import { type CallerHost, confirmable, makeCaller } from "./caller.ts";
import { bindingOf, withoutConfirmation } from "./confirm-call.ts";
import { checkMaxContextBytes, DEFAULT_MAX_CONTEXT_BYTES } from "./context-size.ts";
import type { DecideOptions, DecideRecordOptions } from "./decide-options.ts";
import { DecisionLogFile, fanOut } from "./decision-log-file.ts";
import { type PolicyServiceClient, remoteDecide } from "./decision-source.ts";
import { CallEffects } from "./effects.ts";
import { type Guard, makeGuard } from "./guard.ts";
import {
  type CheckOptions,
  checkGuardianOptions,
  type EnforceOptions,
  type GuardianMode,
  type GuardianOptions,
  type SpendReport,
} from "./options.ts";
import { defaultWarn, explicitMode, offDecision, violation } from "./outcomes.ts";
import { opaUrlOf, type Prepared, policySetOf, prepareCheck, remoteOf } from "./sources.ts";

/** The input of a decision that is not a dry run (no arguments: `decide` has none). */
const NO_INPUT: DecideInput = Object.freeze({});
/** The input of a dry-run decision. */
const DRY_RUN: DecideInput = Object.freeze({ dryRun: true });

/** What {@link Guardian.close} resolves to. */
export interface GuardianCloseResult {
  /** Audit records taken but not written when closing gave up (0 without an audit log). */
  readonly unwrittenAuditRecords: number;
  /** True when the audit log did not finish within its `closeTimeoutMs`. */
  readonly auditTimedOut: boolean;
}

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
  readonly #effects: CallEffects;
  readonly #clock: () => number;
  readonly #failOpen: boolean;
  readonly #timeoutMs: number;
  /** How long a remote decision client may take before the call fails. */
  readonly #remoteTimeoutMs: number;
  readonly #errorStacks: boolean;
  /** Contexts larger than this are refused unevaluated (`maxContextBytes`). */
  readonly #maxContextBytes: number;
  readonly #confirmations: ConfirmationStore | undefined;
  readonly #audit: ((event: ConfirmationEvent) => void) | undefined;
  /** The `confirmations` store as given (closed by `close()`). */
  readonly #ownStore: ConfirmationStore | undefined;
  readonly #scope = new AsyncLocalStorage<Context>();
  /** Whether withContext was ever used: until then no call needs to look up a scope. */
  #scoped = false;
  readonly #prepared = new Map<string, Prepared>();
  #callerHost: CallerHost | undefined;

  /**
   * @throws PolicyFileError when the policy file cannot be found or is invalid (unless the
   * mode is `off`, or a `decisionClient` is given and no policies are).
   * @throws GuardrailError for an invalid `mode` or `HEXARCH_MODE`.
   * @throws InvalidOptionError for an option of the wrong type or out of range, or a key
   *   that looks like a mistyped option (`policyfile`), naming it and what it takes.
   */
  constructor(options: GuardianOptions = {}) {
    checkGuardianOptions(options);
    const env = options.env ?? process.env;
    this.#clock = options.clock ?? Date.now;
    const opaUrl = opaUrlOf(options, env);
    this.#timeoutMs = checkTimeout(options.timeoutMs ?? 5000);
    this.#errorStacks = options.errorStacks ?? true;
    this.#maxContextBytes = checkMaxContextBytes(
      options.maxContextBytes ?? DEFAULT_MAX_CONTEXT_BYTES,
    );
    this.#audit = confirmationSink(options.auditLogger, (err) =>
      this.#effects.fail("audit log", err),
    );
    this.#ownStore = options.confirmations;
    this.#confirmations = options.confirmations && this.#audited(options.confirmations);
    const failClosedEnv = env.HEXARCH_POLICY_FAIL_CLOSED?.trim().toLowerCase();
    this.#failOpen = options.failOpen ?? (failClosedEnv === "false" || failClosedEnv === "0");

    const early = explicitMode(options.mode, env.HEXARCH_MODE);

    const policies = policySetOf(options, env, opaUrl, early);
    this.#policies = policies;
    this.mode = early ?? policies?.mode ?? "enforce";
    const { remote, remoteTimeoutMs } = remoteOf(
      options,
      opaUrl,
      policies,
      this.#clock,
      this.#timeoutMs,
    );
    this.#remote = remote;
    this.#remoteTimeoutMs = remoteTimeoutMs;
    const logging = policies?.logging;
    const logFile =
      logging?.enabled && logging.file
        ? new DecisionLogFile(
            resolve(options.cwd ?? process.cwd(), logging.file),
            logging.level,
            (err) => this.#effects.fail("decision log", err),
          )
        : undefined;
    this.#local =
      policies && !this.#remote
        ? new LocalDecisionClient({
            policies,
            clock: this.#clock,
            failOpen: this.#failOpen,
            timeoutMs: this.#timeoutMs,
            ...(options.state && { state: options.state }),
          })
        : undefined;
    this.#effects = new CallEffects({
      audit: fanOut(
        [options.auditLogger, logFile].filter((r): r is DecisionRecorder => r !== undefined),
      ),
      onWarn: options.onWarn ?? defaultWarn,
      onError: options.onError,
      mode: this.mode,
      state: this.#local?.state,
    });
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
      const call = prepared ? makeCaller(this.#host(), prepared, options, name, fn) : undefined;
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
   * Decides for a context without throwing, recording nothing and warning no one:
   * `decide` with `{ record: false, warn: false }`. Like a guarded call, an admitted
   * decision consumes its rate-limit and budget counters, and a `confirmationToken` in
   * the context is checked and used (bound to the context, as with `enforce`). With
   * `{ dryRun: true }` nothing moves (see {@link DecideOptions.dryRun}). In `off` mode
   * nothing is evaluated and the answer is an allow.
   *
   * @throws UnknownPolicyError when the policy is not loaded.
   */
  async evaluate(
    policyId: string,
    context: Context = {},
    options: Pick<DecideOptions, "dryRun"> = {},
  ): Promise<Decision> {
    return this.decide(policyId, context, {
      record: false,
      warn: false,
      ...(options.dryRun === true && { dryRun: true }),
    });
  }

  /**
   * Decides for a context, records the decision and returns it, refusals included: what
   * `enforce` does, without throwing `PolicyViolation` or `ConfirmationRequired` (what a
   * web guard or a decision server needs, which answer refusals rather than throw them).
   * Like a guarded call, an admitted decision consumes its rate-limit and budget
   * counters, a `confirmationToken` in the context is checked and used, and `onWarn`
   * hears warnings (unless `warn: false`). With `dryRun: true` the answer is the same
   * and nothing happens: no record, no warning, no counter moved, no token used (see
   * {@link DecideOptions.dryRun}). In `off` mode nothing is evaluated nor recorded and the
   * answer is an allow.
   *
   * @example
   * ```ts
   * const decision = await guardian.decide("payments", { userId, amount }, {
   *   record: { functionName: "POST /payments", metadata: { requestId } },
   * });
   * if (!decision.allowed) return reply.code(403).send({ reason: decision.reason });
   * ```
   * @throws UnknownPolicyError when the policy is not loaded (and no `client` decides);
   *   GuardrailError `audit_write_failed` when a durable audit log cannot record the
   *   decision (it is not to be acted on); whatever a `record.metadata` function throws.
   */
  async decide(
    policyId: string,
    context: Context = {},
    options: DecideOptions = {},
  ): Promise<Decision> {
    const dryRun = options.dryRun === true;
    // A dry run records nothing and warns no one, whatever `record` and `warn` say.
    const warn = !dryRun && options.warn !== false;
    const input = dryRun ? DRY_RUN : NO_INPUT;
    const functionName = options.record ? options.record.functionName : undefined;
    if (options.client) {
      const { ctx, decision } = await this.#decideContext(policyId, context, input, {
        policyId,
        usesArgs: true,
        decide: remoteDecide(options.client, policyId, {
          // A client given here fails closed: the Guardian's failOpen is for its own policies.
          failOpen: false,
          timeoutMs: this.#remoteTimeoutMs,
          clock: this.#clock,
        }),
      });
      if (!dryRun) await this.#record(decision, ctx, options.record, "enforce");
      if (warn && decision.action === "warn")
        this.#effects.warn(decision, policyId, functionName, "enforce");
      return decision;
    }
    if (this.mode === "off") return offDecision(policyId, this.#clock());
    const { prepared, ctx, decision } = await this.#decideContext(policyId, context, input);
    if (!dryRun) await this.#record(decision, ctx, options.record, this.mode);
    if (warn) this.#warn(decision, prepared.policyId, functionName);
    return decision;
  }

  /**
   * What a confirmation token for this policy and context is bound to (the `withContext`
   * scope included, confirmation fields left out), as the `ConfirmationRequired` of
   * `enforce` carries it: request approval with it when `decide` answers
   * `require_confirmation`, and the token confirms this same call. `undefined` when the
   * context cannot be fingerprinted (it holds something other than plain data).
   */
  confirmationBinding(policyId: string, context: Context = {}): ConfirmationBinding | undefined {
    return bindingOf(policyId, [withoutConfirmation(this.#withScope(context))]);
  }

  /**
   * Decides for a context and throws like a guarded call: `PolicyViolation`, or
   * `ConfirmationRequired` when the policy wants confirmation. Records the decision, under
   * `options.name` as its function name (a route, a tool) and with `options.metadata`.
   */
  async enforce(
    policyId: string,
    context: Context = {},
    options: EnforceOptions = {},
  ): Promise<Decision> {
    if (this.mode === "off") return offDecision(policyId, this.#clock());
    const { prepared, ctx, decision, binding } = await this.#decideContext(policyId, context);
    await this.#effects.record(decision, ctx, options.name, options.metadata);
    if (!decision.allowed && this.mode === "enforce") {
      throw violation(
        decision,
        this.#errorStacks,
        decision.action === "require_confirmation" ? binding : undefined,
      );
    }
    this.#warn(decision, prepared.policyId, options.name);
    return decision;
  }

  /**
   * Counts spend reported after the fact (a provider call billed elsewhere, a workflow
   * reporting its cost) against the USD and token budgets of every rule of the policy
   * that applies to the report's context, in the current period. Nothing is decided or
   * refused, no rate limit moves, and limits may be passed (spent money is spent), so the
   * next guarded call sees the spend. Answers how many budget counters moved; in `off`
   * mode, none.
   *
   * @example
   * ```ts
   * await guardian.recordSpend("api_budget", { resource: "openai", costUsd: 0.42 });
   * ```
   * @throws UnknownPolicyError when the policy is not loaded; GuardrailError with code
   *   `invalid_argument` for a negative amount, or `embedded_engine_required` when decisions
   *   are made elsewhere (a decision client or OPA keeps the counters, not this process).
   */
  async recordSpend(
    policyId: string | readonly string[],
    report: SpendReport,
  ): Promise<{ readonly counters: number }> {
    if (this.mode === "off") return { counters: 0 };
    const local = this.#local;
    if (!local) {
      throw new GuardrailError(
        "recordSpend needs policies decided in this process; with a decision client or OPA the counters live where decisions are made",
        { code: "embedded_engine_required" },
      );
    }
    const ctx = this.#withScope({
      ...report.context,
      ...(report.resource !== undefined && { resource: report.resource }),
      ...(report.operation !== undefined && { operation: report.operation }),
      ...(report.userId !== undefined && { userId: report.userId }),
    });
    const usage = {
      ...(report.costUsd !== undefined && { costUsd: report.costUsd }),
      ...(report.tokens !== undefined && { tokens: report.tokens }),
    };
    return { counters: await local.recordSpend(policyId, ctx, usage) };
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

  /**
   * Ids of the enabled loaded policies with an enabled USD or token budget rule whose
   * `resource` matches `resource` (or that names none): the policies a spend report on
   * it is worth counting against with {@link Guardian.recordSpend}.
   *
   * @example
   * ```ts
   * for (const id of guardian.spendPolicies("openai"))
   *   await guardian.recordSpend(id, { resource: "openai", costUsd: 0.42 });
   * ```
   */
  spendPolicies(resource: string): string[] {
    return (this.#policies?.policies ?? [])
      .filter(
        (policy) =>
          policy.enabled &&
          policy.rules.some(
            (r) =>
              r.enabled &&
              r.budgets.some((b) => b.unit === "usd" || b.unit === "tokens") &&
              (r.resource === undefined || compileGlobs(r.resource)(resource)),
          ),
      )
      .map((p) => p.id);
  }

  /** Ids of the loaded policies (the Python `list_policies`). */
  listPolicies(): string[] {
    return this.#policies?.policies.map((p) => p.id) ?? [];
  }

  /** A loaded policy, or `undefined` (the Python `get_policy`). */
  getPolicy(policyId: string): Policy | undefined {
    return this.#policies?.policies.find((p) => p.id === policyId);
  }

  /**
   * Flushes the audit log and closes the state store, decision client and confirmation
   * store. Bounded by the audit logger's `closeTimeoutMs`: records it could not write are
   * reported through its `onError` and counted in the result, never dropped silently.
   *
   * @returns How many audit records could not be written, and whether closing the audit
   *   log ran out of time.
   * @throws the first failure of a part that could not be closed (every part is closed).
   */
  async close(): Promise<GuardianCloseResult> {
    // Close everything even when one part fails, then report the first failure.
    const results = await Promise.allSettled([
      this.#effects.close(),
      (async () => this.#local?.close())(),
      (async () => this.#remote?.close?.())(),
      (async () => this.#ownStore?.close?.())(),
    ]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
    const audit = results[0].status === "fulfilled" ? results[0].value : undefined;
    const { unwritten, timedOut } = (audit ?? {}) as { unwritten?: unknown; timedOut?: unknown };
    return {
      unwrittenAuditRecords: typeof unwritten === "number" ? unwritten : 0,
      auditTimedOut: timedOut === true,
    };
  }

  /**
   * The `confirmations` store, reporting each request created, approved, denied or
   * consumed (and each refused token) to the audit log when one is configured. Create
   * and approve requests through it so the log has the whole story.
   */
  get confirmations(): ConfirmationStore | undefined {
    return this.#confirmations;
  }

  /**
   * `store`, reporting every request created, approved, denied or consumed (and each
   * refused token) to this Guardian's audit log; `store` itself when there is none.
   */
  auditedStore(store: ConfirmationStore): ConfirmationStore {
    return this.#audited(store);
  }

  #audited(store: ConfirmationStore): ConfirmationStore {
    return this.#audit ? auditedConfirmations(store, this.#audit, this.#clock) : store;
  }

  /** What the guarded functions' callers need of this Guardian (made once). */
  #host(): CallerHost {
    this.#callerHost ??= {
      effects: this.#effects,
      errorStacks: this.#errorStacks,
      mode: this.mode as "enforce" | "monitor",
      timeoutMs: this.#timeoutMs,
      confirmations: this.#confirmations,
      audited: (store) => this.#audited(store),
      scope: () => (this.#scoped ? this.#scope.getStore() : undefined),
    };
    return this.#callerHost;
  }

  #prepare(ids: string | readonly string[]): Prepared {
    const key = typeof ids === "string" ? ids : JSON.stringify(ids);
    let prepared = this.#prepared.get(key);
    if (!prepared) {
      prepared = prepareCheck(ids, {
        local: this.#local,
        remote: this.#remote,
        policies: this.#policies,
        failOpen: this.#failOpen,
        remoteTimeoutMs: this.#remoteTimeoutMs,
        clock: this.#clock,
        maxContextBytes: this.#maxContextBytes,
      });
      this.#prepared.set(key, prepared);
    }
    return prepared;
  }

  /**
   * `decide` and `enforce`: decides a context (with the `withContext` scope) by the
   * Guardian's own policies or a client's `prepared` decide, checking and using a
   * confirmation token in it, bound to the context itself.
   */
  async #decideContext(
    policyId: string,
    context: Context,
    input: DecideInput = NO_INPUT,
    prepared: Prepared = this.#prepare(policyId),
  ) {
    const ctx = this.#withScope(context);
    const binding = () => bindingOf(prepared.policyId, [withoutConfirmation(ctx)]);
    const decision = await confirmable(
      this.#effects,
      this.#timeoutMs,
      this.#confirmations,
      prepared,
      await prepared.decide(ctx, input),
      ctx,
      input,
      binding,
    );
    return { prepared, ctx, decision, binding };
  }

  /** `onWarn` for a decision let through: a warning, or a refusal in monitor mode. */
  #warn(decision: Decision, policyId: string, functionName: string | undefined): void {
    if (!decision.allowed) {
      if (this.mode === "monitor") this.#effects.warn(decision, policyId, functionName, "monitor");
    } else if (decision.action === "warn") {
      this.#effects.warn(decision, policyId, functionName, "enforce");
    }
  }

  /** `decide`'s record: none with `false`, else as `options` say. */
  async #record(
    decision: Decision,
    ctx: Context,
    options: DecideRecordOptions | false | undefined,
    mode: GuardianMode,
  ): Promise<void> {
    if (options === false) return;
    if (!options) {
      // The mode decide chose (enforce for a client's decisions), not the Guardian's.
      await this.#effects.record(decision, ctx, undefined, undefined, { mode });
      return;
    }
    if (!options.to && !this.#effects.records) return;
    const metadata =
      typeof options.metadata === "function" ? await options.metadata(decision) : options.metadata;
    await this.#effects.record(decision, options.context ?? ctx, options.functionName, metadata, {
      to: options.to,
      userId: options.userId,
      mode,
    });
  }

  #withScope(context: Context): Context {
    const scoped = this.#scoped ? this.#scope.getStore() : undefined;
    return scoped ? { ...context, ...scoped } : context;
  }
}
