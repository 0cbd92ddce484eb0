// When the engine must look at the state again without any input, and which of those instants
// need an alarm. Pure.
//
// Alarm policy (README, "Cost"): every input (a heartbeat from any node, an admin call) already
// re-evaluates every deadline, so a deadline that some node's next heartbeat will reach needs no
// alarm. Deadlines that renewals keep moving — a holder's lease end, a node's liveness — are
// armed only once their node is late (silent for T + margin - 2 intervals, at least 1.5
// intervals): then the alarm fires exactly at the deadline. One-off deadlines (restart grace, hold-down, preemption
// delay, a revoke that is never confirmed) are armed as they are. A slow backstop alarm covers the
// one case no message reaches: every node silent. A drill's next window opening and its return
// are reached by the holder's heartbeats (armed only when it is late); a drill move's timeout is a
// one-off. So steady renewals arm nothing, and the Durable Object never writes an alarm per renewal.
//
// Failover bound: with T + margin >= 3.5 x interval (the defaults and the lab policy) a late holder
// is seen by another node's heartbeat before its lease end + margin, and the alarm fires exactly there.
// With a shorter T, or when every other node is slow too, the next heartbeat after the deadline
// decides: the bound grows by at most one heartbeat interval (test/engine/alarm-policy.test.ts).
import { groupMembers } from "../../protocol/spec.js";
import { drillDeadlines } from "./drills.js";
import { liveHandoffs } from "./handoff.js";
import { inRestartGrace, leaseEnd, M, retiredVipBusy, T } from "./lease-rules.js";
import type { EngineState } from "./types.js";

/** With every node silent, how long until the engine looks again at the latest (the backstop). */
export const SILENCE_CHECK_MS = 60_000;

/**
 * A node is late once this long passed since its last heartbeat (never heard: late): as long as
 * another node's next heartbeat (one interval later) still comes before a lease end + margin,
 * but never before 1.5 intervals. The longer the wait, the fewer alarms a jittery network arms.
 */
export function lateAfterMs(s: EngineState): number {
  const p = s.persisted.spec.policy;
  return Math.round(Math.max(1.5 * p.heartbeatIntervalMs, p.leaseTtlMs + p.driftMarginMs - 2 * p.heartbeatIntervalMs));
}

export function isLate(s: EngineState, node: string, now: number): boolean {
  const at = s.nodes[node]?.lastBeatAt;
  return at == null || now - at > lateAfterMs(s);
}

/** A deadline, and the node whose heartbeats keep moving it (null: a one-off). */
interface Deadline {
  at: number;
  movedBy: string | null;
}

function deadlines(s: EngineState, now: number): Deadline[] {
  const out: Deadline[] = [];
  const policy = s.persisted.spec.policy;
  for (const group of s.persisted.spec.groups) {
    const g = s.groups[group.name];
    if (!g) continue;
    // A revoked holder gets no renewals: its lease end no longer moves.
    if (g.holder !== null) out.push({ at: leaseEnd(s, g) + M(s), movedBy: g.phase === "held" && g.leaseUntil !== null ? g.holder : null });
    // A removed group's holder may still carry this group's VIP: it goes elsewhere only after that lease.
    const busy = retiredVipBusy(s, group, now);
    if (busy) out.push({ at: busy.until, movedBy: null }); // (no candidate named: a time, never Infinity)
    // A server named for a direct handoff may hold it at the next epoch: others wait for that end.
    for (const r of liveHandoffs(s, g, now)) out.push({ at: r.until + M(s), movedBy: r.to });
    if (g.lastAutoFailoverAt !== null && now < g.lastAutoFailoverAt + policy.holdDownMs) out.push({ at: g.lastAutoFailoverAt + policy.holdDownMs, movedBy: null });
    if (policy.preempt.enabled && g.holder) {
      for (const m of groupMembers(s.persisted.spec, group)) {
        const since = s.nodes[m]?.healthySince[group.name];
        if (since !== undefined) out.push({ at: since + policy.preempt.delayMs, movedBy: null });
      }
    }
  }
  for (const n of s.persisted.spec.nodes) {
    const rt = s.nodes[n.name];
    const at = rt?.lastBeatAt;
    if (at != null && rt!.aliveReported) out.push({ at: at + T(s) + 1, movedBy: n.name });
    // A compute node is judged dead at most once per silence: only while it counts as alive, and
    // only once it was ever heard (a deadline in the past would otherwise re-arm at once, forever).
    if (n.role === "compute" && s.persisted.computes[n.name]?.phase === "alive" && s.persisted.heard.includes(n.name)) {
      out.push({ at: (at ?? s.bootedAt) + policy.deadAfterMs, movedBy: at == null ? null : n.name });
    }
  }
  if (inRestartGrace(s, now)) out.push({ at: s.bootedAt + T(s) + M(s), movedBy: null });
  // Drills: the next window opening and the return are reached by the holder's heartbeats.
  out.push(...drillDeadlines(s, now));
  return out;
}

/**
 * The earliest deadline after `now`. One at or before `now` was judged by the step asking (every
 * input re-evaluates every deadline at `now`); if it changed nothing (a frozen cluster, a
 * preemption nobody qualifies for) only an input can, so arming it again would wake the object
 * every millisecond.
 */
const earliest = (times: number[], now: number): number | null => {
  let next = Infinity;
  for (const t of times) if (t > now) next = Math.min(next, t);
  return Number.isFinite(next) ? next : null;
};

/** The next instant at which a decision could change without any input. */
export function nextDeadline(s: EngineState, now: number): number | null {
  return earliest(
    deadlines(s, now).map((d) => d.at),
    now,
  );
}

/**
 * Where the Durable Object's one alarm should be: the earliest deadline no heartbeat is sure to
 * reach in time, or the silence backstop. The shell never moves an armed alarm later.
 */
export function nextAlarm(s: EngineState, now: number): number {
  const armed = deadlines(s, now)
    .filter((d) => d.movedBy === null || isLate(s, d.movedBy, now))
    .map((d) => d.at);
  return Math.min(earliest(armed, now) ?? Infinity, now + SILENCE_CHECK_MS);
}
