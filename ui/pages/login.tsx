/**
 * `#/login`: the server's token or an API key, kept for this tab only.
 *
 * @module
 */

import { useState } from "preact/hooks";
import { Page } from "../lib.tsx";

/** The login form; `onLogin` checks the credential with `GET /whoami`. */
export function LoginPage({
  error,
  onLogin,
}: {
  error: string | undefined;
  onLogin: (credential: string) => Promise<void>;
}) {
  const [value, setValue] = useState("");
  const [busy, setBusy] = useState(false);
  const [empty, setEmpty] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const token = value.trim();
    if (token === "") {
      setEmpty(true);
      return;
    }
    setEmpty(false);
    setBusy(true);
    await onLogin(token);
    setBusy(false);
  };
  const message = empty ? "Enter a credential." : error;
  return (
    <Page name="login" title="Sign in to the console">
      <form class="login" onSubmit={submit}>
        <p>
          Sign in with the server's API token or an API key (<code>hxk_…</code>). It is kept in this
          browser tab only, and forgotten when the tab closes.
        </p>
        <label for="login-credential">Server token or API key</label>
        {/* A credential, not a password: nothing invites a password manager to save it
            (no username field, autocomplete off, the managers' own opt-outs). */}
        <input
          id="login-credential"
          name="hexarch-credential"
          type="password"
          autoComplete="off"
          spellcheck={false}
          data-1p-ignore=""
          data-lpignore="true"
          data-bwignore="true"
          data-form-type="other"
          value={value}
          onInput={(e) => setValue(e.currentTarget.value)}
          aria-invalid={message ? true : undefined}
          aria-describedby={message ? "login-error" : undefined}
        />
        <button id="login-submit" type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
        {message && (
          <p id="login-error" class="error" role="alert">
            {message}
          </p>
        )}
      </form>
    </Page>
  );
}
