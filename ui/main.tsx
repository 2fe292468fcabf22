/**
 * The console's entry: login, the principal (`GET /whoami`), the navigation it may see,
 * the live event stream, and the hash router.
 *
 * @module
 */

import { render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import {
  ApiError,
  credential,
  get,
  handleUnauthorized,
  openStream,
  type Scope,
  setCredential,
  type Whoami,
} from "./api.ts";
import { navigate, Page, parseRoute, publish, type Route } from "./lib.tsx";
import { ApprovalsPage } from "./pages/approvals.tsx";
import { DecisionPage } from "./pages/decision.tsx";
import { DecisionsPage } from "./pages/decisions.tsx";
import { IntegrityPage } from "./pages/integrity.tsx";
import { KeysPage } from "./pages/keys.tsx";
import { LoginPage } from "./pages/login.tsx";
import { OverviewPage } from "./pages/overview.tsx";
import { PlaygroundPage } from "./pages/playground.tsx";
import { PoliciesPage, PolicyPage } from "./pages/policies.tsx";
import { ReplayPage } from "./pages/replay.tsx";

/**
 * `GET /whoami`; on a server without it (404), the credential is checked on a route that
 * needs one and the pages find out what they may show from their own answers.
 */
async function whoami(): Promise<Whoami> {
  try {
    return await get<Whoami>("/whoami");
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 404) throw err;
    await get<unknown>("/policies");
    return {
      kind: "api-token",
      actorId: "signed in",
      scopes: ["read", "decide", "approve", "policy", "admin"],
    };
  }
}

/** Whether the principal holds a scope (`admin` holds all but `token`). */
export function can(me: Whoami, scope: Scope): boolean {
  if (me.scopes.includes(scope)) return true;
  if (scope === "token") return false;
  return me.scopes.includes("admin") || me.scopes.includes("*");
}

type Feature = keyof NonNullable<Whoami["features"]>;

interface NavItem {
  readonly page: string;
  readonly label: string;
  readonly scope: Scope;
  readonly feature?: Feature;
}

const NAV: readonly NavItem[] = [
  { page: "overview", label: "Overview", scope: "read", feature: "audit" },
  { page: "decisions", label: "Decisions", scope: "read", feature: "audit" },
  { page: "approvals", label: "Approvals", scope: "approve", feature: "approvals" },
  { page: "policies", label: "Policies", scope: "read" },
  { page: "playground", label: "Playground", scope: "decide" },
  { page: "replay", label: "Replay", scope: "admin", feature: "audit" },
  { page: "integrity", label: "Integrity", scope: "read", feature: "audit" },
  { page: "keys", label: "Keys", scope: "token", feature: "apiKeys" },
];

function allowed(me: Whoami, item: NavItem): boolean {
  if (!can(me, item.scope)) return false;
  return item.feature === undefined || me.features?.[item.feature] !== false;
}

function useHash(): Route {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener("hashchange", on);
    // A change made before the listener was added (a redirect during the first render).
    on();
    return () => removeEventListener("hashchange", on);
  }, []);
  // The live hash, not the state: a redirect made since the last event counts at once.
  return parseRoute(hash === location.hash ? hash : location.hash);
}

type Auth =
  | { readonly state: "checking" }
  | { readonly state: "out"; readonly error?: string }
  | { readonly state: "in"; readonly me: Whoami };

function App() {
  const route = useHash();
  const [auth, setAuth] = useState<Auth>(credential() ? { state: "checking" } : { state: "out" });
  const [live, setLive] = useState(false);
  const wanted = useRef<string | undefined>(undefined);

  const logout = (error?: string) => {
    setCredential(null);
    setAuth(error === undefined ? { state: "out" } : { state: "out", error });
  };

  const login = async (token: string): Promise<void> => {
    setCredential(token);
    try {
      const me = await whoami();
      setAuth({ state: "in", me });
      // Back where the user was going when sent to log in (a linked, filtered view), or on.
      const page = parseRoute(location.hash).parts[0];
      if (page === undefined || page === "login") navigate(wanted.current ?? "#/overview");
      wanted.current = undefined;
    } catch (err) {
      const e = err instanceof ApiError ? err : undefined;
      setCredential(null);
      setAuth({
        state: "out",
        error:
          e && (e.status === 401 || e.status === 403)
            ? "That credential was refused."
            : `Could not sign in: ${e?.message ?? String(err)}`,
      });
    }
  };

  useEffect(() => {
    handleUnauthorized(() => logout("Your session ended: the credential was refused."));
    const c = credential();
    if (c) void login(c);
  }, []);

  const signedIn = auth.state === "in";
  useEffect(() => {
    if (!signedIn) return;
    const me = (auth as { me: Whoami }).me;
    // read: every event; approve alone: the server sends confirmation events only.
    if (!can(me, "read") && !can(me, "approve")) return;
    return openStream(publish, setLive);
  }, [signedIn]);

  if (auth.state === "checking")
    return (
      <main data-page="loading">
        <h1>hexarch console</h1>
        <p class="muted">Signing in…</p>
      </main>
    );
  if (auth.state === "out") {
    if (route.parts[0] !== "login") {
      if (route.parts.length > 0) wanted.current = location.hash;
      navigate("#/login");
    }
    return <LoginPage error={auth.error} onLogin={login} />;
  }
  const me = auth.me;
  const items = NAV.filter((i) => allowed(me, i));
  let page = route.parts[0] ?? "";
  if (page === "" || page === "login") {
    page = items[0]?.page ?? "";
    if (page !== "") navigate(`#/${page}`);
  }
  const current = page === "decision" ? "decisions" : page === "policy" ? "policies" : page;
  return (
    <>
      <button type="button" class="skip" onClick={skipToMain}>
        Skip to content
      </button>
      <header class="top">
        <span class="brand">hexarch console</span>
        <nav aria-label="Console">
          <ul>
            {items.map((i) => (
              <li key={i.page}>
                <a
                  href={`#/${i.page}`}
                  aria-current={current === i.page ? "page" : undefined}
                  class={current === i.page ? "current" : undefined}
                >
                  {i.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="who">
          <span
            id="live-status"
            class={live ? "live" : "reconnecting"}
            role="status"
            aria-live="polite"
          >
            {live ? "live" : "reconnecting"}
          </span>
          <span class="actor" title={`${me.kind}: ${me.scopes.join(", ")}`}>
            {me.actorId}
          </span>
          <button type="button" id="logout" onClick={() => logout()}>
            Log out
          </button>
        </span>
      </header>
      <Content route={route} page={page} me={me} items={items} />
    </>
  );
}

function skipToMain() {
  document.getElementById("main")?.focus();
}

function Content({
  route,
  page,
  me,
  items,
}: {
  route: Route;
  page: string;
  me: Whoami;
  items: readonly NavItem[];
}) {
  const id = route.parts[1];
  const allowedPage = (name: string) => items.some((i) => i.page === name);
  switch (page) {
    case "overview":
      if (allowedPage("overview")) return <OverviewPage />;
      break;
    case "decisions":
      if (allowedPage("decisions"))
        return id === undefined ? (
          <DecisionsPage params={route.params} />
        ) : (
          <DecisionPage id={id} />
        );
      break;
    case "decision":
      if (allowedPage("decisions") && id !== undefined) return <DecisionPage id={id} />;
      break;
    case "approvals":
      if (allowedPage("approvals")) return <ApprovalsPage />;
      break;
    case "policies":
    case "policy":
      if (allowedPage("policies"))
        return id === undefined ? (
          <PoliciesPage canWrite={can(me, "policy")} />
        ) : (
          <PolicyPage id={id} canWrite={can(me, "policy")} />
        );
      break;
    case "playground":
      if (allowedPage("playground")) return <PlaygroundPage />;
      break;
    case "replay":
      if (allowedPage("replay")) return <ReplayPage />;
      break;
    case "integrity":
      if (allowedPage("integrity"))
        return <IntegrityPage checkpoints={me.features?.checkpoints !== false} />;
      break;
    case "keys":
      if (allowedPage("keys")) return <KeysPage />;
      break;
  }
  return (
    <Page name="not-found" title="Not found">
      <p>
        There is no page <code>{page}</code> here, or this credential may not see it.{" "}
        {items[0] && <a href={`#/${items[0].page}`}>Go to {items[0].label}</a>}
      </p>
    </Page>
  );
}

const root = document.getElementById("app");
if (root) render(<App />, root);
