// Local leases on the monotonic clock. A grant (epoch, ttl) in the reply to a heartbeat SENT at
// `sentAt` is valid until sentAt + ttl - margin: network delay only ever shortens it, so this
// node always lets go before the control plane (which counts from receipt, plus its own margin)
// can grant the group to anyone else. A precise timer fires at the end of each lease.
import { log } from "./log.js";

export interface Lease {
  group: string;
  epoch: number;
  validUntil: number;
}

export type Clock = () => number;
export const monotonic: Clock = () => performance.now();

export class LeaseTable {
  private leases = new Map<string, Lease>();
  private timers = new Map<string, NodeJS.Timeout>();
  /** Highest epoch seen per group; anything older is ignored. */
  private seen = new Map<string, number>();

  constructor(
    private readonly onExpire: (lease: Lease) => void,
    private readonly clock: Clock = monotonic,
    private readonly marginMs = 200,
  ) {}

  epochSeen(group: string): number {
    return this.seen.get(group) ?? 0;
  }

  /** Note an epoch from desired state; returns false when it is older than one already seen. */
  observeEpoch(group: string, epoch: number): boolean {
    const seen = this.epochSeen(group);
    if (epoch < seen) return false;
    this.seen.set(group, epoch);
    return true;
  }

  /** Apply a grant from the reply to a heartbeat sent at `sentAt`. Returns false if ignored. */
  grant(group: string, epoch: number, ttlMs: number, sentAt: number): boolean {
    if (!this.observeEpoch(group, epoch)) {
      log("stale grant ignored", { group, epoch, seen: this.epochSeen(group) });
      return false;
    }
    const validUntil = sentAt + ttlMs - this.marginMs;
    const cur = this.leases.get(group);
    if (cur && cur.epoch === epoch && cur.validUntil >= validUntil) return true;
    if (validUntil <= this.clock()) return false;
    this.leases.set(group, { group, epoch, validUntil });
    this.arm(group, validUntil);
    return true;
  }

  valid(group: string): Lease | null {
    const l = this.leases.get(group);
    if (!l) return null;
    if (l.validUntil <= this.clock()) {
      this.expire(group);
      return null;
    }
    return l;
  }

  /** Drop a lease now (release, switchover, shutdown). No expiry callback. */
  drop(group: string): Lease | null {
    const l = this.leases.get(group) ?? null;
    this.leases.delete(group);
    const t = this.timers.get(group);
    if (t) clearTimeout(t);
    this.timers.delete(group);
    return l;
  }

  held(): Lease[] {
    return [...this.leases.keys()].map((g) => this.valid(g)).filter((l): l is Lease => l !== null);
  }

  remainingMs(group: string): number | null {
    const l = this.valid(group);
    return l ? l.validUntil - this.clock() : null;
  }

  clear(): void {
    for (const g of [...this.leases.keys()]) this.drop(g);
  }

  private arm(group: string, at: number): void {
    const t = this.timers.get(group);
    if (t) clearTimeout(t);
    this.timers.set(
      group,
      // Timers may fire a millisecond early: check, and re-arm if the lease is still valid.
      setTimeout(() => {
        const l = this.valid(group);
        if (l) this.arm(group, l.validUntil);
      }, Math.max(1, Math.ceil(at - this.clock()))),
    );
  }

  private expire(group: string): void {
    const l = this.drop(group);
    if (l) this.onExpire(l);
  }
}
