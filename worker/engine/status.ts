// The status view: what GET /v1/clusters/:id/status shows. Pure.
import type { ClusterStatus } from "../../protocol/status.js";
import { isAlive } from "./liveness.js";
import { MODES } from "./modes/index.js";
import { inRestartGrace, leaseEnd } from "./lease-rules.js";
import type { EngineState } from "./types.js";

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
      };
      const c = p.computes[n.name];
      if (c) view.computePhase = c.detail ? `${c.phase} (${c.detail})` : c.phase;
      return view;
    }),
    decisions: s.decisions.slice(-20),
  };
}
