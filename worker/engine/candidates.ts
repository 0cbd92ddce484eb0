// Who may hold a group now, and in which order: alive, healthy, a member, not in maintenance,
// fit by the group's mode; ordered by the mode's preference, then priority, then spec order. Pure.
import { groupMembers, type GroupSpec } from "../../protocol/spec.js";
import { nodeSpec } from "./lease-rules.js";
import { unknownToLapsedHolder } from "./failsafe-peers.js";
import { limitsHold } from "./limits.js";
import { isAlive, secs } from "./liveness.js";
import { MODES } from "./modes/index.js";
import type { Hold } from "./modes/types.js";
import type { EngineState } from "./types.js";

/** Why `node` cannot hold `group` now, and what kind of obstacle it is; null when it can. */
export function whyNotCandidateHold(s: EngineState, group: GroupSpec, node: string, now: number): Hold | null {
  const unfit = (reason: string): Hold => ({ kind: "unfit", reason });
  const spec = nodeSpec(s, node);
  if (!spec) return unfit(`${node} is not in the cluster`);
  if (!groupMembers(s.persisted.spec, group).includes(node)) return unfit(`${node} is not a member of ${group.name}`);
  if (s.persisted.nodeMaintenance.includes(node)) return unfit(`${node} is in maintenance`);
  const rt = s.nodes[node];
  if (!isAlive(s, node, now)) {
    if (rt?.lastBeatAt != null) return unfit(`${node} is not alive (no heartbeat for ${secs(now - rt.lastBeatAt)})`);
    return unfit(s.persisted.heard.includes(node) ? `${node} has not sent a heartbeat since the control plane started` : `${node} has not sent a heartbeat`);
  }
  if (rt?.leaving) return unfit(`${node} is stopping (a candidate again when it says it is back)`);
  // The node's own limits do not let it hold this VIP (it said so, or its reported limits say so).
  const refused = limitsHold(s, group, node);
  if (refused) return unfit(refused);
  const report = rt?.probes[group.name];
  if (!report) return unfit(`${node} has not reported its ${group.name} probe yet`);
  if (!report.healthy) return unfit(`${node}'s probe for ${group.name} is failing${report.detail ? ` (${report.detail})` : ""}`);
  // Mode rules say what is wrong ("has errant transactions"); the reason names whose it is.
  const rules = MODES[group.mode];
  const modeWhy = rules.ineligible(report, group);
  if (modeWhy !== null) return unfit(`${node}: ${modeWhy}`);
  // The holder's own readiness is its applier's business; these rules judge a new grant.
  if (s.groups[group.name]?.holder === node) return null;
  const unknown = unknownToLapsedHolder(s, group, node);
  if (unknown) return unfit(unknown);
  const hold = rules.hold?.(s, group, node, now) ?? null;
  return hold && { kind: hold.kind, reason: `${node}: ${hold.reason}` };
}

/** Why `node` cannot hold `group` now, or null when it can. */
export function whyNotCandidate(s: EngineState, group: GroupSpec, node: string, now: number): string | null {
  return whyNotCandidateHold(s, group, node, now)?.reason ?? null;
}

/** Why nobody (but `exclude`) can take the group: every member's reason; whether one only waits; whether one is refused. */
export function blockers(s: EngineState, group: GroupSpec, now: number, exclude: string | null = null): { text: string; onlyWaiting: boolean; refused: boolean } {
  const holds = groupMembers(s.persisted.spec, group)
    .filter((m) => m !== exclude)
    .map((m) => whyNotCandidateHold(s, group, m, now))
    .filter((h): h is Hold => h !== null);
  const refused = holds.some((h) => h.kind === "refused");
  // A member that only waits for a fresher report turns into a candidate by itself.
  return { text: holds.map((h) => h.reason).join("; "), onlyWaiting: !refused && holds.some((h) => h.kind === "wait"), refused };
}

/**
 * What `node` still has to send before it can be judged for `group`, or null when it has sent it:
 * its first heartbeat ever, or (alive) its first probe result for the group. Such a node is
 * waiting to come up, not failing.
 */
export function awaitedFrom(s: EngineState, group: GroupSpec, node: string, now: number): "heartbeat" | "probe" | null {
  if (!s.persisted.heard.includes(node)) return "heartbeat";
  if (isAlive(s, node, now) && s.nodes[node]?.probes[group.name] === undefined) return "probe";
  return null;
}

/**
 * For a group that never had a holder and whose every member is only waiting (see awaitedFrom):
 * what it waits for, e.g. "the first heartbeat from server1 and server2". Null otherwise.
 */
export function waitingFor(s: EngineState, group: GroupSpec, now: number): string | null {
  if ((s.groups[group.name]?.epoch ?? 0) > 0) return null;
  const members = groupMembers(s.persisted.spec, group);
  const beat: string[] = [];
  const probe: string[] = [];
  for (const m of members) {
    const w = awaitedFrom(s, group, m, now);
    if (w === null) return null;
    (w === "heartbeat" ? beat : probe).push(m);
  }
  const and = (xs: string[]) => (xs.length <= 1 ? xs.join("") : `${xs.slice(0, -1).join(", ")} and ${xs.at(-1)}`);
  const parts = [beat.length ? `the first heartbeat from ${and(beat)}` : "", probe.length ? `the first ${group.name} probe result from ${and(probe)}` : ""].filter(Boolean);
  return parts.join(" and ");
}

export function candidates(s: EngineState, group: GroupSpec, now: number, exclude: string | null = null): string[] {
  const members = groupMembers(s.persisted.spec, group).filter((m) => m !== exclude && whyNotCandidate(s, group, m, now) === null);
  const rules = MODES[group.mode];
  const order = s.persisted.spec.nodes.map((n) => n.name);
  return members.sort((a, b) => {
    const na = nodeSpec(s, a)!;
    const nb = nodeSpec(s, b)!;
    const byMode = rules.compare?.({ node: na, report: s.nodes[a]?.probes[group.name] }, { node: nb, report: s.nodes[b]?.probes[group.name] }, group) ?? 0;
    if (byMode !== 0) return byMode;
    if (na.priority !== nb.priority) return nb.priority - na.priority;
    return order.indexOf(a) - order.indexOf(b);
  });
}

export function describe(s: EngineState, node: string): string {
  return `${node} (priority ${nodeSpec(s, node)?.priority ?? "?"}, healthy)`;
}

