// The fleet: every site and cluster with its roll-up, worst first, filterable. Live by
// conditional polling: GET /v1/fleet with If-None-Match every 2 s (304 while nothing changed).
import { useRef, useState } from "preact/hooks";
import type { Fleet } from "../protocol/fleet.js";
import { ROLLUP_STATES } from "../protocol/rollup.js";
import { api } from "./api.js";
import { FleetAvailabilityCells, useFleetAvailability, worstThisMonth } from "./availability.js";
import { Live } from "./live.js";
import { clusterHref, STATE_LABEL, usePoll } from "./util.js";

export function FleetView() {
  const [fleet, setFleet] = useState<Fleet | null>(null);
  const etag = useRef<string | null>(null);
  const [text, setText] = useState("");
  const [state, setState] = useState("all");
  const [site, setSite] = useState("all");
  const [order, setOrder] = useState("state");
  const avail = useFleetAvailability();

  const poll = usePoll(
    async (s) => {
      const r = await api.fleet(etag.current);
      if (s.stopped || r.status === 304) return;
      etag.current = r.etag;
      setFleet(r.body);
    },
    2000,
    "fleet",
  );

  const needle = text.trim().toLowerCase();
  const filtered = (fleet?.clusters ?? []).filter(
    (c) =>
      (state === "all" || c.state === state) &&
      (site === "all" || c.site === site) &&
      (!needle || [c.id, c.site, c.name, ...c.reasons, ...Object.values(c.holders).map(String)].some((x) => x.toLowerCase().includes(needle))),
  );
  // The API's order is worst state first; by budget, least of this month's budget left first
  // (clusters not in service yet last), the state order breaking ties (the sort is stable).
  const left = (id: string) => worstThisMonth(avail.byId.get(id))?.month.leftRatio ?? Infinity;
  const shown = order === "budget" ? [...filtered].sort((a, b) => left(a.id) - left(b.id) || 0) : filtered;

  return (
    <section aria-labelledby="fleet-title">
      <div class="title-row">
        <h1 id="fleet-title">Fleet</h1>
        <Live error={poll.error ?? (avail.error && `availability: ${avail.error}`)} lastOk={poll.lastOk} />
      </div>
      {fleet && (
        <ul class="counts" aria-label="Clusters by state">
          {ROLLUP_STATES.map((s) => (
            <li key={s} class={`badge state-${s}`}>
              {fleet.counts[s]} {STATE_LABEL[s]}
            </li>
          ))}
          <li class="badge">{fleet.sites.length} sites</li>
        </ul>
      )}
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>
          Filter
          <input type="search" value={text} placeholder="cluster, site, node, reason" onInput={(e) => setText((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          State
          <select value={state} onChange={(e) => setState((e.target as HTMLSelectElement).value)}>
            <option value="all">all</option>
            {ROLLUP_STATES.map((s) => (
              <option key={s} value={s}>
                {STATE_LABEL[s]}
              </option>
            ))}
          </select>
        </label>
        <label>
          Site
          <select value={site} onChange={(e) => setSite((e.target as HTMLSelectElement).value)}>
            <option value="all">all</option>
            {fleet?.sites.map((s) => (
              <option key={s.id} value={s.id}>
                {s.id} ({s.clusters})
              </option>
            ))}
          </select>
        </label>
        <label>
          Order
          <select value={order} onChange={(e) => setOrder((e.target as HTMLSelectElement).value)}>
            <option value="state">worst state first</option>
            <option value="budget">least budget left first</option>
          </select>
        </label>
      </form>
      {!fleet && !poll.error && <p>Loading the fleet…</p>}
      {fleet && (
        <div class="scroll">
          <table class="fleet" data-testid="fleet">
            <caption class="sr-only">{order === "budget" ? "Clusters, least error budget left first" : "Clusters, worst first"}</caption>
            <thead>
              <tr>
                <th scope="col">State</th>
                <th scope="col">Cluster</th>
                <th scope="col">Site</th>
                <th scope="col">Groups healthy</th>
                <th scope="col">Nodes alive</th>
                <th scope="col" title="The group with the least error budget left this month">This month</th>
                <th scope="col">Budget left</th>
                <th scope="col" class="holders">Holders</th>
                <th scope="col">Why</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((c) => (
                <tr key={c.id} data-cluster={c.id} data-state={c.state}>
                  <td>
                    <span class={`badge state-${c.state}`}>{STATE_LABEL[c.state]}</span>
                    {c.maintenance && <span class="badge maint">maintenance</span>}
                  </td>
                  <th scope="row">
                    <a href={clusterHref(c.id)}>{c.name}</a>
                  </th>
                  <td>{c.site}</td>
                  <td>
                    {c.groups.healthy}/{c.groups.total}
                    {c.groups.held !== c.groups.healthy && <span class="muted"> ({c.groups.held} held)</span>}
                  </td>
                  <td>
                    {c.nodes.alive}/{c.nodes.total}
                  </td>
                  <FleetAvailabilityCells c={avail.byId.get(c.id)} loaded={avail.loaded} />
                  <td class="holders">
                    {Object.entries(c.holders).map(([g, h]) => (
                      <span key={g} class={h ? "chip" : "chip none"}>
                        {g}: {h ?? "none"}
                      </span>
                    ))}
                  </td>
                  <td class="why">{c.reasons.length ? c.reasons.slice(0, 3).join("; ") + (c.reasons.length > 3 ? ` (+${c.reasons.length - 3} more)` : "") : "all groups held by healthy nodes"}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {shown.length === 0 && <p class="muted">{fleet.clusters.length ? "No cluster matches the filter." : "No clusters yet: create one with POST /v1/clusters or `npm start`."}</p>}
        </div>
      )}
      {fleet && fleet.sites.some((s) => s.clusters === 0) && (
        <p class="muted">Sites without clusters: {fleet.sites.filter((s) => s.clusters === 0).map((s) => s.id).join(", ")}</p>
      )}
    </section>
  );
}
