// A failover drill end to end in the lab: asked through the API of the real control plane, carried
// out by the real shims (the VIP moves to the other server and back), its result an event; and the
// same request refused, with the reason, while the standby's service is down.
import type { ClusterAvailability } from "../../protocol/availability.js";
import type { EventRow } from "../../protocol/api.js";
import type { ClusterStatus } from "../../protocol/status.js";
import { dualVip } from "./analyze.js";
import { API_BIT, type Lab, NODE_OF, other, PORTAL_BIT, waitUntil } from "./lab.js";

export interface DrillFacts {
  accepted: { status: number; detail: string };
  result: EventRow | null;
  /** Hosts that answered the API VIP from just before the request until steady again, in turn (repeats collapsed). */
  answered: string[];
  dualVipInstants: number;
  /** The ledger over the drill: unplanned downtime, planned time, planned intervals by whom. */
  downMs: number;
  plannedMs: number;
  plannedBy: (string | null)[];
  refused: { status: number; detail: string };
  refusedEvent: EventRow | null;
  standby: string;
}

const path = (lab: Lab, tail: string) => `/v1/clusters/${encodeURIComponent(lab.clusterId)}${tail}`;

async function eventOf(lab: Lab, kind: string, since: number, timeoutMs: number): Promise<EventRow | null> {
  let found: EventRow | null = null;
  await waitUntil(kind, async () => {
    const r = await lab.api("GET", path(lab, `/events?since=${since}&limit=500`));
    found = ((r.body as { events?: EventRow[] } | undefined)?.events ?? []).find((e) => e.kind === kind) ?? null;
    return found !== null;
  }, timeoutMs, 200).catch(() => undefined);
  return found;
}

/** Hosts that answered in [from, to], in turn: h1, h2, h1 for a move and back. */
function inTurn(lab: Lab, from: number, to: number): string[] {
  const out: string[] = [];
  for (const r of lab.client.api.filter((x) => x.ok && x.t >= from && x.t <= to).sort((a, b) => a.t - b.t)) if (out.at(-1) !== r.who) out.push(r.who);
  return out;
}

export async function drillInLab(lab: Lab, returnAfterMs = 3000): Promise<DrillFacts> {
  const h = await lab.waitSteady();
  const standby = other(h);
  const t0 = Date.now();
  const asked = await lab.api("POST", path(lab, "/drills"), { group: "server-api", returnAfterMs });
  const result = await eventOf(lab, "drill.passed", t0, returnAfterMs + 15_000);
  await lab.waitSteady(30_000);
  const end = Date.now();
  const report = (await lab.api("GET", path(lab, `/availability?from=${t0}&to=${end}`))).body as ClusterAvailability;
  const g = report.groups.find((x) => x.group === "server-api")!;
  const planned = g.intervals.filter((i) => i.kind === "planned");

  // The standby's service dies: a drill is refused with the engine's reason.
  await lab.killService(standby, "chime-server");
  await waitUntil(`${standby}'s probe failing at the control plane`, async () => {
    const st = (await lab.api("GET", path(lab, "/status"))).body as ClusterStatus | undefined;
    return st?.nodes.find((n) => n.name === NODE_OF[standby])?.probes["server-api"]?.healthy === false;
  }, 10_000, 100);
  const t1 = Date.now();
  const refused = await lab.api("POST", path(lab, "/drills"), { group: "server-api" });
  const refusedEvent = await eventOf(lab, "drill.refused", t1, 5000);
  await lab.restartService(standby, "chime-server");
  await lab.waitSteady(30_000);
  return {
    accepted: { status: asked.status, detail: String((asked.body as { detail?: string } | undefined)?.detail) },
    result,
    answered: inTurn(lab, t0 - 500, end),
    dualVipInstants: dualVip(lab.samples.s1, lab.samples.s2, API_BIT, t0, end).instants + dualVip(lab.samples.s1, lab.samples.s2, PORTAL_BIT, t0, end).instants,
    downMs: g.downMs,
    plannedMs: g.plannedMs,
    plannedBy: planned.map((i) => i.plannedBy),
    refused: { status: refused.status, detail: String((refused.body as { detail?: string } | undefined)?.detail) },
    refusedEvent,
    standby: NODE_OF[standby],
  };
}
