// Operations on a node: asked for by an operator through the API (influxdb-backfill, minio-heal),
// or by the engine itself (the automatic backfill of an InfluxDB outage window). The engine fills
// in what it knows (which peer is healthy, its address), picks the node that runs it, keeps it in
// the persisted state until that node reports a result, and says what happened. A backfill runs
// in bounded runs: each copies at most `maxPoints` and says how far it got; the next run continues
// from there; a failed run of the engine's own backfill is retried a few times. Pure.
import type { RunOperation } from "../../protocol/api.js";
import type { Operation, OperationResult } from "../../protocol/heartbeat.js";
import { groupMembers, type GroupSpec } from "../../protocol/spec.js";
import type { StepCtx } from "./context.js";
import { isAlive, isoTime } from "./liveness.js";
import type { BackfillProgress, EngineState, RequestedOperation } from "./types.js";

/** Finished operations kept for the record (pending ones are always kept). */
const KEEP_FINISHED = 20;
/** Attempts of one backfill run before the engine gives up and says so. */
const BACKFILL_ATTEMPTS = 3;

function healthyMember(s: EngineState, group: GroupSpec, n: string, now: number): boolean {
  return isAlive(s, n, now) && s.nodes[n]?.probes[group.name]?.healthy === true;
}

/** A live, healthy member other than `node` to copy from (the holder first). */
function backfillSource(s: EngineState, group: GroupSpec, node: string, now: number, from?: string): string | null {
  const members = groupMembers(s.persisted.spec, group);
  const holder = s.groups[group.name]?.holder;
  const candidates = from ? [from] : [...(holder ? [holder] : []), ...members];
  return candidates.find((m) => m !== node && members.includes(m) && healthyMember(s, group, m, now)) ?? null;
}

function store(ctx: StepCtx, id: string, rec: RequestedOperation): void {
  const p = ctx.state.persisted;
  p.nextOperation += 1;
  const kept = Object.entries(p.operations ?? {});
  const finished = kept.filter(([, o]) => o.phase !== "pending");
  const drop = new Set(finished.slice(0, Math.max(0, finished.length - (KEEP_FINISHED - 1))).map(([k]) => k));
  p.operations = { ...Object.fromEntries(kept.filter(([k]) => !drop.has(k))), [id]: rec };
  ctx.persistNeeded = true;
}

function backfillOp(s: EngineState, group: GroupSpec, id: string, from: string, database: string, startMs: number, endMs: number): Extract<Operation, { kind: "influxdb-backfill" }> {
  const ip = s.persisted.spec.nodes.find((n) => n.name === from)!.ip;
  const port = group.ports[0]!.realPort ?? group.ports[0]!.port;
  return { id, kind: "influxdb-backfill", group: group.name, fromNode: from, fromUrl: `http://${ip}:${port}`, database, startMs, endMs, maxPoints: group.influxdb?.backfillMaxPoints ?? 200_000 };
}

export function requestOperation(ctx: StepCtx, req: RunOperation, actor: string): void {
  const s = ctx.state;
  const p = s.persisted;
  const group = p.spec.groups.find((g) => g.name === req.group);
  if (!group) return void (ctx.rejected = `no group '${req.group}'`);
  const want = req.kind === "influxdb-backfill" ? "influxdb-read" : "minio";
  if (group.mode !== want) return void (ctx.rejected = `${req.kind} needs a ${want} group; ${group.name} is ${group.mode}`);
  const members = groupMembers(p.spec, group);
  const id = `op-${p.nextOperation}-${req.kind}`;
  if (req.kind === "influxdb-backfill") {
    const node = req.node;
    if (!members.includes(node)) return void (ctx.rejected = `${node} is not a member of ${group.name}`);
    if (!isAlive(s, node, ctx.now)) return void (ctx.rejected = `${node} is not alive: it cannot copy the window into its influxdb`);
    const from = backfillSource(s, group, node, ctx.now, req.from);
    if (!from) return void (ctx.rejected = req.from ? `${req.from} is not a live, healthy member of ${group.name} to copy from` : `no live, healthy member of ${group.name} other than ${node} to copy from`);
    const op = backfillOp(s, group, id, from, req.database, req.startMs, req.endMs);
    store(ctx, id, { node, op, phase: "pending", requestedAt: ctx.now, actor, backfill: { windowStartMs: req.startMs, windowEndMs: req.endMs, points: 0, run: 1, attempt: 1, first: id } });
    ctx.event("operation.requested", "info", `${actor} asked ${node} to copy database ${req.database} from ${from} for ${Math.round((req.endMs - req.startMs) / 1000)} s of missed writes (operation ${id})`, { group: group.name, node, actor });
    return;
  }
  const target = req.node ?? s.groups[group.name]?.holder ?? null;
  if (!target) return void (ctx.rejected = `${group.name} has no holder to run the heal; name a node`);
  if (!members.includes(target)) return void (ctx.rejected = `${target} is not a member of ${group.name}`);
  if (!isAlive(s, target, ctx.now)) return void (ctx.rejected = `${target} is not alive: it cannot run the heal`);
  store(ctx, id, { node: target, op: { id, kind: "minio-heal", alias: req.alias }, phase: "pending", requestedAt: ctx.now, actor });
  ctx.event("operation.requested", "info", `${actor} asked ${target} to run mc admin heal on alias ${req.alias} (operation ${id})`, { group: group.name, node: target, actor });
}

/**
 * influxdb.autoBackfill: `node` is back after missing [startMs, endMs]; it copies the window from a
 * healthy peer. Said as an event either way.
 */
export function startAutoBackfill(ctx: StepCtx, group: GroupSpec, node: string, startMs: number, endMs: number, incident: string): void {
  const s = ctx.state;
  const dbs = group.influxdb?.databases ?? [];
  const database = dbs.length ? dbs.join(",") : "*";
  const from = backfillSource(s, group, node, ctx.now);
  const window = `${isoTime(startMs)} .. ${isoTime(endMs)}`;
  if (!from) {
    ctx.event("influxdb.backfill-failed", "critical", `${node} missed ${window} but no live, healthy peer in ${group.name} can give it back; copy it by hand once one is up`, { group: group.name, node, incident });
    return;
  }
  const id = `op-${s.persisted.nextOperation}-influxdb-backfill`;
  const op = backfillOp(s, group, id, from, database, startMs, endMs);
  store(ctx, id, { node, op, phase: "pending", requestedAt: ctx.now, actor: "engine", backfill: { windowStartMs: startMs, windowEndMs: endMs, points: 0, run: 1, attempt: 1, incident } });
  ctx.event("influxdb.backfill-started", "info", `${node} copies what it missed (${window}, ${database === "*" ? "every database" : `database ${database}`}) from ${from}, at most ${op.maxPoints} points per run (operation ${id})`, { group: group.name, node, incident });
}

/** A backfill for `node` in `group` has not finished yet (it stays out of the read VIP meanwhile). */
export function backfillPending(s: EngineState, group: string, node: string): RequestedOperation | null {
  for (const o of Object.values(s.persisted.operations ?? {})) {
    if (o.node === node && o.phase === "pending" && o.op.kind === "influxdb-backfill" && o.op.group === group && o.backfill) return o;
  }
  return null;
}

/** Pending requested operations a node should run (sent in its desired state until it answers). */
export function requestedOperationsFor(s: EngineState, node: string): Operation[] {
  return Object.values(s.persisted.operations ?? {})
    .filter((o: RequestedOperation) => o.node === node && o.phase === "pending")
    .map((o) => ({ ...o.op, requestedBy: o.actor }));
}

const pct = (b: BackfillProgress, until: number) => Math.min(100, Math.max(0, Math.round(((until - b.windowStartMs) / Math.max(1, b.windowEndMs - b.windowStartMs)) * 100)));

export function requestedOperationResult(ctx: StepCtx, from: string, r: OperationResult): void {
  const p = ctx.state.persisted;
  const o = p.operations?.[r.id];
  if (!o || o.node !== from || o.phase !== "pending") return; // not ours, or already reported
  p.operations = { ...p.operations, [r.id]: { ...o, phase: r.ok ? "done" : "failed", detail: r.detail } };
  ctx.persistNeeded = true;
  const group = "group" in o.op ? o.op.group : undefined;
  if (o.op.kind === "influxdb-backfill" && o.backfill) return backfillResult(ctx, from, o as RequestedOperation & { op: Extract<Operation, { kind: "influxdb-backfill" }>; backfill: BackfillProgress }, r);
  if (r.ok) ctx.event("operation.finished", "info", `${o.op.kind} on ${from} finished: ${r.detail || "ok"} (operation ${r.id})`, { node: from, ...(group ? { group } : {}) });
  else ctx.event("operation.failed", "warning", `${o.op.kind} on ${from} failed: ${r.detail} (operation ${r.id})`, { node: from, ...(group ? { group } : {}) });
}

function backfillResult(ctx: StepCtx, node: string, o: RequestedOperation & { op: Extract<Operation, { kind: "influxdb-backfill" }>; backfill: BackfillProgress }, r: OperationResult): void {
  const s = ctx.state;
  const b = o.backfill;
  const group = s.persisted.spec.groups.find((g) => g.name === o.op.group);
  const where = { group: o.op.group, node, ...(b.incident ? { incident: b.incident } : {}) };
  const window = `${isoTime(b.windowStartMs)} .. ${isoTime(b.windowEndMs)}`;
  const next = (startMs: number, progress: BackfillProgress, why: string) => {
    const from = group ? backfillSource(s, group, node, ctx.now, o.op.fromNode) ?? backfillSource(s, group, node, ctx.now) : null;
    if (!group || !from) {
      ctx.event("influxdb.backfill-failed", "critical", `${why}; no live, healthy peer to continue from: ${node} misses part of ${window}, copy it by hand (operation ${o.op.id})`, where);
      return;
    }
    const id = `op-${s.persisted.nextOperation}-influxdb-backfill`;
    store(ctx, id, { node, op: backfillOp(s, group, id, from, o.op.database, startMs, b.windowEndMs), phase: "pending", requestedAt: ctx.now, actor: o.actor, backfill: progress });
  };
  const operator = b.first !== undefined;
  if (!r.ok) {
    // An operator's request fails at once (they asked; they decide); the engine's own retries.
    if (operator) return void ctx.event("operation.failed", "warning", `influxdb-backfill on ${node} failed: ${r.detail} (operation ${b.first})`, { group: o.op.group, node });
    if (b.attempt < BACKFILL_ATTEMPTS) {
      ctx.event("influxdb.backfill-progress", "warning", `${node}'s backfill run ${b.run} of ${window} failed (${r.detail}); trying again (attempt ${b.attempt + 1} of ${BACKFILL_ATTEMPTS})`, where);
      return next(o.op.startMs, { ...b, attempt: b.attempt + 1 }, "retry");
    }
    ctx.event("influxdb.backfill-failed", "critical", `${node}'s backfill of ${window} failed ${BACKFILL_ATTEMPTS} times (${r.detail}); it serves reads again with a gap from ${isoTime(o.op.startMs)}: copy it by hand`, where);
    return;
  }
  const done = r.progress ?? { doneUntilMs: b.windowEndMs, points: 0, complete: true };
  const points = b.points + done.points;
  if (done.complete) {
    // An operator's request is answered under its own id (the CLI's --wait follows it).
    if (operator) {
      const runs = b.run === 1 ? "" : `${points} points in ${b.run} runs; `;
      return void ctx.event("operation.finished", "info", `influxdb-backfill on ${node} finished: ${runs}${r.detail || "ok"} (operation ${b.first})`, { group: o.op.group, node });
    }
    ctx.event("influxdb.backfill-finished", "info", `${node} has what it missed (${window}) again: ${points} points copied in ${b.run} run${b.run === 1 ? "" : "s"} (${r.detail})`, { ...where, resolves: true });
    return;
  }
  ctx.event("influxdb.backfill-progress", "info", `${node} copied ${points} points of ${window}, up to ${isoTime(done.doneUntilMs)} (${pct(b, done.doneUntilMs)} %); run ${b.run + 1} continues`, where);
  next(done.doneUntilMs, { ...b, points, run: b.run + 1, attempt: 1 }, "continue");
}
