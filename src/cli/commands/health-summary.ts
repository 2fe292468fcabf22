/**
 * `hexarch-ctl health --summary`: the decision totals of the audit log (what the Python
 * package's `healthcheck.py --summary` prints: total, blocked, the share allowed, per
 * policy) and the policies a running OPA has loaded (`GET /v1/policies`).
 *
 * @module
 */

import type { DecisionLogger } from "../../audit/decision-logger.ts";
import { GuardrailError } from "../../kernel/errors.ts";
import { type CliIo, outputWidth, painter, renderTable } from "../output.ts";

/** One policy's decision totals. */
export interface PolicyTotals {
  readonly policyId: string;
  readonly total: number;
  /** Allowed without a warning. */
  readonly allowed: number;
  /** Allowed with a warning (the call ran). */
  readonly warned: number;
  readonly blocked: number;
  /** Calls that ran (allowed and warned) as a share of all, in percent, two decimals; 0 when there are none. */
  readonly allowedPct: number;
}

/** The audit log's decision totals: all policies together, and each policy. */
export interface DecisionTotals extends Omit<PolicyTotals, "policyId"> {
  readonly policies: readonly PolicyTotals[];
}

const pct = (part: number, whole: number): number =>
  whole === 0 ? 0 : Math.round((part / whole) * 10_000) / 100;

/**
 * Decision totals from the log's per-policy counts (provider calls and confirmation events
 * are not decisions and are not counted, as in `audit stats`).
 */
export async function decisionTotals(logger: DecisionLogger): Promise<DecisionTotals> {
  const policies: PolicyTotals[] = [];
  for (const policyId of await logger.getPolicyIds()) {
    const s = await logger.getPolicyStats(policyId, { topReasons: 0 });
    policies.push({
      policyId,
      total: s.totalDecisions,
      allowed: s.allowed,
      warned: s.warned,
      blocked: s.blocked,
      allowedPct: pct(s.allowed + s.warned, s.totalDecisions),
    });
  }
  const sum = (pick: (p: PolicyTotals) => number) => policies.reduce((n, p) => n + pick(p), 0);
  const total = sum((p) => p.total);
  const allowed = sum((p) => p.allowed);
  const warned = sum((p) => p.warned);
  return {
    total,
    allowed,
    warned,
    blocked: sum((p) => p.blocked),
    allowedPct: pct(allowed + warned, total),
    policies,
  };
}

/** The ids of the modules OPA has loaded (`GET /v1/policies`), sorted. */
export async function opaPolicyIds(url: string, timeoutMs: number): Promise<string[]> {
  const { href, headers } = opaRequest(url, "/v1/policies");
  const res = await fetch(href, {
    headers: { ...headers, accept: "application/json" },
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!res.ok)
    throw new GuardrailError(`GET /v1/policies answered ${res.status}`, {
      code: "health_check_failed",
    });
  const body = (await res.json().catch(() => undefined)) as { result?: unknown } | undefined;
  if (!body || !Array.isArray(body.result))
    throw new GuardrailError("GET /v1/policies did not answer { result: [...] }: is this OPA?", {
      code: "health_check_failed",
    });
  return body.result
    .map((m: unknown) => (m && typeof m === "object" ? (m as { id?: unknown }).id : undefined))
    .filter((id): id is string => typeof id === "string")
    .sort();
}

/**
 * Where to send a request for `path` on the OPA at `url`, as the library's OPA client
 * does: below the URL's own path (an OPA behind a proxy prefix), with credentials in the
 * URL sent as a Basic `authorization` header (fetch refuses URLs that carry them, and
 * its error would print them).
 */
export function opaRequest(
  url: string,
  path: string,
): { href: string; headers: Record<string, string> } {
  const parsed = new URL(url);
  const headers: Record<string, string> = {};
  if (parsed.username || parsed.password) {
    const user = decodeURIComponent(parsed.username);
    const pass = decodeURIComponent(parsed.password);
    headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;
    parsed.username = "";
    parsed.password = "";
  }
  parsed.pathname = `${parsed.pathname.replace(/\/+$/, "")}${path}`;
  return { href: parsed.href, headers };
}

/** At most `max` names, then how many more. */
export function nameList(names: readonly string[], max = 10): string {
  const shown = names.slice(0, max).join(", ");
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

const n = (v: number) => v.toLocaleString("en-US");

/** The one-line total, as the Python healthcheck words it. */
export function totalsLine(t: DecisionTotals): string {
  if (t.total === 0) return "no decisions recorded yet";
  return `${n(t.total)} total decisions (${n(t.blocked)} blocked, ${t.allowedPct.toFixed(1)}% allowed${t.warned > 0 ? `, ${n(t.warned)} of them warned` : ""})`;
}

/** The per-policy totals as a table after a blank line (the overall line is a check row); empty without policies. */
export function renderTotals(t: DecisionTotals, io: CliIo): string {
  if (t.policies.length === 0) return "";
  return `\n${renderTable(
    t.policies,
    [
      { header: "POLICY", value: (p) => p.policyId, shrink: 1 },
      { header: "TOTAL", value: (p) => p.total, right: true },
      { header: "ALLOWED", value: (p) => p.allowed, right: true },
      { header: "WARNED", value: (p) => p.warned, right: true },
      {
        header: "BLOCKED",
        value: (p) => p.blocked,
        right: true,
        tone: (p) => (p.blocked > 0 ? "red" : undefined),
      },
      { header: "ALLOWED %", value: (p) => `${p.allowedPct.toFixed(1)}%`, right: true },
    ],
    outputWidth(io.stdout, io.env),
    painter(io.stdout, io.env),
  )}`;
}
