// The engine: step(state, input, now) -> { state, effects, reply? }. Pure: time comes in as
// `now`, everything that must happen goes out as effects. Every decision carries a reason.
import type { HeartbeatReply, HeartbeatRequest } from "../../protocol/heartbeat.js";
import { groupMembers, type GroupSpec } from "../../protocol/spec.js";
import { computeOnHeartbeat, evaluateComputes, operationResult, ackFence } from "./compute.js";
import { requestedOperationResult, requestOperation } from "./operations.js";
import { desiredFor, desiredKey } from "./desired.js";
import { isAlive, secs } from "./liveness.js";
import { MODES } from "./modes/index.js";
import { boot, cloneState, emptyNode, newPersistedState } from "./state.js";
import type { Actor, EngineEffect, EngineInput, EngineState, GroupRuntime, Severity, StepResult } from "./types.js";

const MAX_DECISIONS = 50;

/** Everything one step accumulates. */
export class StepCtx {
  effects: EngineEffect[] = [];
  persistNeeded = false;
  rejected: string | undefined;
  constructor(
    public state: EngineState,
    readonly now: number,
  ) {}

  event(kind: string, severity: Severity, reason: string, extra: { group?: string; node?: string; epoch?: number; actor?: Actor; incident?: string; resolves?: boolean } = {}): void {
    const e: EngineEffect = { type: "event", kind, severity, reason, actor: extra.actor ?? "engine" };
    if (extra.group !== undefined) e.group = extra.group;
    if (extra.node !== undefined) e.node = extra.node;
    if (extra.epoch !== undefined) e.epoch = extra.epoch;
    if (extra.incident !== undefined) e.incident = extra.incident;
    if (extra.resolves !== undefined) e.resolves = extra.resolves;
    this.effects.push(e);
    const d: EngineState["decisions"][number] = { at: this.now, kind, reason };
    if (extra.group !== undefined) d.group = extra.group;
    if (extra.node !== undefined) d.node = extra.node;
    if (extra.epoch !== undefined) d.epoch = extra.epoch;
    this.state.decisions = [...this.state.decisions.slice(-(MAX_DECISIONS - 1)), d];
  }

  /**
   * Report a waiting condition once (hold-down, frozen, no candidate). `identity` says when it is
   * the same condition although the text changed (a countdown); by default the text itself.
   */
  note(key: string, kind: string, severity: Severity, reason: string, extra: { group?: string; node?: string; identity?: string } = {}): void {
    const { identity = reason, ...where } = extra;
    if (this.state.notes[key] === identity) return;
    this.state.notes[key] = identity;
    this.event(kind, severity, reason, where);
  }

  clearNote(key: string): void {
    if (key in this.state.notes) delete this.state.notes[key];
  }
}

const T = (s: EngineState) => s.persisted.spec.policy.leaseTtlMs;
const M = (s: EngineState) => s.persisted.spec.policy.driftMarginMs;

function groupSpec(s: EngineState, name: string): GroupSpec | undefined {
  return s.persisted.spec.groups.find((g) => g.name === name);
}

function nodeSpec(s: EngineState, name: string) {
  return s.persisted.spec.nodes.find((n) => n.name === name);
}

/** End of the holder's lease on the control plane's clock (after a restart: boot + T at most). */
export function leaseEnd(s: EngineState, g: GroupRuntime): number {
  return g.leaseUntil ?? s.bootedAt + T(s);
}

export function inRestartGrace(s: EngineState, now: number): boolean {
  return now < s.bootedAt + T(s) + M(s);
}

/** Why `node` cannot hold `group` now, or null when it can. */
export function whyNotCandidate(s: EngineState, group: GroupSpec, node: string, now: number): string | null {
  const spec = nodeSpec(s, node);
  if (!spec) return `${node} is not in the cluster`;
  if (!groupMembers(s.persisted.spec, group).includes(node)) return `${node} is not a member of ${group.name}`;
  if (s.persisted.nodeMaintenance.includes(node)) return `${node} is in maintenance`;
  const rt = s.nodes[node];
  if (!isAlive(s, node, now)) return rt?.lastBeatAt == null ? `${node} has not sent a heartbeat` : `${node} is not alive (no heartbeat for ${secs(now - rt.lastBeatAt)})`;
  const report = rt?.probes[group.name];
  if (!report?.healthy) return `${node}'s probe for ${group.name} is failing${report?.detail ? ` (${report.detail})` : ""}`;
  // Mode rules say what is wrong ("has errant transactions"); the reason names whose it is.
  const modeWhy = MODES[group.mode].ineligible(report, group);
  return modeWhy === null ? null : `${node}: ${modeWhy}`;
}

export function candidates(s: EngineState, group: GroupSpec, now: number, exclude: string | null = null): string[] {
  const members = groupMembers(s.persisted.spec, group).filter((m) => m !== exclude && whyNotCandidate(s, group, m, now) === null);
  const rules = MODES[group.mode];
  const order = s.persisted.spec.nodes.map((n) => n.name);
  return members.sort((a, b) => {
    const na = nodeSpec(s, a)!;
    const nb = nodeSpec(s, b)!;
    const byMode = rules.compare?.({ node: na, report: s.nodes[a]?.probes[group.name] }, { node: nb, report: s.nodes[b]?.probes[group.name] }, group) ?? 0;
    if (byMode !== 0) return byMode;
    if (na.priority !== nb.priority) return nb.priority - na.priority;
    return order.indexOf(a) - order.indexOf(b);
  });
}

function describe(s: EngineState, node: string): string {
  return `${node} (priority ${nodeSpec(s, node)?.priority ?? "?"}, healthy)`;
}

function setPersistedGroup(ctx: StepCtx, name: string, g: GroupRuntime): void {
  const p = ctx.state.persisted.groups[name];
  if (!p || p.holder !== g.holder || p.epoch !== g.epoch || p.lastAutoFailoverAt !== g.lastAutoFailoverAt) {
    ctx.state.persisted.groups[name] = { holder: g.holder, epoch: g.epoch, lastAutoFailoverAt: g.lastAutoFailoverAt };
    ctx.persistNeeded = true;
  }
}

function grant(ctx: StepCtx, group: GroupSpec, g: GroupRuntime, to: string, why: string, automatic: boolean): void {
  g.holder = to;
  g.epoch += 1;
  g.phase = "held";
  g.leaseUntil = ctx.now + T(ctx.state);
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
}

function free(ctx: StepCtx, group: GroupSpec, g: GroupRuntime): void {
  g.holder = null;
  g.phase = "free";
  g.leaseUntil = null;
  setPersistedGroup(ctx, group.name, g);
}

function revoke(ctx: StepCtx, group: GroupSpec, g: GroupRuntime, to: string | null, reason: string, actor: Actor = "engine"): void {
  g.phase = "revoking";
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
function grantFree(ctx: StepCtx, group: GroupSpec, g: GroupRuntime, why: string, automatic: boolean): void {
  const s = ctx.state;
  const now = ctx.now;
  if (s.persisted.maintenance) {
    ctx.note(`wait:${group.name}`, "group.frozen", "warning", `${why}; cluster in maintenance, ${group.name} stays without a holder`, { group: group.name, identity: "frozen" });
    return;
  }
  const target = g.revokeTo && whyNotCandidate(s, group, g.revokeTo, now) === null ? g.revokeTo : null;
  const best = target ?? candidates(s, group, now)[0] ?? null;
  if (!best) {
    const whyNot = groupMembers(s.persisted.spec, group)
      .map((m) => whyNotCandidate(s, group, m, now))
      .filter(Boolean)
      .join("; ");
    ctx.note(`wait:${group.name}`, "group.no-candidate", "critical", `${why}; no healthy candidate for ${group.name} (${whyNot})`, {
      group: group.name,
      // The same blockers with a longer silence are the same condition: say it once.
      identity: `no-candidate:${whyNot.replace(/\d+(\.\d+)? s\b/g, "…")}`,
    });
    return;
  }
  grant(ctx, group, g, best, why, automatic);
}

/** The decisions that follow from the current state at `now`, for every group. */
function evaluateGroups(ctx: StepCtx): void {
  const s = ctx.state;
  const now = ctx.now;
  const policy = s.persisted.spec.policy;
  const grace = inRestartGrace(s, now);
  for (const group of s.persisted.spec.groups) {
    const g = s.groups[group.name]!;
    // 1. A holder whose lease (plus drift margin) is over has surely dropped the VIP.
    if (g.holder !== null && now >= leaseEnd(s, g) + M(s)) {
      const holder = g.holder;
      const last = s.nodes[holder]?.lastBeatAt;
      const why = `${holder} lease expired ${last == null ? `(no heartbeat since the control plane started ${secs(now - s.bootedAt)} ago)` : `${secs(now - last)} after its last heartbeat`}`;
      if (s.persisted.maintenance) {
        ctx.note(`wait:${group.name}`, "group.frozen", "warning", `${why}; cluster in maintenance, decisions frozen`, { group: group.name, identity: "frozen" });
        continue;
      }
      const wasRevoking = g.phase === "revoking";
      free(ctx, group, g);
      grantFree(ctx, group, g, wasRevoking ? `${why} (it never confirmed the release)` : why, !wasRevoking);
      if (g.holder === null) ctx.event("group.lost", "critical", `${why}; ${group.name} has no holder`, { group: group.name, node: holder, epoch: g.epoch, incident: `group:${group.name}` });
      continue;
    }
    if (s.persisted.maintenance) continue;
    // 2. A free group goes to the best candidate (after a restart, everyone waits out the grace:
    //    a grant is persisted before it leaves, so a free group has no lease anywhere).
    if (g.holder === null) {
      grantFree(ctx, group, g, g.epoch === 0 ? `${group.name} has no holder yet` : `${group.name} is free`, g.epoch > 0);
      continue;
    }
    if (g.phase !== "held") continue;
    const holder = g.holder;
    // 3. Node maintenance: drain the group away (planned, no lease wait).
    if (s.persisted.nodeMaintenance.includes(holder)) {
      const to = candidates(s, group, now, holder)[0] ?? null;
      if (to) revoke(ctx, group, g, to, `${holder} is in maintenance (drain)`);
      else ctx.note(`wait:${group.name}`, "group.drain-blocked", "warning", `${holder} is in maintenance but no healthy candidate can take ${group.name}; it stays`, { group: group.name });
      continue;
    }
    if (grace && !isAlive(s, holder, now)) continue;
    // 4. The holder is alive but its service is not fit: move it, unless nobody is better.
    const unfit = isAlive(s, holder, now) ? whyNotCandidate(s, group, holder, now) : null;
    if (unfit) {
      const to = candidates(s, group, now, holder)[0] ?? null;
      if (!to) {
        ctx.note(`wait:${group.name}`, "group.degraded", "critical", `${unfit}, but no healthy candidate; ${holder} keeps ${group.name}`, { group: group.name, node: holder, identity: `degraded:${holder}:${g.epoch}` });
        continue;
      }
      const holdUntil = (g.lastAutoFailoverAt ?? -Infinity) + policy.holdDownMs;
      if (now < holdUntil) {
        ctx.note(`wait:${group.name}`, "group.hold-down", "warning", `${unfit}; ${group.name} would move to ${to} but failed over ${secs(now - g.lastAutoFailoverAt!)} ago: holding down ${secs(holdUntil - now)} more`, { group: group.name, node: holder, identity: `hold-down:${holder}:${to}:${g.lastAutoFailoverAt}` });
        continue;
      }
      g.lastAutoFailoverAt = now;
      setPersistedGroup(ctx, group.name, g);
      revoke(ctx, group, g, to, unfit);
      continue;
    }
    // 5. Optional preemption: a higher-priority candidate healthy long enough takes over.
    if (policy.preempt.enabled) {
      const best = candidates(s, group, now)[0];
      const hp = nodeSpec(s, holder)?.priority ?? 0;
      const bp = best ? (nodeSpec(s, best)?.priority ?? 0) : 0;
      if (best && best !== holder && bp > hp) {
        const since = s.nodes[best]?.healthySince[group.name] ?? now;
        if (now - since >= policy.preempt.delayMs) revoke(ctx, group, g, best, `${best} (priority ${bp}) healthy for ${secs(now - since)} outranks ${holder} (priority ${hp}): preempting`);
      }
    }
  }
}

function onHeartbeat(ctx: StepCtx, node: string, req: HeartbeatRequest): void {
  const s = ctx.state;
  const now = ctx.now;
  const spec = nodeSpec(s, node);
  if (!spec) return;
  const rt = (s.nodes[node] ??= emptyNode());
  const lost = rt.lastBeatAt !== null && !rt.aliveReported;
  if (rt.bootId !== null && rt.bootId !== req.bootId) ctx.event("node.restarted", "warning", `${node}'s shim restarted (new boot id)`, { node });
  if (lost) ctx.event("node.back", "info", `${node} is sending heartbeats again after ${secs(now - rt.lastBeatAt!)}`, { node, incident: `node:${node}`, resolves: true });
  rt.lastBeatAt = now;
  rt.bootId = req.bootId;
  rt.seq = req.seq;
  rt.aliveReported = true;
  // Probe results: track health changes for preemption delay and outage windows.
  for (const [name, report] of Object.entries(req.probes)) {
    const before = rt.probes[name];
    rt.probes[name] = report;
    const group = groupSpec(s, name);
    if (report.healthy && !before?.healthy) {
      rt.healthySince[name] = now;
      const since = rt.downSince[name] ?? null;
      delete rt.downSince[name];
      if (group) {
        if (before) ctx.event("probe.recovered", "info", `${node}'s probe for ${name} is healthy again (${report.detail})`, { group: name, node, incident: `probe:${name}:${node}`, resolves: true });
        ctx.effects.push(...(MODES[group.mode].onHealthChange?.({ group, node, healthy: true, since, now }) ?? []));
      }
    } else if (!report.healthy && (before?.healthy ?? true)) {
      rt.downSince[name] ??= now;
      delete rt.healthySince[name];
      if (group && before) ctx.event("probe.failed", "warning", `${node}'s probe for ${name} is failing (${report.detail})`, { group: name, node, incident: `probe:${name}:${node}` });
    }
  }
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

function onSwitchover(ctx: StepCtx, groupName: string, to: string | null, actor: Actor): void {
  const s = ctx.state;
  const now = ctx.now;
  const group = groupSpec(s, groupName);
  const g = s.groups[groupName];
  if (!group || !g) return void (ctx.rejected = `no group '${groupName}'`);
  if (s.persisted.maintenance) return void (ctx.rejected = "the cluster is in maintenance: decisions are frozen");
  if (g.phase === "revoking") return void (ctx.rejected = `a move of ${groupName} from ${g.holder} is already running`);
  if (to !== null) {
    if (g.holder === to) return void (ctx.rejected = `${to} already holds ${groupName}`);
    const why = whyNotCandidate(s, group, to, now);
    if (why) return void (ctx.rejected = `cannot switch ${groupName} to ${to}: ${why}`);
  }
  const target = to ?? candidates(s, group, now, g.holder)[0] ?? null;
  if (!target) return void (ctx.rejected = `no healthy candidate other than ${g.holder ?? "the holder"} for ${groupName}`);
  if (g.holder === null) {
    grant(ctx, group, g, target, `switchover of ${groupName} requested by ${actor}`, false);
    return;
  }
  revoke(ctx, group, g, target, `switchover requested by ${actor}`, actor);
}

function onMaintenance(ctx: StepCtx, node: string | null, on: boolean, actor: Actor): void {
  const p = ctx.state.persisted;
  if (node === null) {
    if (p.maintenance === on) return void ctx.event("cluster.maintenance", "info", `cluster maintenance already ${on ? "on" : "off"}`, { actor });
    p.maintenance = on;
    ctx.persistNeeded = true;
    for (const k of Object.keys(ctx.state.notes)) delete ctx.state.notes[k];
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

function onSpec(ctx: StepCtx, input: Extract<EngineInput, { type: "spec" }>): void {
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
  const groups: EngineState["groups"] = {};
  for (const [name, pg] of Object.entries(fresh.groups)) {
    const prev = s.groups[name];
    groups[name] = prev && prev.holder === pg.holder ? prev : { holder: pg.holder, epoch: pg.epoch, leaseUntil: null, phase: pg.holder ? "held" : "free", revokeTo: null, revokeReason: null, revokeAt: null, lastAutoFailoverAt: pg.lastAutoFailoverAt };
  }
  const nodes: EngineState["nodes"] = {};
  for (const n of input.spec.nodes) nodes[n.name] = s.nodes[n.name] ?? emptyNode();
  const removed = Object.keys(old.groups).filter((g) => !(g in fresh.groups));
  ctx.state = { ...s, persisted: fresh, groups, nodes };
  ctx.persistNeeded = true;
  ctx.event("cluster.spec", "info", `spec version ${input.specVersion} applied by ${input.actor}${removed.length ? `; groups removed (their VIPs are dropped): ${removed.join(", ")}` : ""}`, { actor: input.actor });
}

/** Liveness changes become events once (node lost / back), and lost nodes start outage windows. */
function evaluateLiveness(ctx: StepCtx): void {
  const s = ctx.state;
  for (const n of s.persisted.spec.nodes) {
    const rt = s.nodes[n.name];
    if (!rt || rt.lastBeatAt === null || !rt.aliveReported) continue;
    if (!isAlive(s, n.name, ctx.now)) {
      rt.aliveReported = false;
      for (const name of Object.keys(rt.probes)) {
        if (rt.probes[name]!.healthy) rt.downSince[name] = rt.lastBeatAt;
        rt.probes[name] = { healthy: false, detail: "node not alive" };
        delete rt.healthySince[name];
      }
      ctx.event("node.lost", "critical", `${n.name} missed heartbeats for ${secs(ctx.now - rt.lastBeatAt)} (lease TTL ${secs(T(s))})`, { node: n.name, incident: `node:${n.name}` });
    }
  }
}

export function nextDeadline(s: EngineState, now: number): number | null {
  let next = Infinity;
  const take = (t: number) => {
    if (t > now && t < next) next = t;
    else if (t <= now) next = Math.min(next, now + 1);
  };
  const policy = s.persisted.spec.policy;
  for (const group of s.persisted.spec.groups) {
    const g = s.groups[group.name];
    if (!g) continue;
    if (g.holder !== null) take(leaseEnd(s, g) + M(s));
    if (g.lastAutoFailoverAt !== null && now < g.lastAutoFailoverAt + policy.holdDownMs) take(g.lastAutoFailoverAt + policy.holdDownMs);
    if (policy.preempt.enabled && g.holder) {
      for (const m of groupMembers(s.persisted.spec, group)) {
        const since = s.nodes[m]?.healthySince[group.name];
        if (since !== undefined) take(since + policy.preempt.delayMs);
      }
    }
  }
  for (const n of s.persisted.spec.nodes) {
    const at = s.nodes[n.name]?.lastBeatAt;
    if (at != null && s.nodes[n.name]!.aliveReported) take(at + T(s) + 1);
    if (n.role === "compute") take((at ?? s.bootedAt) + policy.deadAfterMs);
  }
  if (inRestartGrace(s, now)) take(s.bootedAt + T(s) + M(s));
  return Number.isFinite(next) ? next : null;
}

export function step(state: EngineState, input: EngineInput, now: number): StepResult {
  // What each node was last told (cached from the previous step; computed after a boot).
  const before = new Map(state.persisted.spec.nodes.map((n) => [n.name, state.desiredKeys[n.name] ?? desiredKey(state, n.name, now)]));
  const ctx = new StepCtx(cloneState(state), now);
  switch (input.type) {
    case "heartbeat":
      onHeartbeat(ctx, input.node, input.request);
      break;
    case "tick":
      break;
    case "switchover":
      onSwitchover(ctx, input.group, input.to, input.actor);
      break;
    case "maintenance":
      onMaintenance(ctx, input.node, input.on, input.actor);
      break;
    case "spec":
      onSpec(ctx, input);
      break;
    case "ack-fence":
      ackFence(ctx, input.node, input.actor);
      break;
    case "run-operation":
      requestOperation(ctx, input.request, input.actor);
      break;
  }
  evaluateLiveness(ctx);
  evaluateGroups(ctx);
  evaluateComputes(ctx);
  const s = ctx.state;
  let reply: HeartbeatReply | undefined;
  if (input.type === "heartbeat") {
    // Renewals: every grant that leaves in a reply at `now` holds the lease until now + T.
    const grants: HeartbeatReply["grants"] = [];
    for (const group of s.persisted.spec.groups) {
      const g = s.groups[group.name]!;
      if (g.holder === input.node && g.phase === "held") {
        g.leaseUntil = Math.max(g.leaseUntil ?? 0, now + T(s));
        grants.push({ group: group.name, epoch: g.epoch, ttlMs: T(s) });
      }
    }
    reply = { grants, desired: desiredFor(s, input.node, now) };
  }
  if (ctx.persistNeeded) ctx.effects.push({ type: "persist", state: s.persisted });
  const keys: Record<string, string> = {};
  for (const n of s.persisted.spec.nodes) {
    keys[n.name] = desiredKey(s, n.name, now);
    if (input.type === "heartbeat" && n.name === input.node) continue;
    if (before.get(n.name) !== keys[n.name]) ctx.effects.push({ type: "push", node: n.name });
  }
  s.desiredKeys = keys;
  ctx.effects.push({ type: "alarm", at: nextDeadline(s, now) });
  const out: StepResult = { state: s, effects: ctx.effects };
  if (reply) out.reply = reply;
  if (ctx.rejected !== undefined) out.rejected = ctx.rejected;
  return out;
}

export { boot, newPersistedState };
