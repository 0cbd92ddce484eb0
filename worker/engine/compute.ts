// Compute nodes (chime-agent): a node silent for deadAfter is fenced first (IPMI or a webhook,
// run by the shim on the chime-server holder), and only after a successful fence — or an
// operator's acknowledgement — is the active chime-server asked to evacuate its VMs. Pure.
import type { Operation, OperationResult } from "../../protocol/heartbeat.js";
import type { NodeSpec } from "../../protocol/spec.js";
import { secs } from "./liveness.js";
import type { StepCtx } from "./context.js";
import type { ComputeState, EngineState } from "./types.js";

/** The server node that runs fencing/evacuation: the chime-server (active-standby) holder. */
export function executor(s: EngineState): string | null {
  const groups = s.persisted.spec.groups.filter((g) => g.mode === "active-standby");
  const main = groups.find((g) => g.service === "chime-server") ?? groups[0];
  if (!main) return null;
  const g = s.groups[main.name];
  return g && g.phase === "held" ? g.holder : null;
}

function setPhase(ctx: StepCtx, node: string, next: ComputeState): void {
  ctx.state.persisted.computes[node] = next;
  ctx.persistNeeded = true;
}

function newOpId(ctx: StepCtx, kind: string, node: string): string {
  const id = `op-${ctx.state.persisted.nextOperation}-${kind}-${node}`;
  ctx.state.persisted.nextOperation += 1;
  ctx.persistNeeded = true;
  return id;
}

/** The detail of a node fenced while nobody held chime-server: its evacuation starts once somebody does. */
const AWAITING_EXECUTOR = "waiting for a chime-server holder to evacuate";

/** `fenced`: how it came to be fenced, e.g. "node1 fenced (fence by server1: ok)". */
function startEvacuation(ctx: StepCtx, node: string, fenced: string): void {
  const s = ctx.state;
  if (!s.persisted.spec.evacuation) {
    setPhase(ctx, node, { phase: "fenced", since: ctx.now, detail: "no evacuation request configured", evacuationKey: evacuationKey(ctx, node) });
    ctx.event("compute.fenced", "critical", `${fenced}; no evacuation request in the spec: move its VMs by hand`, { node, incident: `compute:${node}` });
    return;
  }
  const ex = executor(s);
  if (!ex) {
    setPhase(ctx, node, { phase: "fenced", since: ctx.now, detail: AWAITING_EXECUTOR, evacuationKey: evacuationKey(ctx, node) });
    ctx.event("compute.fenced", "critical", `${fenced}; evacuation waits for a chime-server holder`, { node, incident: `compute:${node}` });
    return;
  }
  const id = newOpId(ctx, "evacuate", node);
  const key = evacuationKey(ctx, node);
  setPhase(ctx, node, { phase: "evacuating", since: ctx.now, operationId: id, executor: ex, evacuationKey: key });
  ctx.event("compute.evacuating", "critical", `${fenced}; asking chime-server on ${ex} to evacuate its VMs (idempotency key ${key})`, { node, incident: `compute:${node}` });
}

/**
 * The key of this death's evacuation: made once per death and kept across re-issues, so that
 * chime-server, seeing it twice (the executor changed while a request was in flight), evacuates
 * once.
 */
function evacuationKey(ctx: StepCtx, node: string): string {
  return ctx.state.persisted.computes[node]?.evacuationKey ?? `${ctx.state.persisted.clusterId}/${node}/${ctx.state.persisted.nextOperation}`;
}

export function computeOnHeartbeat(ctx: StepCtx, node: string): void {
  agentHealth(ctx, node);
  const c = ctx.state.persisted.computes[node];
  if (!c || c.phase === "alive") return;
  setPhase(ctx, node, { phase: "alive", since: ctx.now });
  ctx.event("compute.alive", "info", `${node} heartbeats again (was ${c.phase})`, { node, incident: `compute:${node}`, resolves: true });
}

/** The compute node's probe of its chime-agent service (see node-shim/probes/chime-agent.ts). */
export const CHIME_AGENT_PROBE = "chime-agent";

/**
 * chime-agent down on a host that still answers: a warning, never a fence. The host is alive (its
 * shim heartbeats), so its VMs run; fencing and evacuating it would start them twice. Only a host
 * that stops answering (silent for deadAfter) is fenced.
 */
function agentHealth(ctx: StepCtx, node: string): void {
  const report = ctx.state.nodes[node]?.probes[CHIME_AGENT_PROBE];
  const key = `agent:${node}`;
  if (report && !report.healthy) {
    ctx.note(key, "compute.agent-down", "warning", `${node}'s chime-agent is down (${report.detail || "probe failing"}) but the host answers: not fencing it; its VMs keep running, unmanaged until chime-agent is back`, {
      node,
      identity: "down",
      incident: `compute-agent:${node}`,
    });
  } else if (report?.healthy && ctx.hasNote(key)) {
    ctx.clearNote(key);
    ctx.event("compute.agent-down", "info", `${node}'s chime-agent is running again`, { node, incident: `compute-agent:${node}`, resolves: true });
  }
}

/** Said once per compute node (at creation, or when a spec adds it): without a fence a dead node's VMs wait for an operator. */
function noteMissingFences(ctx: StepCtx): void {
  for (const n of ctx.state.persisted.spec.nodes) {
    if (n.role !== "compute") continue;
    const key = `setup:fence:${n.name}`;
    if (n.fence) ctx.clearNote(key);
    else
      ctx.note(key, "compute.no-fence", "warning", `${n.name} has no fence configured: if it dies, its VMs are evacuated only after an operator powers it off and acknowledges the fence (chime-ha ack-fence)`, {
        node: n.name,
        identity: "no-fence",
      });
  }
}

export function evaluateComputes(ctx: StepCtx): void {
  const s = ctx.state;
  noteMissingFences(ctx);
  if (s.persisted.maintenance) return;
  const dead = s.persisted.spec.policy.deadAfterMs;
  for (const n of s.persisted.spec.nodes) {
    if (n.role !== "compute") continue;
    const c = s.persisted.computes[n.name] ?? { phase: "alive", since: 0 };
    if ((c.phase === "fencing" || c.phase === "evacuating") && c.executor) {
      // The server running the operation lost the chime-server role (died, switched over): its
      // result may never come, so the new holder runs it again under a new id.
      const ex = executor(s);
      if (ex && ex !== c.executor) {
        const kind = c.phase === "fencing" ? "fence" : "evacuate";
        const id = newOpId(ctx, kind, n.name);
        // The earlier run may still finish (or have finished unreported): its result counts too.
        const earlier = [...(c.earlier ?? []), { operationId: c.operationId!, executor: c.executor }].slice(-4);
        setPhase(ctx, n.name, { ...c, operationId: id, executor: ex, since: ctx.now, earlier });
        const same = c.phase === "evacuating" && c.evacuationKey ? ` with the same idempotency key ${c.evacuationKey}` : "";
        ctx.event(`compute.${c.phase}`, "warning", `${c.executor} no longer holds chime-server; ${kind} of ${n.name} re-issued to ${ex}${same}`, { node: n.name, incident: `compute:${n.name}` });
      }
      continue;
    }
    if (c.phase === "fenced" && c.detail === AWAITING_EXECUTOR) {
      if (executor(s)) startEvacuation(ctx, n.name, `${n.name} was fenced while no server held chime-server`);
      continue;
    }
    if (c.phase !== "alive" && c.phase !== "suspect") continue;
    // A compute node never heard from is not set up yet: nothing to fence (status says it waits).
    if (!s.persisted.heard.includes(n.name)) continue;
    const last = s.nodes[n.name]?.lastBeatAt ?? null;
    const silentFor = ctx.now - (last ?? s.bootedAt);
    if (silentFor < dead) continue;
    const silence = last === null ? `no heartbeat for ${secs(silentFor)} since the control plane started` : `silent for ${secs(silentFor)}`;
    const ex = executor(s);
    if (!ex) {
      if (c.phase !== "suspect") {
        setPhase(ctx, n.name, { phase: "suspect", since: ctx.now, detail: "no chime-server holder to fence from" });
        ctx.event("compute.suspect", "critical", `${n.name} ${silence}; no chime-server holder to run the fence yet`, { node: n.name, incident: `compute:${n.name}` });
      }
      continue;
    }
    if (!n.fence) {
      setPhase(ctx, n.name, { phase: "fence-failed", since: ctx.now, detail: "no fence configured", evacuationKey: evacuationKey(ctx, n.name) });
      ctx.event("compute.fence-failed", "critical", `${n.name} ${silence}; no fence is configured, so its VMs are NOT evacuated: power it off and ack the fence through the API`, { node: n.name, incident: `compute:${n.name}` });
      continue;
    }
    const key = evacuationKey(ctx, n.name);
    const id = newOpId(ctx, "fence", n.name);
    setPhase(ctx, n.name, { phase: "fencing", since: ctx.now, operationId: id, executor: ex, evacuationKey: key });
    ctx.event("compute.fencing", "critical", `${n.name} ${silence}; fencing it (${n.fence.type}) from ${ex}`, { node: n.name, incident: `compute:${n.name}` });
  }
}

export function operationResult(ctx: StepCtx, from: string, r: OperationResult): void {
  const s = ctx.state;
  for (const [node, c] of Object.entries(s.persisted.computes)) {
    const current = c.operationId === r.id && c.executor === from;
    // A run re-issued elsewhere may still report: a success ends it (the re-issue is withdrawn).
    const earlier = !current && r.ok && (c.earlier ?? []).some((e) => e.operationId === r.id && e.executor === from);
    if (!current && !earlier) continue;
    if (c.phase === "fencing") {
      if (r.ok) startEvacuation(ctx, node, `${node} fenced (fence by ${from}: ${r.detail || "ok"})`);
      else {
        setPhase(ctx, node, { phase: "fence-failed", since: ctx.now, detail: r.detail, ...(c.evacuationKey ? { evacuationKey: c.evacuationKey } : {}) });
        ctx.event("compute.fence-failed", "critical", `fencing ${node} from ${from} failed (${r.detail}); its VMs are NOT evacuated until it is fenced or an operator acks the fence`, { node, incident: `compute:${node}` });
      }
    } else if (c.phase === "evacuating") {
      if (r.ok) {
        setPhase(ctx, node, { phase: "evacuated", since: ctx.now, detail: r.detail });
        ctx.event("compute.evacuated", "warning", `chime-server on ${from} accepted the evacuation of ${node} (${r.detail || "ok"})`, { node, incident: `compute:${node}` });
      } else {
        setPhase(ctx, node, { phase: "evacuate-failed", since: ctx.now, detail: r.detail, ...(c.evacuationKey ? { evacuationKey: c.evacuationKey } : {}) });
        ctx.event("compute.evacuate-failed", "critical", `evacuating ${node} through chime-server on ${from} failed (${r.detail})`, { node, incident: `compute:${node}` });
      }
    }
  }
}

export function ackFence(ctx: StepCtx, node: string, actor: string): void {
  const c = ctx.state.persisted.computes[node];
  if (!c) return void (ctx.rejected = `${node} is not a compute node`);
  if (!["suspect", "fencing", "fence-failed"].includes(c.phase)) return void (ctx.rejected = `${node} is ${c.phase}; there is no fence to acknowledge`);
  ctx.event("compute.fence-acked", "warning", `${actor} acknowledged that ${node} is fenced`, { node, actor });
  startEvacuation(ctx, node, `${node} fenced (acknowledged by ${actor})`);
}

function fenceOperation(id: string, n: NodeSpec): Operation | null {
  // Credentials held by the control plane travel as stored (sealed); the Durable Object opens them
  // only in the reply to the node that runs the fence.
  if (n.fence?.type === "ipmi") {
    const { host, user, password, passwordEnv } = n.fence;
    return { id, kind: "fence-ipmi", target: n.name, host, user, ...(password !== undefined ? { password } : { passwordEnv: passwordEnv ?? "" }) };
  }
  if (n.fence?.type === "webhook") return { id, kind: "fence-webhook", target: n.name, url: n.fence.url, ...(n.fence.authorization !== undefined ? { authorization: n.fence.authorization } : {}) };
  return null;
}

/** Operations this node should run now (it is the executor of a running fence/evacuation). */
export function operationsFor(s: EngineState, node: string): Operation[] {
  const ops: Operation[] = [];
  for (const [name, c] of Object.entries(s.persisted.computes)) {
    if (c.executor !== node || !c.operationId) continue;
    const spec = s.persisted.spec.nodes.find((n) => n.name === name);
    if (!spec) continue;
    // Provenance: the engine's own decision (the node was declared dead).
    const requestedBy = `engine: ${name} declared dead (${c.phase})`;
    if (c.phase === "fencing") {
      const op = fenceOperation(c.operationId, spec);
      if (op) ops.push({ ...op, requestedBy });
    } else if (c.phase === "evacuating" && s.persisted.spec.evacuation) {
      const ev = s.persisted.spec.evacuation;
      const key = c.evacuationKey ?? c.operationId;
      const fill = (t: string) => t.replaceAll("{node}", spec.name).replaceAll("{hostname}", spec.hostname).replaceAll("{ip}", spec.ip).replaceAll("{idempotencyKey}", key);
      ops.push({ id: c.operationId, requestedBy, kind: "evacuate", target: name, url: fill(ev.url), method: ev.method, body: fill(ev.body), idempotencyKey: key });
    }
  }
  return ops;
}
