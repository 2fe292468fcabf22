/**
 * `#/approvals`: the confirmation requests waiting for a decision (or a chosen status),
 * approved or denied here with a reason; refreshed on `confirmation` events, with a
 * browser notification for a new request once the user allows them.
 *
 * @module
 */

import { useState } from "preact/hooks";
import { type ApprovalRequest, type AuditRecordAnswer, query, write } from "../api.ts";
import {
  Alert,
  ago,
  Page,
  Panel,
  Problem,
  pretty,
  Time,
  useAction,
  useApi,
  useLive,
} from "../lib.tsx";

const STATUSES = ["pending", "approved", "denied", "consumed", "expired", "all"] as const;

function createdMs(r: ApprovalRequest): number | undefined {
  return r.createdAtMs ?? (r.createdAt ? Date.parse(r.createdAt) : undefined);
}
function expiresMs(r: ApprovalRequest): number | undefined {
  return r.expiresAtMs ?? (r.expiresAt ? Date.parse(r.expiresAt) : undefined);
}

/** The arguments a request is bound to, when its metadata records them. */
function argumentsOf(r: ApprovalRequest): unknown {
  const m = r.metadata;
  if (!m) return undefined;
  return m.arguments ?? m.args ?? m.context;
}

/** The decision that asked for the approval (its record holds the call's context). */
function decisionOf(r: ApprovalRequest): string | undefined {
  const id = r.metadata?.decisionId;
  return typeof id === "string" ? id : undefined;
}

function notificationsSupported(): boolean {
  return typeof Notification !== "undefined";
}

/** The approvals inbox. */
export function ApprovalsPage() {
  const [status, setStatus] = useState<string>("pending");
  const loaded = useApi<{ requests: readonly ApprovalRequest[] }>(
    `/approvals${query({ status, limit: 100 })}`,
  );
  const [permission, setPermission] = useState<string>(
    notificationsSupported() ? Notification.permission : "unsupported",
  );
  useLive("confirmation", (data) => {
    loaded.reload();
    const e = data as { status?: string; policyId?: string; requestedBy?: string } | null;
    if (
      e &&
      (e.status === "created" || e.status === "pending") &&
      notificationsSupported() &&
      Notification.permission === "granted"
    )
      new Notification("Approval requested", {
        body: `${e.policyId ?? "a policy"}${e.requestedBy ? ` — asked by ${e.requestedBy}` : ""}`,
      });
  });
  const now = Date.now();
  return (
    <Page name="approvals" title="Approvals">
      <div class="toolbar">
        <label for="a-status">Status</label>
        <select id="a-status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        {permission === "default" && (
          <button
            type="button"
            id="enable-notifications"
            onClick={() => {
              void Notification.requestPermission().then(setPermission);
            }}
          >
            Notify me of new requests
          </button>
        )}
        {permission === "granted" && <span class="muted">Notifications on</span>}
        {permission === "denied" && <span class="muted">Notifications blocked by the browser</span>}
      </div>
      <Panel title={status === "pending" ? "Waiting for approval" : "Requests"} loaded={loaded}>
        {(d) => (
          <table data-testid="approvals">
            <caption class="sr-only">Confirmation requests, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Policy</th>
                <th scope="col">Asked by</th>
                <th scope="col">Operation and arguments</th>
                <th scope="col">Age</th>
                <th scope="col">Expires</th>
                <th scope="col">Status</th>
                <th scope="col">Decide</th>
              </tr>
            </thead>
            <tbody>
              {d.requests.length === 0 && (
                <tr>
                  <td colSpan={7} class="muted">
                    No {status === "all" ? "" : `${status} `}requests.
                  </td>
                </tr>
              )}
              {d.requests.map((r) => (
                <Row key={r.id} request={r} now={now} onDone={loaded.reload} />
              ))}
            </tbody>
          </table>
        )}
      </Panel>
    </Page>
  );
}

function Row({
  request: r,
  now,
  onDone,
}: {
  request: ApprovalRequest;
  now: number;
  onDone: () => void;
}) {
  const [reason, setReason] = useState("");
  const action = useAction();
  const created = createdMs(r);
  const expires = expiresMs(r);
  const args = argumentsOf(r);
  const decide = (verb: "approve" | "deny") => async () => {
    const done = await action.run(() =>
      write<unknown>("POST", `/approvals/${encodeURIComponent(r.id)}/${verb}`, {
        ...(reason.trim() !== "" && { reason: reason.trim() }),
      }),
    );
    if (done !== undefined) onDone();
  };
  const reasonId = `reason-${r.id}`;
  return (
    <tr data-request-id={r.id}>
      <td>{r.policyId}</td>
      <td>{r.requestedBy ?? "–"}</td>
      <td class="wrap">
        {r.operation && <code>{r.operation}</code>}
        {r.reason && <div class="muted">{r.reason}</div>}
        {decisionOf(r) && <CallContext decisionId={decisionOf(r) ?? ""} />}
        {args !== undefined && (
          <details>
            <summary>Details</summary>
            <pre>{pretty(args)}</pre>
          </details>
        )}
      </td>
      <td>
        {created === undefined ? (
          "–"
        ) : (
          <span title={new Date(created).toISOString()}>{ago(now - created)}</span>
        )}
      </td>
      <td>
        <Time at={expires} />
      </td>
      <td>
        {r.status}
        {r.decidedBy && <div class="muted">by {r.decidedBy}</div>}
      </td>
      <td>
        {r.status === "pending" ? (
          <div class="inline">
            <label for={reasonId} class="sr-only">
              Reason for request {r.id}
            </label>
            <input
              id={reasonId}
              name="reason"
              placeholder="Reason"
              value={reason}
              onInput={(e) => setReason(e.currentTarget.value)}
            />
            <button
              type="button"
              class="primary"
              data-action="approve"
              disabled={action.busy}
              onClick={decide("approve")}
            >
              Approve
            </button>
            <button
              type="button"
              class="danger"
              data-action="deny"
              disabled={action.busy}
              onClick={decide("deny")}
            >
              Deny
            </button>
          </div>
        ) : (
          <span class="muted">{r.decisionReason ?? "–"}</span>
        )}
        <Alert error={action.error} />
      </td>
    </tr>
  );
}

/** The call's arguments (its recorded context), loaded when opened. */
function CallContext({ decisionId }: { decisionId: string }) {
  const [open, setOpen] = useState(false);
  const loaded = useApi<AuditRecordAnswer>(
    open ? `/audit-logs/${encodeURIComponent(decisionId)}` : null,
  );
  return (
    <details onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>Arguments</summary>
      {loaded.error ? (
        <Problem error={loaded.error} />
      ) : loaded.data ? (
        <pre data-testid="approval-arguments">{pretty(loaded.data.record.context)}</pre>
      ) : (
        <span class="muted">Loading…</span>
      )}
      <a href={`#/decisions/${encodeURIComponent(decisionId)}`}>The decision</a>
    </details>
  );
}
