/**
 * `#/playground`: pick a policy, edit a context, see the decision, its reason and the rules
 * it matched, from `POST /authorize` with `dry_run: true` (no quota or budget consumed, no
 * audit record, no confirmation request).
 *
 * @module
 */

import { useState } from "preact/hooks";
import { type AuthorizeAnswer, type Policy, write } from "../api.ts";
import { Alert, Page, Problem, useAction, useApi } from "../lib.tsx";

const API_POLICIES = "";
const EXAMPLE = `{
  "userId": "alice",
  "operation": "read",
  "resource": "documents"
}`;

/** The playground. */
export function PlaygroundPage() {
  const policies = useApi<readonly Policy[]>("/policies");
  const yaml = (policies.data ?? []).filter((p) => p.readOnly);
  const hasApi = (policies.data ?? []).some((p) => !p.readOnly);
  const [policy, setPolicy] = useState<string | undefined>();
  const [context, setContext] = useState(EXAMPLE);
  const [invalid, setInvalid] = useState<string | undefined>();
  const [result, setResult] = useState<AuthorizeAnswer | undefined>();
  const action = useAction();
  const chosen = policy ?? yaml[0]?.id ?? API_POLICIES;

  const run = async (e: Event) => {
    e.preventDefault();
    let parsed: unknown;
    try {
      parsed = JSON.parse(context);
    } catch (err) {
      setInvalid(`Not valid JSON: ${(err as Error).message}`);
      return;
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      setInvalid("The context must be a JSON object.");
      return;
    }
    setInvalid(undefined);
    const answer = await action.run(() =>
      write<AuthorizeAnswer>("POST", "/authorize", {
        ...(chosen !== API_POLICIES && { policyId: chosen }),
        context: parsed,
        dry_run: true,
      }),
    );
    setResult(answer);
  };

  return (
    <Page name="playground" title="Playground">
      <p class="muted">
        Try a context against a policy. This is a dry run: it consumes no quota or budget, writes
        nothing to the audit log and creates no approval request.
      </p>
      {policies.error && <Problem error={policies.error} />}
      <form class="stack" onSubmit={run}>
        <div class="field">
          <label for="pg-policy">Policy</label>
          <select id="pg-policy" value={chosen} onChange={(e) => setPolicy(e.currentTarget.value)}>
            {yaml.map((p) => (
              <option key={p.id} value={p.id}>
                {p.id}
                {p.name && p.name !== p.id ? ` — ${p.name}` : ""}
              </option>
            ))}
            {(hasApi || yaml.length === 0) && (
              <option value={API_POLICIES}>API-defined policies (all that apply)</option>
            )}
          </select>
        </div>
        <div class="field">
          <label for="pg-context">Context (JSON)</label>
          <textarea
            id="pg-context"
            spellcheck={false}
            value={context}
            onInput={(e) => setContext(e.currentTarget.value)}
            aria-invalid={invalid ? true : undefined}
            aria-describedby={invalid ? "pg-context-error" : undefined}
          />
          {invalid && (
            <span id="pg-context-error" class="error" role="alert">
              {invalid}
            </span>
          )}
        </div>
        <div>
          <button id="pg-run" type="submit" class="primary" disabled={action.busy}>
            Run (dry run)
          </button>
        </div>
      </form>
      <Alert error={action.error} />
      {result && (
        <section class="panel" aria-labelledby="pg-result-h" data-testid="pg-result">
          <h2 id="pg-result-h">Result</h2>
          <dl class="fields">
            <dt>Decision</dt>
            <dd data-testid="pg-decision">
              <span class={`badge ${result.action}`}>{result.decision}</span>
            </dd>
            <dt>Action</dt>
            <dd data-testid="pg-action">{result.action}</dd>
            <dt>Reason</dt>
            <dd data-testid="pg-reason">{result.reason}</dd>
            <dt>Matched rules</dt>
            <dd data-testid="pg-rules">
              {result.matchedRules.length === 0 ? "none" : result.matchedRules.join(", ")}
            </dd>
            <dt>Policies</dt>
            <dd>{result.policies.join(", ") || "–"}</dd>
          </dl>
          {result.dryRun !== true && (
            <p class="error" role="alert">
              The server did not confirm this was a dry run.
            </p>
          )}
        </section>
      )}
    </Page>
  );
}
