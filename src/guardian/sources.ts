/**
 * Where a Guardian's decisions come from: its policy set (given, or found on disk) and,
 * instead of the embedded engine, a decision client or OPA.
 *
 * @module
 */

import type { LocalDecisionClient } from "../decision/local-decision-client.ts";
import type { DecisionClient } from "../decision/types.ts";
import { GuardrailError, InvalidOptionError, UnknownPolicyError } from "../kernel/errors.ts";
import { OpaDecisionClient } from "../opa/opa-decision-client.ts";
import { loadPolicyFile, parsePolicies } from "../policy/load.ts";
import { isPolicySet } from "../policy/policy-set.ts";
import type { PolicySet } from "../policy/types.ts";
import { capContext } from "./context-size.ts";
import { type PolicyServiceClient, type PreparedDecide, remoteDecide } from "./decision-source.ts";
import type { GuardianMode, GuardianOptions } from "./options.ts";

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The policy set: the `policies` option, else the policy file (looked for unless a
 * decision client or OPA decides and no `policyFile` is named). With guardrails off, a
 * missing file is no error.
 */
export function policySetOf(
  options: GuardianOptions,
  env: Env,
  opaUrl: string | undefined,
  early: GuardianMode | undefined,
): PolicySet | undefined {
  if (options.policies !== undefined) {
    return isPolicySet(options.policies) ? options.policies : parsePolicies(options.policies);
  }
  if (
    (options.decisionClient === undefined && opaUrl === undefined) ||
    options.policyFile !== undefined
  ) {
    try {
      return loadPolicyFile(options.policyFile, {
        env,
        ...(options.cwd !== undefined && { cwd: options.cwd }),
      });
    } catch (err) {
      // With guardrails off (a test suite, say) a missing file is no reason to fail.
      if (early !== "off") throw err;
    }
  }
  return undefined;
}

/** The decision client standing in for the embedded engine, and the timeout to wait for it. */
export function remoteOf(
  options: GuardianOptions,
  opaUrl: string | undefined,
  policies: PolicySet | undefined,
  clock: () => number,
  timeoutMs: number,
): {
  readonly remote: DecisionClient | PolicyServiceClient | undefined;
  readonly remoteTimeoutMs: number;
} {
  if (opaUrl === undefined) return { remote: options.decisionClient, remoteTimeoutMs: timeoutMs };
  const opa = new OpaDecisionClient({
    url: opaUrl,
    timeoutMs: options.timeoutMs ?? policies?.opa?.timeoutMs ?? 2000,
    clock,
  });
  // The client gives up on its own, with a reason naming OPA; this is only a backstop.
  return { remote: opa, remoteTimeoutMs: opa.timeoutMs + 1000 };
}

/**
 * The OPA URL decisions go to: the `opaUrl` option, else (when the Guardian configures itself
 * from the environment: no `decisionClient`, no `policies`) `HEXARCH_POLICY_OPA_URL`, else `OPA_URL`.
 */
export function opaUrlOf(options: GuardianOptions, env: Env): string | undefined {
  if (options.opaUrl !== undefined) {
    if (options.decisionClient !== undefined) {
      throw new InvalidOptionError(
        "Guardian: give a decisionClient or an opaUrl, not both (for OPA with more options, pass an OpaDecisionClient as decisionClient)",
        { option: "opaUrl", owner: "Guardian" },
      );
    }
    return options.opaUrl;
  }
  if (options.decisionClient !== undefined || options.policies !== undefined) return undefined;
  const fromEnv = env.HEXARCH_POLICY_OPA_URL?.trim() || env.OPA_URL?.trim();
  return fromEnv || undefined;
}

/** A policy prepared for calls: how to decide it and what to tell the audit log. */
export interface Prepared {
  readonly policyId: string;
  readonly decide: PreparedDecide;
  /** Whether deciding reads the call's arguments. */
  readonly usesArgs: boolean;
}

/** What {@link prepareCheck} decides with. */
export interface CheckSources {
  readonly local: LocalDecisionClient | undefined;
  readonly remote: DecisionClient | PolicyServiceClient | undefined;
  readonly policies: PolicySet | undefined;
  readonly failOpen: boolean;
  readonly remoteTimeoutMs: number;
  readonly clock: () => number;
  /** Contexts larger than this (JSON bytes) are refused unevaluated; `Infinity` for no cap. */
  readonly maxContextBytes: number;
}

/**
 * How a check of `ids` is decided: by the embedded engine (several ids decided together),
 * else by the decision client for one id.
 *
 * @throws UnknownPolicyError naming the known policies; GuardrailError for several ids
 *   without the embedded engine.
 */
export function prepareCheck(ids: string | readonly string[], s: CheckSources): Prepared {
  const prepared = prepareUncapped(ids, s);
  return {
    ...prepared,
    decide: capContext(prepared.decide, prepared.policyId, s.maxContextBytes, s.clock),
  };
}

function prepareUncapped(ids: string | readonly string[], s: CheckSources): Prepared {
  const policyId = typeof ids === "string" ? ids : ids.join(",");
  const known = () => s.policies?.policies.map((p) => p.id) ?? [];
  if (s.local) {
    const check = s.local.check(ids); // throws UnknownPolicyError
    return { policyId, decide: check.decide.bind(check), usesArgs: check.usesArgs };
  }
  if (typeof ids !== "string") {
    throw new GuardrailError(
      "checking several policies at once needs the embedded engine (no decisionClient)",
      { code: "embedded_engine_required" },
    );
  }
  const remote = s.remote;
  if (!remote) throw new UnknownPolicyError(policyId, []);
  if (s.policies && !s.policies.policies.some((p) => p.id === policyId)) {
    throw new UnknownPolicyError(policyId, known());
  }
  if (
    "hasPolicy" in remote &&
    typeof remote.hasPolicy === "function" &&
    !remote.hasPolicy(policyId)
  ) {
    throw new UnknownPolicyError(policyId, known());
  }
  const failOpen =
    s.failOpen || s.policies?.policies.find((p) => p.id === policyId)?.failOpen === true;
  return {
    policyId,
    usesArgs: true,
    decide: remoteDecide(remote, policyId, {
      failOpen,
      timeoutMs: s.remoteTimeoutMs,
      clock: s.clock,
    }),
  };
}
