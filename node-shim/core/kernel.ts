// What the kernel must hold for this node's VIPs, pure: a planner that turns "these VIPs are held
// until these instants" into one abstract kernel operation at a time, tracks what the kernel has
// acknowledged, retries failures with backoff, and says when a VIP is inert and when it is gone.
//
// The kernel enforces the lease (README, "Safety"): a VIP is effective only while its address is
// configured AND its element in the nftables `leased` set has not timed out. Elements carry the
// local lease end as a millisecond timeout, so a killed or stalled shim loses its VIPs by the
// kernel's hand. Every renewal is guarded: it applies only if the kernel receives it within
// FRESH_MS of the shim's decision (apply/kernel-lease.ts), so a renewal that sat in a pipe while
// everything was stopped cannot revive a lease. Addresses also get a lifetime (whole seconds) as an
// eventual belt: a dead shim's address disappears by itself shortly after the lease.
//
// The agent carries the operations out (apply/kernel-lease.ts, through the CommandRunner); the
// simulator (test/engine/sim.ts) carries them out on a model of the kernel with its lateness.

export interface VipRef {
  vip: string;
  prefix: number;
  iface: string;
}

export type KernelOp =
  /** Create the lease tables, sets and filter rules (idempotent, atomic). */
  | { kind: "setup" }
  /** Put VIPs under the filter: a managed VIP without a live lease element answers nothing. */
  | { kind: "manage"; vips: string[] }
  /** Lease elements until these instants (local clock), applied only if fresh. */
  | { kind: "lease"; entries: { vip: string; until: number }[] }
  /** Remove lease elements (the VIP is inert at once, whatever its address). */
  | { kind: "unlease"; vips: string[] }
  /** Configure the address (labelled, with a lifetime from `until`). */
  | { kind: "addr-add"; ref: VipRef; until: number }
  | { kind: "addr-del"; ref: VipRef }
  /** Read back the labelled addresses on these interfaces. */
  | { kind: "read"; ifaces: string[] };

export type KernelResult =
  | { ok: true; addrs?: VipRef[] }
  | {
      ok: false;
      detail: string;
      /** The command that failed, as logged. */
      command: string;
      exitCode: number | null;
      /** A lease renewal that reached the kernel too late and was refused (retry at once). */
      stale?: boolean;
      /** Not run: by the time it would have run, it was no longer wanted (lease over). */
      aborted?: boolean;
    };

/** A renewal must reach the kernel within this long of the shim's decision, or it is refused. */
export const FRESH_MS = 250;
/** The kernel's own lateness in timing out an element (one jiffy at HZ=250; measured <= 4 ms). */
export const KERNEL_LATE_MS = 4;
/** How long after `until` a lease element may still let traffic through (worst case). */
export const KERNEL_SLACK_MS = FRESH_MS + KERNEL_LATE_MS;

/** Address lifetime (whole seconds) for a lease ending at `until`: the end plus at least a second. */
export function lifetimeSeconds(until: number, now: number): number {
  return Math.max(1, Math.ceil((until - now) / 1000)) + 1;
}

const BACKOFF_FIRST_MS = 100;
const BACKOFF_MAX_MS = 2000;

export const refKey = (r: VipRef) => `${r.iface}/${r.vip}/${r.prefix}`;

interface AddrState {
  ref: VipRef;
  /** What the kernel has, as last acknowledged or read back; "deleted": `ip addr del` succeeded, not yet read back. */
  state: "yes" | "no" | "unknown" | "deleted";
  /** When the lifetime belt removes it (local clock, estimate). */
  lifetimeEnd: number;
}

export interface Failure {
  /** The VIP concerned (null for table setup). */
  vip: string | null;
  detail: string;
  command: string;
  exitCode: number | null;
  since: number;
}

export interface Wanted {
  ref: VipRef;
  group: string;
  until: number;
}

export interface PlanInput {
  now: number;
  /** VIPs held now, with their lease end (local clock). */
  wanted: Map<string, Wanted>;
  /** Every VIP this node may have configured (desired groups and groups once held). */
  known: VipRef[];
  /** Interfaces to read back (every known VIP's, plus the configured override). */
  ifaces: string[];
  /** False until the first word from the control plane: nothing found is removed before that (adoption after a restart). */
  removalsAllowed: boolean;
  resyncMs: number;
}

export class KernelPlanner {
  private setupDone = false;
  private readonly managed = new Set<string>();
  /** Lease elements the kernel may hold: vip -> acknowledged end (local clock), or "unknown" (an earlier process may have left one). */
  private readonly leased = new Map<string, number | "unknown">();
  private readonly addrs = new Map<string, AddrState>();
  private inFlight: KernelOp | null = null;
  private readonly retryAt = new Map<string, number>();
  private readonly backoff = new Map<string, number>();
  private readWanted = true;
  private stales = 0;
  private lastReadAt = -Infinity;
  /** The addresses were read back once: before that, nothing is known to be absent. */
  private readDone = false;
  /** Failing operations by key, for the heartbeat (applyErrors / unreleased). */
  readonly failures = new Map<string, Failure>();

  get busy(): boolean {
    return this.inFlight !== null;
  }

  /**
   * True when no element for `vip` can let traffic through at `now` (the VIP is inert whatever its
   * address). Never before the first read-back: until then an earlier process of this shim may
   * have left the VIP up, and this one knows nothing of it.
   */
  inert(vip: string, now: number): boolean {
    if (!this.readDone) return false;
    const l = this.leased.get(vip);
    return l === undefined || (l !== "unknown" && l + KERNEL_SLACK_MS <= now);
  }

  /** When `vip` becomes inert by time alone (null: it needs an operation, or already is). */
  inertAt(vip: string): number | null {
    const l = this.leased.get(vip);
    return typeof l === "number" ? l + KERNEL_SLACK_MS : null;
  }

  /** Inert, and its address verified absent on every interface. */
  gone(vip: string, now: number): boolean {
    if (!this.inert(vip, now)) return false;
    for (const a of this.addrs.values()) if (a.ref.vip === vip && a.state !== "no") return false;
    return true;
  }

  /** Configured and leased (as far as the kernel acknowledged). */
  effective(vip: string, now: number): boolean {
    const l = this.leased.get(vip);
    if (l === undefined || l === "unknown" || l <= now) return false;
    for (const a of this.addrs.values()) if (a.ref.vip === vip && a.state === "yes") return true;
    return false;
  }

  /** The failure that keeps `vip` from going, if any. */
  removalFailure(vip: string): Failure | null {
    for (const [k, f] of this.failures) if (f.vip === vip && (k.startsWith("unlease:") || k.startsWith("addr-del:"))) return f;
    // Nothing is removed (or known) while the tables cannot be set up or the addresses read back.
    return this.failures.get("setup") ?? this.failures.get("manage") ?? this.failures.get("read") ?? null;
  }

  /** Nothing of ours is known to be in the kernel (no address, no lease element). */
  get empty(): boolean {
    return this.addrs.size === 0 && this.leased.size === 0;
  }

  /** Refs the kernel has configured (for announcing). */
  configured(): VipRef[] {
    return [...this.addrs.values()].filter((a) => a.state === "yes").map((a) => a.ref);
  }

  /** The next operation to run now, or null (one at a time; the caller reports its result). */
  next(p: PlanInput): KernelOp | null {
    if (this.inFlight) return null;
    const op = this.choose(p);
    if (op) this.inFlight = op;
    return op;
  }

  private ready(key: string, now: number): boolean {
    return (this.retryAt.get(key) ?? -Infinity) <= now;
  }

  private choose(p: PlanInput): KernelOp | null {
    const { now, wanted } = p;
    if (!this.setupDone) return this.ready("setup", now) ? { kind: "setup" } : null;
    // Every VIP we might carry is under the filter before anything else happens to it.
    const vips = new Set<string>([...p.known.map((r) => r.vip), ...[...this.addrs.values()].map((a) => a.ref.vip), ...wanted.keys()]);
    const unmanaged = [...vips].filter((v) => !this.managed.has(v)).sort();
    if (unmanaged.length && this.ready("manage", now)) return { kind: "manage", vips: unmanaged };
    if (this.readWanted && this.ready("read", now)) return { kind: "read", ifaces: p.ifaces };
    if (p.removalsAllowed) {
      // Removals first: they are what keeps one VIP on one host.
      const unlease = [...this.leased.entries()].filter(([v, until]) => !wanted.has(v) && (until === "unknown" || until + KERNEL_SLACK_MS > now)).map(([v]) => v);
      for (const [v, until] of [...this.leased.entries()]) if (!wanted.has(v) && until !== "unknown" && until + KERNEL_SLACK_MS <= now) this.leased.delete(v);
      const ul = unlease.filter((v) => this.ready(`unlease:${v}`, now)).sort();
      if (ul.length) return { kind: "unlease", vips: [ul[0]!] };
      for (const [k, a] of this.addrs) {
        const w = wanted.get(a.ref.vip);
        if (a.state !== "no" && a.state !== "deleted" && !(w && refKey(w.ref) === k) && this.ready(`addr-del:${k}`, now)) return { kind: "addr-del", ref: a.ref };
      }
    }
    // What we hold: lease elements first (so the address is effective the moment it appears),
    // then the address, renewing its lifetime before it runs short.
    const renew = [...wanted.values()].filter((w) => {
      const l = this.leased.get(w.ref.vip);
      return l === undefined || l === "unknown" || l < w.until;
    });
    if (renew.length && this.ready("lease", now)) return { kind: "lease", entries: renew.map((w) => ({ vip: w.ref.vip, until: w.until })).sort((a, b) => a.vip.localeCompare(b.vip)) };
    for (const w of wanted.values()) {
      const l = this.leased.get(w.ref.vip);
      if (typeof l !== "number" || l <= now) continue;
      const a = this.addrs.get(refKey(w.ref));
      const k = `addr-add:${refKey(w.ref)}`;
      // The belt: renewed once the lease has moved to within half a second of the lifetime's end.
      if ((!a || a.state !== "yes" || a.lifetimeEnd < w.until + 500) && this.ready(k, now)) return { kind: "addr-add", ref: w.ref, until: w.until };
    }
    if (now - this.lastReadAt >= p.resyncMs && this.ready("read", now)) return { kind: "read", ifaces: p.ifaces };
    return null;
  }

  /** The result of the operation in flight. */
  done(op: KernelOp, r: KernelResult, now: number): void {
    this.inFlight = null;
    const key = opKey(op);
    if (!r.ok) {
      if (r.aborted) return;
      if (r.stale && ++this.stales <= 3) {
        // Reached the kernel too late (a stall): try again at once, with a fresh decision.
        return;
      }
      // The table may be gone (flushed by hand, another tool): set it up again, idempotently.
      if (op.kind === "manage" || op.kind === "lease" || op.kind === "unlease") {
        this.setupDone = false;
        this.managed.clear();
      }
      this.fail(key, { vip: opVip(op), detail: r.detail, command: r.command, exitCode: r.exitCode }, now);
      return;
    }
    this.stales = 0;
    // A delete is only done once read back (see "read").
    if (op.kind !== "addr-del") {
      this.backoff.delete(key);
      this.retryAt.delete(key);
      this.failures.delete(key);
    }
    switch (op.kind) {
      case "setup":
        this.setupDone = true;
        break;
      case "manage":
        for (const v of op.vips) this.managed.add(v);
        break;
      case "lease":
        for (const e of op.entries) this.leased.set(e.vip, e.until);
        break;
      case "unlease":
        for (const v of op.vips) this.leased.delete(v);
        break;
      case "addr-add":
        this.addrs.set(refKey(op.ref), { ref: op.ref, state: "yes", lifetimeEnd: now + lifetimeSeconds(op.until, now) * 1000 });
        break;
      case "addr-del": {
        // Verified by reading back before anything counts it as gone.
        const a = this.addrs.get(refKey(op.ref));
        if (a) a.state = "deleted";
        this.readWanted = true;
        break;
      }
      case "read": {
        const found = new Map((r.addrs ?? []).map((a) => [refKey(a), a]));
        for (const [k, a] of this.addrs) {
          if (!op.ifaces.includes(a.ref.iface)) continue;
          if (a.state === "deleted" && found.has(k)) {
            // Deleted, yet there again (someone re-adds it?): a failure, retried with backoff.
            this.fail(`addr-del:${k}`, { vip: a.ref.vip, detail: `${a.ref.vip} still on ${a.ref.iface} after ip addr del`, command: `ip addr del ${a.ref.vip}/${a.ref.prefix} dev ${a.ref.iface}`, exitCode: 0 }, now);
          }
          a.state = found.has(k) ? "yes" : "no";
        }
        for (const [k, ref] of found) {
          if (this.addrs.has(k)) continue;
          // Found, not put there by this process: maybe leased by an earlier one.
          this.addrs.set(k, { ref, state: "yes", lifetimeEnd: -Infinity });
          if (!this.leased.has(ref.vip)) this.leased.set(ref.vip, "unknown");
        }
        for (const [k, a] of [...this.addrs]) {
          if (a.state !== "no") continue;
          this.addrs.delete(k);
          this.failures.delete(`addr-del:${k}`);
          this.backoff.delete(`addr-del:${k}`);
          this.retryAt.delete(`addr-del:${k}`);
        }
        this.readWanted = false;
        this.readDone = true;
        this.lastReadAt = now;
        break;
      }
    }
  }

  private fail(key: string, f: Omit<Failure, "since">, now: number): void {
    const b = Math.min(BACKOFF_MAX_MS, (this.backoff.get(key) ?? BACKOFF_FIRST_MS / 2) * 2);
    this.backoff.set(key, b);
    this.retryAt.set(key, now + b);
    this.failures.set(key, { ...f, since: this.failures.get(key)?.since ?? now });
  }

  /** The earliest instant a retry or resync is due while something is left to do. */
  nextDue(now: number, resyncMs: number): number | null {
    // An operation in flight re-plans when it completes.
    if (this.inFlight) return null;
    const resync = this.lastReadAt + resyncMs;
    let next: number | null = Number.isFinite(resync) && resync > now ? resync : null;
    for (const t of this.retryAt.values()) if (t > now && (next === null || t < next)) next = t;
    return next;
  }
}

function opKey(op: KernelOp): string {
  switch (op.kind) {
    case "setup":
    case "manage":
    case "read":
    case "lease":
      return op.kind;
    case "unlease":
      return `unlease:${op.vips.join(",")}`;
    case "addr-add":
      return `addr-add:${refKey(op.ref)}`;
    case "addr-del":
      return `addr-del:${refKey(op.ref)}`;
  }
}

function opVip(op: KernelOp): string | null {
  switch (op.kind) {
    case "addr-add":
    case "addr-del":
      return op.ref.vip;
    case "unlease":
      return op.vips[0] ?? null;
    case "lease":
      return op.entries[0]?.vip ?? null;
    default:
      return null;
  }
}
