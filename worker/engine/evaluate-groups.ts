// After every input: the decisions that follow from the state at `now`, group by group — lease
// expiry, free groups, drain, unfit holders (with hold-down), optional preemption. Pure.
import { blockers, candidates, whyNotCandidate } from "./candidates.js";
import type { StepCtx } from "./context.js";
import { noteLapse } from "./failsafe-peers.js";
import { inRestartGrace, leaseEnd, M, nodeSpec } from "./lease-rules.js";
import { isAlive, secs } from "./liveness.js";
import { free, grantFree, revoke, setPersistedGroup } from "./transitions.js";

/** The decisions that follow from the current state at `now`, for every group. */
export function evaluateGroups(ctx: StepCtx): void {
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
      noteLapse(ctx, group.name, holder);
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
      if (to) revoke(ctx, group, g, to, `${holder} is in maintenance (drain)`, "engine", `drain of ${holder}`);
      else ctx.note(`wait:${group.name}`, "group.drain-blocked", "warning", `${holder} is in maintenance but no healthy candidate can take ${group.name}; it stays`, { group: group.name });
      continue;
    }
    if (grace && !isAlive(s, holder, now)) continue;
    // 4. The holder is alive but its service is not fit: move it, unless nobody is better.
    const unfit = isAlive(s, holder, now) ? whyNotCandidate(s, group, holder, now) : null;
    if (unfit) {
      const to = candidates(s, group, now, holder)[0] ?? null;
      if (!to) {
        const b = blockers(s, group, now, holder);
        if (b.onlyWaiting) ctx.note(`wait:${group.name}`, "group.waiting", "warning", `${unfit}; ${group.name} waits before moving (${b.text})`, { group: group.name, node: holder, identity: `waiting:${holder}:${g.epoch}` });
        else if (b.refused) ctx.note(`wait:${group.name}`, "group.promotion-refused", "critical", `${unfit}, but automatic promotion is refused (${b.text}); ${holder} keeps ${group.name}`, { group: group.name, node: holder, identity: `refused:${holder}:${g.epoch}:${b.text}` });
        else ctx.note(`wait:${group.name}`, "group.degraded", "critical", `${unfit}, but no healthy candidate; ${holder} keeps ${group.name}`, { group: group.name, node: holder, identity: `degraded:${holder}:${g.epoch}` });
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
    // The holder is fit: a reported waiting condition (degraded, hold-down, drain blocked) is over.
    ctx.clearNote(`wait:${group.name}`);
    // 5. Optional preemption: a higher-priority candidate healthy long enough takes over.
    if (policy.preempt.enabled) {
      const best = candidates(s, group, now)[0];
      const hp = nodeSpec(s, holder)?.priority ?? 0;
      const bp = best ? (nodeSpec(s, best)?.priority ?? 0) : 0;
      if (best && best !== holder && bp > hp) {
        const since = s.nodes[best]?.healthySince[group.name] ?? now;
        if (now - since >= policy.preempt.delayMs) revoke(ctx, group, g, best, `${best} (priority ${bp}) healthy for ${secs(now - since)} outranks ${holder} (priority ${hp}): preempting`, "engine", "preemption");
      }
    }
  }
}

