// Operations an operator asks for through the API (influxdb-backfill, minio-heal). The engine
// fills in what it knows (which peer is healthy, its address), picks the node that runs it, keeps
// it in the persisted state until that node reports a result, and says what happened. Pure.
import type { RunOperation } from "../../protocol/api.js";
import type { Operation, OperationResult } from "../../protocol/heartbeat.js";
import { groupMembers } from "../../protocol/spec.js";
import { isAlive } from "./liveness.js";
import type { StepCtx } from "./context.js";
import type { EngineState, RequestedOperation } from "./types.js";

/** Finished operations kept for the record (pending ones are always kept). */
const KEEP_FINISHED = 20;

export function requestOperation(ctx: StepCtx, req: RunOperation, actor: string): void {
  const s = ctx.state;
  const p = s.persisted;
  const group = p.spec.groups.find((g) => g.name === req.group);
  if (!group) return void (ctx.rejected = `no group '${req.group}'`);
  const want = req.kind === "influxdb-backfill" ? "influxdb-read" : "minio";
  if (group.mode !== want) return void (ctx.rejected = `${req.kind} needs a ${want} group; ${group.name} is ${group.mode}`);
  const members = groupMembers(p.spec, group);
  const healthy = (n: string) => isAlive(s, n, ctx.now) && s.nodes[n]?.probes[group.name]?.healthy === true;
  const id = `op-${p.nextOperation}-${req.kind}`;
  let node: string;
  let op: Operation;
  let what: string;
  if (req.kind === "influxdb-backfill") {
    node = req.node;
    if (!members.includes(node)) return void (ctx.rejected = `${node} is not a member of ${group.name}`);
    if (!isAlive(s, node, ctx.now)) return void (ctx.rejected = `${node} is not alive: it cannot copy the window into its influxdb`);
    const candidates = req.from ? [req.from] : [...(s.groups[group.name]?.holder ? [s.groups[group.name]!.holder!] : []), ...members];
    const from = candidates.find((m) => m !== node && members.includes(m) && healthy(m));
    if (!from) return void (ctx.rejected = req.from ? `${req.from} is not a live, healthy member of ${group.name} to copy from` : `no live, healthy member of ${group.name} other than ${node} to copy from`);
    const ip = p.spec.nodes.find((n) => n.name === from)!.ip;
    const port = group.ports[0]!.realPort ?? group.ports[0]!.port;
    op = { id, kind: "influxdb-backfill", group: group.name, fromNode: from, fromUrl: `http://${ip}:${port}`, database: req.database, startMs: req.startMs, endMs: req.endMs };
    what = `copy database ${req.database} from ${from} for ${Math.round((req.endMs - req.startMs) / 1000)} s of missed writes`;
  } else {
    const target = req.node ?? s.groups[group.name]?.holder ?? null;
    if (!target) return void (ctx.rejected = `${group.name} has no holder to run the heal; name a node`);
    if (!members.includes(target)) return void (ctx.rejected = `${target} is not a member of ${group.name}`);
    if (!isAlive(s, target, ctx.now)) return void (ctx.rejected = `${target} is not alive: it cannot run the heal`);
    node = target;
    op = { id, kind: "minio-heal", alias: req.alias };
    what = `run mc admin heal on alias ${req.alias}`;
  }
  p.nextOperation += 1;
  const kept = Object.entries(p.operations ?? {});
  const finished = kept.filter(([, o]) => o.phase !== "pending");
  const drop = new Set(finished.slice(0, Math.max(0, finished.length - (KEEP_FINISHED - 1))).map(([k]) => k));
  p.operations = { ...Object.fromEntries(kept.filter(([k]) => !drop.has(k))), [id]: { node, op, phase: "pending", requestedAt: ctx.now, actor } };
  ctx.persistNeeded = true;
  ctx.event("operation.requested", "info", `${actor} asked ${node} to ${what} (operation ${id})`, { group: group.name, node, actor });
}

/** Pending requested operations a node should run (sent in its desired state until it answers). */
export function requestedOperationsFor(s: EngineState, node: string): Operation[] {
  return Object.values(s.persisted.operations ?? {})
    .filter((o: RequestedOperation) => o.node === node && o.phase === "pending")
    .map((o) => o.op);
}

export function requestedOperationResult(ctx: StepCtx, from: string, r: OperationResult): void {
  const p = ctx.state.persisted;
  const o = p.operations?.[r.id];
  if (!o || o.node !== from || o.phase !== "pending") return; // not ours, or already reported
  p.operations = { ...p.operations, [r.id]: { ...o, phase: r.ok ? "done" : "failed", detail: r.detail } };
  ctx.persistNeeded = true;
  const group = "group" in o.op ? o.op.group : undefined;
  if (r.ok) ctx.event("operation.finished", "info", `${o.op.kind} on ${from} finished: ${r.detail || "ok"} (operation ${r.id})`, { node: from, ...(group ? { group } : {}) });
  else ctx.event("operation.failed", "warning", `${o.op.kind} on ${from} failed: ${r.detail} (operation ${r.id})`, { node: from, ...(group ? { group } : {}) });
}
