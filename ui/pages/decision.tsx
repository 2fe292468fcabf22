/**
 * `#/decisions/<id>`: one audit record: its fields, its context, the rules it matched and
 * its place in the hash chain.
 *
 * @module
 */

import type { AuditRecordAnswer } from "../api.ts";
import { num, Page, Panel, pretty, Time, useApi } from "../lib.tsx";

/** The rules a record matched: from its metadata, else the `(rule …)` its reason names. */
function matchedRules(metadata: Record<string, unknown> | null, reason: string): string[] {
  const fromReason = () => [...reason.matchAll(/\(rule ([^)]+)\)/g)].map((m) => m[1] ?? "");
  if (!metadata) return fromReason();
  for (const k of ["matchedRules", "matched_rules", "rules"]) {
    const v = metadata[k];
    if (Array.isArray(v)) return v.map((x) => (typeof x === "string" ? x : JSON.stringify(x)));
  }
  for (const k of ["ruleId", "rule", "ruleName"]) {
    const v = metadata[k];
    if (typeof v === "string") return [v];
  }
  return fromReason();
}

/** The detail page of one decision. */
export function DecisionPage({ id }: { id: string }) {
  const loaded = useApi<AuditRecordAnswer>(`/audit-logs/${encodeURIComponent(id)}`);
  return (
    <Page name="decision" title="Decision">
      <p>
        <a href="#/decisions">Back to decisions</a>
      </p>
      <Panel title="Record" loaded={loaded}>
        {({ record: r }) => {
          const rules = matchedRules(r.metadata, r.reason).map((rule) =>
            rule.includes("/") ? rule : `${r.policyId}/${rule}`,
          );
          return (
            <>
              <dl class="fields" data-testid="decision-fields">
                <dt>Decision id</dt>
                <dd>
                  <code>{r.decisionId}</code>
                </dd>
                <dt>Time</dt>
                <dd>
                  <Time at={r.timestamp} />
                </dd>
                <dt>Policy</dt>
                <dd>{r.policyId}</dd>
                <dt>Decision</dt>
                <dd>
                  <span class={`badge ${r.decision}`}>{r.decision}</span> ({r.action}, {r.mode})
                </dd>
                <dt>Reason</dt>
                <dd>{r.reason}</dd>
                <dt>Function</dt>
                <dd>{r.functionName ?? "–"}</dd>
                <dt>User</dt>
                <dd>{r.userId ?? "–"}</dd>
                <dt>Duration</dt>
                <dd>{num(r.durationMs, 2)} ms</dd>
                <dt>Matched rules</dt>
                <dd data-testid="matched-rules">
                  {rules.length === 0 ? "none recorded" : rules.join(", ")}
                </dd>
              </dl>
              <h3>Context</h3>
              <pre data-testid="context-json">{pretty(r.context)}</pre>
              {r.metadata && (
                <>
                  <h3>Metadata</h3>
                  <pre data-testid="metadata-json">{pretty(r.metadata)}</pre>
                </>
              )}
            </>
          );
        }}
      </Panel>
      <Panel title="Place in the hash chain" loaded={loaded}>
        {({ chain }) => (
          <>
            <dl class="fields" data-testid="chain">
              <dt>Seq</dt>
              <dd>{chain.seq}</dd>
              <dt>Previous hash</dt>
              <dd>
                <code class="hash">{chain.prevHash}</code>
              </dd>
              <dt>Hash</dt>
              <dd>
                <code class="hash">{chain.hash}</code>
              </dd>
            </dl>
            <p class="toolbar">
              {chain.previousDecisionId ? (
                <a href={`#/decisions/${encodeURIComponent(chain.previousDecisionId)}`} rel="prev">
                  Previous record
                </a>
              ) : (
                <span class="muted">First record</span>
              )}
              {chain.nextDecisionId ? (
                <a href={`#/decisions/${encodeURIComponent(chain.nextDecisionId)}`} rel="next">
                  Next record
                </a>
              ) : (
                <span class="muted">Latest record</span>
              )}
            </p>
          </>
        )}
      </Panel>
    </Page>
  );
}
