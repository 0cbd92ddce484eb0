// One cluster's health in a word, from its status: the fleet view's roll-up, shared by the
// Worker (GET /v1/fleet) and the console. Pure, and free of time-varying text ("for 12 s"), so
// an unchanged fleet gives the same answer (and ETag) poll after poll. No zod here: the console
// bundles this file.
import type { ClusterStatus } from "./status.js";

/** Worst first: that is the fleet view's sort order. */
export const ROLLUP_STATES = ["no-holder", "unknown", "degraded", "healthy"] as const;
export type RollupState = (typeof ROLLUP_STATES)[number];

export interface Rollup {
  state: RollupState;
  /** What makes it less than healthy, most serious first (empty when healthy). */
  reasons: string[];
  groups: { total: number; held: number; healthy: number };
  nodes: { total: number; alive: number };
  maintenance: boolean;
}

/** Held by a node that is alive and whose probe for the group passes. */
export function groupHealthy(status: ClusterStatus, group: ClusterStatus["groups"][number]): boolean {
  if (group.holder === null || group.phase !== "held") return false;
  const n = status.nodes.find((x) => x.name === group.holder);
  return Boolean(n?.alive && n.probes[group.name]?.healthy);
}

export function rollUp(status: ClusterStatus | null): Rollup {
  if (!status) return { state: "unknown", reasons: ["no live state"], groups: { total: 0, held: 0, healthy: 0 }, nodes: { total: 0, alive: 0 }, maintenance: false };
  const noHolder: string[] = [];
  const weak: string[] = [];
  let held = 0;
  let healthy = 0;
  for (const g of status.groups) {
    if (g.holder === null) {
      noHolder.push(`${g.name}: no holder`);
      continue;
    }
    held++;
    if (groupHealthy(status, g)) {
      // The engine may still find the holder unfit (e.g. it cannot program its balancer).
      if (g.health === "degraded" && g.reason) weak.push(`${g.name}: ${g.reason}`);
      else healthy++;
      continue;
    }
    const n = status.nodes.find((x) => x.name === g.holder);
    const probe = n?.probes[g.name];
    if (g.phase === "revoking") weak.push(`${g.name}: moving from ${g.holder}${g.revokeTo ? ` to ${g.revokeTo}` : ""}`);
    else if (!n?.alive) weak.push(`${g.name}: holder ${g.holder} is not alive`);
    else weak.push(`${g.name}: holder ${g.holder}'s probe is failing${probe?.detail ? ` (${probe.detail})` : ""}`);
  }
  for (const n of status.nodes) {
    if (!n.alive) weak.push(n.lastHeartbeatAgoMs === null ? `${n.name}: no heartbeat yet` : `${n.name}: not alive`);
    else if (n.maintenance) weak.push(`${n.name}: in maintenance`);
    if (n.computePhase && !n.computePhase.startsWith("alive")) weak.push(`${n.name}: ${n.computePhase}`);
  }
  if (status.maintenance) weak.push("cluster maintenance: decisions frozen");
  const state: RollupState = noHolder.length ? "no-holder" : weak.length ? "degraded" : "healthy";
  return {
    state,
    reasons: [...noHolder, ...weak],
    groups: { total: status.groups.length, held, healthy },
    nodes: { total: status.nodes.length, alive: status.nodes.filter((n) => n.alive).length },
    maintenance: status.maintenance,
  };
}

/** Sort key: worst state first, then more problems first, then by id. */
export function compareRollups(a: { id: string; rollup: Rollup }, b: { id: string; rollup: Rollup }): number {
  const byState = ROLLUP_STATES.indexOf(a.rollup.state) - ROLLUP_STATES.indexOf(b.rollup.state);
  if (byState !== 0) return byState;
  if (a.rollup.reasons.length !== b.rollup.reasons.length) return b.rollup.reasons.length - a.rollup.reasons.length;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
