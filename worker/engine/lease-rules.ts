// The control plane's side of the lease rule: a lease runs T from the receipt of its last renewal,
// and a group goes elsewhere only after that end plus the drift margin. After a restart leases are
// unknown, so everyone but the persisted holder waits out T + margin from boot. Pure.
import type { GroupSpec, NodeSpec } from "../../protocol/spec.js";
import type { EngineState, GroupRuntime } from "./types.js";

export const T = (s: EngineState) => s.persisted.spec.policy.leaseTtlMs;
export const M = (s: EngineState) => s.persisted.spec.policy.driftMarginMs;

export function groupSpec(s: EngineState, name: string): GroupSpec | undefined {
  return s.persisted.spec.groups.find((g) => g.name === name);
}

export function nodeSpec(s: EngineState, name: string): NodeSpec | undefined {
  return s.persisted.spec.nodes.find((n) => n.name === name);
}

/** End of the holder's lease on the control plane's clock (after a restart: boot + T at most). */
export function leaseEnd(s: EngineState, g: GroupRuntime): number {
  return g.leaseUntil ?? s.bootedAt + T(s);
}

export function inRestartGrace(s: EngineState, now: number): boolean {
  return now < s.bootedAt + T(s) + M(s);
}


/**
 * A removed group's holder may still carry this group's VIP (the same address, reused, or the
 * same group added again): until that lease has surely ended (its end at removal + margin),
 * nobody may get the VIP. Under failsafe the holder may keep it longer on its peers' promises:
 * then `candidate` may get it only if it is one of the members the holder knew (`until` is
 * Infinity: it ends when the holder says it let go, not at a time).
 */
export function retiredVipBusy(s: EngineState, group: GroupSpec, now: number, candidate: string | null = null): { name: string; holder: string; until: number } | null {
  for (const [name, r] of Object.entries(s.persisted.retired ?? {})) {
    // (The same name too: a group removed and added again waits out its old holder's lease.)
    if (r.vip !== group.vip || r.holder === null) continue;
    const until = (r.until ?? s.bootedAt + T(s)) + M(s);
    // Being handed off when removed: either server may carry it until then, so neither goes first.
    if (r.handoffTo !== undefined && now < until) return { name, holder: candidate === r.handoffTo ? r.holder : r.handoffTo, until };
    if (r.knownBy && candidate !== null && candidate !== r.holder && !r.knownBy.includes(candidate)) return { name, holder: r.holder, until: Infinity };
    if (now < until) return { name, holder: r.holder, until };
  }
  return null;
}
