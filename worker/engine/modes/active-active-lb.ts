// active-active-lb (chime-portal): the VIP holder is the director and balances across every
// member whose probe is healthy and whose node is alive (NAT when the ports differ: 80 -> 8033).
import { groupMembers } from "../../../protocol/spec.js";
import { isAlive } from "../liveness.js";
import type { ModeRules } from "./types.js";

export const activeActiveLb: ModeRules = {
  handoff: true,
  ineligible: () => null,
  desiredExtras(state, group, _node, isHolder, now) {
    if (!isHolder) return {};
    const spec = state.persisted.spec;
    const weights = group.lb?.weights ?? {};
    const realServers = groupMembers(spec, group)
      .filter((m) => isAlive(state, m, now) && state.nodes[m]?.probes[group.name]?.healthy === true && !state.persisted.nodeMaintenance.includes(m))
      .map((m) => ({ node: m, ip: spec.nodes.find((n) => n.name === m)!.ip, weight: weights[m] ?? 1 }))
      .filter((r) => r.weight > 0);
    return { lb: { backend: group.lb?.backend ?? "nftables", scheduler: group.lb?.scheduler ?? "wrr", realServers } };
  },
};
