// Creating, restoring and copying engine state. Pure.
import type { ClusterSpec } from "../../protocol/spec.js";
import { type LedgerMonth, ledgerMemoryFrom } from "./ledger.js";
import type { EngineState, GroupRuntime, NodeRuntime, PersistedState, StoredState } from "./types.js";

/** `specBy`: who made this spec version (`admin:<token id>`), for provenance in desired states. */
export function newPersistedState(clusterId: string, spec: ClusterSpec, specVersion: number, specBy?: string): PersistedState {
  const groups: PersistedState["groups"] = {};
  for (const g of spec.groups) groups[g.name] = { holder: null, epoch: 0, lastAutoFailoverAt: null };
  const computes: PersistedState["computes"] = {};
  for (const n of spec.nodes) if (n.role === "compute") computes[n.name] = { phase: "alive", since: 0 };
  return { clusterId, spec, specVersion, maintenance: false, nodeMaintenance: [], groups, computes, nextOperation: 1, operations: {}, heard: [], notes: {}, ledger: {}, drills: {}, ...(specBy ? { specBy } : {}) };
}

export function emptyNode(): NodeRuntime {
  return { lastBeatAt: null, bootId: null, seq: 0, probes: {}, healthySince: {}, downSince: {}, aliveReported: false, applyErrors: {}, limitRefusals: [], outageSeen: null, leaving: false, refused: [], transit: null };
}

function groupRuntime(p: PersistedState["groups"][string], ledger: PersistedState["ledger"][string] | undefined): GroupRuntime {
  // A holder that served before the restart still counts as serving; one whose new grant was not
  // reported up yet must report it (ledger.ts).
  const cause = ledger?.open.cause;
  return {
    holder: p.holder,
    epoch: p.epoch,
    // Unknown after a restart: the holder's lease may run until bootedAt + T at the latest.
    leaseUntil: null,
    phase: p.holder ? "held" : "free",
    revokeTo: null,
    revokeReason: null,
    revokeAt: null,
    lastAutoFailoverAt: p.lastAutoFailoverAt,
    confirmedEpoch: cause === "unconfirmed" || cause === "no-holder" ? -1 : p.epoch,
    plannedBy: null,
    holderBoot: p.holderBoot ?? null,
  };
}

/**
 * A Durable Object incarnation loads its state: leases are unknown, the restart grace begins.
 * A snapshot from before `heard` existed counts every node as heard (nothing changes for it).
 */
export function boot(stored: StoredState, now: number, ledgerMonths: LedgerMonth[] = []): EngineState {
  const persisted: PersistedState = { ...stored, heard: stored.heard ?? stored.spec.nodes.map((n) => n.name), notes: stored.notes ?? {}, ledger: stored.ledger ?? {}, drills: stored.drills ?? {} };
  const nodes: EngineState["nodes"] = {};
  for (const n of persisted.spec.nodes) nodes[n.name] = emptyNode();
  const groups: EngineState["groups"] = {};
  for (const [name, g] of Object.entries(persisted.groups)) groups[name] = groupRuntime(g, persisted.ledger[name]);
  return { persisted, bootedAt: now, nodes, groups, decisions: [], desiredKeys: {}, mysql: {}, ledger: ledgerMemoryFrom(ledgerMonths) };
}

/** Copy what a step may change (small: a handful of nodes and groups). */
export function cloneState(s: EngineState): EngineState {
  const nodes: EngineState["nodes"] = {};
  for (const [k, n] of Object.entries(s.nodes)) nodes[k] = { ...n, probes: { ...n.probes }, healthySince: { ...n.healthySince }, downSince: { ...n.downSince }, applyErrors: { ...n.applyErrors } };
  const groups: EngineState["groups"] = {};
  for (const [k, g] of Object.entries(s.groups)) groups[k] = { ...g };
  const p = s.persisted;
  const pgroups: PersistedState["groups"] = {};
  for (const [k, g] of Object.entries(p.groups)) pgroups[k] = { ...g };
  const computes: PersistedState["computes"] = {};
  for (const [k, c] of Object.entries(p.computes)) computes[k] = { ...c };
  return {
    persisted: { ...p, nodeMaintenance: [...p.nodeMaintenance], groups: pgroups, computes, operations: { ...p.operations }, heard: [...p.heard], notes: { ...p.notes }, ...(p.retired ? { retired: { ...p.retired } } : {}) },
    bootedAt: s.bootedAt,
    nodes,
    groups,
    decisions: s.decisions,
    desiredKeys: s.desiredKeys,
    // Each group's memory is replaced, never mutated, by the step that changes it.
    mysql: { ...s.mysql },
    // Replaced, never mutated, by the step that closes an interval.
    ledger: s.ledger,
  };
}
