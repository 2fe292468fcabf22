/**
 * `#/policies` and `#/policies/<id>`: every policy. YAML ones are read-only, shown with
 * their source; API-defined ones can be created, edited, enabled and disabled, with the
 * server's validation errors shown next to the field they name.
 *
 * @module
 */

import { useEffect, useState } from "preact/hooks";
import { type ApiError, type Policy, write } from "../api.ts";
import { Alert, navigate, Page, Panel, Time, useAction, useApi } from "../lib.tsx";

/** The YAML text of a policy from the file, when the server gives it. */
export function yamlOf(p: Policy): string | undefined {
  if (typeof p.yaml === "string") return p.yaml;
  if (p.source !== "api" && p.source !== "yaml" && p.source !== "") return p.source;
  return undefined;
}

function kindOf(p: Policy): string {
  return p.readOnly ? "YAML file" : "API";
}

/** The policy list, and a form to create an API-defined policy. */
export function PoliciesPage({ canWrite }: { canWrite: boolean }) {
  const loaded = useApi<readonly Policy[]>("/policies");
  return (
    <Page name="policies" title="Policies">
      <Panel title="All policies" loaded={loaded}>
        {(list) => (
          <table data-testid="policies">
            <caption class="sr-only">Policies from the YAML file and the API</caption>
            <thead>
              <tr>
                <th scope="col">Id</th>
                <th scope="col">Name</th>
                <th scope="col">From</th>
                <th scope="col">Enabled</th>
                <th scope="col">Rules</th>
              </tr>
            </thead>
            <tbody>
              {list.length === 0 && (
                <tr>
                  <td colSpan={5} class="muted">
                    No policies.
                  </td>
                </tr>
              )}
              {list.map((p) => (
                <tr key={p.id} data-policy-id={p.id} data-read-only={String(p.readOnly)}>
                  <td>
                    <a href={`#/policies/${encodeURIComponent(p.id)}`}>{p.id}</a>
                  </td>
                  <td>{p.name}</td>
                  <td>{kindOf(p)}</td>
                  <td>{p.enabled ? "yes" : "no"}</td>
                  <td>{p.rules ?? p.rule_ids?.length ?? "–"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Panel>
      {canWrite && (
        <section class="panel" aria-labelledby="create-h">
          <h2 id="create-h">New API-defined policy</h2>
          <PolicyForm
            onSaved={(p) => {
              loaded.reload();
              navigate(`#/policies/${encodeURIComponent(p.id)}`);
            }}
          />
        </section>
      )}
    </Page>
  );
}

interface FormValues {
  name: string;
  description: string;
  scope: string;
  scope_value: string;
  failure_mode: string;
  rule_ids: string;
  enabled: boolean;
}

function valuesOf(p: Policy | undefined): FormValues {
  return {
    name: p?.name ?? "",
    description: p?.description ?? "",
    scope: p?.scope ?? "GLOBAL",
    scope_value: p?.scope_value ?? "",
    failure_mode: p?.failure_mode ?? "FAIL_CLOSED",
    rule_ids: (p?.rule_ids ?? []).join(", "),
    enabled: p?.enabled ?? true,
  };
}

/** Which form field a server error names (`body.name`, `name`, `/rule_ids/0`). */
function fieldOf(err: ApiError | undefined): string | undefined {
  const f = err?.field;
  if (!f) return undefined;
  const m = /(?:^|[./])(name|description|scope_value|scope|failure_mode|rule_ids|enabled)\b/.exec(
    f,
  );
  return m?.[1];
}

function PolicyForm({ policy, onSaved }: { policy?: Policy; onSaved: (p: Policy) => void }) {
  const [v, setV] = useState<FormValues>(valuesOf(policy));
  useEffect(() => setV(valuesOf(policy)), [policy]);
  const action = useAction();
  const prefix = policy ? "edit" : "new";
  const bad = fieldOf(action.error);
  const submit = async (e: Event) => {
    e.preventDefault();
    const body = {
      name: v.name.trim(),
      description: v.description.trim() === "" ? null : v.description,
      scope: v.scope,
      scope_value: v.scope_value.trim() === "" ? null : v.scope_value.trim(),
      failure_mode: v.failure_mode,
      enabled: v.enabled,
      rule_ids: v.rule_ids
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== ""),
    };
    const saved = await action.run(() =>
      policy
        ? write<Policy>("PUT", `/policies/${encodeURIComponent(policy.id)}`, body)
        : write<Policy>("POST", "/policies", body),
    );
    if (saved) onSaved(saved);
  };
  const input = (name: keyof FormValues, label: string, hint?: string) => {
    const id = `${prefix}-${name}`;
    const errId = `${id}-error`;
    return (
      <div class="field">
        <label for={id}>{label}</label>
        <input
          id={id}
          name={name}
          value={String(v[name])}
          onInput={(e) => setV({ ...v, [name]: e.currentTarget.value })}
          aria-invalid={bad === name ? true : undefined}
          aria-describedby={bad === name ? errId : undefined}
          placeholder={hint}
        />
        {bad === name && action.error && (
          <span id={errId} class="error" role="alert">
            {action.error.message}
          </span>
        )}
      </div>
    );
  };
  return (
    <form class="stack" onSubmit={submit} data-testid={`${prefix}-policy-form`}>
      {input("name", "Name")}
      {input("description", "Description")}
      <div class="field">
        <label for={`${prefix}-scope`}>Scope</label>
        <select
          id={`${prefix}-scope`}
          name="scope"
          value={v.scope}
          onChange={(e) => setV({ ...v, scope: e.currentTarget.value })}
        >
          {["GLOBAL", "ORGANIZATION", "TEAM", "USER"].map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
      </div>
      {input("scope_value", "Scope value", "the organization, team or user id")}
      <div class="field">
        <label for={`${prefix}-failure_mode`}>Failure mode</label>
        <select
          id={`${prefix}-failure_mode`}
          name="failure_mode"
          value={v.failure_mode}
          onChange={(e) => setV({ ...v, failure_mode: e.currentTarget.value })}
        >
          <option>FAIL_CLOSED</option>
          <option>FAIL_OPEN</option>
        </select>
      </div>
      {input("rule_ids", "Rule ids", "comma-separated")}
      <div class="inline">
        <input
          id={`${prefix}-enabled`}
          type="checkbox"
          checked={v.enabled}
          onChange={(e) => setV({ ...v, enabled: e.currentTarget.checked })}
        />
        <label for={`${prefix}-enabled`}>Enabled</label>
      </div>
      <div>
        <button type="submit" class="primary" disabled={action.busy}>
          {policy ? "Save" : "Create policy"}
        </button>
      </div>
      {bad === undefined && <Alert error={action.error} />}
    </form>
  );
}

/** One policy: the YAML source of a file policy, or the forms of an API-defined one. */
export function PolicyPage({ id, canWrite }: { id: string; canWrite: boolean }) {
  const loaded = useApi<Policy>(`/policies/${encodeURIComponent(id)}`);
  const toggle = useAction();
  return (
    <Page name="policy" title={`Policy ${id}`}>
      <p>
        <a href="#/policies">Back to policies</a>
      </p>
      <Panel title="Policy" loaded={loaded}>
        {(p) => {
          const yaml = yamlOf(p);
          return (
            <>
              <dl class="fields">
                <dt>Id</dt>
                <dd>
                  <code>{p.id}</code>
                </dd>
                <dt>Name</dt>
                <dd>{p.name}</dd>
                <dt>From</dt>
                <dd>{kindOf(p)}</dd>
                <dt>Enabled</dt>
                <dd data-testid="policy-enabled">{p.enabled ? "yes" : "no"}</dd>
                {p.description && (
                  <>
                    <dt>Description</dt>
                    <dd>{p.description}</dd>
                  </>
                )}
                {p.updated_at && (
                  <>
                    <dt>Updated</dt>
                    <dd>
                      <Time at={p.updated_at} />
                    </dd>
                  </>
                )}
                <dt>Decisions</dt>
                <dd>
                  <a href={`#/decisions?policy_id=${encodeURIComponent(p.id)}`}>
                    See this policy's decisions
                  </a>
                </dd>
              </dl>
              {p.readOnly ? (
                <>
                  <h3>Source (read-only)</h3>
                  {yaml === undefined ? (
                    <p class="muted">
                      This policy comes from the server's YAML file; the server does not show its
                      source.
                    </p>
                  ) : (
                    <pre data-testid="policy-source">{yaml}</pre>
                  )}
                </>
              ) : (
                canWrite && (
                  <>
                    <div class="toolbar">
                      <button
                        type="button"
                        data-action={p.enabled ? "disable" : "enable"}
                        disabled={toggle.busy}
                        onClick={() => {
                          void toggle
                            .run(() =>
                              write<Policy>("PATCH", `/policies/${encodeURIComponent(p.id)}`, {
                                enabled: !p.enabled,
                              }),
                            )
                            .then((r) => r && loaded.reload());
                        }}
                      >
                        {p.enabled ? "Disable" : "Enable"}
                      </button>
                    </div>
                    <Alert error={toggle.error} />
                    <h3>Edit</h3>
                    <PolicyForm policy={p} onSaved={() => loaded.reload()} />
                  </>
                )
              )}
            </>
          );
        }}
      </Panel>
    </Page>
  );
}
