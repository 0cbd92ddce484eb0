// Operators' inputs: planned switchover, and cluster or node maintenance. A refusal is set on the
// context (the shell answers 409 with it). Pure.
import type { StepCtx } from "./context.js";
import { candidates, whyNotCandidate } from "./candidates.js";
import { handoffBusy, handoffWait } from "./handoff.js";
import { groupSpec, nodeSpec, retiredVipBusy } from "./lease-rules.js";
import { secs } from "./liveness.js";
import { forcePromotion } from "./modes/mysql-writer.js";
import { grant, revoke } from "./transitions.js";
import type { Actor } from "./types.js";

export function onSwitchover(ctx: StepCtx, groupName: string, to: string | null, actor: Actor, acceptDataLoss = false): void {
  const s = ctx.state;
  const now = ctx.now;
  const group = groupSpec(s, groupName);
  const g = s.groups[groupName];
  if (!group || !g) return void (ctx.rejected = `no group '${groupName}'`);
  if (s.persisted.maintenance) return void (ctx.rejected = "the cluster is in maintenance: decisions are frozen");
  if (g.phase === "revoking") return void (ctx.rejected = `a move of ${groupName} from ${g.holder} is already running`);
  if (acceptDataLoss) {
    if (group.mode !== "mysql-writer" || group.mysql?.topology === "galera") return void (ctx.rejected = `acceptDataLoss applies to mysql-writer dual-master groups; ${groupName} is ${group.mode}`);
    if (to === null) return void (ctx.rejected = "acceptDataLoss needs a target: name the server to promote (to)");
  }
  if (to !== null) {
    if (g.holder === to) return void (ctx.rejected = `${to} already holds ${groupName}`);
    const before = s.mysql[groupName];
    // An operator accepting the loss lifts the durability rules for that one server (audited at the grant).
    if (acceptDataLoss) forcePromotion(s, groupName, to, actor);
    const why = whyNotCandidate(s, group, to, now);
    if (why) {
      if (acceptDataLoss) {
        if (before) s.mysql[groupName] = before;
        else delete s.mysql[groupName];
      }
      return void (ctx.rejected = `cannot switch ${groupName} to ${to}: ${why}`);
    }
  }
  const target = to ?? candidates(s, group, now, g.holder)[0] ?? null;
  if (!target) return void (ctx.rejected = `no healthy candidate other than ${g.holder ?? "the holder"} for ${groupName}`);
  if (g.holder === null) {
    // A group removed and added again (or a removed group's VIP reused) may still be on its old
    // holder's host until that lease has surely ended: nobody else gets it before, planned or not.
    const busy = retiredVipBusy(s, group, now, target);
    if (busy && busy.holder !== target) {
      const left = busy.until === Infinity ? `${busy.holder} may keep it on failsafe promises from the members it knew (${target} was never asked for one) until it says it let go` : `that lease may run ${secs(busy.until - now)} more`;
      return void (ctx.rejected = `cannot switch ${groupName} to ${target} yet: its VIP ${group.vip} was ${busy.holder}'s ${busy.name === groupName ? "before the group was removed" : `for removed group ${busy.name}`}, and ${left}`);
    }
    const handedTo = handoffBusy(s, g, target, now);
    if (handedTo) return void (ctx.rejected = `cannot switch ${groupName} to ${target} yet: ${handoffWait(handedTo, now)}`);
    g.plannedBy = `switchover by ${actor}`;
    grant(ctx, group, g, target, `switchover of ${groupName} requested by ${actor}`, false);
    return;
  }
  revoke(ctx, group, g, target, `switchover requested by ${actor}`, actor);
}

export function onMaintenance(ctx: StepCtx, node: string | null, on: boolean, actor: Actor): void {
  const p = ctx.state.persisted;
  if (node === null) {
    if (p.maintenance === on) return void ctx.event("cluster.maintenance", "info", `cluster maintenance already ${on ? "on" : "off"}`, { actor });
    p.maintenance = on;
    ctx.persistNeeded = true;
    // Waiting conditions are looked at afresh (frozen <-> no candidate); setup notes stay said.
    for (const k of Object.keys(p.notes)) if (k.startsWith("wait:")) ctx.clearNote(k);
    ctx.event("cluster.maintenance", "warning", on ? `maintenance on (by ${actor}): automatic decisions frozen` : `maintenance off (by ${actor}): automatic decisions resume`, {
      actor,
      incident: "cluster:maintenance",
      resolves: !on,
    });
    return;
  }
  if (!nodeSpec(ctx.state, node)) return void (ctx.rejected = `no node '${node}'`);
  const has = p.nodeMaintenance.includes(node);
  if (has === on) return void ctx.event("node.maintenance", "info", `${node} maintenance already ${on ? "on" : "off"}`, { node, actor });
  p.nodeMaintenance = on ? [...p.nodeMaintenance, node] : p.nodeMaintenance.filter((n) => n !== node);
  ctx.persistNeeded = true;
  ctx.event("node.maintenance", "warning", on ? `${node} maintenance on (by ${actor}): its groups move away, then it is frozen` : `${node} maintenance off (by ${actor}): it is a candidate again`, {
    node,
    actor,
    incident: `node-maintenance:${node}`,
    resolves: !on,
  });
}

