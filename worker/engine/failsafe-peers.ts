// Failsafe mode lets a holder cut off from the control plane keep its groups on promises from the
// peers it knows: the member servers in the last desired state it received. A server that joined
// the group after that cannot have promised anything: it was never asked. So a group whose holder
// went silent (its lease lapsed without a release) goes only to a member that holder knew: one
// whose membership is not newer than the spec version the holder last said its peer list came
// from (heartbeat `peersOf`). Until that holder reports again, lets go, or another member it knew
// takes the group, newer members wait. Pure.
import { failsafeOn, groupMembers, type ClusterSpec, type GroupSpec } from "../../protocol/spec.js";
import type { StepCtx } from "./context.js";
import type { EngineState, PersistedState } from "./types.js";

const inSpec = (p: PersistedState, node: string) => p.spec.nodes.some((n) => n.name === node);

/** The spec version since which `node` has been a member of `group` without a break (0: from the start). */
function memberSince(p: PersistedState, group: string, node: string): number {
  return p.memberSince?.[group]?.[node] ?? 0;
}

/** Why `node` may not take `group` now because of a lapsed holder that may keep it on promises, or null. */
export function unknownToLapsedHolder(s: EngineState, group: GroupSpec, node: string): string | null {
  const p = s.persisted;
  const lapsed = p.groups[group.name]?.lapsedHolder;
  if (!lapsed || lapsed === node || !failsafeOn(p.spec) || !inSpec(p, lapsed)) return null;
  const since = memberSince(p, group.name, node);
  const knows = p.peersOf?.[lapsed] ?? 0;
  if (since <= knows) return null;
  return `${node} joined ${group.name} in spec version ${since}, after the peer list ${lapsed} last had (version ${knows}): ${lapsed} may still keep ${group.name} on its peers' promises, and ${node} was never asked for one`;
}

/** The spec version whose peer list the node's shim uses, as its heartbeat says (kept when it grows). */
export function notePeersOf(ctx: StepCtx, node: string, peersOf: number | undefined): void {
  const p = ctx.state.persisted;
  if (peersOf === undefined || peersOf <= (p.peersOf?.[node] ?? 0)) return;
  p.peersOf = { ...p.peersOf, [node]: peersOf };
  ctx.persistNeeded = true;
}

/**
 * `holder`'s lease on `group` lapsed without a release: under failsafe it may keep the group on
 * promises. Not a holder that left the spec: its peers' desired state no longer names it, so they
 * refuse it promises, and its token is revoked, so it does not go failsafe at all.
 */
export function noteLapse(ctx: StepCtx, group: string, holder: string): void {
  const p = ctx.state.persisted;
  const pg = p.groups[group];
  if (!pg || !failsafeOn(p.spec) || pg.lapsedHolder === holder || !inSpec(p, holder)) return;
  p.groups = { ...p.groups, [group]: { ...pg, lapsedHolder: holder } };
  ctx.persistNeeded = true;
}

/**
 * The lapse is over: the old holder says it no longer holds the group, or a member it knew took
 * the group (that member refuses grants while its promise runs, so the old holder cannot have
 * renewed one from it since).
 */
export function clearLapse(ctx: StepCtx, group: string): void {
  const p = ctx.state.persisted;
  const pg = p.groups[group];
  if (!pg?.lapsedHolder) return;
  const { lapsedHolder: _gone, ...rest } = pg;
  p.groups = { ...p.groups, [group]: rest };
  ctx.persistNeeded = true;
}

/** After a heartbeat's `holding`: lapses that this report ends. */
export function lapsesEndedBy(ctx: StepCtx, node: string, holding: Map<string, number>): void {
  const s = ctx.state;
  for (const [name, pg] of Object.entries(s.persisted.groups)) {
    if (!pg.lapsedHolder) continue;
    const g = s.groups[name];
    const lapsedLetGo = pg.lapsedHolder === node && !holding.has(name);
    const knownPeerHolds = g !== undefined && g.holder === node && node !== pg.lapsedHolder && holding.get(name) === g.epoch;
    if (lapsedLetGo || knownPeerHolds) clearLapse(ctx, name);
  }
}

/** Membership versions for a new spec: kept for members that stay, `version` for those that join. */
export function memberSinceFor(old: PersistedState, spec: ClusterSpec, version: number): PersistedState["memberSince"] {
  const out: NonNullable<PersistedState["memberSince"]> = {};
  const servers = new Set(spec.nodes.filter((n) => n.role === "server").map((n) => n.name));
  for (const g of spec.groups) {
    const before = old.spec.groups.find((x) => x.name === g.name);
    const was = new Set(before ? groupMembers(old.spec, before) : []);
    const entry: Record<string, number> = {};
    for (const m of groupMembers(spec, g)) {
      if (!servers.has(m)) continue;
      const since = was.has(m) ? memberSince(old, g.name, m) : version;
      if (since > 0) entry[m] = since;
    }
    if (Object.keys(entry).length) out[g.name] = entry;
  }
  return Object.keys(out).length ? out : undefined;
}

/**
 * A removed group's holder that may keep its VIP on promises (RetiredGroup.knownBy) says it no
 * longer holds that group (at its old epoch or older): its VIP is gone, the failsafe wait ends.
 */
export function retiredLetGo(ctx: StepCtx, node: string, holding: Map<string, number>): void {
  const p = ctx.state.persisted;
  for (const [name, r] of Object.entries(p.retired ?? {})) {
    if (!r.knownBy || r.holder !== node) continue;
    const epoch = holding.get(name);
    if (epoch !== undefined && epoch <= r.epoch) continue;
    const { knownBy: _gone, ...rest } = r;
    p.retired = { ...p.retired, [name]: rest };
    ctx.persistNeeded = true;
  }
}
