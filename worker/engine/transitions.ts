// The only ways a group changes hands: grant (epoch + 1), free, revoke (ask the holder to
// release), and grantFree (pick who gets a free group). Each persists what it changed and says why.
import type { GroupSpec } from "../../protocol/spec.js";
import { blockers, candidates, describe, waitingFor, whyNotCandidateHold } from "./candidates.js";
import type { StepCtx } from "./context.js";
import { handoffBusy, handoffWait } from "./handoff.js";
import { retiredVipBusy, T } from "./lease-rules.js";
import { secs } from "./liveness.js";
import { MODES } from "./modes/index.js";
import type { Actor, GroupRuntime } from "./types.js";

export function setPersistedGroup(ctx: StepCtx, name: string, g: GroupRuntime): void {
  const p = ctx.state.persisted.groups[name];
  if (!p || p.holder !== g.holder || p.epoch !== g.epoch || p.lastAutoFailoverAt !== g.lastAutoFailoverAt || (p.holderBoot ?? null) !== g.holderBoot) {
    // While nobody holds it: who held it last, at this epoch (mysql-writer gives it back to them).
    const lastHolder = g.holder === null && p?.epoch === g.epoch ? (p.holder ?? p.lastHolder) : undefined;
    ctx.state.persisted.groups[name] = { holder: g.holder, epoch: g.epoch, lastAutoFailoverAt: g.lastAutoFailoverAt, ...(g.holderBoot !== null ? { holderBoot: g.holderBoot } : {}), ...(p?.lapsedHolder ? { lapsedHolder: p.lapsedHolder } : {}), ...(lastHolder ? { lastHolder } : {}) };
    ctx.persistNeeded = true;
  }
}

export function grant(ctx: StepCtx, group: GroupSpec, g: GroupRuntime, to: string, why: string, automatic: boolean): void {
  g.holder = to;
  g.holderBoot = ctx.state.nodes[to]?.bootId ?? null;
  g.epoch += 1;
  g.phase = "held";
  g.leaseUntil = ctx.now + T(ctx.state);
  g.letGoAt = null;
  g.revokeTo = null;
  g.revokeReason = null;
  g.revokeAt = null;
  if (automatic) g.lastAutoFailoverAt = ctx.now;
  setPersistedGroup(ctx, group.name, g);
  ctx.clearNote(`wait:${group.name}`);
  ctx.event("group.granted", automatic ? "warning" : "info", `${why}; granting ${group.name} epoch ${g.epoch} to ${describe(ctx.state, to)}`, {
    group: group.name,
    node: to,
    epoch: g.epoch,
    incident: `group:${group.name}`,
  });
  MODES[group.mode].onGrant?.(ctx, group, to, g.epoch);
}

export function free(ctx: StepCtx, group: GroupSpec, g: GroupRuntime): void {
  g.holder = null;
  g.holderBoot = null;
  g.phase = "free";
  g.leaseUntil = null;
  g.letGoAt = null;
  setPersistedGroup(ctx, group.name, g);
}

/** `planned`: who planned the move (its gap is planned downtime in the ledger); an operator's by default. */
export function revoke(ctx: StepCtx, group: GroupSpec, g: GroupRuntime, to: string | null, reason: string, actor: Actor = "engine", planned: string | null = actor === "engine" ? null : `switchover by ${actor}`): void {
  g.phase = "revoking";
  g.plannedBy = planned;
  g.revokeTo = to;
  g.revokeReason = reason;
  g.revokeAt = ctx.now;
  ctx.event("group.revoking", actor === "engine" ? "warning" : "info", `${reason}; revoking ${group.name} epoch ${g.epoch} from ${g.holder}${to ? ` for ${to}` : ""}`, {
    group: group.name,
    node: g.holder ?? undefined,
    epoch: g.epoch,
    actor,
    incident: `group:${group.name}`,
  });
}

/** Pick who gets a free group: the switchover target if it is still fit, else the best candidate. */
export function grantFree(ctx: StepCtx, group: GroupSpec, g: GroupRuntime, why: string, automatic: boolean): void {
  const s = ctx.state;
  const now = ctx.now;
  const incident = `group:${group.name}`;
  if (s.persisted.maintenance) {
    ctx.note(`wait:${group.name}`, "group.frozen", "warning", `${why}; cluster in maintenance, ${group.name} stays without a holder`, { group: group.name, identity: "frozen", incident });
    return;
  }
  const targetHold = g.revokeTo ? whyNotCandidateHold(s, group, g.revokeTo, now) : null;
  if (g.revokeTo && targetHold?.kind === "wait") {
    // The switchover target only needs a fresher report: wait for it rather than go elsewhere.
    ctx.note(`wait:${group.name}`, "group.waiting", "info", `${why}; ${targetHold.reason}`, { group: group.name, identity: `waiting:${g.revokeTo}` });
    return;
  }
  const target = g.revokeTo && targetHold === null ? g.revokeTo : null;
  // A member a removed group's failsafe holder knew goes before one it did not (retiredVipBusy);
  // a server named for a direct handoff goes first (it may hold the group already).
  const ranked = target ? [] : candidates(s, group, now);
  const notHanded = (c: string) => handoffBusy(s, g, c, now) === null;
  const known = (c: string) => retiredVipBusy(s, group, now, c)?.until !== Infinity;
  const best = target ?? ranked.find((c) => notHanded(c) && known(c)) ?? ranked.find(notHanded) ?? ranked.find(known) ?? ranked[0] ?? null;
  const handedTo = best ? handoffBusy(s, g, best, now) : null;
  if (best && handedTo) {
    ctx.note(`wait:${group.name}`, "group.waiting", "warning", `${why}; ${group.name} would go to ${best}, but ${handoffWait(handedTo, now)}`, { group: group.name, identity: `handoff:${handedTo.node}:${g.epoch}` });
    return;
  }
  const busy = retiredVipBusy(s, group, now, best);
  if (best && busy && busy.holder !== best) {
    ctx.note(`wait:${group.name}`, "group.vip-busy", "warning", `${why}; ${group.name}'s VIP ${group.vip} was ${busy.holder}'s ${busy.name === group.name ? "before the group was removed" : `for removed group ${busy.name}`}: ${busyWait(busy, best, now)}`, { group: group.name, identity: `vip-busy:${busy.name}:${busy.holder}` });
    return;
  }
  if (!best) {
    // A new cluster whose shims are not running yet is being set up, not failing: say so once.
    const waiting = waitingFor(s, group, now);
    if (waiting !== null) {
      ctx.note(`wait:${group.name}`, "group.waiting", "info", `${group.name} has no holder yet: waiting for ${waiting}`, { group: group.name, identity: "waiting" });
      return;
    }
    const b = blockers(s, group, now);
    // The same blockers with a longer silence, or silent since a restart, are the same
    // condition: say it once.
    const identity = b.text.replace(/ is not alive \(no heartbeat for [^)]*\)| has not sent a heartbeat( since the control plane started)?/g, " is silent").replace(/ \(it reported [^)]*\)/g, "");
    if (b.onlyWaiting) {
      // A member catching up or due to report again becomes a candidate by itself.
      ctx.note(`wait:${group.name}`, "group.waiting", "warning", `${why}; ${group.name} waits (${b.text})`, { group: group.name, incident, identity: `waiting:${identity}` });
    } else if (b.refused) {
      ctx.note(`wait:${group.name}`, "group.promotion-refused", "critical", `${why}; automatic promotion in ${group.name} refused (${b.text})`, { group: group.name, incident, identity: `refused:${identity}` });
    } else {
      ctx.note(`wait:${group.name}`, "group.no-candidate", "critical", `${why}; no healthy candidate for ${group.name} (${b.text})`, { group: group.name, incident, identity: `no-candidate:${identity}` });
    }
    return;
  }
  grant(ctx, group, g, best, why, automatic);
}


/** How long a retired VIP keeps `candidate` waiting, said. */
export function busyWait(busy: { holder: string; until: number }, candidate: string, now: number): string {
  if (busy.until === Infinity) return `waiting for ${busy.holder} to say it let go (it may keep the VIP on failsafe promises from the members it knew, and ${candidate} was never asked for one)`;
  return `waiting ${secs(busy.until - now)} for that lease to end`;
}
