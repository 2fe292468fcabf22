/**
 * `hexarch-guardrails/integrations/openai-agents`: policies in front of the tools of an
 * OpenAI Agents SDK agent (`@openai/agents`).
 *
 * `guardTool(tool, guardian, { policyId })` returns the tool with its policy checked
 * before every call:
 * - `needsApproval` follows the policy: a `require_confirmation` answer interrupts the run
 *   for a person's approval (`result.interruptions`, `state.approve(item)`), and the
 *   approved call runs with `confirm: true` in its context;
 * - a refused call does not run: the model reads why, as the tool's output;
 * - with `countRunUsage`, the tokens (and, with `costOfUsage`, the dollars) the run's
 *   model calls used so far are counted against the policy's budgets before each
 *   decision, so a runaway agent loop is stopped by its next tool call.
 *
 * Each call is decided once: the decision made for `needsApproval` is the one `invoke`
 * acts on (its counters are consumed once). Only types are imported from the SDK.
 *
 * @example
 * ```ts
 * import { Agent, run, tool } from "@openai/agents";
 * import { guardTool } from "hexarch-guardrails/integrations/openai-agents";
 *
 * const deleteUser = guardTool(tool({ name: "delete_user", … }), guardian, { policyId: "safe_delete" });
 * const agent = new Agent({ name: "admin", tools: [deleteUser] });
 * let result = await run(agent, "remove user 42");
 * for (const item of result.interruptions) result.state.approve(item); // a person said yes
 * result = await run(agent, result.state);
 * ```
 *
 * @module hexarch-guardrails/integrations/openai-agents
 */

import type { FunctionTool, RunContext } from "@openai/agents";
import type { Guardian } from "../../guardian/guardian.ts";
import type { Context } from "../../kernel/context.ts";
import type { Decision } from "../../kernel/decision.ts";
import {
  ConfirmationRequired,
  DecisionBackendError,
  GuardrailError,
  PolicyViolation,
} from "../../kernel/errors.ts";

/** Token counts of a run's model calls so far (the SDK's `runContext.usage`). */
export interface RunUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly totalTokens: number;
}

/** Options of {@link guardTool}. */
export interface GuardToolOptions<Input = unknown> {
  /** The policy that decides the tool's calls. */
  readonly policyId: string;
  /**
   * More context for the decision, from the parsed arguments and the run context (a user
   * id from your app's context, say). Merged over `{ resource: toolName, tool, args }`.
   */
  readonly context?: (input: Input, runContext: RunContext<unknown>) => Context;
  /**
   * Count the run's model usage (tokens since the last count) against the policy's token
   * budgets before each decision.
   * @default true
   */
  readonly countRunUsage?: boolean;
  /** The USD cost of a slice of the run's usage, to count it against USD budgets too. */
  readonly costOfUsage?: (usage: RunUsage) => number;
}

/** What was decided for one call id, kept from `needsApproval` until `invoke`. */
type Outcome =
  | { readonly kind: "allowed"; readonly decision: Decision }
  | { readonly kind: "refused"; readonly error: PolicyViolation }
  | { readonly kind: "confirm"; readonly error: ConfirmationRequired };

/** Decisions waiting for their call's invoke, per guarded tool, at most. */
const MAX_PENDING = 10_000;

/** Tokens already counted, per run context (a run and its resumptions share one). */
const counted = new WeakMap<object, RunUsage>();

/**
 * Guards an Agents SDK function tool with a policy. Returns a tool of the same type.
 */
export function guardTool<T extends FunctionTool<never, never, unknown>>(
  tool: T,
  guardian: Guardian,
  options: GuardToolOptions,
): T {
  const name = tool.name;
  const decided = new Map<string, Outcome>();

  const contextOf = (input: unknown, runContext: RunContext<unknown>): Context => ({
    resource: name,
    tool: name,
    ...(input !== null && typeof input === "object" && { args: input }),
    ...options.context?.(input, runContext),
  });

  // Off for good once the Guardian says it cannot count here (decisions made by a remote
  // decision client or OPA keep their counters there).
  let counting = options.countRunUsage ?? true;
  const settleUsage = async (runContext: RunContext<unknown>): Promise<void> => {
    if (!counting) return;
    const u = runContext.usage;
    const before = counted.get(runContext) ?? { inputTokens: 0, outputTokens: 0, totalTokens: 0 };
    const slice: RunUsage = {
      inputTokens: u.inputTokens - before.inputTokens,
      outputTokens: u.outputTokens - before.outputTokens,
      totalTokens: u.totalTokens - before.totalTokens,
    };
    if (slice.totalTokens <= 0) return;
    counted.set(runContext, {
      inputTokens: u.inputTokens,
      outputTokens: u.outputTokens,
      totalTokens: u.totalTokens,
    });
    const costUsd = options.costOfUsage?.(slice);
    try {
      await guardian.recordSpend(options.policyId, {
        tokens: slice.totalTokens,
        ...(costUsd !== undefined && { costUsd }),
        context: { resource: name, tool: name },
      });
    } catch (err) {
      // A state store that fails is the decision's to report (it fails closed); a Guardian
      // that decides elsewhere cannot count spend at all.
      if (err instanceof DecisionBackendError) return;
      if (err instanceof GuardrailError) counting = false;
      else throw err;
    }
  };

  const decide = async (
    input: unknown,
    runContext: RunContext<unknown>,
    extra: Context = {},
  ): Promise<Outcome> => {
    await settleUsage(runContext);
    try {
      const decision = await guardian.enforce(
        options.policyId,
        { ...contextOf(input, runContext), ...extra },
        { name },
      );
      return { kind: "allowed", decision };
    } catch (err) {
      if (err instanceof ConfirmationRequired) return { kind: "confirm", error: err };
      if (err instanceof PolicyViolation) return { kind: "refused", error: err };
      throw err;
    }
  };

  const original = tool.invoke;
  const originalNeedsApproval = tool.needsApproval as unknown as (
    runContext: RunContext<unknown>,
    input: unknown,
    callId?: string,
  ) => Promise<boolean>;

  const needsApproval = async (
    runContext: RunContext<unknown>,
    input: unknown,
    callId?: string,
  ): Promise<boolean> => {
    const own = await originalNeedsApproval(runContext, input, callId);
    // Asked again for the same call (a resumed run): the first decision stands.
    let outcome = callId === undefined ? undefined : decided.get(callId);
    if (outcome === undefined) {
      outcome = await decide(input, runContext);
      if (callId !== undefined) {
        decided.set(callId, outcome);
        // Calls rejected or abandoned never reach invoke: forget the oldest past a bound.
        if (decided.size > MAX_PENDING) decided.delete(decided.keys().next().value as string);
      }
    }
    return own || outcome.kind === "confirm";
  };

  const invoke = async (
    runContext: RunContext<unknown>,
    input: string,
    details?: Parameters<T["invoke"]>[2],
  ): Promise<unknown> => {
    const callId = details?.toolCall?.callId;
    let outcome = callId === undefined ? undefined : decided.get(callId);
    if (callId !== undefined) decided.delete(callId);
    if (outcome === undefined || outcome.kind === "confirm") {
      // A person approved this call (in this process, or before the run state was saved and
      // resumed elsewhere): it is decided again, confirmed. Not approved: it does not run.
      const approved =
        callId !== undefined && runContext.isToolApproved({ toolName: name, callId }) === true;
      if (outcome?.kind === "confirm" && !approved) return refusalText(name, outcome.error);
      outcome = await decide(parse(input), runContext, approved ? { confirm: true } : {});
    }
    if (outcome.kind !== "allowed") return refusalText(name, outcome.error);
    return original.call(tool, runContext as never, input, details);
  };

  return { ...tool, needsApproval, invoke } as T;
}

/** The tool's arguments as the model sent them (JSON text), parsed for the context. */
function parse(input: string): unknown {
  try {
    return JSON.parse(input);
  } catch {
    return input;
  }
}

/** What the model reads when its call was refused. */
function refusalText(tool: string, err: PolicyViolation): string {
  return err instanceof ConfirmationRequired
    ? `The tool '${tool}' did not run: it needs a person's approval, which it did not get. ${err.reason}.`
    : `The tool '${tool}' did not run. ${err.reason}.`;
}
