/**
 * `OpaDecisionClient`: decisions from Open Policy Agent's Data API, over the global `fetch`
 * (undici keeps the connections alive). It speaks two layouts:
 *
 * - one rule per policy: `POST {url}/v1/data/{path}/{policyId}` with `{"input": context}`
 *   (the layout of the Rego that `toRego` writes, default path `hexarch`);
 * - one entry point for every policy (the Python package's):
 *   `POST {url}/v1/data/{entrypoint}` with the policy id in `input.policy_id`.
 *
 * This module is small and loads nothing but the core: the Guardian's `opaUrl` shorthand
 * imports it.
 *
 * @module
 */

import type { DecisionClient, DecisionLike } from "../decision/types.ts";
import { type Context, withoutToken } from "../kernel/context.ts";
import { type Decision, type DecisionAction, makeDecision } from "../kernel/decision.ts";
import { DecisionBackendError } from "../kernel/errors.ts";
import {
  booleanRule,
  checkOptions,
  functionRule,
  httpUrlRule,
  type OptionRule,
  objectRule,
  positiveMsRule,
  type RulesFor,
  required,
} from "../util/check-options.ts";
import { describeValue } from "../util/describe.ts";
import { causeOf, fetchText, NOT_JSON, parseJsonText } from "../util/fetch-timeout.ts";
import { isRecord } from "../util/values.ts";
import { answerOf, OpaUnavailable, opaErrorText } from "./opa-answers.ts";

/** The `fetch` the client calls: the global one, or your own (a custom dispatcher, mTLS). */
export type OpaFetch = (url: string, init: RequestInit) => Promise<Response>;

/** Options of {@link OpaDecisionClient}. */
export interface OpaDecisionClientOptions {
  /**
   * OPA's base URL, e.g. `http://localhost:8181` (a path prefix is kept, for OPA behind a
   * proxy). Credentials in the URL (`http://user:pass@host`) are sent as basic auth.
   */
  readonly url: string;
  /**
   * Package path of the per-policy layout, with slashes or dots: each policy is asked at
   * `POST {url}/v1/data/{path}/{policyId}`. Match `toRego`'s `path` (also `hexarch` by default).
   * @default "hexarch"
   */
  readonly path?: string;
  /**
   * One rule that decides every policy (the Python package's layout), e.g.
   * `guardrails/evaluate`: each decision is `POST {url}/v1/data/{entrypoint}` with the
   * context's fields and `policy_id` as the input. Given, it replaces `path`.
   */
  readonly entrypoint?: string;
  /**
   * Give up on an answer after this long (the whole exchange, body included).
   * @default 2000
   */
  readonly timeoutMs?: number;
  /** Extra request headers, such as `Authorization: Bearer …` for OPA's token authentication. */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * When OPA cannot be asked (unreachable, timed out, an HTTP error, an answer that is not a
   * decision): `true` lets the call run, `false` blocks it; either way the decision carries the
   * error. Left out, the client rejects with a `DecisionBackendError` and the Guardian decides
   * by its own `failOpen` (and the policy's `fail_open`).
   *
   * A missing decision (no rule at the path) and a context that cannot be sent as JSON always
   * block: they are mistakes to fix, not outages to ride out.
   */
  readonly failOpen?: boolean;
  /**
   * The `fetch` to call.
   * @default globalThis.fetch
   */
  readonly fetch?: OpaFetch;
  /**
   * The time in ms since the epoch, stamped on the decisions the client makes itself (a
   * refusal, a fail-open answer).
   * @default Date.now
   */
  readonly clock?: () => number;
}

/** What {@link OpaDecisionClient.decide} answers: `{ allowed, action, reason }`. */
export interface OpaDecision extends DecisionLike {
  readonly allowed: boolean;
  readonly action: DecisionAction;
  readonly reason: string;
  /** Set when OPA could not be asked and the answer was made by the fail-open setting. */
  readonly error?: Error | undefined;
  /** True when OPA could not be asked and `failOpen` let the call run. */
  readonly failedOpen?: boolean | undefined;
}

const segmentsOf = (path: string): string[] => path.split(/[/.]/).filter((s) => s !== "");

/** A package path with at least one segment (`hexarch`, `guardrails/evaluate`). */
const packagePath: OptionRule = {
  expected: 'a package path such as "hexarch" or "guardrails/evaluate"',
  test: (v) => typeof v === "string" && segmentsOf(v).length > 0,
};

const OPTION_RULES = {
  url: required(httpUrlRule()),
  path: packagePath,
  entrypoint: packagePath,
  timeoutMs: positiveMsRule,
  headers: objectRule("an object of header names and values"),
  failOpen: booleanRule,
  fetch: functionRule("a fetch function"),
  clock: functionRule("a function returning the time in ms since the epoch"),
} satisfies RulesFor<OpaDecisionClientOptions>;

/**
 * Asks Open Policy Agent whether a call may run. Implements the `DecisionClient` contract
 * (and the Python SDK's `checkPolicy`), so a Guardian takes it as its `decisionClient` — or
 * give the Guardian `opaUrl` and it builds one.
 *
 * @example
 * ```ts
 * import { Guardian } from "hexarch-guardrails";
 * import { OpaDecisionClient } from "hexarch-guardrails/opa";
 *
 * // Rego from `hexarch-ctl policy export safe_delete --format rego`, loaded into OPA:
 * const guardian = new Guardian({
 *   decisionClient: new OpaDecisionClient({ url: "http://localhost:8181" }),
 * });
 * // Rego written for the Python package (one rule at data.guardrails.evaluate):
 * const legacy = new OpaDecisionClient({ url: "http://opa:8181", entrypoint: "guardrails/evaluate" });
 * ```
 */
export class OpaDecisionClient implements DecisionClient {
  /** OPA's base URL as shown in reasons (no credentials, no trailing slash). */
  readonly url: string;
  /** How long one exchange may take, in ms. */
  readonly timeoutMs: number;
  readonly #base: string;
  readonly #prefix: string;
  readonly #entrypoint: boolean;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #failOpen: boolean | undefined;
  readonly #fetch: OpaFetch;
  readonly #clock: () => number;
  #closed = false;

  /**
   * @throws InvalidOptionError for a URL that is not http(s), an empty path, a bad timeout
   *   or an option of the wrong type.
   */
  constructor(options: OpaDecisionClientOptions) {
    checkOptions("OpaDecisionClient", options, OPTION_RULES);
    const parsed = new URL(options.url);
    const auth: Record<string, string> = {};
    if (parsed.username || parsed.password) {
      // fetch refuses URLs with credentials: send them as a header instead.
      const user = decodeURIComponent(parsed.username);
      const pass = decodeURIComponent(parsed.password);
      auth.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;
      parsed.username = "";
      parsed.password = "";
    }
    this.#base = `${parsed.origin}${parsed.pathname.replace(/\/+$/, "")}`;
    this.url = this.#base;
    this.timeoutMs = options.timeoutMs ?? 2000;
    this.#entrypoint = options.entrypoint !== undefined;
    this.#prefix = `/v1/data/${segmentsOf(options.entrypoint ?? options.path ?? "hexarch")
      .map(encodeURIComponent)
      .join("/")}`;
    this.#headers = {
      ...auth,
      ...options.headers,
      "content-type": "application/json",
      accept: "application/json",
    };
    this.#failOpen = options.failOpen;
    this.#fetch = options.fetch ?? ((url, init) => fetch(url, init));
    this.#clock = options.clock ?? Date.now;
  }

  /** The Data API path a policy is decided at, e.g. `/v1/data/hexarch/safe_delete`. */
  pathFor(policyId: string): string {
    return this.#entrypoint ? this.#prefix : `${this.#prefix}/${encodeURIComponent(policyId)}`;
  }

  /**
   * Asks OPA for one policy's decision. Confirmation tokens are removed from the context
   * before it leaves the process.
   *
   * @returns `{ allowed, action, reason }`; when OPA could not be asked and `failOpen` is set,
   *   a decision made by it (with `error`).
   * @throws DecisionBackendError when OPA could not be asked and `failOpen` is left out.
   */
  async decide(policyId: string, context: Context): Promise<OpaDecision> {
    const started = performance.now();
    const path = this.pathFor(policyId);
    const where = `${this.#base}${path}`;
    const ctx = withoutToken(context ?? {});
    let body: string;
    try {
      body = JSON.stringify({ input: this.#entrypoint ? { ...ctx, policy_id: policyId } : ctx });
    } catch (err) {
      return this.#refusal(
        policyId,
        started,
        `the context cannot be sent to OPA as JSON (${(err as Error).message})`,
        err,
      );
    }
    try {
      if (this.#closed) throw new OpaUnavailable("the OPA decision client is closed");
      const document = await this.#exchange("POST", path, body, this.#headers);
      if (!isRecord(document)) {
        throw new OpaUnavailable(
          `OPA answered POST ${path} with ${describeValue(document)}, not {"result": …}`,
        );
      }
      const result = document.result;
      if (result === undefined) {
        const detail = this.#entrypoint
          ? `OPA has no decision at ${where} for policy_id '${policyId}' (the rule is missing or undefined for this input)`
          : `OPA has no decision at ${where} (no rule there: load the policy's Rego, e.g. from \`hexarch-ctl policy export ${policyId} --format rego\`)`;
        return this.#refusal(policyId, started, detail);
      }
      return answerOf(policyId, result, path);
    } catch (err) {
      const failure =
        err instanceof DecisionBackendError ? err : new OpaUnavailable(String(err), { cause: err });
      if (this.#failOpen === undefined) throw failure;
      return makeDecision({
        policyId,
        action: this.#failOpen ? "allow" : "block",
        reason: `Policy '${policyId}' ${this.#failOpen ? "allowed" : "blocked"} the call: OPA could not be asked, failing ${this.#failOpen ? "open" : "closed"} (${failure.message})`,
        matchedRules: [],
        durationMs: performance.now() - started,
        timestampMs: this.#clock(),
        error: failure,
        failedOpen: this.#failOpen,
      });
    }
  }

  /** The Python SDK's name for {@link OpaDecisionClient.decide}. */
  checkPolicy(policyId: string, context: Context): Promise<OpaDecision> {
    return this.decide(policyId, context);
  }

  /**
   * Uploads (or replaces) a Rego module: `PUT {url}/v1/policies/{name}` as `text/plain`.
   *
   * @example
   * ```ts
   * await client.publishPolicy("hexarch/safe_delete", toRego(policies, "safe_delete"));
   * ```
   * @throws DecisionBackendError when OPA refuses the module (its compile errors are in the
   *   message) or cannot be reached.
   */
  async publishPolicy(name: string, rego: string): Promise<void> {
    if (this.#closed) throw new DecisionBackendError("the OPA decision client is closed");
    const path = `/v1/policies/${name.split("/").map(encodeURIComponent).join("/")}`;
    await this.#exchange("PUT", path, rego, {
      ...this.#headers,
      "content-type": "text/plain",
    });
  }

  /** Refuses further requests. Connections belong to the global dispatcher and are pooled. */
  close(): void {
    this.#closed = true;
  }

  /** One request; resolves to the parsed JSON body of a 2xx answer. */
  async #exchange(
    method: "POST" | "PUT",
    path: string,
    body: string,
    headers: Readonly<Record<string, string>>,
  ): Promise<unknown> {
    const what = `${method} ${path}`;
    const { status, text } = await fetchText(
      this.#fetch,
      `${this.#base}${path}`,
      { method, headers, body },
      this.timeoutMs,
      (err, timedOut) =>
        new OpaUnavailable(
          timedOut
            ? `OPA at ${this.#base} did not answer ${what} within ${this.timeoutMs} ms`
            : `OPA at ${this.#base} is unreachable (${what}): ${causeOf(err)}`,
          { cause: err },
        ),
    );
    let parsed = parseJsonText(text);
    if (parsed === NOT_JSON) {
      parsed = undefined;
      if (status >= 200 && status < 300) {
        throw new OpaUnavailable(
          `OPA at ${this.#base} answered ${what} with a body that is not JSON`,
        );
      }
    }
    if (status < 200 || status >= 300) {
      throw new OpaUnavailable(
        `OPA at ${this.#base} answered ${what} with HTTP ${status}${opaErrorText(parsed, text)}`,
      );
    }
    return parsed;
  }

  /** A refusal that no fail-open setting turns into an allow. */
  #refusal(policyId: string, started: number, detail: string, cause?: unknown): Decision {
    return makeDecision({
      policyId,
      action: "block",
      reason: `Policy '${policyId}' blocked the call: ${detail}`,
      matchedRules: [],
      durationMs: performance.now() - started,
      timestampMs: this.#clock(),
      error: new DecisionBackendError(detail, cause === undefined ? undefined : { cause }),
      failedOpen: false,
    });
  }
}
