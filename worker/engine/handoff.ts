// Direct handoff: when the holder's own probe fails, its shim may drop the VIP and hand the group
// straight to the next server over the failsafe channel, without waiting for the control plane's
// word (a dead service then moves in about the time the two shims take to talk, as keepalived's
// local resignation does). The control plane stays the only one that decides who may take over:
// - it names the server (`handoffTo` on the holder, `handoffFrom` on that server) only when it
//   would move the group there anyway: a handoff-capable mode, the best candidate, no hold-down,
//   no maintenance, no restart grace, the VIP not busy with a removed group; and only with the
//   failsafe channel on (the handoff is a signed message on it);
// - the named server may take the group at epoch + 1 under a lease counted from the heartbeat
//   whose reply named it; the control plane records each naming with its end (receipt + T) and
//   gives the group to nobody else (at that epoch) before that end + margin (handoffBusy);
// - the server that took it reports holding epoch + 1: the control plane takes that as the grant
//   (adoptHandoffs); the old holder's `released` then changes nothing.
// Records are memory only: after a restart everyone but the persisted holder waits out the grace,
// which covers every lease a naming from before could give. Pure.
import type { GroupEpoch } from "../../protocol/heartbeat.js";
import { failsafeOn, type GroupSpec } from "../../protocol/spec.js";
import { candidates } from "./candidates.js";
import type { StepCtx } from "./context.js";
import { inRestartGrace, M, retiredVipBusy, T } from "./lease-rules.js";
import { isAlive, secs } from "./liveness.js";
import { MODES } from "./modes/index.js";
import { isShadowGroup } from "./shadow.js";
import { grant } from "./transitions.js";
import type { EngineState, GroupRuntime, HandoffRecord } from "./types.js";

/** Who the holder of `group` may hand it to right now (null: nobody; the control plane moves it). */
export function handoffTarget(s: EngineState, group: GroupSpec, now: number): string | null {
  const g = s.groups[group.name]!;
  const p = s.persisted;
  // (A held group always has a holder; a group being moved or free is the control plane's to place.)
  if (g.phase !== "held" || !MODES[group.mode].handoff) return null;
  const holder = g.holder!;
  // The handoff travels on the failsafe channel (its listener and keys exist only with failsafe on).
  if (!failsafeOn(p.spec) || isShadowGroup(p.spec, group) || p.maintenance || p.nodeMaintenance.includes(holder)) return null;
  if (inRestartGrace(s, now) || !isAlive(s, holder, now)) return null;
  if (g.lastAutoFailoverAt !== null && now < g.lastAutoFailoverAt + p.spec.policy.holdDownMs) return null;
  const to = candidates(s, group, now, holder)[0] ?? null;
  if (to === null || retiredVipBusy(s, group, now, to) !== null) return null;
  return to;
}

/** The namings that may still be used: their lease may run (end + margin not reached). */
export function liveHandoffs(s: EngineState, g: GroupRuntime, now: number): HandoffRecord[] {
  return (g.handoff ?? []).filter((r) => now < r.until + M(s));
}

/**
 * `node` is being answered (a heartbeat reply or pushed grants, counted from one of its
 * heartbeats): record every group whose desired state names it, ending T from now.
 */
export function recordHandoffs(s: EngineState, node: string, now: number): void {
  for (const group of s.persisted.spec.groups) {
    const g = s.groups[group.name]!;
    // Ended namings go. Named again: its record for this epoch is renewed (one per node and epoch).
    // Not named now: its earlier naming stays recorded until its end (the shim may not have had
    // the reply that withdraws it).
    const live = liveHandoffs(s, g, now);
    if (handoffTarget(s, group, now) !== node) g.handoff = live;
    else g.handoff = [...live.filter((r) => r.to !== node || r.epoch !== g.epoch), { to: node, from: g.holder!, epoch: g.epoch, until: now + T(s) }];
  }
}

/** A server other than `to` that may have taken the group at its next epoch by handoff, and until when. */
export function handoffBusy(s: EngineState, g: GroupRuntime, to: string, now: number): { node: string; from: string; until: number } | null {
  // (With at most three servers, at most one server other than `to` can be named at this epoch;
  // should there be more, each one's end is a deadline of its own, so the wait is re-judged.)
  const r = liveHandoffs(s, g, now).find((x) => x.epoch === g.epoch && x.to !== to);
  return r ? { node: r.to, from: r.from, until: r.until + M(s) } : null;
}

export function handoffWait(busy: { node: string; from: string; until: number }, now: number): string {
  return `${busy.node} may have taken it straight from ${busy.from} (direct handoff): waiting ${secs(busy.until - now)} for that lease to end`;
}

/**
 * `node` says it holds a group at the epoch after the current one, named for it: it took the
 * group by handoff. That is the grant (epoch + 1, automatic failover); the old holder dropped the
 * VIP before it handed over.
 */
export function adoptHandoffs(ctx: StepCtx, node: string, holding: GroupEpoch[]): void {
  const s = ctx.state;
  for (const h of holding) {
    const group = s.persisted.spec.groups.find((x) => x.name === h.group);
    if (!group) continue;
    const g = s.groups[group.name]!;
    // (Nobody is ever named for a group it holds.)
    const r = liveHandoffs(s, g, ctx.now).find((x) => x.to === node && x.epoch + 1 === h.epoch && x.epoch === g.epoch);
    if (!r) continue;
    g.handoff = [];
    g.plannedBy = null;
    g.handedOver = { from: r.from, epoch: g.epoch, at: ctx.now };
    grant(ctx, group, g, node, `${r.from} handed ${group.name} straight to ${node} (its own probe failed; direct handoff)`, true);
  }
}

/** The old holder's heartbeat from before its handoff may still say it holds the old epoch: not news. */
export function inFlightAfterHandoff(s: EngineState, g: GroupRuntime, node: string, epoch: number, now: number): boolean {
  const h = g.handedOver;
  return !!h && h.from === node && h.epoch === epoch && now - h.at < T(s) + M(s);
}

/**
 * The holder released the group at `epoch`, having handed it to `handedTo` (null: to nobody).
 * A naming for that epoch can only be used with the holder's handoff: the others are void.
 */
export function releaseHandoffs(s: EngineState, g: GroupRuntime, from: string, epoch: number, handedTo: string | null): void {
  const kept = (g.handoff ?? []).filter((r) => r.epoch !== epoch || r.to === handedTo);
  // Handed over under a naming this incarnation never made (records are memory only): one from
  // before the restart, whose lease ends by boot + T at the latest.
  // (Alongside a record of this incarnation's own, it ends earlier and changes nothing.)
  if (handedTo !== null) kept.push({ to: handedTo, from, epoch, until: s.bootedAt + T(s) });
  g.handoff = kept;
}
