// What the control plane's availability ledger (worker/engine/ledger.ts) says about a lab run,
// beside what the client probe measured: the ledger's downtime of the API VIP's group over the
// run's window, and whether the two agree within max(10 %, 300 ms).
import type { ClusterAvailability } from "../../protocol/availability.js";
import type { Lab } from "./lab.js";
import type { RunResult } from "./scenarios.js";

/** How far the ledger may be from the client: 10 % of the client's figure, at least 300 ms. */
export const agreementMs = (clientMs: number) => Math.max(0.1 * clientMs, 300);

// Every scenario is checked the same way. (d), (i), (j), (l) were once left to "never counts
// less": (d)'s move at the heal counted 220-380 ms more on a busy machine before the ledger dated a
// let-go from the heartbeat that says it (10 of 10 bench runs agreed on 2026-11-30, 12-64 ms
// over); (i), (j), (l) counted a silent holder from its last heartbeat until the peers' VIP checks
// (node-shim/vip-answers.ts) dated it from the last answer.

export function ledgerAgrees(r: RunResult): boolean | null {
  if (r.ledgerDowntimeMs === undefined || r.ledgerDowntimeMs === null || r.downtimeMs === null) return null;
  return Math.abs(r.ledgerDowntimeMs - r.downtimeMs) <= agreementMs(r.downtimeMs);
}

/** Time without service (down or planned) of `group` within [from, to], from GET /v1/clusters/:id/availability; and those intervals, said. */
export async function ledgerDowntime(lab: Lab, from: number, to: number, group = "server-api"): Promise<{ ms: number; intervals: string[] } | null> {
  const r = await lab.api("GET", `/v1/clusters/${encodeURIComponent(lab.clusterId)}/availability?from=${Math.floor(from)}&to=${Math.ceil(to)}`);
  if (r.status !== 200) return null;
  const report = r.body as ClusterAvailability;
  const g = report.groups.find((x) => x.group === group);
  if (!g) return null;
  let ms = 0;
  const intervals: string[] = [];
  for (const i of g.intervals) {
    if (i.kind === "up") continue;
    const part = Math.max(0, Math.min(i.end ?? report.now, to) - Math.max(i.start, from));
    ms += part;
    if (part > 0) intervals.push(`${i.kind} ${part} ms from +${Math.round(i.start - from)} ms (${i.startReason} -> ${i.endReason ?? "still open"})`);
  }
  return { ms, intervals };
}

/** Fill in the ledger's figure for a chime-ha run that names its window. */
export async function addLedger(lab: Lab, r: RunResult): Promise<RunResult> {
  if (!r.ledgerWindow || lab.system !== "chime-ha") return r;
  const l = await ledgerDowntime(lab, r.ledgerWindow.from, r.ledgerWindow.to);
  r.ledgerDowntimeMs = l?.ms ?? null;
  if (l) r.ledgerIntervals = l.intervals;
  return r;
}
