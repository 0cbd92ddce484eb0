// A new spec version: surviving groups keep holder and epoch, maintenance and compute progress
// carry over, removed groups are dropped. Pure.
import type { StepCtx } from "./context.js";
import { emptyNode, newPersistedState } from "./state.js";
import type { EngineInput, EngineState } from "./types.js";

export function onSpec(ctx: StepCtx, input: Extract<EngineInput, { type: "spec" }>): void {
  const s = ctx.state;
  const old = s.persisted;
  const fresh = newPersistedState(old.clusterId, input.spec, input.specVersion);
  // Keep what carries over: holders and epochs of surviving groups, maintenance, compute progress.
  for (const name of Object.keys(fresh.groups)) {
    const prev = old.groups[name];
    if (prev) fresh.groups[name] = { ...prev, holder: prev.holder && input.spec.nodes.some((n) => n.name === prev.holder) ? prev.holder : null };
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
  if (old.limits) fresh.limits = Object.fromEntries(Object.entries(old.limits).filter(([n]) => input.spec.nodes.some((x) => x.name === n)));
  // Reported conditions carry over while their group or node is still there (the key ends in it).
  const names = new Set([...input.spec.groups.map((g) => g.name), ...input.spec.nodes.map((n) => n.name)]);
  fresh.notes = Object.fromEntries(Object.entries(old.notes).filter(([k]) => names.has(k.slice(k.lastIndexOf(":") + 1))));
  const groups: EngineState["groups"] = {};
  for (const [name, pg] of Object.entries(fresh.groups)) {
    const prev = s.groups[name];
    groups[name] = prev && prev.holder === pg.holder ? prev : { holder: pg.holder, epoch: pg.epoch, leaseUntil: null, phase: pg.holder ? "held" : "free", revokeTo: null, revokeReason: null, revokeAt: null, lastAutoFailoverAt: pg.lastAutoFailoverAt, confirmedEpoch: pg.epoch, plannedBy: null };
  }
  const nodes: EngineState["nodes"] = {};
  for (const n of input.spec.nodes) nodes[n.name] = s.nodes[n.name] ?? emptyNode();
  const removed = Object.keys(old.groups).filter((g) => !(g in fresh.groups));
  ctx.state = { ...s, persisted: fresh, groups, nodes };
  ctx.persistNeeded = true;
  ctx.event("cluster.spec", "info", `spec version ${input.specVersion} applied by ${input.actor}${removed.length ? `; groups removed (their VIPs are dropped): ${removed.join(", ")}` : ""}`, { actor: input.actor });
}

