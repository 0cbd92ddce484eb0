// The next instant at which a decision could change without any input: the Durable Object keeps
// exactly one alarm there. Pure.
import { groupMembers } from "../../protocol/spec.js";
import { inRestartGrace, leaseEnd, M, T } from "./lease-rules.js";
import type { EngineState } from "./types.js";

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
    // A compute node is judged dead at most once per silence: only while it counts as alive, and
    // only once it was ever heard (a deadline in the past would otherwise re-arm at once, forever).
    if (n.role === "compute" && s.persisted.computes[n.name]?.phase === "alive" && s.persisted.heard.includes(n.name)) take((at ?? s.bootedAt) + policy.deadAfterMs);
  }
  if (inRestartGrace(s, now)) take(s.bootedAt + T(s) + M(s));
  return Number.isFinite(next) ? next : null;
}

