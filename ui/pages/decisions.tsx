/**
 * `#/decisions`: the audit log with filters mirrored in the hash (a filtered view is a
 * link), keyset paging (`before_seq`) and export of the filtered view.
 *
 * @module
 */

import { useEffect, useState } from "preact/hooks";
import { type AuditLogsAnswer, download, query } from "../api.ts";
import { Alert, num, Page, Panel, Time, useAction, useApi, useLive } from "../lib.tsx";

/** The filters, by their query-string names. */
const FILTERS = [
  "policy_id",
  "decision",
  "user_id",
  "function_name",
  "since",
  "until",
  "q",
] as const;
type Filters = Partial<Record<(typeof FILTERS)[number], string>>;

const PAGE_SIZE = 50;

function filtersOf(params: URLSearchParams): Filters {
  const f: Filters = {};
  for (const k of FILTERS) {
    const v = params.get(k);
    if (v) f[k] = v;
  }
  return f;
}

/** The decisions page; `params` is the hash's query. */
export function DecisionsPage({ params }: { params: URLSearchParams }) {
  const filters = filtersOf(params);
  const beforeSeq = params.get("before_seq") ?? undefined;
  const key = query(filters);
  const [form, setForm] = useState<Filters>(filters);
  // The seqs of the pages before this one (for "Newer").
  const [history, setHistory] = useState<string[]>([]);
  // The form follows the hash (a link, Back): `key` is the filters' query string.
  useEffect(() => setForm(filtersOf(params)), [key]);
  const loaded = useApi<AuditLogsAnswer>(
    `/audit-logs${query({ ...filters, before_seq: beforeSeq, limit: PAGE_SIZE })}`,
  );
  const [fresh, setFresh] = useState(0);
  useLive("decision", () => {
    if (beforeSeq === undefined) setFresh((n) => n + 1);
  });
  const exporting = useAction();

  const go = (f: Filters, before?: string) => {
    const q = query({ ...f, before_seq: before });
    location.hash = `#/decisions${q}`;
  };
  const apply = (e: Event) => {
    e.preventDefault();
    setHistory([]);
    setFresh(0);
    go(form);
  };
  const records = loaded.data?.records ?? [];
  const last = records[records.length - 1];
  const next =
    loaded.data?.nextBeforeSeq !== undefined
      ? loaded.data.nextBeforeSeq
      : records.length === PAGE_SIZE && last
        ? last.seq
        : null;

  const field = (name: keyof Filters, label: string, id: string, placeholder?: string) => (
    <div class="field">
      <label for={id}>{label}</label>
      <input
        id={id}
        name={name}
        value={form[name] ?? ""}
        placeholder={placeholder}
        onInput={(e) => setForm({ ...form, [name]: e.currentTarget.value })}
      />
    </div>
  );
  const exportAs = (format: "csv" | "json") => () => {
    void exporting.run(() =>
      download(`/audit-logs/export${query({ format, ...filters })}`, `decisions.${format}`),
    );
  };

  return (
    <Page name="decisions" title="Decisions">
      <form class="filters" onSubmit={apply} aria-label="Filter decisions">
        {field("policy_id", "Policy", "f-policy")}
        <div class="field">
          <label for="f-decision">Decision</label>
          <select
            id="f-decision"
            name="decision"
            value={form.decision ?? ""}
            onChange={(e) => setForm({ ...form, decision: e.currentTarget.value })}
          >
            <option value="">any</option>
            <option value="allowed">allowed</option>
            <option value="warned">warned</option>
            <option value="blocked">blocked</option>
          </select>
        </div>
        {field("user_id", "User", "f-user")}
        {field("function_name", "Function", "f-function")}
        {field("since", "Since", "f-since", "24h or 2026-12-01")}
        {field("until", "Until", "f-until", "ISO time or 1h")}
        {field("q", "Reason contains", "f-q")}
        <div class="field actions">
          <button id="f-apply" type="submit">
            Apply filters
          </button>
        </div>
      </form>
      <div class="toolbar">
        <button type="button" id="export-csv" onClick={exportAs("csv")} disabled={exporting.busy}>
          Export CSV
        </button>
        <button type="button" id="export-json" onClick={exportAs("json")} disabled={exporting.busy}>
          Export JSON
        </button>
        {fresh > 0 && (
          <button
            type="button"
            onClick={() => {
              setFresh(0);
              loaded.reload();
            }}
          >
            {num(fresh)} new decision{fresh === 1 ? "" : "s"}: show
          </button>
        )}
      </div>
      <Alert error={exporting.error} />
      <Panel title="Audit log" loaded={loaded}>
        {() => (
          <>
            <table data-testid="decisions">
              <caption class="sr-only">Decisions, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Policy</th>
                  <th scope="col">Decision</th>
                  <th scope="col">Function</th>
                  <th scope="col">User</th>
                  <th scope="col">Reason</th>
                  <th scope="col" class="n">
                    Seq
                  </th>
                </tr>
              </thead>
              <tbody>
                {records.length === 0 && (
                  <tr>
                    <td colSpan={7} class="muted">
                      No decisions match.
                    </td>
                  </tr>
                )}
                {records.map((r) => (
                  <tr key={r.decisionId} data-decision-id={r.decisionId}>
                    <td>
                      <a href={`#/decisions/${encodeURIComponent(r.decisionId)}`}>
                        <Time at={r.timestamp} />
                      </a>
                    </td>
                    <td>{r.policyId}</td>
                    <td>
                      <span class={`badge ${r.decision}`}>{r.decision}</span>
                    </td>
                    <td>{r.functionName ?? "–"}</td>
                    <td>{r.userId ?? "–"}</td>
                    <td class="wrap">{r.reason}</td>
                    <td class="n">{r.seq}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <nav class="pager" aria-label="Pages">
              <button
                type="button"
                id="page-newer"
                disabled={beforeSeq === undefined}
                onClick={() => {
                  const prev = history.slice(0, -1);
                  const to = history[history.length - 1];
                  setHistory(prev);
                  go(filters, to === "" ? undefined : to);
                }}
              >
                Newer
              </button>
              <button
                type="button"
                id="page-older"
                disabled={next === null}
                onClick={() => {
                  setHistory([...history, beforeSeq ?? ""]);
                  go(filters, String(next));
                }}
              >
                Older
              </button>
            </nav>
          </>
        )}
      </Panel>
    </Page>
  );
}
