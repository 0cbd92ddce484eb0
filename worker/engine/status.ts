// The status view: what GET /v1/clusters/:id/status shows, including a one-line reason for every
// group that is not held by a fit holder. Pure.
import type { ClusterStatus, GroupHealth } from "../../protocol/status.js";
import { groupMembers, type GroupSpec } from "../../protocol/spec.js";
import { describeApplyError, persistentApplyErrors } from "./apply-errors.js";
import { waitingFor, whyNotCandidate } from "./candidates.js";
import { inRestartGrace, leaseEnd } from "./lease-rules.js";
import { isAlive, secs } from "./liveness.js";
import { MODES } from "./modes/index.js";
import type { EngineState } from "./types.js";

function groupHealth(s: EngineState, group: GroupSpec, now: number): { health: GroupHealth; reason: string | null } {
  const g = s.groups[group.name]!;
  if (g.holder === null) {
    if (s.persisted.maintenance) return { health: "down", reason: "no holder; the cluster is in maintenance, so none is chosen" };
    const waiting = waitingFor(s, group, now);
    if (waiting !== null) return { health: "waiting", reason: `waiting for ${waiting}` };
    const whyNot = groupMembers(s.persisted.spec, group)
      .map((m) => whyNotCandidate(s, group, m, now))
      .filter(Boolean)
      .join("; ");
    return { health: "down", reason: `no holder: ${whyNot || "no candidate yet"}` };
  }
  if (g.phase === "revoking") {
    return { health: "moving", reason: `moving from ${g.holder}${g.revokeTo ? ` to ${g.revokeTo}` : ""}: ${g.revokeReason ?? "revoked"}` };
  }
  const holder = g.holder;
  if (!isAlive(s, holder, now)) {
    const last = s.nodes[holder]?.lastBeatAt;
    const silent = last == null ? "no heartbeat since the control plane started" : `no heartbeat for ${secs(now - last)}`;
    return { health: "degraded", reason: `holder ${holder} is not alive (${silent}); its lease ends in ${secs(Math.max(0, leaseEnd(s, g) - now))}` };
  }
  const failing = persistentApplyErrors(s, holder, now).filter((e) => e.group === group.name);
  if (failing.length > 0) return { health: "degraded", reason: failing.map((e) => describeApplyError(holder, e)).join("; ") };
  const unfit = whyNotCandidate(s, group, holder, now);
  if (unfit) return { health: "degraded", reason: `${unfit}; ${holder} keeps it until a healthy candidate can take it` };
  return { health: "ok", reason: null };
}

export function statusView(s: EngineState, now: number): ClusterStatus {
  const p = s.persisted;
  const T = p.spec.policy.leaseTtlMs;
  const M = p.spec.policy.driftMarginMs;
  return {
    specVersion: p.specVersion,
    maintenance: p.maintenance,
    restartGraceLeftMs: inRestartGrace(s, now) ? s.bootedAt + T + M - now : 0,
    groups: p.spec.groups.map((group) => {
      const g = s.groups[group.name]!;
      const view: ClusterStatus["groups"][number] = {
        name: group.name,
        mode: group.mode,
        vip: group.vip,
        holder: g.holder,
        epoch: g.epoch,
        phase: g.phase,
        leaseLeftMs: g.holder && g.leaseUntil !== null ? Math.max(0, leaseEnd(s, g) - now) : null,
        revokeTo: g.revokeTo,
        ...groupHealth(s, group, now),
        // For an operator's switchover target picker: the engine's own reason per member.
        members: groupMembers(p.spec, group).map((node) => ({ node, why: whyNotCandidate(s, group, node, now) })),
      };
      if (group.mode === "active-active-lb" && g.holder) {
        const lb = MODES[group.mode].desiredExtras?.(s, group, g.holder, true, now).lb;
        view.realServers = lb?.realServers.map((r) => `${r.node} ${r.ip} w${r.weight}`) ?? [];
      }
      return view;
    }),
    nodes: p.spec.nodes.map((n) => {
      const rt = s.nodes[n.name];
      const probes: Record<string, { healthy: boolean; detail: string }> = {};
      for (const [k, r] of Object.entries(rt?.probes ?? {})) probes[k] = { healthy: r.healthy, detail: r.detail };
      const view: ClusterStatus["nodes"][number] = {
        name: n.name,
        role: n.role,
        alive: isAlive(s, n.name, now),
        lastHeartbeatAgoMs: rt?.lastBeatAt == null ? null : now - rt.lastBeatAt,
        maintenance: p.nodeMaintenance.includes(n.name),
        probes,
        heard: p.heard.includes(n.name),
        applyErrors: persistentApplyErrors(s, n.name, now),
      };
      const limits = p.limits?.[n.name];
      if (limits) view.limits = limits;
      if (rt?.limitRefusals.length) view.limitRefusals = rt.limitRefusals;
      const c = p.computes[n.name];
      if (c) view.computePhase = c.detail ? `${c.phase} (${c.detail})` : c.phase;
      return view;
    }),
    decisions: s.decisions.slice(-20),
  };
}
