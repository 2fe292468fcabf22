/**
 * Policy replay: the audit log's recorded calls of a period, re-decided in time order by a
 * proposed policy set, with fresh counters and a clock set to each record's time, so rate
 * limits and budgets count as they would have. What would flip (allowed → blocked, blocked
 * → allowed, warned) is reported per policy and rule, with examples.
 *
 * @module
 */

import type { AuditOutcome, AuditStore, ChainedRecord } from "../audit/types.ts";
import type { Decision } from "../kernel/decision.ts";
import { GuardrailError, UnknownPolicyError } from "../kernel/errors.ts";
import { MemoryStateStore } from "../memory/state-store.ts";
import type { PolicySet } from "../policy/types.ts";
import type { StateStore } from "../state/types.ts";
import { LocalDecisionClient } from "./local-decision-client.ts";

/** What {@link replayAuditLog} replays. */
export interface ReplayOptions {
  /** Records at or after this instant (ISO text or Date). Default: the whole log. */
  readonly since?: string | Date | undefined;
  /** Records before this instant. Default: now. */
  readonly until?: string | Date | undefined;
  /** Examples kept per kind of flip and policy. @default 5 */
  readonly examples?: number | undefined;
  /** Records read per query. @default 1000 */
  readonly pageSize?: number | undefined;
}

/** A recorded call whose decision the proposed policies would change. */
export interface ReplayFlip {
  readonly decisionId: string;
  readonly timestamp: string;
  readonly policyId: string;
  readonly functionName: string | null;
  readonly userId: string | null;
  /** The recorded outcome. */
  readonly before: AuditOutcome;
  /** The proposed policies' outcome. */
  readonly after: AuditOutcome;
  /** The proposed policies' action (`require_confirmation` is `blocked` as an outcome). */
  readonly action: string;
  /** The rule that decided under the proposed policies, if one did. */
  readonly ruleId: string | undefined;
  /** The proposed policies' reason. */
  readonly reason: string;
}

/** The flips of one policy id (as recorded: `a,b` for a check of two policies). */
export interface ReplayPolicyReport {
  readonly policyId: string;
  readonly replayed: number;
  readonly unchanged: number;
  /** Allowed or warned before, blocked now. */
  readonly toBlocked: number;
  /** Blocked before, allowed or warned now. */
  readonly toAllowed: number;
  /** Allowed before, warned now, or warned before, allowed now. */
  readonly warnChanged: number;
  /** Flips by the rule that decided under the proposed policies (`(none)`: no rule fired). */
  readonly byRule: Readonly<Record<string, number>>;
  /** The first flips of each kind, oldest first. */
  readonly examples: readonly ReplayFlip[];
}

/** What {@link replayAuditLog} found. */
export interface ReplayReport {
  readonly since: string | undefined;
  readonly until: string;
  /** Records re-decided. */
  readonly replayed: number;
  /** Records not re-decided, by why. */
  readonly skipped: {
    /** Events that are not decisions (provider calls, confirmation approvals…). */
    readonly notDecisions: number;
    /** Decisions of policies the proposed file does not have (API-defined ones included). */
    readonly unknownPolicy: number;
  };
  readonly toBlocked: number;
  readonly toAllowed: number;
  readonly warnChanged: number;
  /** Per recorded policy id, in order of first appearance. */
  readonly policies: readonly ReplayPolicyReport[];
}

const DECISION_ACTIONS = new Set(["allow", "warn", "block", "require_confirmation"]);

interface Tally {
  replayed: number;
  unchanged: number;
  toBlocked: number;
  toAllowed: number;
  warnChanged: number;
  byRule: Record<string, number>;
  examples: ReplayFlip[];
  shown: Record<"toBlocked" | "toAllowed" | "warnChanged", number>;
}

/**
 * Replays the audit log's decisions of a period through `proposed`, oldest first, each at
 * its recorded time with counters that start empty at the period's start.
 *
 * What a replay cannot know: confirmation tokens are never logged, so a call that ran with
 * an approved token replays as needing confirmation again; budgets count the amounts the
 * recorded contexts carry (estimates), not costs settled after the call; a policy whose
 * `logging` left allowed calls out of the log replays without them.
 *
 * @example
 * ```ts
 * const report = await replayAuditLog(store, loadPolicyFile("proposed.yaml"), { since: "2026-12-01" });
 * if (report.toBlocked > 0) console.log(report.policies[0]?.examples);
 * ```
 */
export async function replayAuditLog(
  store: AuditStore,
  proposed: PolicySet,
  options: ReplayOptions = {},
): Promise<ReplayReport> {
  const examples = options.examples ?? 5;
  const pageSize = options.pageSize ?? 1000;
  for (const [name, v, min] of [
    ["examples", examples, 0],
    ["pageSize", pageSize, 1],
  ] as const) {
    if (!Number.isInteger(v) || v < min)
      throw new GuardrailError(
        `replayAuditLog: ${name} must be a whole number ≥ ${min}, got ${v}`,
        {
          code: "invalid_argument",
        },
      );
  }
  const since = options.since === undefined ? undefined : iso(options.since, "since");
  const until = iso(options.until ?? new Date(), "until");
  const tallies = new Map<string, Tally>();
  let notDecisions = 0;
  let unknownPolicy = 0;
  await walkAuditLog(store, proposed, { since, until, pageSize }, (step) => {
    if (step.kind === "notDecision") {
      notDecisions++;
      return;
    }
    if (step.kind !== "decided") {
      unknownPolicy++;
      return;
    }
    const { record, decision } = step;
    let t = tallies.get(record.policyId);
    if (!t) {
      t = {
        replayed: 0,
        unchanged: 0,
        toBlocked: 0,
        toAllowed: 0,
        warnChanged: 0,
        byRule: {},
        examples: [],
        shown: { toBlocked: 0, toAllowed: 0, warnChanged: 0 },
      };
      tallies.set(record.policyId, t);
    }
    t.replayed++;
    const before = record.decision;
    const after = decision.decision;
    if (before === after) {
      t.unchanged++;
      return;
    }
    const kind =
      after === "blocked" ? "toBlocked" : before === "blocked" ? "toAllowed" : "warnChanged";
    t[kind]++;
    const rule = decision.ruleId ?? "(none)";
    t.byRule[rule] = (t.byRule[rule] ?? 0) + 1;
    if (t.shown[kind] < examples) {
      t.shown[kind]++;
      t.examples.push({
        decisionId: record.decisionId,
        timestamp: record.timestamp,
        policyId: record.policyId,
        functionName: record.functionName,
        userId: record.userId,
        before,
        after,
        action: decision.action,
        ruleId: decision.ruleId,
        reason: decision.reason,
      });
    }
  });
  const policies = [...tallies].map(
    ([policyId, t]): ReplayPolicyReport => ({
      policyId,
      replayed: t.replayed,
      unchanged: t.unchanged,
      toBlocked: t.toBlocked,
      toAllowed: t.toAllowed,
      warnChanged: t.warnChanged,
      byRule: t.byRule,
      examples: t.examples,
    }),
  );
  const sum = (k: "replayed" | "toBlocked" | "toAllowed" | "warnChanged") =>
    policies.reduce((n, p) => n + p[k], 0);
  return {
    since,
    until,
    replayed: sum("replayed"),
    skipped: { notDecisions, unknownPolicy },
    toBlocked: sum("toBlocked"),
    toAllowed: sum("toAllowed"),
    warnChanged: sum("warnChanged"),
    policies,
  };
}

/** What {@link walkAuditLog} walks: a period of the log, read in pages. */
export interface AuditWalk {
  /** Records at or after this instant (ISO). Default: the whole log. */
  readonly since: string | undefined;
  /** Records before this instant (ISO). */
  readonly until: string;
  /** Records read per query. */
  readonly pageSize: number;
  /** The counters decisions consume. Default: a fresh `MemoryStateStore`. */
  readonly state?: StateStore | undefined;
  /**
   * Which decision records to re-decide, by their policy ids (all known to the policy
   * set); the others are visited as `skipped`. Default: all.
   */
  readonly select?: ((policyIds: readonly string[]) => boolean) | undefined;
}

/** One record of a {@link walkAuditLog}, and what became of it. */
export type AuditWalkStep =
  | {
      /** Re-decided at its recorded time. */
      readonly kind: "decided";
      readonly record: ChainedRecord;
      readonly decision: Decision;
    }
  | {
      /**
       * `notDecision`: an event (provider call, confirmation…), not re-decided;
       * `unknownPolicy`: a decision of a policy the set does not have; `skipped`: a decision
       * `select` left out.
       */
      readonly kind: "notDecision" | "unknownPolicy" | "skipped";
      readonly record: ChainedRecord;
    };

/**
 * Walks the audit log's records of a period oldest first, re-deciding each decision
 * record through `policies` at its recorded time, with counters that start empty. The
 * client's clock reads each record's time while `visit` runs, so `visit` may count more
 * against the same counters at that instant (`client.recordSpend`). Between pages it
 * yields to the event loop (a macrotask), so a long walk never blocks other work.
 *
 * @internal Shared by {@link replayAuditLog} and `budgetForecast`.
 */
export async function walkAuditLog(
  store: AuditStore,
  policies: PolicySet,
  walk: AuditWalk,
  visit: (step: AuditWalkStep, client: LocalDecisionClient) => void | Promise<void>,
): Promise<void> {
  let now = 0;
  const client = new LocalDecisionClient({
    policies,
    state: walk.state ?? new MemoryStateStore(),
    clock: () => now,
  });
  const known = new Set(policies.policies.map((p) => p.id));
  let afterSeq: number | undefined;
  for (;;) {
    const page: readonly ChainedRecord[] = await store.query({
      ...(walk.since !== undefined && { since: walk.since }),
      until: walk.until,
      order: "asc",
      limit: walk.pageSize,
      ...(afterSeq !== undefined && { afterSeq }),
    });
    for (const record of page) {
      now = Date.parse(record.timestamp);
      if (!DECISION_ACTIONS.has(record.action)) {
        await visit({ kind: "notDecision", record }, client);
        continue;
      }
      const ids = record.policyId.split(",");
      if (!ids.every((id) => known.has(id))) {
        await visit({ kind: "unknownPolicy", record }, client);
        continue;
      }
      if (walk.select !== undefined && !walk.select(ids)) {
        await visit({ kind: "skipped", record }, client);
        continue;
      }
      let decision: Decision;
      try {
        decision = await client.decide(ids.length === 1 ? (ids[0] as string) : ids, record.context);
      } catch (err) {
        if (err instanceof UnknownPolicyError) {
          await visit({ kind: "unknownPolicy", record }, client);
          continue;
        }
        throw err;
      }
      await visit({ kind: "decided", record, decision }, client);
    }
    if (page.length < walk.pageSize) break;
    afterSeq = (page[page.length - 1] as ChainedRecord).seq;
    // A whole period re-decided is CPU work: let the process answer other requests (a
    // server's /authorize, /health) between pages, even when the store answers at once.
    await nextMacrotask();
  }
}

/** Settles after the event loop has run the I/O and timers already waiting. */
const nextMacrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** @internal An instant given as ISO text or a Date, as ISO text; `invalid_argument` when it is not one. */
export function iso(value: string | Date, name: string, fn = "replayAuditLog"): string {
  const t = value instanceof Date ? value.getTime() : Date.parse(value);
  if (Number.isNaN(t))
    throw new GuardrailError(`${fn}: ${name} is not a date: ${String(value)}`, {
      code: "invalid_argument",
    });
  return new Date(t).toISOString();
}
