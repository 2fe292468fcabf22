/**
 * Shared pieces of the console: formatting, the data-loading hook, notices, the live
 * event bus and hash-route helpers.
 *
 * @module
 */

import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError, get, type LiveEvent } from "./api.ts";

const numberFormat = new Intl.NumberFormat();
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

/** A number with the reader's grouping (`12,345`). */
export function num(n: number | null | undefined, digits?: number): string {
  if (n === null || n === undefined || Number.isNaN(n)) return "–";
  if (digits !== undefined)
    return n.toLocaleString(undefined, {
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    });
  return numberFormat.format(n);
}

/** A percentage as the server gives it (`12.5` → `12.5 %`; `/audit/summary`'s `blockRate`). */
export function pct(percent: number | null | undefined): string {
  if (percent === null || percent === undefined || Number.isNaN(percent)) return "–";
  return `${percent.toLocaleString(undefined, { maximumFractionDigits: 2 })} %`;
}

/** A time in local time, the ISO form in its title. */
export function Time({ at }: { at: string | number | null | undefined }) {
  if (at === null || at === undefined) return <span>–</span>;
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return <span>{String(at)}</span>;
  const iso = d.toISOString();
  return (
    <time dateTime={iso} title={iso}>
      {dateFormat.format(d)}
    </time>
  );
}

/** A duration in words (`3 min`, `2 h 5 min`). */
export function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d`;
}

/** What {@link useApi} holds. */
export interface Loaded<T> {
  readonly data: T | undefined;
  readonly error: ApiError | undefined;
  readonly loading: boolean;
  readonly reload: () => void;
}

function asApiError(err: unknown): ApiError {
  return err instanceof ApiError ? err : new ApiError(0, "client", String(err));
}

/** GETs `path` (again whenever it changes, or on `reload`); `null` loads nothing. */
export function useApi<T>(path: string | null): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: ApiError; loading: boolean }>({
    loading: path !== null,
  });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (path === null) return;
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    get<T>(path).then(
      (data) => live && setState({ data, loading: false }),
      (err: unknown) => live && setState({ error: asApiError(err), loading: false }),
    );
    return () => {
      live = false;
    };
  }, [path, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

/** Runs an action, keeping its error (for `[role=alert]`) and whether it runs. */
export function useAction(): {
  busy: boolean;
  error: ApiError | undefined;
  setError: (e: ApiError | undefined) => void;
  run: <T>(fn: () => Promise<T>) => Promise<T | undefined>;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | undefined>();
  const run = useCallback(async <T,>(fn: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setError(undefined);
    try {
      return await fn();
    } catch (err) {
      setError(asApiError(err));
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, setError, run };
}

/** A short notice for a panel whose route is not there, or an error. */
export function Problem({ error }: { error: ApiError }) {
  if (error.unavailable)
    return (
      <p class="notice" data-status={error.status}>
        Not available on this server
        {error.status === 403 ? " for this credential" : ""}: {error.message} ({error.code})
      </p>
    );
  return (
    <p class="error" role="alert">
      {error.message} ({error.code})
    </p>
  );
}

/** A panel: its title, then the data, a loading line or a notice. */
export function Panel<T>({
  title,
  loaded,
  children,
  id,
}: {
  title: string;
  loaded: Loaded<T>;
  children: (data: T) => ComponentChildren;
  id?: string;
}) {
  const headingId = `${id ?? title.toLowerCase().replace(/\W+/g, "-")}-h`;
  return (
    <section class="panel" aria-labelledby={headingId}>
      <h2 id={headingId}>{title}</h2>
      {loaded.error ? (
        <Problem error={loaded.error} />
      ) : loaded.data === undefined ? (
        <p class="muted">Loading…</p>
      ) : (
        children(loaded.data)
      )}
    </section>
  );
}

/** An error of an action, in an alert, or nothing. */
export function Alert({ error }: { error: ApiError | undefined | string }) {
  if (error === undefined || error === "") return null;
  const text =
    typeof error === "string"
      ? error
      : `${error.message}${error.code.startsWith("http_") ? "" : ` (${error.code})`}`;
  return (
    <p class="error" role="alert">
      {text}
    </p>
  );
}

// ---- Live events ---------------------------------------------------------------------

type Listener = (e: LiveEvent) => void;
const listeners = new Set<Listener>();

/** Hands an event of the stream to every page listening. */
export function publish(e: LiveEvent): void {
  for (const l of listeners) l(e);
}

/** Calls `fn` for every live event of `type`, at most once per `debounceMs`. */
export function useLive(type: string, fn: (data: unknown) => void, debounceMs = 0): void {
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let last: unknown;
    const l: Listener = (e) => {
      if (e.type !== type) return;
      if (debounceMs <= 0) {
        ref.current(e.data);
        return;
      }
      last = e.data;
      if (timer === undefined)
        timer = setTimeout(() => {
          timer = undefined;
          ref.current(last);
        }, debounceMs);
    };
    listeners.add(l);
    return () => {
      listeners.delete(l);
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [type, debounceMs]);
}

// ---- Routes --------------------------------------------------------------------------

/** The hash route: `#/decisions/abc?x=1` → `{ parts: ["decisions", "abc"], params }`. */
export interface Route {
  readonly parts: readonly string[];
  readonly params: URLSearchParams;
}

/** Parses `location.hash`. */
export function parseRoute(hash: string): Route {
  const h = hash.replace(/^#\/?/, "");
  const q = h.indexOf("?");
  const path = q < 0 ? h : h.slice(0, q);
  const parts = path
    .split("/")
    .filter((p) => p !== "")
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
  return { parts, params: new URLSearchParams(q < 0 ? "" : h.slice(q + 1)) };
}

/** Goes to a route (`#/…`). */
export function navigate(hash: string): void {
  if (location.hash !== hash) location.hash = hash;
}

/** A page's root: `<main data-page>` with its `<h1>`. */
export function Page({
  name,
  title,
  children,
}: {
  name: string;
  title: string;
  children?: ComponentChildren;
}) {
  useEffect(() => {
    document.title = `${title} · hexarch console`;
  }, [title]);
  return (
    <main data-page={name} id="main" tabIndex={-1}>
      <h1>{title}</h1>
      {children}
    </main>
  );
}

/** Pretty JSON for a `<pre>`. */
export function pretty(value: unknown): string {
  return JSON.stringify(value, null, 2) ?? "null";
}
