// One cluster: status every second (holders, leases, probes, decisions), its spec for the
// topology, and new events followed by cursor every 2 s. Actions for operators and admins.
import { useEffect, useRef, useState } from "preact/hooks";
import type { WhoAmI } from "../protocol/fleet.js";
import { rollUp } from "../protocol/rollup.js";
import type { ClusterStatus } from "../protocol/status.js";
import { ActionDialog, type DialogKind, type Outcome } from "./actions.js";
import { api, type ClusterInfo, type EventRow } from "./api.js";
import { AvailabilityPanel } from "./availability.js";
import { Grid } from "./grid.js";
import { Live } from "./live.js";
import { Decisions, Timeline } from "./timeline.js";
import { Topology } from "./topology.js";
import { secs, STATE_LABEL, usePoll } from "./util.js";

const MAX_EVENTS = 1000;

export function ClusterView(props: { id: string; me: WhoAmI }) {
  const { id } = props;
  const canAct = props.me.role !== "viewer";
  const [status, setStatus] = useState<{ s: ClusterStatus } | null>(null);
  const [info, setInfo] = useState<ClusterInfo | null>(null);
  const [events, setEvents] = useState<EventRow[]>([]);
  const cursor = useRef<string | null>(null);
  const [dialog, setDialog] = useState<DialogKind | null>(null);
  const [outcome, setOutcome] = useState<(Outcome & { at: number }) | null>(null);
  const [missing, setMissing] = useState<string | null>(null);

  const poll = usePoll(
    async (st) => {
      try {
        const r = await api.status(id);
        if (!st.stopped) setStatus({ s: r.body! });
      } catch (err) {
        if ((err as { status?: number }).status === 404) setMissing((err as Error).message);
        throw err;
      }
    },
    1000,
    id,
  );

  // The spec (node addresses, lease TTL) again whenever its version changes.
  const specVersion = status?.s.specVersion;
  useEffect(() => {
    if (specVersion === undefined) return;
    api.cluster(id).then((r) => setInfo(r.body), () => undefined);
  }, [id, specVersion]);

  const evPoll = usePoll(
    async (st) => {
      const q = cursor.current === null ? "last=200" : `cursor=${encodeURIComponent(cursor.current)}&limit=500`;
      const r = await api.events(id, q);
      if (st.stopped || !r.body) return;
      cursor.current = r.body.nextCursor ?? cursor.current;
      const fresh = r.body.events;
      if (fresh.length) setEvents((old) => [...old, ...fresh].slice(-MAX_EVENTS));
    },
    2000,
    id,
  );

  if (missing && !status) {
    return (
      <section>
        <h1>{id}</h1>
        <p class="error" role="alert">
          {missing}
        </p>
        <p>
          <a href="#/">Back to the fleet</a>
        </p>
      </section>
    );
  }
  if (!status) return <p>Loading {id}…</p>;
  const s = status.s;
  const roll = rollUp(s);
  const ttl = info?.spec.policy.leaseTtlMs ?? Math.max(3000, ...s.groups.map((g) => g.leaseLeftMs ?? 0));
  const open = (d: DialogKind) => setDialog(d);

  return (
    <section aria-labelledby="cluster-title" data-testid="cluster">
      <p class="crumbs">
        <a href="#/">Fleet</a> / site {info?.site ?? id.split(".")[0]}
      </p>
      <div class="title-row">
        <h1 id="cluster-title">
          {info?.name ?? id} <span class={`badge state-${roll.state}`} data-testid="cluster-state">{STATE_LABEL[roll.state]}</span>
          {s.maintenance && <span class="badge maint">maintenance</span>}
        </h1>
        <Live error={poll.error ?? evPoll.error} lastOk={poll.lastOk} />
      </div>
      <p class="muted">
        {id} · spec v{s.specVersion}
        {info?.spec.description ? ` · ${info.spec.description}` : ""}
        {s.restartGraceLeftMs > 0 ? ` · control plane restarted: grants only to the persisted holders for ${secs(s.restartGraceLeftMs)}` : ""}
      </p>
      {roll.reasons.length > 0 && (
        <ul class="reasons" aria-label="What is not healthy">
          {roll.reasons.map((r) => (
            <li key={r}>{r}</li>
          ))}
        </ul>
      )}
      {canAct && (
        <div class="actions" role="group" aria-label="Cluster actions">
          <button type="button" data-action="cluster-maintenance" class={s.maintenance ? undefined : "secondary"} onClick={() => open({ kind: "maintenance", node: null, on: !s.maintenance })}>
            {s.maintenance ? "End cluster maintenance…" : "Cluster maintenance…"}
          </button>
          <button type="button" data-action="operation" class="secondary" onClick={() => open({ kind: "operation" })}>
            Run an operation…
          </button>
        </div>
      )}
      <div role="status" aria-live="polite" class="outcome-region">
        {outcome && (
          <p class={`outcome ${outcome.ok ? "ok" : "refused"}`} data-testid="outcome">
            <strong>{outcome.action}:</strong> {outcome.ok ? "accepted — " : ""}
            {outcome.text}
          </p>
        )}
      </div>

      <h2>Nodes and groups</h2>
      <Grid status={s} ttlMs={ttl} canAct={canAct} open={open} />

      <AvailabilityPanel id={id} />

      <div class="two">
        <section aria-labelledby="topo-h">
          <h2 id="topo-h">Topology</h2>
          <Topology status={s} info={info} />
        </section>
        <section aria-labelledby="dec-h">
          <h2 id="dec-h">Last decisions</h2>
          <Decisions decisions={s.decisions} />
        </section>
      </div>

      <section aria-labelledby="ev-h">
        <h2 id="ev-h">Events</h2>
        <Timeline events={events} nodes={s.nodes.map((n) => n.name)} groups={s.groups.map((g) => g.name)} />
      </section>

      {dialog && canAct && (
        <ActionDialog
          dialog={dialog}
          id={id}
          status={s}
          info={info}
          onDone={(o) => {
            setOutcome({ ...o, at: Date.now() });
            poll.kick();
            evPoll.kick();
          }}
          onClose={() => setDialog(null)}
        />
      )}
    </section>
  );
}
