// A new spec version: surviving groups keep holder and epoch, maintenance and compute progress
// carry over, removed groups are retired. Leases are never cut short by a spec change: a holder
// removed from the spec keeps its group (being moved, no renewals) until its lease has surely
// ended, and a removed group's VIP goes to nobody else before its holder's lease has. Epochs
// never go back for a group name: one added again waits out its old holder's lease and starts
// above where it stopped. Pure.
import { failsafeOn, groupMembers } from "../../protocol/spec.js";
import { memberSinceFor } from "./failsafe-peers.js";
import type { StepCtx } from "./context.js";
import { liveHandoffs } from "./handoff.js";
import { leaseEnd, M, T } from "./lease-rules.js";
import { emptyNode, newPersistedState } from "./state.js";
import type { EngineInput, EngineState, PersistedState } from "./types.js";

export function onSpec(ctx: StepCtx, input: Extract<EngineInput, { type: "spec" }>): void {
  const s = ctx.state;
  const old = s.persisted;
  const fresh = newPersistedState(old.clusterId, input.spec, input.specVersion, input.actor);
  const now = ctx.now;
  const inSpec = (node: string) => input.spec.nodes.some((n) => n.name === node);
  // Groups removed now: remember their epoch, VIP and holder's lease end.
  const retired: NonNullable<PersistedState["retired"]> = { ...(old.retired ?? {}) };
  for (const [name, pg] of Object.entries(old.groups)) {
    if (name in fresh.groups) continue;
    const rt = s.groups[name];
    const vip = old.spec.groups.find((g) => g.name === name)?.vip ?? retired[name]?.vip ?? "";
    retired[name] = { epoch: Math.max(pg.epoch, retired[name]?.epoch ?? 0), vip, holder: pg.holder, until: pg.holder && rt ? leaseEnd(s, rt) : null };
    // A server named for a direct handoff may have taken it (or may still): its lease counts too.
    const named = rt ? liveHandoffs(s, rt, now).sort((a, b) => b.until - a.until)[0] : undefined;
    if (named) {
      const r = retired[name]!;
      retired[name] = { ...r, holder: r.holder ?? named.to, until: Math.max(r.until ?? s.bootedAt + T(s), named.until), ...(r.holder !== null && r.holder !== named.to ? { handoffTo: named.to } : {}) };
    }
    const before = old.spec.groups.find((g) => g.name === name);
    if (pg.holder && before && failsafeOn(old.spec) && inSpec(pg.holder)) {
      // It may keep the VIP on promises from the members it knew (failsafe-peers.ts).
      const knows = old.peersOf?.[pg.holder] ?? 0;
      retired[name]!.knownBy = groupMembers(old.spec, before).filter((m) => m !== pg.holder && (old.memberSince?.[name]?.[m] ?? 0) <= knows);
    }
  }
  // A holder that left the spec gets no more promises from anyone: only its lease's time counts.
  for (const [name, r] of Object.entries(retired)) {
    if (r.knownBy && (r.holder === null || !inSpec(r.holder))) {
      const { knownBy: _gone, ...rest } = r;
      retired[name] = rest;
    }
  }
  // Keep what carries over: holders (also removed ones, until their lease ends) and epochs.
  for (const name of Object.keys(fresh.groups)) {
    const prev = old.groups[name];
    if (prev) {
      fresh.groups[name] = { ...prev };
      continue;
    }
    const r = retired[name];
    if (!r) continue;
    // Added again: above the epoch it reached, held by nobody. Its old holder was told to let go
    // when it was removed (and may have), so handing it back the old epoch could name a holder
    // that no longer holds it — after a restart of this object nothing would say otherwise. The
    // retired entry stays while that lease may run: nobody, the old holder included, gets the VIP
    // before it has surely ended, and then at a new epoch.
    fresh.groups[name] = { holder: null, epoch: r.epoch, lastAutoFailoverAt: null };
    const leaseMayRun = r.holder !== null && (r.until === null || now < r.until + M(s) || r.knownBy !== undefined);
    if (!leaseMayRun) delete retired[name];
  }
  // A retired VIP whose lease is surely over blocks nothing: keep only the epoch floor.
  for (const [name, r] of Object.entries(retired)) if (r.holder !== null && r.until !== null && now >= r.until + M(s) && !r.knownBy) retired[name] = { ...r, holder: null, until: null };
  if (Object.keys(retired).length) fresh.retired = retired;
  // Failsafe peers: who joined when, and what each shim said it knows (failsafe-peers.ts). A
  // lapsed holder that left the spec gets no more promises from anyone: its lapse ends.
  const memberSince = memberSinceFor(old, input.spec, input.specVersion);
  if (memberSince) fresh.memberSince = memberSince;
  const peersOf = Object.fromEntries(Object.entries(old.peersOf ?? {}).filter(([n]) => inSpec(n)));
  if (Object.keys(peersOf).length) fresh.peersOf = peersOf;
  for (const [name, pg] of Object.entries(fresh.groups)) {
    if (pg.lapsedHolder && !inSpec(pg.lapsedHolder)) {
      const { lapsedHolder: _gone, ...rest } = pg;
      fresh.groups[name] = rest;
    }
  }
  for (const name of Object.keys(fresh.computes)) if (old.computes[name]) fresh.computes[name] = old.computes[name]!;
  fresh.maintenance = old.maintenance;
  fresh.nodeMaintenance = old.nodeMaintenance.filter((n) => input.spec.nodes.some((x) => x.name === n));
  fresh.nextOperation = old.nextOperation;
  fresh.operations = old.operations ?? {};
  // The ledger ends removed groups itself (ledger.ts); drills of removed groups are forgotten.
  fresh.ledger = old.ledger;
  fresh.drills = Object.fromEntries(Object.entries(old.drills).filter(([g]) => g in fresh.groups));
  fresh.heard = old.heard.filter((n) => input.spec.nodes.some((x) => x.name === n));
  // Shadow mode's ledger carries over; what a removed group's VIP was doing on each host does not.
  if (old.shadow) {
    const keep = <V>(r: Record<string, V> | undefined) => Object.fromEntries(Object.entries(r ?? {}).filter(([g]) => g in fresh.groups));
    fresh.shadow = { hosts: keep(old.shadow.hosts), holder: keep(old.shadow.holder), ...(old.shadow.split ? { split: keep(old.shadow.split) } : {}), entries: old.shadow.entries };
  }
  // Replaced shim processes stay ignored across spec changes (a late `released` from one would free its successor's group).
  const retiredBoots = Object.fromEntries(Object.entries(old.retiredBoots ?? {}).filter(([n]) => inSpec(n)));
  if (Object.keys(retiredBoots).length) fresh.retiredBoots = retiredBoots;
  if (old.limits) fresh.limits = Object.fromEntries(Object.entries(old.limits).filter(([n]) => input.spec.nodes.some((x) => x.name === n)));
  // Reported conditions carry over while their group or node is still there (the key ends in it).
  const names = new Set([...input.spec.groups.map((g) => g.name), ...input.spec.nodes.map((n) => n.name)]);
  fresh.notes = Object.fromEntries(Object.entries(old.notes).filter(([k]) => names.has(k.slice(k.lastIndexOf(":") + 1))));
  const groups: EngineState["groups"] = {};
  for (const [name, pg] of Object.entries(fresh.groups)) {
    const prev = s.groups[name];
    groups[name] = prev && prev.holder === pg.holder ? prev : { holder: pg.holder, epoch: pg.epoch, leaseUntil: null, phase: pg.holder ? "held" : "free", revokeTo: null, revokeReason: null, revokeAt: null, lastAutoFailoverAt: pg.lastAutoFailoverAt, confirmedEpoch: pg.epoch, plannedBy: null, holderBoot: pg.holderBoot ?? null };
    const g = groups[name]!;
    if (g.holder !== null && !inSpec(g.holder) && g.phase !== "revoking") {
      // Its holder left the spec: no renewals from now on, the group moves when the lease is surely over.
      groups[name] = { ...g, phase: "revoking", revokeTo: null, revokeReason: `${g.holder} was removed from the spec`, revokeAt: now, removedHolder: { node: g.holder, heardAt: s.nodes[g.holder]?.lastBeatAt ?? null } };
      ctx.event("group.revoking", "warning", `${g.holder} was removed from the spec; ${name} epoch ${g.epoch} moves once its lease has surely ended`, { group: name, node: g.holder, epoch: g.epoch, actor: input.actor, incident: `group:${name}` });
    }
  }
  const nodes: EngineState["nodes"] = {};
  for (const n of input.spec.nodes) nodes[n.name] = s.nodes[n.name] ?? emptyNode();
  const removed = Object.keys(old.groups).filter((g) => !(g in fresh.groups));
  ctx.state = { ...s, persisted: fresh, groups, nodes };
  ctx.persistNeeded = true;
  ctx.event("cluster.spec", "info", `spec version ${input.specVersion} applied by ${input.actor}${removed.length ? `; groups removed (their VIPs are dropped): ${removed.join(", ")}` : ""}`, { actor: input.actor });
}

