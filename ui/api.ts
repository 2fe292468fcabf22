/**
 * The console's API client: the credential (kept in this tab's sessionStorage only), JSON
 * requests with `Authorization: Bearer`, the answers' shapes, and the live event stream
 * (`GET /events/stream`, read with fetch: EventSource cannot send the header).
 *
 * @module
 */

const CREDENTIAL_KEY = "hexarch.console.credential";

/** The stored credential, or `null` when the tab has none. */
export function credential(): string | null {
  try {
    return sessionStorage.getItem(CREDENTIAL_KEY);
  } catch {
    return null;
  }
}

/** Keeps (or, with `null`, forgets) the credential for this tab. */
export function setCredential(value: string | null): void {
  if (value === null) sessionStorage.removeItem(CREDENTIAL_KEY);
  else sessionStorage.setItem(CREDENTIAL_KEY, value);
}

/** An answer that was not 2xx, with the server's error code and message. */
export class ApiError extends Error {
  /** The HTTP status (0: the server could not be reached). */
  readonly status: number;
  /** The server's `code` (`route_not_found`, `audit_disabled`, …). */
  readonly code: string;
  /** The field a validation error names, when it names one. */
  readonly field: string | undefined;
  constructor(status: number, code: string, message: string, field?: string) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
  /** The route or feature is not there for this server or this principal. */
  get unavailable(): boolean {
    return this.status === 404 || this.status === 501 || this.status === 403;
  }
}

/** Called when an answer says the credential is no good (401). */
let onUnauthorized: () => void = () => {};
/** Sets what happens on a 401 (the app logs out). */
export function handleUnauthorized(fn: () => void): void {
  onUnauthorized = fn;
}

function headers(json: boolean): Headers {
  const h = new Headers({ accept: "application/json" });
  const c = credential();
  if (c) h.set("authorization", `Bearer ${c}`);
  if (json) h.set("content-type", "application/json");
  return h;
}

async function errorOf(res: Response): Promise<ApiError> {
  let code = `http_${res.status}`;
  let message = res.statusText || `HTTP ${res.status}`;
  let field: string | undefined;
  try {
    const body = (await res.json()) as { code?: unknown; message?: unknown; field?: unknown };
    if (typeof body.code === "string") code = body.code;
    if (typeof body.message === "string") message = body.message;
    if (typeof body.field === "string") field = body.field;
  } catch {
    // not JSON: keep the status text
  }
  return new ApiError(res.status, code, message, field);
}

/** Sends a request; rejects with an {@link ApiError} for anything but 2xx. */
export async function send(method: string, path: string, body?: unknown): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: headers(body !== undefined),
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  } catch (err) {
    throw new ApiError(0, "network", `the server could not be reached (${String(err)})`);
  }
  if (!res.ok) {
    const err = await errorOf(res);
    if (res.status === 401) onUnauthorized();
    throw err;
  }
  return res;
}

/** GET a JSON answer. */
export async function get<T>(path: string): Promise<T> {
  return (await (await send("GET", path)).json()) as T;
}

/** POST/PUT/PATCH/DELETE with a JSON body; the JSON answer (or `null` for 204). */
export async function write<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await send(method, path, body);
  if (res.status === 204) return null as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : null) as T;
}

/** A query string from the defined, non-empty values (`?a=1&b=2`, or "" for none). */
export function query(params: Record<string, string | number | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** Downloads an authenticated answer as a file (a plain link cannot carry the header). */
export async function download(path: string, fallbackName: string): Promise<void> {
  const res = await send("GET", path);
  const disposition = res.headers.get("content-disposition") ?? "";
  const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] ?? fallbackName;
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// ---- Answer shapes -------------------------------------------------------------------

/** The scopes a principal can hold. */
export type Scope = "read" | "decide" | "approve" | "policy" | "admin" | "token";

/** `GET /whoami`. */
export interface Whoami {
  readonly kind: "api-token" | "api-key" | "anonymous";
  readonly actorId: string;
  readonly scopes: readonly string[];
  readonly features?: Partial<
    Record<"audit" | "approvals" | "apiPolicies" | "checkpoints" | "apiKeys" | "ui", boolean>
  >;
}

/** An outcome of a decision. */
export type Outcome = "allowed" | "warned" | "blocked";

/** One audit record. */
export interface AuditRecord {
  readonly seq: number;
  readonly decisionId: string;
  readonly timestamp: string;
  readonly policyId: string;
  readonly functionName: string | null;
  readonly decision: Outcome;
  readonly action: string;
  readonly reason: string;
  readonly userId: string | null;
  readonly durationMs: number;
  readonly mode: string;
  readonly context: Record<string, unknown>;
  readonly metadata: Record<string, unknown> | null;
  readonly hash: string;
}

/** `GET /audit-logs`. */
export interface AuditLogsAnswer {
  readonly records: readonly AuditRecord[];
  readonly nextBeforeSeq?: number | null;
}

/** `GET /audit-logs/:decisionId`. */
export interface AuditRecordAnswer {
  readonly record: AuditRecord;
  readonly chain: {
    readonly seq: number;
    readonly prevHash: string;
    readonly hash: string;
    readonly previousDecisionId: string | null;
    readonly nextDecisionId: string | null;
  };
}

/** `GET /audit/summary`. */
export interface Summary {
  readonly total: number;
  readonly allowed: number;
  readonly warned: number;
  readonly blocked: number;
  readonly blockRate: number;
  readonly topBlockReasons: readonly { readonly reason: string; readonly count: number }[];
  readonly policies: readonly {
    readonly policyId: string;
    readonly total: number;
    readonly allowed: number;
    readonly warned: number;
    readonly blocked: number;
  }[];
}

/** `GET /audit/timeseries`. */
export interface Timeseries {
  readonly since: string;
  readonly until: string;
  readonly bucketMs: number;
  readonly points: readonly {
    readonly t: string;
    readonly allowed: number;
    readonly warned: number;
    readonly blocked: number;
  }[];
}

/** One budget of `GET /audit/budgets`. */
export interface Budget {
  readonly policyId: string;
  readonly ruleName?: string;
  readonly per: string | null;
  readonly unit: "usd" | "tokens";
  readonly spent: number;
  readonly limit: number;
  readonly periodStart: string;
  readonly periodEnd: string;
  readonly ratePerHour: number;
  readonly projectedRunOut: string | null;
  readonly exhausted: boolean;
}

/** `GET /audit/budgets`. */
export interface BudgetsAnswer {
  readonly now: string;
  /** When the server computed it (it reuses an answer for up to 10 s). */
  readonly computedAt?: string;
  readonly budgets: readonly Budget[];
}

/** A confirmation request of `GET /approvals`. */
export interface ApprovalRequest {
  readonly id: string;
  readonly policyId: string;
  readonly fingerprint?: string;
  readonly status: string;
  readonly requestedBy?: string;
  readonly reason?: string;
  readonly operation?: string;
  readonly metadata?: Record<string, unknown>;
  readonly createdAtMs?: number;
  readonly expiresAtMs?: number;
  readonly createdAt?: string;
  readonly expiresAt?: string;
  readonly decidedBy?: string;
  readonly decisionReason?: string;
}

/** A policy of `GET /policies`. */
export interface Policy {
  readonly id: string;
  readonly name: string;
  readonly description?: string | null;
  readonly scope?: string;
  readonly scope_value?: string | null;
  readonly failure_mode?: string;
  readonly enabled: boolean;
  readonly rule_ids?: readonly string[];
  /** `api` or `yaml` (the kind), or — for YAML policies — their YAML text. */
  readonly source: string;
  readonly readOnly: boolean;
  readonly rules?: number;
  readonly yaml?: string;
  readonly created_at?: string;
  readonly updated_at?: string;
}

/** `POST /authorize`. */
export interface AuthorizeAnswer {
  readonly allowed: boolean;
  readonly decision: string;
  readonly action: string;
  readonly reason: string;
  readonly policies: readonly string[];
  readonly decisionId: string;
  readonly matchedRules: readonly string[];
  readonly timestamp: string;
  readonly dryRun?: boolean;
}

/** One flip in a replay report. */
export interface Flip {
  readonly decisionId: string;
  readonly timestamp: string;
  readonly policyId: string;
  readonly functionName?: string | null;
  readonly userId?: string | null;
  readonly before: Outcome;
  readonly after: Outcome;
  readonly action: string;
  readonly ruleId?: string;
  readonly reason: string;
}

/** `POST /audit-logs/replay`. */
export interface ReplayReport {
  readonly since?: string;
  readonly until: string;
  readonly replayed: number;
  readonly skipped: { readonly notDecisions?: number; readonly unknownPolicy?: number };
  readonly toBlocked: number;
  readonly toAllowed: number;
  readonly warnChanged: number;
  readonly policies: readonly {
    readonly policyId: string;
    readonly replayed: number;
    readonly unchanged: number;
    readonly toBlocked: number;
    readonly toAllowed: number;
    readonly warnChanged: number;
    readonly byRule: Record<string, number>;
    readonly examples: readonly Flip[];
  }[];
}

/** `GET /audit-logs/verify`. */
export interface VerifyAnswer {
  readonly ok: boolean;
  readonly checked: number;
  readonly first_failure_id: string | null;
  readonly firstBadDecisionId?: string;
  readonly problem?: string;
  readonly message?: string;
}

/** `GET /audit-checkpoints/latest`. */
export interface Checkpoint {
  readonly id: string;
  readonly seq: number;
  readonly headHash: string;
  readonly records: number;
  readonly createdAt: string;
  readonly actor: string;
  readonly keyId: string;
  readonly signature: string;
}

/** An API key of `GET /api-keys`. */
export interface ApiKey {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly string[];
  readonly created_at: string;
  readonly revoked_at: string | null;
  readonly last_used_at: string | null;
  readonly key?: string;
}

// ---- Live events ---------------------------------------------------------------------

/** An event of `GET /events/stream`. */
export interface LiveEvent {
  readonly type: string;
  readonly data: unknown;
}

/**
 * Reads `GET /events/stream` until `stop` is called, reconnecting with backoff (1 s, then
 * doubling to 30 s). `onStatus(true)` once connected, `false` while reconnecting.
 */
export function openStream(
  onEvent: (e: LiveEvent) => void,
  onStatus: (live: boolean) => void,
): () => void {
  let stopped = false;
  let controller: AbortController | undefined;
  let delay = 1000;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const dispatch = (block: string) => {
    let type = "message";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line === "" || line.startsWith(":")) continue;
      const i = line.indexOf(":");
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
      if (field === "event") type = value;
      else if (field === "data") data.push(value);
    }
    if (data.length === 0) return;
    const text = data.join("\n");
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // keep the text
    }
    onEvent({ type, data: parsed });
  };

  const connect = async () => {
    if (stopped) return;
    controller = new AbortController();
    const c = credential();
    try {
      const res = await fetch("/events/stream", {
        headers: {
          accept: "text/event-stream",
          ...(c ? { authorization: `Bearer ${c}` } : {}),
        },
        signal: controller.signal,
      });
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      onStatus(true);
      delay = 1000;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n?/g, "\n");
        let end = buffer.indexOf("\n\n");
        while (end >= 0) {
          dispatch(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf("\n\n");
        }
      }
    } catch {
      // reconnect below
    }
    if (stopped) return;
    onStatus(false);
    timer = setTimeout(() => void connect(), delay);
    delay = Math.min(delay * 2, 30_000);
  };
  void connect();
  return () => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
    controller?.abort();
  };
}
