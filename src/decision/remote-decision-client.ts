/**
 * `RemoteDecisionClient`: decisions from a `hexarch-ctl serve api` server, through its
 * `POST /authorize { policyId, context }`, over the global `fetch` (undici keeps the
 * connections alive). Core only: no HTTP library, no server code.
 *
 * @module
 */

import type { DecideInput } from "../engine/compile-rule.ts";
import { type Context, withoutToken } from "../kernel/context.ts";
import { type Decision, type DecisionAction, makeDecision } from "../kernel/decision.ts";
import { DecisionBackendError, defineErrorCode, GuardrailError } from "../kernel/errors.ts";
import {
  booleanRule,
  checkOptions,
  functionRule,
  httpUrlRule,
  objectRule,
  positiveMsRule,
  type RulesFor,
  required,
  stringRule,
} from "../util/check-options.ts";
import { describeValue } from "../util/describe.ts";
import { causeOf, fetchText, NOT_JSON, parseJsonText } from "../util/fetch-timeout.ts";
import { isRecord } from "../util/values.ts";
import type { DecisionClient, DecisionLike } from "./types.ts";

/** The `fetch` the client calls: the global one, or your own (a custom dispatcher, mTLS). */
export type RemoteFetch = (url: string, init: RequestInit) => Promise<Response>;

/** Options of {@link RemoteDecisionClient}. */
export interface RemoteDecisionClientOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:8099` (a path prefix is kept, for a proxy). */
  readonly url: string;
  /** The server's API token, sent as `Authorization: Bearer …`. Leave out for an anonymous server. */
  readonly token?: string;
  /**
   * Give up on an answer after this long (the whole exchange, body included). Keep it under
   * the Guardian's own `timeoutMs` (5000 by default), which bounds every decision.
   * @default 2000
   */
  readonly timeoutMs?: number;
  /**
   * When the server cannot be asked — unreachable, timed out, a 5xx or 429, an answer that
   * is not a decision: `true` lets the call run, `false` blocks it; either way the decision
   * carries the error. Left out, the client rejects with a `DecisionBackendError` and the
   * Guardian decides by its own `failOpen` (which is off by default: the call is blocked).
   *
   * Mistakes are not outages and always block: a policy id the server does not know, a
   * token it refuses, a context it rejects or that cannot be sent as JSON.
   */
  readonly failOpen?: boolean;
  /** Extra request headers (`X-Actor-Id`, a tenant header for a proxy). */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * The `fetch` to call.
   * @default globalThis.fetch
   */
  readonly fetch?: RemoteFetch;
}

/** What {@link RemoteDecisionClient.decide} answers: `{ allowed, action, reason }`. */
export interface RemoteDecision extends DecisionLike {
  readonly allowed: boolean;
  readonly action: DecisionAction;
  readonly reason: string;
  /** The server's id of the decision (its audit record's). */
  readonly remoteDecisionId?: string;
}

const ACTIONS: ReadonlySet<string> = new Set(["allow", "warn", "block", "require_confirmation"]);

const OPTION_RULES = {
  url: required(httpUrlRule()),
  token: stringRule(),
  timeoutMs: positiveMsRule,
  failOpen: booleanRule,
  headers: objectRule("an object of header names and values"),
  fetch: functionRule("a fetch function"),
} satisfies RulesFor<RemoteDecisionClientOptions>;

/** The server could not be asked (fail-open applies), as opposed to a mistake or a refusal. */
class ServerUnavailable extends DecisionBackendError {}
// Its own name, the family's code: callers switch on `decision_backend_unavailable`.
defineErrorCode(ServerUnavailable, "decision_backend_unavailable");

/**
 * Asks a decision server whether a call may run: a Guardian whose `decisionClient` it is
 * decides every check through the server's `POST /authorize`, and the server records the
 * decision in its audit log (the Guardian records it in its own, if it has one).
 *
 * @example
 * ```ts
 * import { Guardian, RemoteDecisionClient } from "hexarch-guardrails";
 *
 * const guardian = new Guardian({
 *   decisionClient: new RemoteDecisionClient({
 *     url: "http://decisions.internal:8099",
 *     token: process.env.HEXARCH_API_TOKEN,
 *     timeoutMs: 500,
 *   }),
 * });
 * const send = guardian.check("rate_limit")(sendEmail); // decided by the server
 * ```
 */
export class RemoteDecisionClient implements DecisionClient {
  /** The server's base URL as shown in reasons (no credentials, no trailing slash). */
  readonly url: string;
  /** How long one exchange may take, in ms. */
  readonly timeoutMs: number;
  readonly #endpoint: string;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #failOpen: boolean | undefined;
  readonly #fetch: RemoteFetch;
  #closed = false;

  /** @throws InvalidOptionError for a URL that is not http(s), a bad timeout, or an option of the wrong type. */
  constructor(options: RemoteDecisionClientOptions) {
    checkOptions("RemoteDecisionClient", options, OPTION_RULES);
    const parsed = new URL(options.url);
    this.url = `${parsed.origin}${parsed.pathname.replace(/\/+$/, "")}`;
    this.#endpoint = `${this.url}/authorize`;
    this.timeoutMs = options.timeoutMs ?? 2000;
    this.#headers = {
      ...options.headers,
      ...(options.token !== undefined && { authorization: `Bearer ${options.token}` }),
      "content-type": "application/json",
      accept: "application/json",
    };
    this.#failOpen = options.failOpen;
    this.#fetch = options.fetch ?? ((url, init) => fetch(url, init));
  }

  /**
   * Asks the server for one policy's decision. Confirmation tokens are removed from the
   * context before it leaves the process (the Guardian checks them itself).
   *
   * With `input.dryRun` it asks for a dry run (`dry_run: true`): the server answers the
   * same decision without recording it, moving a counter or creating a confirmation
   * request. An answer not marked `dryRun: true` (a server too old to know dry runs) is
   * refused, as a block with code `dry_run_unsupported` (whatever `failOpen` says).
   *
   * @returns `{ allowed, action, reason }`; a block for mistakes (unknown policy, refused
   *   token); when the server cannot be asked and `failOpen` is set, a decision made by it.
   * @throws DecisionBackendError when the server cannot be asked and `failOpen` is left out.
   */
  async decide(
    policyId: string,
    context: Context,
    input?: DecideInput,
  ): Promise<RemoteDecision | Decision> {
    const started = performance.now();
    const dryRun = input?.dryRun === true;
    let body: string;
    try {
      body = JSON.stringify({
        policyId,
        context: withoutToken(context ?? {}),
        ...(dryRun && { dry_run: true }),
      });
    } catch (err) {
      return refusal(
        policyId,
        started,
        `the context cannot be sent as JSON (${(err as Error).message})`,
        err,
      );
    }
    try {
      if (this.#closed) throw new ServerUnavailable("the remote decision client is closed");
      const { status, document } = await this.#exchange(body);
      if (status === 200) {
        const answer = answerOf(document, this.url);
        if (dryRun && (document as Record<string, unknown>).dryRun !== true) {
          return refusal(
            policyId,
            started,
            `the decision server at ${this.url} did not answer as a dry run (it may not know dry_run, and may have decided for real)`,
            undefined,
            "dry_run_unsupported",
          );
        }
        return answer;
      }
      const message =
        isRecord(document) && typeof document.message === "string" ? document.message : "";
      const code = isRecord(document) && typeof document.code === "string" ? document.code : "";
      const said = message ? `: ${message}` : "";
      if (status === 429 || status >= 500) {
        throw new ServerUnavailable(
          `the decision server at ${this.url} answered HTTP ${status}${said}`,
        );
      }
      // A 4xx is a mistake on this side (policy id, token, context): fix it, do not ride it out.
      const what =
        code === "unknown_policy"
          ? `the decision server at ${this.url} does not know this policy${said}`
          : `the decision server at ${this.url} refused the request with HTTP ${status}${said}`;
      return refusal(policyId, started, what);
    } catch (err) {
      const failure =
        err instanceof DecisionBackendError
          ? err
          : new ServerUnavailable(String(err), { cause: err });
      if (this.#failOpen === undefined) throw failure;
      return makeDecision({
        policyId,
        action: this.#failOpen ? "allow" : "block",
        reason: `Policy '${policyId}' ${this.#failOpen ? "allowed" : "blocked"} the call: the decision server could not be asked, failing ${this.#failOpen ? "open" : "closed"} (${failure.message})`,
        matchedRules: [],
        durationMs: performance.now() - started,
        timestampMs: Date.now(),
        error: failure,
        failedOpen: this.#failOpen,
      });
    }
  }

  /** The Python SDK's name for {@link RemoteDecisionClient.decide}. */
  checkPolicy(policyId: string, context: Context): Promise<RemoteDecision | Decision> {
    return this.decide(policyId, context);
  }

  /** Refuses further requests. Connections belong to the global dispatcher and are pooled. */
  close(): void {
    this.#closed = true;
  }

  /** One `POST /authorize`: the status and the parsed JSON body. */
  async #exchange(body: string): Promise<{ status: number; document: unknown }> {
    const { status, text } = await fetchText(
      this.#fetch,
      this.#endpoint,
      { method: "POST", headers: this.#headers, body },
      this.timeoutMs,
      (err, timedOut) =>
        new ServerUnavailable(
          timedOut
            ? `the decision server at ${this.url} did not answer within ${this.timeoutMs} ms`
            : `the decision server at ${this.url} is unreachable: ${causeOf(err)}`,
          { cause: err },
        ),
    );
    let document = parseJsonText(text);
    if (document === NOT_JSON) {
      if (status === 200) {
        throw new ServerUnavailable(
          `the decision server at ${this.url} answered with a body that is not JSON`,
        );
      }
      document = undefined;
    }
    return { status, document };
  }
}

/** The server's answer as a decision, or a failure when it is not one. */
function answerOf(document: unknown, url: string): RemoteDecision {
  if (
    !isRecord(document) ||
    typeof document.allowed !== "boolean" ||
    typeof document.action !== "string" ||
    !ACTIONS.has(document.action) ||
    typeof document.reason !== "string"
  ) {
    throw new ServerUnavailable(
      `the decision server at ${url} answered ${describeValue(document)}, not {allowed, action, reason}`,
    );
  }
  const action = document.action as DecisionAction;
  if (document.allowed !== (action === "allow" || action === "warn")) {
    throw new ServerUnavailable(
      `the decision server at ${url} answered allowed: ${document.allowed} with action '${action}'`,
    );
  }
  return {
    allowed: document.allowed,
    action,
    reason: document.reason,
    ...(typeof document.decisionId === "string" && { remoteDecisionId: document.decisionId }),
  };
}

/** A refusal that no fail-open setting turns into an allow. */
function refusal(
  policyId: string,
  started: number,
  detail: string,
  cause?: unknown,
  code?: string,
): Decision {
  return makeDecision({
    policyId,
    action: "block",
    reason: `Policy '${policyId}' blocked the call: ${detail}`,
    matchedRules: [],
    durationMs: performance.now() - started,
    timestampMs: Date.now(),
    error:
      code === undefined
        ? new DecisionBackendError(detail, cause === undefined ? undefined : { cause })
        : new GuardrailError(detail, { code }),
    failedOpen: false,
  });
}
