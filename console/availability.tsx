// Availability and error budget from the ledger: a cluster's groups (GET
// /v1/clusters/:id/availability, this month so far, polled every 5 s) and the figures the fleet
// rows show (GET /v1/availability, one request for every cluster). Figures are written by
// protocol/availability-format.ts, as the CLI writes them; the budget is coloured when low or spent,
// and says so in words too.
import type { AvailabilityInterval, ClusterAvailability, FleetAvailabilityCluster, GroupAvailability, GroupAvailabilitySummary } from "../protocol/availability.js";
import { formatAvailability, formatBudgetLeft, formatSpan } from "../protocol/availability-format.js";
import { api } from "./api.js";
import { useState } from "preact/hooks";
import { clock, usePoll } from "./util.js";

/** Below a quarter of the budget left counts as low. */
const LOW = 0.25;

export function BudgetLeft(props: { ratio: number; of?: number }) {
  const tone = props.ratio <= 0 ? "spent" : props.ratio < LOW ? "low" : "";
  return (
    <span class={`budget ${tone}`}>
      <span data-f="budget">{formatBudgetLeft(props.ratio)}</span>
      {tone && <span class="tone"> {tone}</span>}
      {props.of !== undefined && <span class="muted small"> of {formatSpan(props.of)}</span>}
    </span>
  );
}

/** The group a fleet row shows: in service, least of this month's budget left, then lowest availability. */
export function worstThisMonth(c: FleetAvailabilityCluster | undefined): GroupAvailabilitySummary | null {
  let worst: GroupAvailabilitySummary | null = null;
  for (const g of c?.groups ?? []) {
    if (g.month.availability === null) continue;
    if (!worst || g.month.leftRatio < worst.month.leftRatio || (g.month.leftRatio === worst.month.leftRatio && g.month.availability < worst.month.availability!)) worst = g;
  }
  return worst;
}

/** The two fleet cells: this month's availability of the worst group, and its budget left. */
export function FleetAvailabilityCells(props: { c: FleetAvailabilityCluster | undefined; loaded: boolean }) {
  const w = worstThisMonth(props.c);
  if (!w) {
    const why = !props.loaded ? "…" : props.c ? "not in service yet" : "-";
    return (
      <>
        <td class="avail muted">{why}</td>
        <td class="avail muted">-</td>
      </>
    );
  }
  const drill = props.c?.groups.find((g) => g.drillProblem);
  return (
    <>
      <td class="avail" data-avail-group={w.group}>
        <span data-f="month" class={w.month.availability! < w.target ? "bad" : undefined}>
          {formatAvailability(w.month.availability)}
        </span>
        <span class="muted small"> {w.group}</span>
        {drill && (
          <span class="badge sev-warning" title={drill.drillProblem!}>
            drill failed
          </span>
        )}
      </td>
      <td class="avail">
        <BudgetLeft ratio={w.month.leftRatio} />
      </td>
    </>
  );
}

/** The fleet roll-up, polled every 10 s (its figures change with time, so no ETag). */
export function useFleetAvailability(): { byId: Map<string, FleetAvailabilityCluster>; loaded: boolean; error: string | null } {
  const [byId, setById] = useState<Map<string, FleetAvailabilityCluster> | null>(null);
  const poll = usePoll(
    async (s) => {
      const r = await api.fleetAvailability();
      if (!s.stopped && r.body) setById(new Map(r.body.clusters.map((c) => [c.id, c])));
    },
    10_000,
    "fleet-availability",
  );
  return { byId: byId ?? new Map(), loaded: byId !== null, error: poll.error };
}

function Drill(props: { d: GroupAvailability["drill"] }) {
  const d = props.d;
  if (d.running) return <span>running: {d.running}</span>;
  if (d.lastAt === null) return <span class="muted">{d.every ? `none yet (every ${d.every})` : "none"}</span>;
  return (
    <span class={d.lastOk ? "ok" : "bad"}>
      {clock(d.lastAt)} {d.lastOk ? "moved" : "failed"}: <span class="muted">{d.lastResult}</span>
    </span>
  );
}

function Incidents(props: { g: GroupAvailability }) {
  const gaps = props.g.intervals.filter((iv) => iv.kind !== "up").reverse();
  if (!gaps.length) return null;
  const label = (iv: AvailabilityInterval) => (iv.kind === "down" ? "unplanned" : `planned${iv.plannedBy ? ` (${iv.plannedBy})` : ""}`);
  return (
    <details class="incidents" data-incidents={props.g.group}>
      <summary>
        {props.g.group}: {props.g.outages} unplanned outage{props.g.outages === 1 ? "" : "s"}
        {gaps.length > props.g.outages ? `, ${gaps.length - props.g.outages} planned move${gaps.length - props.g.outages === 1 ? "" : "s"}` : ""} this month
      </summary>
      <div class="scroll" tabIndex={0} role="region" aria-label={`Outages of ${props.g.group}`}>
        <table>
          <thead>
            <tr>
              <th scope="col">Began</th>
              <th scope="col">Kind</th>
              <th scope="col">Lasted</th>
              <th scope="col">Why it began</th>
              <th scope="col">Why it ended</th>
              <th scope="col">Granted to</th>
            </tr>
          </thead>
          <tbody>
            {gaps.map((iv) => (
              <tr key={`${iv.start}-${iv.kind}`} data-kind={iv.kind}>
                <td class="nowrap">
                  <time dateTime={new Date(iv.start).toISOString()}>{clock(iv.start)}</time>
                </td>
                <td>
                  <span class={`badge ${iv.kind === "down" ? "sev-critical" : "maint"}`}>{label(iv)}</span>
                </td>
                <td class="nowrap" data-f="lasted">{iv.end === null ? "going on" : formatSpan(iv.end - iv.start)}</td>
                <td class="reason">{iv.startReason}</td>
                <td class="reason">{iv.endReason ?? "-"}</td>
                <td class="nowrap">
                  {iv.grantedTo ? `${iv.grantedTo} after ${formatSpan(iv.timeToGrantMs ?? 0)}` : "-"}
                  {iv.timeToRecoverMs !== null && <span class="muted"> (serving after {formatSpan(iv.timeToRecoverMs)})</span>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  );
}

/** The cluster's groups: this month and the last 30 days against the target, budget, downtime, outages, drills. */
export function AvailabilityPanel(props: { id: string }) {
  const [rep, setRep] = useState<ClusterAvailability | null>(null);
  const poll = usePoll(
    async (s) => {
      const r = await api.availability(props.id);
      if (!s.stopped && r.body) setRep(r.body);
    },
    5000,
    props.id,
  );
  return (
    <section aria-labelledby="avail-h" data-testid="availability" data-from={rep?.from} data-to={rep?.to}>
      <h2 id="avail-h">Availability</h2>
      {poll.error && !rep && <p class="error">Availability: {poll.error}</p>}
      {!rep && !poll.error && <p>Loading the ledger…</p>}
      {rep && (
        <>
          <p class="muted small">
            This month ({new Date(rep.from).toISOString().slice(0, 7)}, UTC) so far and the last 30 days, against each group's target. Planned moves (switchovers, drains, drills) do not count as downtime.
          </p>
          <div class="scroll" tabIndex={0} role="region" aria-label="Availability per group">
            <table class="avail-table">
              <thead>
                <tr>
                  <th scope="col">Group</th>
                  <th scope="col">Target</th>
                  <th scope="col">This month</th>
                  <th scope="col">30 days</th>
                  <th scope="col">Budget left (month)</th>
                  <th scope="col">Budget left (30 days)</th>
                  <th scope="col">Downtime</th>
                  <th scope="col">Outages</th>
                  <th scope="col">MTTR</th>
                  <th scope="col">Last drill</th>
                </tr>
              </thead>
              <tbody>
                {rep.groups.map((g) => {
                  const r30 = g.budget.rolling30d;
                  const miss = (a: number | null) => (a !== null && a < g.target ? "bad" : undefined);
                  return (
                    <tr key={g.group} data-avail-group={g.group}>
                      <th scope="row">{g.group}</th>
                      <td>{g.target} %</td>
                      <td data-f="month" class={miss(g.availability)}>
                        {g.since === null ? "not in service yet" : formatAvailability(g.availability)}
                      </td>
                      <td data-f="rolling30d" class={miss(r30.availability)}>
                        {formatAvailability(r30.availability)}
                      </td>
                      <td data-c="budget-month">
                        <BudgetLeft ratio={g.budget.month.leftRatio} of={g.budget.month.budgetMs} />
                      </td>
                      <td data-c="budget-30d">
                        <BudgetLeft ratio={r30.leftRatio} of={r30.budgetMs} />
                      </td>
                      <td>
                        <span data-f="downtime">{formatSpan(g.downMs)}</span>
                        {g.plannedMs > 0 && <span class="muted small"> (+{formatSpan(g.plannedMs)} planned)</span>}
                      </td>
                      <td data-f="outages">{g.outages}</td>
                      <td data-f="mttr">{g.mttrMs === null ? "-" : formatSpan(g.mttrMs)}</td>
                      <td class="small">
                        <Drill d={g.drill} />
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          {rep.groups.map((g) => (
            <Incidents key={g.group} g={g} />
          ))}
        </>
      )}
    </section>
  );
}
