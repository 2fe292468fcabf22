/**
 * `#/replay`: a proposed policy file (pasted or uploaded) replayed over the audit log's
 * recorded calls of a period (`POST /audit-logs/replay`): which decisions would flip, per
 * policy and rule, with examples.
 *
 * @module
 */

import { useState } from "preact/hooks";
import { get, type Policy, type ReplayReport, write } from "../api.ts";
import { Alert, num, Page, Time, useAction } from "../lib.tsx";

/** The replay page. */
export function ReplayPage() {
  const [yaml, setYaml] = useState("");
  const [since, setSince] = useState("7d");
  const [missing, setMissing] = useState(false);
  const [report, setReport] = useState<ReplayReport | undefined>();
  const action = useAction();

  // The policies in force, as written in their file: a starting point to edit.
  const fromCurrent = async () => {
    const policies = await action.run(() => get<readonly Policy[]>("/policies"));
    if (policies) setYaml(policyFileOf(policies));
  };
  const upload = (e: Event) => {
    const file = (e.currentTarget as HTMLInputElement).files?.[0];
    if (file) void file.text().then(setYaml);
  };
  const run = async (e: Event) => {
    e.preventDefault();
    if (yaml.trim() === "") {
      setMissing(true);
      return;
    }
    setMissing(false);
    setReport(
      await action.run(() =>
        write<ReplayReport>("POST", "/audit-logs/replay", {
          policy_file: yaml,
          ...(since.trim() !== "" && { since: since.trim() }),
        }),
      ),
    );
  };

  return (
    <Page name="replay" title="Replay">
      <p class="muted">
        Replays the recorded calls of a period, oldest first, through a proposed policy file (fresh
        counters, each at its recorded time) and shows which decisions would change.
      </p>
      <form class="stack" onSubmit={run}>
        <div class="field">
          <label for="replay-yaml">Proposed hexarch.yaml</label>
          <textarea
            id="replay-yaml"
            spellcheck={false}
            value={yaml}
            onInput={(e) => setYaml(e.currentTarget.value)}
            aria-invalid={missing ? true : undefined}
            aria-describedby={missing ? "replay-yaml-error" : undefined}
          />
          {missing && (
            <span id="replay-yaml-error" class="error" role="alert">
              Paste or upload a policy file.
            </span>
          )}
        </div>
        <div>
          <button id="replay-from-current" type="button" onClick={() => void fromCurrent()}>
            Start from the policies in force
          </button>
        </div>
        <div class="field">
          <label for="replay-file">Or upload a file</label>
          <input id="replay-file" type="file" accept=".yaml,.yml,text/yaml" onChange={upload} />
        </div>
        <div class="field">
          <label for="replay-since">Since</label>
          <input
            id="replay-since"
            value={since}
            onInput={(e) => setSince(e.currentTarget.value)}
            placeholder="7d, 24h or an ISO date"
          />
        </div>
        <div>
          <button id="replay-run" type="submit" class="primary" disabled={action.busy}>
            {action.busy ? "Replaying…" : "Replay"}
          </button>
        </div>
      </form>
      <Alert error={action.error} />
      {report && <Report report={report} />}
    </Page>
  );
}

function Report({ report: r }: { report: ReplayReport }) {
  return (
    <section class="panel" aria-labelledby="replay-result-h" data-testid="replay-result">
      <h2 id="replay-result-h">What would change</h2>
      <p>
        {num(r.replayed)} decisions replayed
        {r.since && (
          <>
            {" "}
            from <Time at={r.since} />
          </>
        )}{" "}
        to <Time at={r.until} />
        {(r.skipped.notDecisions ?? 0) + (r.skipped.unknownPolicy ?? 0) > 0 &&
          ` (${num(r.skipped.notDecisions ?? 0)} records that are not decisions and ${num(r.skipped.unknownPolicy ?? 0)} of policies the file lacks skipped)`}
        .
      </p>
      <dl class="totals">
        <div>
          <dt>Would be blocked</dt>
          <dd data-testid="replay-to-blocked">{num(r.toBlocked)}</dd>
        </div>
        <div>
          <dt>Would be allowed</dt>
          <dd data-testid="replay-to-allowed">{num(r.toAllowed)}</dd>
        </div>
        <div>
          <dt>Warning changed</dt>
          <dd data-testid="replay-warn-changed">{num(r.warnChanged)}</dd>
        </div>
      </dl>
      <table data-testid="replay-policies">
        <caption class="sr-only">Flips per policy</caption>
        <thead>
          <tr>
            <th scope="col">Policy</th>
            <th scope="col" class="n">
              Replayed
            </th>
            <th scope="col" class="n">
              Unchanged
            </th>
            <th scope="col" class="n">
              → blocked
            </th>
            <th scope="col" class="n">
              → allowed
            </th>
            <th scope="col" class="n">
              Warning changed
            </th>
            <th scope="col">By rule</th>
          </tr>
        </thead>
        <tbody>
          {r.policies.length === 0 && (
            <tr>
              <td colSpan={7} class="muted">
                Nothing replayed.
              </td>
            </tr>
          )}
          {r.policies.map((p) => (
            <tr key={p.policyId} data-policy-id={p.policyId}>
              <th scope="row">{p.policyId}</th>
              <td class="n">{num(p.replayed)}</td>
              <td class="n">{num(p.unchanged)}</td>
              <td class="n">{num(p.toBlocked)}</td>
              <td class="n">{num(p.toAllowed)}</td>
              <td class="n">{num(p.warnChanged)}</td>
              <td>
                {Object.entries(p.byRule ?? {}).length === 0
                  ? "–"
                  : Object.entries(p.byRule)
                      .map(([rule, n]) => `${rule}: ${num(n)}`)
                      .join(", ")}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {r.policies.some((p) => p.examples.length > 0) && (
        <>
          <h3>Examples</h3>
          <table data-testid="replay-examples">
            <caption class="sr-only">Example flips</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Policy</th>
                <th scope="col">Before</th>
                <th scope="col">After</th>
                <th scope="col">Rule</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {r.policies.flatMap((p) =>
                p.examples.map((f) => (
                  <tr key={`${p.policyId}/${f.decisionId}`} data-decision-id={f.decisionId}>
                    <td>
                      <a href={`#/decisions/${encodeURIComponent(f.decisionId)}`}>
                        <Time at={f.timestamp} />
                      </a>
                    </td>
                    <td>{f.policyId}</td>
                    <td>
                      <span class={`badge ${f.before}`}>{f.before}</span>
                    </td>
                    <td>
                      <span class={`badge ${f.after}`}>{f.after}</span>
                    </td>
                    <td>{f.ruleId ?? "–"}</td>
                    <td class="wrap">{f.reason}</td>
                  </tr>
                )),
              )}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

/**
 * A policy file of the policies loaded from the server's file, each as written there
 * (`yaml`): list items under `policies:`. API-defined policies are not in the file.
 */
export function policyFileOf(policies: readonly Policy[]): string {
  const items = policies
    .map((p) => p.yaml)
    .filter((text): text is string => typeof text === "string" && text.trim() !== "")
    .map((text) => {
      const item = text.startsWith("- ") ? text : `- ${text.replaceAll("\n", "\n  ")}`;
      return item
        .split("\n")
        .map((line) => (line === "" ? line : `  ${line}`))
        .join("\n");
    });
  return `policies:\n${items.join("\n\n")}\n`;
}
