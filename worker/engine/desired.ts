// What one node should do right now: per group its role (holder / release / standby), the epoch,
// mode extras (the director's real servers, mysql settings), and operations to run. Pure.
import type { DesiredGroup, DesiredState, Operation } from "../../protocol/heartbeat.js";
import { failsafeOn, groupMembers } from "../../protocol/spec.js";
import { operationsFor } from "./compute.js";
import { MODES } from "./modes/index.js";
import { requestedOperationsFor } from "./operations.js";
import { handoffTarget } from "./handoff.js";
import { isShadowGroup } from "./shadow.js";
import type { EngineState } from "./types.js";

export function desiredFor(s: EngineState, node: string, now: number): DesiredState {
  const p = s.persisted;
  const groups: DesiredGroup[] = [];
  for (const group of p.spec.groups) {
    const g = s.groups[group.name];
    if (!g) continue;
    const isHolder = g.holder === node;
    const role: DesiredGroup["role"] = isHolder ? (g.phase === "revoking" ? "release" : "holder") : "standby";
    groups.push({
      name: group.name,
      mode: group.mode,
      vip: group.vip,
      prefix: group.prefix,
      interface: group.interface,
      ports: group.ports,
      probe: group.probe,
      member: groupMembers(p.spec, group).includes(node),
      ...(group.process !== undefined ? { process: group.process } : {}),
      role,
      ...(isShadowGroup(p.spec, group) ? { shadow: true } : {}),
      epoch: g.epoch,
      holder: g.holder,
      ...handoffFields(s, group, node, now),
      ...(MODES[group.mode].desiredExtras?.(s, group, node, role === "holder", now) ?? {}),
    });
  }
  const operations: Operation[] = [...operationsFor(s, node), ...requestedOperationsFor(s, node)];
  return {
    cluster: p.clusterId,
    node,
    specVersion: p.specVersion,
    heartbeatIntervalMs: p.spec.policy.heartbeatIntervalMs,
    leaseTtlMs: p.spec.policy.leaseTtlMs,
    maintenance: p.maintenance || p.nodeMaintenance.includes(node),
    groups,
    operations,
    failsafe: failsafeOn(p.spec),
    driftMarginMs: p.spec.policy.driftMarginMs,
    ...ownIp(p.spec, node),
    ...(p.specBy ? { specBy: p.specBy } : {}),
    peers: p.spec.nodes
      .filter((n) => n.role === "server" && n.name !== node)
      .map((n) => ({ name: n.name, ip: n.ip, groups: p.spec.groups.filter((g) => groupMembers(p.spec, g).includes(n.name)).map((g) => g.name) })),
  };
}

/**
 * A fingerprint of a node's desired state: a change means "push it". Only the parts that change
 * between spec versions are in it (the rest of desiredFor is the spec itself), so it stays cheap
 * on the hot path of every heartbeat.
 */
export function desiredKey(s: EngineState, node: string, now: number): string {
  const p = s.persisted;
  const parts: unknown[] = [p.specVersion, p.maintenance || p.nodeMaintenance.includes(node)];
  for (const group of p.spec.groups) {
    const g = s.groups[group.name];
    if (!g) continue;
    const isHolder = g.holder === node;
    const role = isHolder ? (g.phase === "revoking" ? "release" : "holder") : "standby";
    // The holder's naming for a direct handoff too: told at once, it heartbeats and learns it (a
    // service that dies right after the standby recovered can still be handed over).
    const handoffTo = isHolder ? handoffTarget(s, group, now) : null;
    parts.push(role, g.epoch, g.holder, handoffTo, MODES[group.mode].desiredExtras?.(s, group, node, role === "holder", now) ?? null);
  }
  parts.push(operationsFor(s, node), requestedOperationsFor(s, node));
  return JSON.stringify(parts);
}

/** The node's own IP (absent for a name not in the spec: such a node is answered with nothing of its own). */
function ownIp(spec: EngineState["persisted"]["spec"], node: string): { ip?: string } {
  const ip = spec.nodes.find((n) => n.name === node)?.ip;
  return ip ? { ip } : {};
}

/**
 * Direct handoff (handoff.ts): the holder is told whom it may hand the group to, and that server
 * whom it may take it from. Only replies (and pushed grants) name: step.ts records each naming.
 */
function handoffFields(s: EngineState, group: EngineState["persisted"]["spec"]["groups"][number], node: string, now: number): Pick<DesiredGroup, "handoffTo" | "handoffFrom"> {
  const to = handoffTarget(s, group, now);
  if (to === null) return {};
  const holder = s.groups[group.name]!.holder!;
  if (node === holder) return { handoffTo: to };
  return node === to ? { handoffFrom: holder } : {};
}
