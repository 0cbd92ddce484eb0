// Sign in with an API token (admin, operator or viewer). The token is checked with
// GET /v1/whoami and kept in session storage only: never in a URL, gone with the tab.
import { useState } from "preact/hooks";
import type { WhoAmI } from "../protocol/fleet.js";
import { api, ApiError } from "./api.js";

function explain(err: unknown): string {
  if (!(err instanceof ApiError)) return "Something went wrong while checking the token.";
  if (err.status === 0) return "Cannot reach the control plane. Is it running?";
  if (err.status === 401) return `That token was not accepted: it is unknown, revoked or expired${err.detail ? ` (${err.detail})` : ""}. Ask an admin for a new one.`;
  if (err.status === 403) return "This is a node token: it may only heartbeat. Sign in with an admin, operator or viewer token.";
  return `The control plane answered ${err.status}: ${err.message}`;
}

export function SignIn(props: { notice: string | null; onSignedIn: (who: WhoAmI, token: string) => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    const t = token.trim();
    if (!t) return setError("Paste an API token first.");
    setBusy(true);
    setError(null);
    try {
      const r = await api.whoami(t);
      props.onSignedIn(r.body!, t);
    } catch (err) {
      setError(explain(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="signin">
      <h1>chime-ha</h1>
      <p class="lede">High availability for ChimeStack clusters: every site, every cluster, and the reason behind every decision.</p>
      {props.notice && <p class="notice" role="status">{props.notice}</p>}
      <form onSubmit={submit} class="card" aria-describedby="token-help">
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autocomplete="off" spellcheck={false} value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} aria-invalid={error ? true : undefined} aria-errormessage={error ? "signin-error" : undefined} />
        <p id="token-help" class="help">An admin, operator or viewer token. It stays in this browser tab only (session storage) and is sent as a bearer header.</p>
        {error && (
          <p id="signin-error" class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? "Checking…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
