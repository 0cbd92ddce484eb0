// The chime-ha console: sign in with an API token, then the fleet and one cluster at a time.
// Served by the Worker at / (worker/console/); built by scripts/build-console.ts.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { WhoAmI } from "../protocol/fleet.js";
import { api, ApiError, session, setUnauthorizedHandler } from "./api.js";
import { ClusterView } from "./cluster.js";
import { FleetView } from "./fleet.js";
import { SignIn } from "./signin.js";
import { useRoute } from "./util.js";

function App() {
  const [me, setMe] = useState<WhoAmI | null>(null);
  const [checking, setChecking] = useState(() => session.token() !== null);
  const [notice, setNotice] = useState<string | null>(null);
  const route = useRoute();

  const signOut = (why: string | null) => {
    session.clear();
    setMe(null);
    setNotice(why);
  };

  useEffect(() => {
    setUnauthorizedHandler((detail) => signOut(`Your token stopped working (${detail || "revoked or expired"}). Sign in again.`));
    // A reload keeps the session: check the stored token again.
    if (!session.token()) return;
    api
      .whoami()
      .then((r) => setMe(r.body))
      .catch((err: ApiError) => signOut(err.status === 0 ? "Cannot reach the control plane." : null))
      .finally(() => setChecking(false));
  }, []);

  useEffect(() => {
    document.title = route.view === "cluster" ? `${route.id} · chime-ha` : "Fleet · chime-ha";
  }, [route]);

  if (checking) return <main id="main" class="signin"><p>Checking your session…</p></main>;
  if (!me) {
    return (
      <SignIn
        notice={notice}
        onSignedIn={(who, token) => {
          session.save(token);
          setNotice(null);
          setMe(who);
        }}
      />
    );
  }
  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <a class="brand" href="#/">chime-ha</a>
        <nav aria-label="Main">
          <a href="#/" aria-current={route.view === "fleet" ? "page" : undefined}>Fleet</a>
        </nav>
        <span class="who" data-testid="who">
          {me.role}
          {me.site ? ` · site ${me.site}` : " · all sites"}
          {me.label ? ` · ${me.label}` : ""}
        </span>
        <button type="button" class="secondary" onClick={() => signOut("You are signed out.")}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {route.view === "fleet" ? <FleetView /> : <ClusterView key={route.id} id={route.id} me={me} />}
      </main>
    </>
  );
}

render(<App />, document.getElementById("app")!);
