// Failover drills: a planned switchover of a group to another member and back after a set time,
// run by schedule (spec.drills, windows evaluated against the `now` of each step: the engine
// reads no clock) or by an operator (POST /v1/clusters/:id/drills). Only while every member is
// healthy and nothing is in maintenance or hold-down; the moves go through the same revoke and
// grant as an operator's switchover (so they are events, alerts and audit rows like any decision),
// and their gaps are planned time in the ledger. The result — moved and back in how many ms, or
// refused or failed and why — is one event. Pure.
import { DEFAULT_DRILL_RETURN_MS, type DrillSpec, type GroupSpec, groupMembers } from "../../protocol/spec.js";
import { nextOpening, occurrenceAt, parseDurationText, windowOf } from "../../protocol/schedule.js";
import { persistentApplyErrors } from "./apply-errors.js";
import { candidates, whyNotCandidate } from "./candidates.js";
import type { StepCtx } from "./context.js";
import { groupSpec, M, T } from "./lease-rules.js";
import { isoTime, secs } from "./liveness.js";
import { isShadowGroup } from "./shadow.js";
import { revoke } from "./transitions.js";
import type { Actor, EngineState } from "./types.js";

export interface DrillRun {
  /** "schedule" or the operator who asked. */
  trigger: string;
  from: string;
  to: string;
  startedAt: number;
  phase: "out" | "hold" | "back";
  returnAfterMs: number;
  /** Phase `out` ended: the group served by `to` from then; `outMs` from the start, `outGapMs` without service. */
  outAt?: number;
  outMs?: number;
  outGapMs?: number;
  /** Phase `back` began. */
  backAt?: number;
}

export interface DrillState {
  /** When the last drill that ran (passed or failed) began; null: never. */
  lastAt: number | null;
  /** Its result in one line. */
  lastResult: string | null;
  lastOk: boolean | null;
  run: DrillRun | null;
}

/** A move that has not completed by then failed (the lease rules then take over as usual). */
const moveTimeoutMs = (s: EngineState) => Math.max(15_000, 3 * (T(s) + M(s)));

const specDrill = (s: EngineState, group: string): DrillSpec | undefined => s.persisted.spec.drills?.find((d) => d.group === group);

/** Why a drill of `group` cannot start now, or null. */
export function drillObstacle(s: EngineState, group: GroupSpec, now: number): string | null {
  const name = group.name;
  const p = s.persisted;
  if (isShadowGroup(p.spec, group)) return `${name} is in shadow mode (the HA system in place serves it)`;
  if (p.maintenance) return "the cluster is in maintenance";
  if (p.drills[name]?.run) return `a drill of ${name} is already running`;
  const g = s.groups[name];
  if (!g || g.holder === null) return `${name} has no holder`;
  if (g.phase !== "held") return `a move of ${name} from ${g.holder} is already under way`;
  const holdUntil = (g.lastAutoFailoverAt ?? -Infinity) + p.spec.policy.holdDownMs;
  if (now < holdUntil) return `${name} failed over ${secs(now - g.lastAutoFailoverAt!)} ago and is in hold-down for ${secs(holdUntil - now)} more`;
  for (const m of groupMembers(p.spec, group)) {
    if (p.nodeMaintenance.includes(m)) return `${m} is in maintenance`;
    const why = whyNotCandidate(s, group, m, now);
    if (why) return why;
    const failing = persistentApplyErrors(s, m, now);
    if (failing.length) return `${m} cannot apply ${failing[0]!.target}${failing[0]!.group ? ` for ${failing[0]!.group}` : ""}`;
  }
  if (g.confirmedEpoch !== g.epoch) return `${g.holder} has not reported ${name} up yet`;
  const open = p.ledger[name]?.open;
  if (open && open.kind !== "up") return `${name} is not healthy: ${open.reason}`;
  return null;
}

function setDrill(ctx: StepCtx, group: string, d: DrillState): void {
  ctx.state.persisted.drills = { ...ctx.state.persisted.drills, [group]: d };
  ctx.persistNeeded = true;
}

const stateOf = (s: EngineState, group: string): DrillState => s.persisted.drills[group] ?? { lastAt: null, lastResult: null, lastOk: null, run: null };

/** Start a drill now, or say why not (null when started). */
function startDrill(ctx: StepCtx, group: GroupSpec, trigger: string, actor: Actor, returnAfterMs: number, to: string | undefined): string | null {
  const s = ctx.state;
  const now = ctx.now;
  const why = drillObstacle(s, group, now);
  if (why) return why;
  const g = s.groups[group.name]!;
  const from = g.holder!;
  const target = to ?? candidates(s, group, now, from)[0];
  if (!target || target === from) return to === from ? `${to} already holds ${group.name}` : `no other member can take ${group.name}`;
  const run: DrillRun = { trigger, from, to: target, startedAt: now, phase: "out", returnAfterMs };
  setDrill(ctx, group.name, { ...stateOf(s, group.name), run });
  revoke(ctx, group, g, target, `failover drill (${trigger === "schedule" ? "scheduled" : `asked by ${trigger}`}): ${group.name} moves to ${target} and back to ${from} after ${secs(returnAfterMs)}`, actor, "drill");
  return null;
}

function finish(ctx: StepCtx, group: string, run: DrillRun, ok: boolean, result: string): void {
  setDrill(ctx, group, { lastAt: run.startedAt, lastResult: result, lastOk: ok, run: null });
  ctx.event(ok ? "drill.passed" : "drill.failed", ok ? "info" : "critical", result, { group, actor: "drill", incident: `drill:${group}`, ...(ok ? { resolves: true } : {}) });
}

/** An operator asks for a drill now: it starts, or the step is rejected with the reason (and an event). */
export function onDrill(ctx: StepCtx, groupName: string, actor: Actor, returnAfterMs?: number): void {
  const group = groupSpec(ctx.state, groupName);
  if (!group) return void (ctx.rejected = `no group '${groupName}'`);
  const d = specDrill(ctx.state, groupName);
  const back = returnAfterMs ?? (d?.returnAfter ? parseDurationText(d.returnAfter)! : DEFAULT_DRILL_RETURN_MS);
  const why = startDrill(ctx, group, actor, actor, back, d?.to);
  if (why === null) return;
  ctx.rejected = `drill of ${groupName} refused: ${why}`;
  ctx.event("drill.refused", "warning", ctx.rejected, { group: groupName, actor, incident: `drill:${groupName}` });
}

/** When a drill may run again after the last one: its period, less the window (so a weekly window drill each week). */
function eligibleFrom(d: DrillSpec, last: number | null): number {
  if (last === null) return -Infinity;
  const every = parseDurationText(d.every) ?? Infinity;
  const w = windowOf(d.window);
  return last + Math.max(every - (w?.lengthMs ?? 0), every / 2);
}

/** After every step: advance running drills, start scheduled ones that are due. */
export function evaluateDrills(ctx: StepCtx): void {
  const s = ctx.state;
  const now = ctx.now;
  for (const group of s.persisted.spec.groups) {
    const name = group.name;
    const st = s.persisted.drills[name];
    if (st?.run) {
      advance(ctx, group, st.run);
      continue;
    }
    const d = specDrill(s, name);
    const w = d && windowOf(d.window);
    if (!d || !w) continue;
    const occ = occurrenceAt(w, now);
    if (!occ || now < eligibleFrom(d, st?.lastAt ?? null)) continue;
    const back = d.returnAfter ? parseDurationText(d.returnAfter)! : DEFAULT_DRILL_RETURN_MS;
    const why = startDrill(ctx, group, "schedule", "drill", back, d.to);
    // Refused: said once per window; tried again at every step while the window lasts.
    if (why !== null) ctx.note(`drill:${name}`, "drill.refused", "warning", `scheduled drill of ${name} refused: ${why} (window until ${isoTime(occ.end)})`, { group: name, identity: `window:${occ.start}`, incident: `drill:${name}` });
  }
}

function advance(ctx: StepCtx, group: GroupSpec, run: DrillRun): void {
  const s = ctx.state;
  const now = ctx.now;
  const name = group.name;
  const g = s.groups[name]!;
  const open = s.persisted.ledger[name]?.open;
  const servedBy = (node: string) => g.holder === node && g.phase === "held" && g.confirmedEpoch === g.epoch && open?.kind !== "down";
  // The gap without service: the planned interval that the new holder's report ends now.
  const gap = () => (open && open.kind !== "up" ? now - open.start : 0);
  const moving = run.phase === "back" ? { from: run.to, to: run.from, since: run.backAt! } : { from: run.from, to: run.to, since: run.startedAt };
  const summary = () => `${run.from} -> ${run.to} in ${run.outMs} ms (${run.outGapMs} ms without service)`;
  if (run.phase === "hold") {
    if (!servedBy(run.to)) return finish(ctx, name, run, false, `drill of ${name} failed: it left ${run.to} during the drill (${g.holder ? `now ${g.holder}, ${open?.reason ?? g.phase}` : "no holder"}); moved ${summary()}`);
    if (now < run.outAt! + run.returnAfterMs) return;
    // Back to where it was, if that is still fit; otherwise it stays, and the drill still passed.
    const why = s.persisted.maintenance ? "the cluster is in maintenance" : whyNotCandidate(s, group, run.from, now);
    if (why) return finish(ctx, name, run, true, `drill of ${name} passed: moved ${summary()}; stays on ${run.to} (${why})`);
    setDrill(ctx, name, { ...stateOf(s, name), run: { ...run, phase: "back", backAt: now } });
    revoke(ctx, group, g, run.from, `failover drill: ${name} moves back to ${run.from} after ${secs(now - run.outAt!)} on ${run.to}`, "drill", "drill");
    return;
  }
  if (servedBy(moving.to)) {
    const ms = now - moving.since;
    if (run.phase === "out") {
      setDrill(ctx, name, { ...stateOf(s, name), run: { ...run, phase: "hold", outAt: now, outMs: ms, outGapMs: gap() } });
      return;
    }
    return finish(ctx, name, run, true, `drill of ${name} passed: moved ${summary()}; back ${run.to} -> ${run.from} in ${ms} ms (${gap()} ms without service) after ${secs(run.backAt! - run.outAt!)}`);
  }
  const stray = g.holder !== null && g.holder !== moving.from && g.holder !== moving.to;
  if (stray || (g.holder === moving.from && g.phase === "held") || (open?.kind === "down" && open.start >= moving.since)) {
    return finish(ctx, name, run, false, `drill of ${name} failed while moving ${moving.from} -> ${moving.to}: ${open?.kind === "down" ? open.reason : g.holder ? `${g.holder} holds it` : "no holder"}`);
  }
  if (now >= moving.since + moveTimeoutMs(s)) {
    finish(ctx, name, run, false, `drill of ${name} failed: the move ${moving.from} -> ${moving.to} did not complete in ${secs(now - moving.since)} (${open?.reason ?? g.phase})`);
  }
}

/** Instants a drill needs looking at without any input: the return, a move's timeout, the next window. */
export function drillDeadlines(s: EngineState, now: number): { at: number; movedBy: string | null }[] {
  const out: { at: number; movedBy: string | null }[] = [];
  for (const group of s.persisted.spec.groups) {
    const name = group.name;
    const holder = s.groups[name]?.holder ?? null;
    const st = s.persisted.drills[name];
    const run = st?.run;
    if (run) {
      if (run.phase === "hold") out.push({ at: run.outAt! + run.returnAfterMs, movedBy: holder });
      else out.push({ at: (run.phase === "back" ? run.backAt! : run.startedAt) + moveTimeoutMs(s), movedBy: null });
      continue;
    }
    const d = specDrill(s, name);
    const w = d && windowOf(d.window);
    if (!d || !w) continue;
    const from = Math.max(now, eligibleFrom(d, st?.lastAt ?? null));
    // Inside an open window and due: the next step starts it (or says why not); nothing to wait for.
    if (from === now && occurrenceAt(w, now)) continue;
    const at = occurrenceAt(w, from) ? from : nextOpening(w, from);
    // The holder's heartbeats reach it; an alarm only if the holder is late (then the drill is refused at once).
    if (at !== null && at > now) out.push({ at, movedBy: holder });
  }
  return out;
}
