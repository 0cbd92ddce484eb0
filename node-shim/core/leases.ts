// Local leases, pure: no timers, no clock of its own (every call gets `now` on the shim's
// monotonic clock). A grant (epoch, ttl) in the reply to a heartbeat SENT at `sentAt` is valid
// until sentAt + ttl - margin: network delay only ever shortens it, so this node always lets go
// before the control plane (which counts from receipt, plus its own margin) can grant the group
// to anyone else. Whoever drives the core arms one timer at `nextExpiry()`.

export interface Lease {
  group: string;
  epoch: number;
  validUntil: number;
}

export class LeaseBook {
  private leases = new Map<string, Lease>();
  /** Highest epoch seen per group; anything older is ignored. */
  private seen = new Map<string, number>();

  constructor(private readonly marginMs: number) {}

  epochSeen(group: string): number {
    return this.seen.get(group) ?? 0;
  }

  /** Note an epoch from desired state; false when it is older than one already seen. */
  observeEpoch(group: string, epoch: number): boolean {
    if (epoch < this.epochSeen(group)) return false;
    this.seen.set(group, epoch);
    return true;
  }

  /**
   * Apply a grant from the reply to a heartbeat sent at `sentAt`: "granted" (new or extended),
   * "stale" (older epoch than one seen) or "expired" (it would already be over at `now`).
   */
  grant(group: string, epoch: number, ttlMs: number, sentAt: number, now: number): "granted" | "stale" | "expired" {
    if (!this.observeEpoch(group, epoch)) return "stale";
    return this.extend(group, epoch, sentAt + ttlMs - this.marginMs, now) ? "granted" : "expired";
  }

  /** Hold `group` at `epoch` until `validUntil` (never shortens a lease of the same epoch). */
  extend(group: string, epoch: number, validUntil: number, now: number): boolean {
    const cur = this.leases.get(group);
    if (cur && cur.epoch === epoch && cur.validUntil >= validUntil) return cur.validUntil > now;
    if (validUntil <= now) return false;
    this.leases.set(group, { group, epoch, validUntil });
    return true;
  }

  /** The lease for `group` if it is valid at `now` (an ended one is not returned, see expire()). */
  valid(group: string, now: number): Lease | null {
    const l = this.leases.get(group);
    return l && l.validUntil > now ? l : null;
  }

  /** Drop a lease now (release, switchover, shutdown). */
  drop(group: string): Lease | null {
    const l = this.leases.get(group) ?? null;
    this.leases.delete(group);
    return l;
  }

  /** Leases valid at `now`. */
  held(now: number): Lease[] {
    return [...this.leases.values()].filter((l) => l.validUntil > now);
  }

  /** Remove and return the leases that ended at or before `now`. */
  expire(now: number): Lease[] {
    const out: Lease[] = [];
    for (const l of [...this.leases.values()]) {
      if (l.validUntil <= now) {
        this.leases.delete(l.group);
        out.push(l);
      }
    }
    return out;
  }

  /** The earliest lease end, or null without leases. */
  nextExpiry(): number | null {
    let next: number | null = null;
    for (const l of this.leases.values()) if (next === null || l.validUntil < next) next = l.validUntil;
    return next;
  }

  clear(): Lease[] {
    const all = [...this.leases.values()];
    this.leases.clear();
    return all;
  }
}
