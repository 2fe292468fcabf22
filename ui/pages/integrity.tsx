/**
 * `#/integrity`: verify the audit log's hash chain (and its stored checkpoints) on demand,
 * and show the latest signed checkpoint.
 *
 * @module
 */

import { useState } from "preact/hooks";
import { type Checkpoint, get, type VerifyAnswer } from "../api.ts";
import { Alert, num, Page, Panel, Time, useAction, useApi } from "../lib.tsx";

/** The integrity page. */
export function IntegrityPage({ checkpoints }: { checkpoints: boolean }) {
  const [result, setResult] = useState<VerifyAnswer | undefined>();
  const action = useAction();
  const latest = useApi<Checkpoint>(checkpoints ? "/audit-checkpoints/latest" : null);
  return (
    <Page name="integrity" title="Integrity">
      <section class="panel" aria-labelledby="verify-h">
        <h2 id="verify-h">Hash chain</h2>
        <p class="muted">
          Walks the whole audit log, checking each record's hash and link, and the stored
          checkpoints.
        </p>
        <button
          id="verify-run"
          type="button"
          class="primary"
          disabled={action.busy}
          onClick={() => {
            void action.run(() => get<VerifyAnswer>("/audit-logs/verify")).then(setResult);
          }}
        >
          {action.busy ? "Verifying…" : "Verify now"}
        </button>
        <Alert error={action.error} />
        {result && (
          <div data-testid="verify-result" data-ok={String(result.ok)} role="status">
            {result.ok ? (
              <p class="ok">OK: {num(result.checked)} records verified.</p>
            ) : (
              <>
                <p class="error">
                  The chain fails{result.problem ? ` (${result.problem})` : ""} after{" "}
                  {num(result.checked)} records.
                </p>
                <dl class="fields">
                  <dt>First failure</dt>
                  <dd>
                    {result.firstBadDecisionId ? (
                      <a href={`#/decisions/${encodeURIComponent(result.firstBadDecisionId)}`}>
                        {result.firstBadDecisionId}
                      </a>
                    ) : (
                      (result.first_failure_id ?? "–")
                    )}
                  </dd>
                  {result.message && (
                    <>
                      <dt>What is wrong</dt>
                      <dd>{result.message}</dd>
                    </>
                  )}
                </dl>
              </>
            )}
          </div>
        )}
      </section>
      {!checkpoints ? (
        <section class="panel" aria-labelledby="latest-h">
          <h2 id="latest-h">Latest signed checkpoint</h2>
          <p class="notice">
            Checkpoints are off on this server (start it with HEXARCH_AUDIT_HMAC_KEY to sign them).
          </p>
        </section>
      ) : (
        <Panel title="Latest signed checkpoint" loaded={latest}>
          {(c) => (
            <dl class="fields" data-testid="checkpoint">
              <dt>Id</dt>
              <dd>
                <code>{c.id}</code>
              </dd>
              <dt>Made</dt>
              <dd>
                <Time at={c.createdAt} />
              </dd>
              <dt>By</dt>
              <dd>{c.actor}</dd>
              <dt>Covers</dt>
              <dd>
                {num(c.records)} records, up to seq {num(c.seq)}
              </dd>
              <dt>Head hash</dt>
              <dd>
                <code class="hash">{c.headHash}</code>
              </dd>
              <dt>Key id</dt>
              <dd>
                <code>{c.keyId}</code>
              </dd>
            </dl>
          )}
        </Panel>
      )}
    </Page>
  );
}
