// A node's heartbeat: liveness, probe results (health changes, outage windows), confirmed
// releases, what the node says it still holds, cannot release or refused, operation results.
// A heartbeat older than one already seen from the same shim process (a late, reordered request)
// changes nothing. Pure.
import type { HeartbeatRequest } from "../../protocol/heartbeat.js";
import { onApplyErrors } from "./apply-errors.js";
import { computeOnHeartbeat, operationResult } from "./compute.js";
import { adoptHandoffs, inFlightAfterHandoff, releaseHandoffs } from "./handoff.js";
import { lapsesEndedBy, notePeersOf, retiredLetGo } from "./failsafe-peers.js";
import type { StepCtx } from "./context.js";
import { noteHolding, noteVipAnswers } from "./ledger.js";
import { onLimits } from "./limits.js";
import { onOutage } from "./outage.js";
import { groupSpec, M, nodeSpec, T } from "./lease-rules.js";
import { secs } from "./liveness.js";
import { MODES } from "./modes/index.js";
import { requestedOperationResult } from "./operations.js";
import { lateAfterMs } from "./deadlines.js";
import { emptyNode } from "./state.js";
import type { NodeRuntime } from "./types.js";
import { free, grantFree } from "./transitions.js";

export function onHeartbeat(ctx: StepCtx, node: string, req: HeartbeatRequest): void {
  const s = ctx.state;
  const now = ctx.now;
  const spec = nodeSpec(s, node);
  if (!spec) return;
  const rt = (s.nodes[node] ??= emptyNode());
  if (rt.bootId === req.bootId && req.seq < rt.seq) {
    // Sent before one we already have from the same process: its probe results are out of date.
    ctx.staleHeartbeat = true;
    return;
  }
  const retired = s.persisted.retiredBoots?.[node] ?? [];
  if (retired.includes(req.bootId)) {
    if (now - (rt.lastBeatAt ?? s.bootedAt) <= T(s) + M(s)) {
      // From a process a newer one has replaced (delayed in the network): that process has ended.
      // Taken, it would adopt the lease back from its successor, and its `released` would free a
      // group whose VIP the successor still carries.
      ctx.staleHeartbeat = true;
      return;
    }
    // Its successor has been silent for a whole lease: what it held has ended, and which of the
    // two is newer cannot be told for sure; this one is the node's process again.
    s.persisted.retiredBoots = { ...s.persisted.retiredBoots, [node]: retired.filter((b) => b !== req.bootId) };
    ctx.persistNeeded = true;
  }
  ctx.heldUpHeartbeat = heldUp(ctx, rt, req);
  const lost = rt.lastBeatAt !== null && !rt.aliveReported;
  if (rt.bootId !== null && rt.bootId !== req.bootId) {
    ctx.event("node.restarted", "warning", `${node}'s shim restarted (new boot id)`, { node });
    // A process that says it is stopping may be an old one never heard before (its first word
    // late): it does not replace the one heard, as it never adopts a lease (step.ts).
    if (!(req.leaving ?? false)) retireBoot(ctx, node, rt.bootId);
  }
  if (lost) ctx.event("node.back", "info", `${node} is sending heartbeats again after ${secs(now - rt.lastBeatAt!)}`, { node, incident: `node:${node}`, resolves: true });
  if (!s.persisted.heard.includes(node)) {
    s.persisted.heard = [...s.persisted.heard, node];
    ctx.persistNeeded = true;
  }
  rt.lastBeatAt = now;
  rt.bootId = req.bootId;
  rt.seq = req.seq;
  rt.aliveReported = true;
  if ((req.leaving ?? false) !== rt.leaving) {
    rt.leaving = req.leaving ?? false;
    if (rt.leaving) ctx.event("node.leaving", "info", `${node} is stopping: it hands over what it holds and is not a candidate until it says it is back`, { node, incident: `leaving:${node}` });
    else ctx.event("node.back", "info", `${node} is back: a candidate again`, { node, incident: `leaving:${node}`, resolves: true });
  }
  // Probe results: track health changes for preemption delay and outage windows.
  for (const [name, report] of Object.entries(req.probes)) {
    const before = rt.probes[name];
    rt.probes[name] = report;
    const group = groupSpec(s, name);
    if (group) MODES[group.mode].observe?.(ctx, group, node, report);
    if (report.healthy && !before?.healthy) {
      rt.healthySince[name] = now;
      const since = rt.downSince[name] ?? null;
      delete rt.downSince[name];
      if (group) {
        if (before) ctx.event("probe.recovered", "info", `${node}'s probe for ${name} is healthy again (${report.detail})`, { group: name, node, incident: `probe:${name}:${node}`, resolves: true });
        ctx.effects.push(...(MODES[group.mode].onHealthChange?.({ group, node, healthy: true, since, now, ctx }) ?? []));
      }
    } else if (!report.healthy && (before?.healthy ?? true)) {
      // The outage began after the probe's last success, which the report dates (at most a probe interval early).
      rt.downSince[name] ??= now - (report.downForMs ?? 0);
      delete rt.healthySince[name];
      if (group && before) ctx.event("probe.failed", "warning", `${node}'s probe for ${name} is failing (${report.detail})`, { group: name, node, incident: `probe:${name}:${node}` });
    }
  }
  onApplyErrors(ctx, node, req.applyErrors ?? []);
  // Before releases: a group released because the node refuses it must not go straight back to it.
  onLimits(ctx, node, req.limits, req.limitRefusals ?? []);
  onOutage(ctx, node, req.bootId, req.outage);
  // Before the ledger looks: a group taken by direct handoff is this node's from now on.
  if (!ctx.heldUpHeartbeat) adoptHandoffs(ctx, node, req.holding);
  noteHolding(ctx, node, req.holding);
  // What a held-up heartbeat says it saw is old news (heldUp below).
  if (!ctx.heldUpHeartbeat) noteVipAnswers(ctx, node, req.vipAnswered ?? []);
  notePeersOf(ctx, node, req.peersOf);
  const holding = new Map(req.holding.map((h) => [h.group, h.epoch]));
  lapsesEndedBy(ctx, node, holding);
  retiredLetGo(ctx, node, holding);
  // A removed group's holder released it handing it to nobody: no named server can have it.
  for (const r of req.released) {
    const ret = s.persisted.retired?.[r.group];
    if (ret?.handoffTo !== undefined && ret.holder === node && ret.epoch === r.epoch && r.handedTo === undefined) {
      const { handoffTo: _none, ...rest } = ret;
      s.persisted.retired = { ...s.persisted.retired, [r.group]: rest };
      ctx.persistNeeded = true;
    }
  }
  // Releases confirmed at the current epoch free the group at once (planned switchover, drain).
  for (const r of req.released) {
    const group = groupSpec(s, r.group);
    const g = s.groups[r.group];
    if (!group || !g) continue;
    if (g.holder !== node || g.epoch !== r.epoch) continue; // stale: an older epoch, or not ours
    if (g.holderBoot !== null && g.holderBoot !== req.bootId) continue; // from a process that no longer holds it
    const wanted = g.revokeTo;
    const reason = g.revokeReason;
    // Who may have the group by direct handoff now: the server it was handed to, or nobody.
    releaseHandoffs(s, g, node, r.epoch, r.handedTo ?? null);
    free(ctx, group, g);
    g.revokeTo = wanted;
    ctx.event("group.released", "info", `${node} released ${group.name} at epoch ${r.epoch}${reason ? ` (${reason})` : ""}`, { group: group.name, node, epoch: r.epoch });
    grantFree(ctx, group, g, `${node} released ${group.name}`, false);
  }
  onHolding(ctx, node, req);
  for (const op of req.operations) {
    operationResult(ctx, node, op);
    requestedOperationResult(ctx, node, op);
  }
  if (spec.role === "compute") computeOnHeartbeat(ctx, node);
}


/** How many replaced processes are remembered per node: far more than can have messages in flight. */
export const RETIRED_BOOTS_KEPT = 8;

function retireBoot(ctx: StepCtx, node: string, bootId: string): void {
  // (Never listed already: a listed process's heartbeats are ignored, so it is never the current one.)
  const p = ctx.state.persisted;
  p.retiredBoots = { ...p.retiredBoots, [node]: [...(p.retiredBoots?.[node] ?? []), bootId].slice(-RETIRED_BOOTS_KEPT) };
  ctx.persistNeeded = true;
}

/**
 * What the node says about its leases. `holding` a group at an epoch the control plane has moved
 * past means a node still carries a VIP it was told to give up (only possible if its shim or its
 * clock misbehaves): said once, critical. `unreleased`: it must let go but cannot remove the VIP;
 * the control plane waits out the lease (no renewal: the group is being moved) instead of granting
 * at once. `refused`: a grant it turned down because it promised the holder (failsafe).
 */
function onHolding(ctx: StepCtx, node: string, req: HeartbeatRequest): void {
  const s = ctx.state;
  for (const group of s.persisted.spec.groups) {
    const g = s.groups[group.name];
    if (!g) continue;
    const held = req.holding.find((h) => h.group === group.name);
    const key = `stale-holder:${group.name}:${node}`;
    if (held && (g.holder !== node || g.epoch !== held.epoch) && held.epoch < g.epoch && !inFlightAfterHandoff(s, g, node, held.epoch, ctx.now)) {
      // Legitimate only when the current holder refused the grant on this node's failsafe promise.
      const promised = g.holder !== null && (s.nodes[g.holder]?.refused ?? []).some((r) => r.group === group.name && r.promisedTo === node);
      if (promised) ctx.note(key, "group.kept-on-promise", "info", `${node} kept ${group.name} at epoch ${held.epoch} on ${g.holder}'s failsafe promise while it could not reach the control plane; it is told to release now`, { group: group.name, node });
      else ctx.note(key, "group.stale-holder", "critical", `${node} says it still holds ${group.name} at epoch ${held.epoch}, but epoch ${g.epoch} belongs to ${g.holder ?? "nobody"}`, { group: group.name, node });
    } else ctx.clearNote(key);
    const stuck = (req.unreleased ?? []).find((u) => u.group === group.name && u.epoch === g.epoch && g.holder === node && (g.holderBoot === null || g.holderBoot === req.bootId));
    const stuckKey = `unreleased:${group.name}:${node}`;
    if (stuck) {
      if (g.phase === "held") {
        // It let go on its own (stopping): no more renewals, so the lease runs out.
        g.phase = "revoking";
        g.revokeTo = null;
        g.revokeReason = `${node} is letting go of it`;
        g.revokeAt = ctx.now;
      }
      ctx.note(stuckKey, "group.unreleased", "critical", `${node} cannot remove the VIP of ${group.name} (epoch ${g.epoch}): ${stuck.detail}; waiting out its lease before ${group.name} goes elsewhere`, { group: group.name, node, identity: `${g.epoch}` });
    } else ctx.clearNote(stuckKey);
  }
  const rt = s.nodes[node]!;
  for (const r of req.refused ?? []) {
    if (!rt.refused.some((x) => x.group === r.group && x.promisedTo === r.promisedTo)) {
      ctx.event("group.refused", "warning", `${node} refused ${r.group} epoch ${r.epoch}: it promised ${r.promisedTo} (failsafe) not to take it while the control plane could not reach ${r.promisedTo}`, { group: r.group, node, epoch: r.epoch });
    }
  }
  rt.refused = (req.refused ?? []).map((r) => ({ ...r }));
}

/**
 * How fast two monotonic clocks may drift apart, as a share of elapsed time (1,000 ppm: far more
 * than real oscillators), so the least transit seen long ago is not trusted to the millisecond.
 */
const CLOCK_DRIFT = 0.001;

/**
 * A heartbeat that arrives much later than this boot's quickest ones (by more than the time after
 * which a node counts as late) spent that long in the network: kept in a socket's send queue while
 * the link was down and delivered once it came back, say. It still proves the node was alive and
 * renews as usual (leases count from receipt here and from sending on the node, so a late renewal
 * only makes the control plane wait longer), but what it says it SAW is old: shadow observations
 * from it are no news (shadow.ts). A backlog arrives at once; when held-up heartbeats keep coming
 * for a heartbeat interval, the path itself got slower: its transit becomes the new measure.
 */
function heldUp(ctx: StepCtx, rt: NodeRuntime, req: HeartbeatRequest): boolean {
  if (req.sentMs === undefined) return false;
  const now = ctx.now;
  const transit = now - req.sentMs;
  const prior = rt.bootId === req.bootId ? rt.transit : null;
  let least = prior === null ? transit : Math.min(transit, prior.least + (now - prior.at) * CLOCK_DRIFT);
  if (transit - least > lateAfterMs(ctx.state)) {
    const since = prior?.heldUpSince ?? now;
    if (now - since < ctx.state.persisted.spec.policy.heartbeatIntervalMs) {
      rt.transit = { least, at: now, heldUpSince: since };
      return true;
    }
    least = transit;
  }
  rt.transit = { least, at: now, heldUpSince: null };
  return false;
}
