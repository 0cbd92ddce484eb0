// A control-plane outage as this node sees it (issue 17): the control plane cannot record its own
// absence, so the shim keeps, from the first of two or more heartbeats in a row that failed, when
// it began, how many failed and how, and what this node held meanwhile (kept on its peers'
// failsafe promises, or lost when the lease ran out). Every heartbeat carries the report until one
// is answered; the control plane records it once (worker/engine/outage.ts). Times are on the
// shim's monotonic clock and sent as "ms ago", so neither side needs the other's wall clock.
import type { OutageReport } from "../protocol/heartbeat.js";

interface Held {
  epoch: number;
  keptOnPromises: boolean;
  lostAt?: number;
}

interface Open {
  id: number;
  firstAt: number;
  failures: number;
  lastError: string;
  held: Map<string, Held>;
}

export class OutageTracker {
  private open: Open | null = null;

  /**
   * A heartbeat (`seq`, sent at `sentAt`) got no answer. `held`: the groups this node held when it
   * was sent (the outage's first failure fixes the list; later failures only add to it).
   */
  failed(seq: number, sentAt: number, error: string, held: readonly { group: string; epoch: number }[]): void {
    const o = (this.open ??= { id: seq, firstAt: sentAt, failures: 0, lastError: "", held: new Map() });
    o.failures++;
    o.lastError = error.slice(0, 300);
    for (const h of held) if (!o.held.has(h.group)) o.held.set(h.group, { epoch: h.epoch, keptOnPromises: false });
  }

  /** The group was kept past its lease on the peers' promises during the outage. */
  keptOnPromises(group: string): void {
    const h = this.open?.held.get(group);
    if (h) h.keptOnPromises = true;
  }

  /** Groups held when the outage began that this node no longer holds: their lease ended (about now). */
  sync(holding: ReadonlySet<string>, now: number): void {
    for (const [group, h] of this.open?.held ?? []) if (!holding.has(group) && h.lostAt === undefined) h.lostAt = now;
  }

  /** What to send with a heartbeat sent at `now` (an outage is two or more failures in a row). */
  report(now: number): OutageReport | undefined {
    const o = this.open;
    if (!o || o.failures < 2) return undefined;
    return {
      id: o.id,
      fromAgoMs: Math.max(0, Math.round(now - o.firstAt)),
      failures: o.failures,
      lastError: o.lastError,
      held: [...o.held].slice(0, 64).map(([group, h]) => ({ group, epoch: h.epoch, keptOnPromises: h.keptOnPromises, ...(h.lostAt !== undefined ? { lostAgoMs: Math.max(0, Math.round(now - h.lostAt)) } : {}) })),
    };
  }

  /** A heartbeat was answered: whatever it carried reached the control plane; a lone failure is forgotten. */
  answered(): void {
    this.open = null;
  }

  get active(): boolean {
    return this.open !== null && this.open.failures >= 2;
  }
}
