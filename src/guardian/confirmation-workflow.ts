/**
 * `ConfirmationWorkflow`: run a function that a policy may hold for confirmation, asking
 * at the terminal (interactive) or handing back a token to approve later.
 *
 * @module
 */

import { once } from "node:events";
import { userInfo } from "node:os";
import { createInterface } from "node:readline/promises";
import { ttlRule } from "../confirm/tokens.ts";
import type { ConfirmationBinding, ConfirmationStore } from "../confirm/types.ts";
import type { Context } from "../kernel/context.ts";
import { ConfirmationRequired } from "../kernel/errors.ts";
import {
  checkOption,
  checkOptions,
  methodsRule,
  objectRule,
  type RulesFor,
  required,
} from "../util/check-options.ts";
import type { Guardian } from "./guardian.ts";

const OWNER = "ConfirmationWorkflow";
const GUARDIAN_RULE = required(methodsRule("Guardian", ["check", "withContext", "auditedStore"]));
const STORE_RULE = required(
  methodsRule("ConfirmationStore", ["create", "approve", "deny", "get", "consume"]),
);
const OPTION_RULES = {
  terminal: {
    ...objectRule("a terminal ({ input, output } streams)"),
    test: (v) =>
      v !== null &&
      typeof v === "object" &&
      typeof (v as Partial<WorkflowTerminal>).input === "object" &&
      typeof (v as Partial<WorkflowTerminal>).output === "object",
  },
  ttlMs: ttlRule,
} satisfies RulesFor<ConfirmationWorkflowOptions>;

/** Where interactive mode asks. */
export interface WorkflowTerminal {
  /** Read from; interactive mode refuses at once unless `isTTY` is true. */
  readonly input: NodeJS.ReadableStream & { readonly isTTY?: boolean };
  readonly output: NodeJS.WritableStream;
}

/** Options of {@link ConfirmationWorkflow}. */
export interface ConfirmationWorkflowOptions {
  /** @default process.stdin and process.stdout */
  readonly terminal?: WorkflowTerminal;
  /** Lifetime of the tokens the workflow creates. @default the store's */
  readonly ttlMs?: number;
}

/** What {@link ConfirmationWorkflow.executeWithConfirmation} is asked to run. */
export interface ExecuteWithConfirmation<A extends unknown[], R> {
  readonly policyId: string;
  readonly fn: (...args: A) => R | Promise<R>;
  readonly args?: A;
  /** Ask "Approve? (yes/no)" at the terminal instead of returning a token. @default false */
  readonly interactive?: boolean;
  /** An approved token from an earlier `pending_approval` answer: run with it. */
  readonly token?: string;
  /** Extra context for the decision (as a check's `context` option). */
  readonly context?: Context;
  /** Who asks; recorded on the request. Interactive approvals are made in this name too. */
  readonly requestedBy?: string;
  /** Anything the approver should see. */
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/** The function ran. */
export interface Executed<R> {
  readonly status: "executed";
  readonly result: R;
}

/** The function waits for approval of `token` (give it to an approver, then retry with it). */
export interface PendingApproval {
  readonly status: "pending_approval";
  readonly token: string;
  /** Why the policy holds the call. */
  readonly reason: string;
  /** What the token is bound to. */
  readonly binding: ConfirmationBinding;
}

/**
 * The three confirmation patterns of the Python package on one mechanism: a guarded call
 * that needs confirmation either asks at the terminal (`interactive: true`), or creates a
 * pending request and answers `{ status: "pending_approval", token, reason }`; a retry
 * with the approved `token` runs the function once. Tokens are bound to the policy and
 * the arguments, single use, and expire.
 *
 * @example
 * ```ts
 * const workflow = new ConfirmationWorkflow(guardian, new MemoryConfirmationStore());
 * const first = await workflow.executeWithConfirmation({ policyId: "safe_delete", fn: deleteUser, args: ["u1"] });
 * if (first.status === "pending_approval") {
 *   await store.approve(first.token, { approvedBy: "lead" }); // elsewhere, later
 *   await workflow.executeWithConfirmation({ policyId: "safe_delete", fn: deleteUser, args: ["u1"], token: first.token });
 * }
 * ```
 */
export class ConfirmationWorkflow {
  /** The store, reporting to the Guardian's audit log when it has one. */
  readonly store: ConfirmationStore;
  readonly #guardian: Guardian;
  readonly #terminal: WorkflowTerminal | undefined;
  readonly #ttlMs: number | undefined;

  /** @throws InvalidOptionError for a missing guardian or store, or an option of the wrong type. */
  constructor(
    guardian: Guardian,
    store: ConfirmationStore,
    options: ConfirmationWorkflowOptions = {},
  ) {
    checkOption(OWNER, "guardian", guardian, GUARDIAN_RULE);
    checkOption(OWNER, "store", store, STORE_RULE);
    checkOptions(OWNER, options, OPTION_RULES);
    this.#guardian = guardian;
    this.store = guardian.auditedStore(store);
    this.#terminal = options.terminal;
    this.#ttlMs = options.ttlMs;
  }

  /**
   * Runs `fn(...args)` under the policy. Resolves to `{ status: "executed", result }`, or
   * `{ status: "pending_approval", token, reason }` when the policy asks for confirmation
   * (not interactive). Rejects with the `PolicyViolation` of a block, with
   * `ConfirmationRequired` when an interactive approval is refused or impossible (no
   * terminal), and with whatever `fn` throws.
   */
  async executeWithConfirmation<A extends unknown[], R>(
    request: ExecuteWithConfirmation<A, R>,
  ): Promise<Executed<Awaited<R>> | PendingApproval> {
    const args = (request.args ?? []) as A;
    const guarded = this.#guardian.check(request.policyId, {
      confirmations: this.store,
      name: request.fn.name || request.policyId,
      ...(request.context && { context: request.context }),
      ...(request.metadata && { metadata: request.metadata }),
    })(request.fn as (...a: unknown[]) => Promise<R>);
    const run = async (token: string | undefined): Promise<Executed<Awaited<R>>> => {
      const result = token
        ? await this.#guardian.withContext({ confirmationToken: token }, () => guarded(...args))
        : await guarded(...args);
      return { status: "executed", result: result as Awaited<R> };
    };
    if (request.token !== undefined) return run(request.token);
    try {
      return await run(undefined);
    } catch (err) {
      if (!(err instanceof ConfirmationRequired) || !err.binding) throw err;
      const binding = err.binding;
      const token = await this.store.create({
        ...binding,
        reason: err.reason,
        operation: request.fn.name || request.policyId,
        ...(request.requestedBy !== undefined && { requestedBy: request.requestedBy }),
        ...(request.metadata && { metadata: request.metadata }),
        ...(this.#ttlMs !== undefined && { ttlMs: this.#ttlMs }),
      });
      if (!request.interactive) {
        return { status: "pending_approval", token, reason: err.reason, binding };
      }
      const approver = request.requestedBy ?? safeUserName();
      const answer = await this.#ask(err, token);
      if (!answer) {
        await this.store.deny(token, { deniedBy: approver, reason: "denied at the terminal" });
        err.message = `${err.reason}; denied at the terminal`;
        throw err;
      }
      await this.store.approve(token, { approvedBy: approver, reason: "approved at the terminal" });
      return run(token);
    }
  }

  /** Asks at the terminal; `true` for yes. Refuses at once without a TTY. */
  async #ask(err: ConfirmationRequired, token: string): Promise<boolean> {
    const terminal = this.#terminal ?? { input: process.stdin, output: process.stdout };
    if (terminal.input.isTTY !== true) {
      await this.store.deny(token, {
        deniedBy: "hexarch-guardrails",
        reason: "no terminal to ask",
      });
      err.message = `${err.reason}; interactive confirmation needs a terminal (stdin is not a TTY): use token mode instead`;
      throw err;
    }
    const rl = createInterface({ input: terminal.input, output: terminal.output, terminal: false });
    try {
      for (;;) {
        // End of input (Ctrl-D) counts as no.
        const reply = (
          await Promise.race([
            rl.question(`${err.reason}\nApprove? (yes/no) `),
            once(rl, "close").then(() => ""),
          ])
        )
          .trim()
          .toLowerCase();
        if (reply === "yes" || reply === "y") return true;
        if (reply === "no" || reply === "n" || reply === "") return false;
        terminal.output.write("Please answer yes or no.\n");
      }
    } finally {
      rl.close();
    }
  }
}

function safeUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return "terminal user";
  }
}
