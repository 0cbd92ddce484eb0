// A node's heartbeat: liveness, probe results (health changes, outage windows), confirmed
// releases, operation results. Pure.
import type { HeartbeatRequest } from "../../protocol/heartbeat.js";
import { onApplyErrors } from "./apply-errors.js";
import { computeOnHeartbeat, operationResult } from "./compute.js";
import type { StepCtx } from "./context.js";
import { noteHolding } from "./ledger.js";
import { onLimits } from "./limits.js";
import { onOutage } from "./outage.js";
import { groupSpec, nodeSpec } from "./lease-rules.js";
import { secs } from "./liveness.js";
import { MODES } from "./modes/index.js";
import { requestedOperationResult } from "./operations.js";
import { emptyNode } from "./state.js";
import { free, grantFree } from "./transitions.js";

export function onHeartbeat(ctx: StepCtx, node: string, req: HeartbeatRequest): void {
  const s = ctx.state;
  const now = ctx.now;
  const spec = nodeSpec(s, node);
  if (!spec) return;
  const rt = (s.nodes[node] ??= emptyNode());
  const lost = rt.lastBeatAt !== null && !rt.aliveReported;
  if (rt.bootId !== null && rt.bootId !== req.bootId) ctx.event("node.restarted", "warning", `${node}'s shim restarted (new boot id)`, { node });
  if (lost) ctx.event("node.back", "info", `${node} is sending heartbeats again after ${secs(now - rt.lastBeatAt!)}`, { node, incident: `node:${node}`, resolves: true });
  if (!s.persisted.heard.includes(node)) {
    s.persisted.heard = [...s.persisted.heard, node];
    ctx.persistNeeded = true;
  }
  rt.lastBeatAt = now;
  rt.bootId = req.bootId;
  rt.seq = req.seq;
  rt.aliveReported = true;
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
  noteHolding(ctx, node, req.holding);
  // Releases confirmed at the current epoch free the group at once (planned switchover, drain).
  for (const r of req.released) {
    const group = groupSpec(s, r.group);
    const g = s.groups[r.group];
    if (!group || !g) continue;
    if (g.holder !== node || g.epoch !== r.epoch) continue; // stale: an older epoch, or not ours
    const wanted = g.revokeTo;
    const reason = g.revokeReason;
    free(ctx, group, g);
    g.revokeTo = wanted;
    ctx.event("group.released", "info", `${node} released ${group.name} at epoch ${r.epoch}${reason ? ` (${reason})` : ""}`, { group: group.name, node, epoch: r.epoch });
    grantFree(ctx, group, g, `${node} released ${group.name}`, false);
  }
  for (const op of req.operations) {
    operationResult(ctx, node, op);
    requestedOperationResult(ctx, node, op);
  }
  if (spec.role === "compute") computeOnHeartbeat(ctx, node);
}

