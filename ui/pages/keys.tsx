/**
 * `#/keys` (the server's own token only): list, create and revoke API keys; a new key is
 * shown once, with a button to copy it.
 *
 * @module
 */

import { useState } from "preact/hooks";
import { type ApiKey, write } from "../api.ts";
import { Alert, Page, Panel, Time, useAction, useApi } from "../lib.tsx";

const SCOPES = ["read", "decide", "approve", "policy", "admin"] as const;

/** The keys page. */
export function KeysPage() {
  const loaded = useApi<readonly ApiKey[]>("/api-keys");
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<readonly string[]>(["read", "decide"]);
  const [created, setCreated] = useState<ApiKey | undefined>();
  const [copied, setCopied] = useState(false);
  const [confirming, setConfirming] = useState<string | undefined>();
  const create = useAction();
  const revoke = useAction();

  const submit = async (e: Event) => {
    e.preventDefault();
    setCopied(false);
    const key = await create.run(() =>
      write<ApiKey>("POST", "/api-keys", { name: name.trim(), scopes }),
    );
    if (key) {
      setCreated(key);
      setName("");
      loaded.reload();
    }
  };

  return (
    <Page name="keys" title="API keys">
      <section class="panel" aria-labelledby="new-key-h">
        <h2 id="new-key-h">New key</h2>
        <form class="stack" onSubmit={submit}>
          <div class="field">
            <label for="key-name">Name</label>
            <input
              id="key-name"
              value={name}
              onInput={(e) => setName(e.currentTarget.value)}
              placeholder="letters, digits and ._:@+=/-"
              required
            />
          </div>
          <fieldset>
            <legend>Scopes</legend>
            <div class="inline">
              {SCOPES.map((s) => (
                <span key={s} class="inline">
                  <input
                    id={`key-scope-${s}`}
                    type="checkbox"
                    checked={scopes.includes(s)}
                    onChange={(e) =>
                      setScopes(
                        e.currentTarget.checked ? [...scopes, s] : scopes.filter((x) => x !== s),
                      )
                    }
                  />
                  <label for={`key-scope-${s}`}>{s}</label>
                </span>
              ))}
            </div>
          </fieldset>
          <div>
            <button id="key-create" type="submit" class="primary" disabled={create.busy}>
              Create key
            </button>
          </div>
        </form>
        <Alert error={create.error} />
        {created?.key && (
          <div class="secret" data-testid="new-key" role="status">
            <p>
              The key <strong>{created.name}</strong>: copy it now, it is not shown again.
            </p>
            <p>
              <code id="new-key-value">{created.key}</code>
            </p>
            <button
              type="button"
              id="copy-key"
              onClick={() => {
                const key = created.key;
                if (key) void navigator.clipboard.writeText(key).then(() => setCopied(true));
              }}
            >
              {copied ? "Copied" : "Copy"}
            </button>
          </div>
        )}
      </section>
      <Panel title="Keys" loaded={loaded}>
        {(keys) => (
          <>
            <Alert error={revoke.error} />
            <table data-testid="api-keys">
              <caption class="sr-only">API keys</caption>
              <thead>
                <tr>
                  <th scope="col">Id</th>
                  <th scope="col">Name</th>
                  <th scope="col">Scopes</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Status</th>
                </tr>
              </thead>
              <tbody>
                {keys.length === 0 && (
                  <tr>
                    <td colSpan={6} class="muted">
                      No keys.
                    </td>
                  </tr>
                )}
                {keys.map((k) => (
                  <tr key={k.id} data-key-id={k.id}>
                    <td>
                      <code>{k.id}</code>
                    </td>
                    <td>{k.name}</td>
                    <td>{k.scopes.join(", ")}</td>
                    <td>
                      <Time at={k.created_at} />
                    </td>
                    <td>
                      <Time at={k.last_used_at} />
                    </td>
                    <td>
                      {k.revoked_at ? (
                        <>
                          revoked <Time at={k.revoked_at} />
                        </>
                      ) : (
                        <span class="inline">
                          <button
                            type="button"
                            class="danger"
                            data-action="revoke"
                            aria-label={
                              confirming === k.id
                                ? `Confirm: revoke key ${k.name}`
                                : `Revoke key ${k.name}`
                            }
                            disabled={revoke.busy}
                            onClick={() => {
                              if (confirming !== k.id) {
                                setConfirming(k.id);
                                return;
                              }
                              setConfirming(undefined);
                              void revoke
                                .run(() =>
                                  write<ApiKey>("DELETE", `/api-keys/${encodeURIComponent(k.id)}`),
                                )
                                .then((r) => r && loaded.reload());
                            }}
                          >
                            {confirming === k.id ? "Confirm revoke" : "Revoke"}
                          </button>
                          {confirming === k.id && (
                            <button type="button" onClick={() => setConfirming(undefined)}>
                              Cancel
                            </button>
                          )}
                        </span>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
      </Panel>
    </Page>
  );
}
