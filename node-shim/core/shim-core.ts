// The shim's lease and decision core, pure: what to hold, when to let go, what the kernel must
// have, what to report. It reads no clock (every input carries `now` on the shim's monotonic
// clock), starts no timer and runs no command: it answers each input with actions. The agent
// (node-shim/agent.ts) feeds it heartbeat replies, pushes, timer ticks and command results; the
// simulator (test/engine/sim.ts) feeds the very same class from a discrete-event schedule.
//
// Safety rules (README, "Safety"):
// - A VIP is effective on this node only while a lease for its group is valid: the kernel holds
//   a lease element for it that times out at the local lease end (core/kernel.ts), renewed with
//   each grant, so a dead or stalled shim loses its VIPs by the kernel's hand.
// - A lease ends at send time + ttl - margin; grants in replies to older requests only shorten.
// - Letting go (told to release, stopping, lease over): the lease element goes first (the VIP is
//   inert at once), then the address (read back to verify), then the fence. `released` is
//   reported only when all of that is done; a node that cannot remove its VIP says so
//   (`unreleased`) and the control plane waits out the lease.
// - Before anything irreversible (a lease renewal, an address, promotion, LB rules, operations
//   for the holder) the executor asks recheck()/holds() at that very moment.
// - Desired state older than an epoch already seen is ignored.
// - Failsafe (core/promises.ts): with the control plane unreachable, a held group is kept one TTL
//   at a time only on every peer's signed promise; a node with a live promise refuses grants.
// - Direct handoff (worker/engine/handoff.ts): a holder whose own probe fails, told whom it may
//   hand the group to, lets go as if told to release and, once the VIP is verified gone, hands
//   it over on the failsafe channel. The server named takes it at epoch + 1 only under its own
//   naming (from a heartbeat reply), with the lease that naming gives, and never keeps it on
//   promises before the control plane has confirmed it with a grant.
import type { ApplyError, DesiredGroup, DesiredState, HeartbeatReply, HeartbeatRequest, OperationResult, ProbeReport, PushedGrantsMessage, ReleasedGroup } from "../../protocol/heartbeat.js";
import { type Failure, KERNEL_SLACK_MS, KernelPlanner, type KernelOp, type KernelResult, refKey, type VipRef, type Wanted } from "./kernel.js";
import { type Lease, LeaseBook } from "./leases.js";
import { type Clocks, PromiseBook, type PromiseRequestBody, type PromiseReplyBody, replyTo, type StoredPromise } from "./promises.js";

export const SHIM_VERSION = "0.2.0";

export type CoreLog = (msg: string, fields?: Record<string, unknown>) => void;

export interface CoreOptions {
  node: string;
  /** The cluster id (failsafe requests name it); "" when failsafe is not used. */
  cluster?: string;
  bootId: string;
  /** Subtracted from every lease on this node (covers the time to drop a VIP). */
  localLeaseMarginMs: number;
  /** This node has failsafe peers configured (the spec's policy.failsafe must be on too). */
  failsafe: boolean;
  /** Interface for every VIP on this node (overrides the spec's per-group interface). */
  iface?: string | undefined;
  /** Gratuitous ARP for held VIPs this often (default 10 s). */
  reannounceMs?: number;
  /** Read the addresses back this often to repair drift (default 5 s). */
  resyncMs?: number;
  log?: CoreLog;
}

/** How a heartbeat failed: no answer, a 5xx (control plane there but cannot decide), a 4xx, or a reply that is not the protocol. */
export type FailureKind = "unreachable" | "server-error" | "refused" | "bad-reply";

export type CoreAction =
  /** Run this kernel operation (apply/kernel-lease.ts), then report with kernelDone(). */
  | { type: "kernel"; op: KernelOp }
  /** Gratuitous ARP for a VIP that just became effective (and every reannounce interval). */
  | { type: "announce"; ref: VipRef }
  /** The group's VIP is inert here: run its fence hooks (mysql read_only, ...), then fenceDone(). */
  | { type: "fence"; group: DesiredGroup; why: string }
  /** Make load balancing and data-service appliers match what is held now. */
  | { type: "reconcile" }
  /** Ask every peer to promise not to take `group` for `ttlMs` (control plane unreachable). */
  | { type: "ask-promises"; group: string; epoch: number; ttlMs: number; timeoutMs: number; peers: string[] }
  /** Tell peers their promise for `group` is no longer needed. */
  | { type: "release-promises"; group: string; epoch: number; peers: string[] }
  /** Hand `group` (released at `epoch`, its VIP gone here) straight to `to` (direct handoff). */
  | { type: "hand-off"; group: string; epoch: number; to: string }
  /** Write durableState() (promises given, held groups) to disk, fsynced. */
  | { type: "persist" }
  | { type: "heartbeat-now" }
  | { type: "sync-probes" }
  | { type: "run-operations" };

/** What survives a restart of the shim (written fsynced when it changes). */
export interface DurableState {
  v: 1;
  promises: StoredPromise[];
  /** Peer servers, TTL and margin as last heard, so a restarted node can answer promise requests at once. */
  peers: string[];
  leaseTtlMs: number;
  driftMarginMs: number;
  /** Groups held at the time of writing: the unit's stop hook fences them (node-shim/cleanup.ts). */
  held: DesiredGroup[];
}

interface Loss {
  group: string;
  epoch: number;
  why: string;
  /** Told to release or stopping: say `released` once the VIP is verified gone and fenced. */
  report: boolean;
  vip: string | null;
  fence: "pending" | "running" | "done";
  /** Its own probe failed and the control plane named a server: hand the group to it once released. */
  handoffTo?: string;
}

export class ShimCore {
  readonly leases: LeaseBook;
  readonly kernel = new KernelPlanner();
  private readonly promises = new PromiseBook();
  private seq = 0;
  desired: DesiredState | null = null;
  private pendingReleased: ReleasedGroup[] = [];
  private pendingOps: OperationResult[] = [];
  /** The desired group as last held: a group that left the desired state can still be dropped and fenced. */
  private readonly everHeld = new Map<string, DesiredGroup>();
  private readonly losses = new Map<string, Loss>();
  /**
   * The epoch at which each group was released (told to, or stopping). A reply to a request sent
   * before the release can still carry a renewal of that epoch; taking it would hold a group the
   * control plane is about to hand over. Never again at that epoch or older.
   */
  private readonly releasedEpoch = new Map<string, number>();
  private refusedGrants: { group: string; epoch: number; promisedTo: string }[] = [];
  private firstBeatDone = false;
  private leaving = false;
  lastReplyAt: number | null = null;
  /** Groups kept on peers' promises right now (logged once per outage). */
  private readonly keptOnPromises = new Set<string>();
  private readonly lastAnnounce = new Map<string, number>();
  /** Peers/TTL/margin from a previous run (durable state), until the control plane says. */
  private stored: Pick<DurableState, "peers" | "leaseTtlMs" | "driftMarginMs"> | null = null;
  private heldKey = "";
  /** This node's own probe results by group, as last seen (a handoff is taken only while healthy). */
  private readonly health = new Map<string, boolean>();
  /**
   * Groups this node may take by direct handoff, as its last reply named them: from whom, at which
   * epoch, and when the heartbeat that reply answers was sent (the lease counts from then).
   */
  private readonly named = new Map<string, { from: string; epoch: number; sentAt: number }>();
  /** Groups taken by handoff that no grant has confirmed yet: never kept on promises. */
  private readonly unconfirmed = new Set<string>();
  /** When each recent heartbeat was sent (seq -> shim clock): a pushed grant counts from one of them. */
  private readonly sent = new Map<number, number>();
  private readonly log: CoreLog;

  private readonly opts: Required<Omit<CoreOptions, "iface" | "log">> & Pick<CoreOptions, "iface">;

  constructor(opts: CoreOptions) {
    this.opts = { cluster: "", reannounceMs: 10_000, resyncMs: 5000, ...opts };
    this.leases = new LeaseBook(opts.localLeaseMarginMs);
    this.log = opts.log ?? (() => undefined);
  }

  get node(): string {
    return this.opts.node;
  }

  get stopping(): boolean {
    return this.leaving;
  }

  // ------------------------------------------------------------------ what the node holds

  /** Groups whose VIP this node should carry at `now`: role holder with a valid lease. */
  holding(now: number): DesiredGroup[] {
    return (this.desired?.groups ?? []).filter((g) => g.role === "holder" && this.leases.valid(g.name, now) !== null);
  }

  /** Whether this node may act for `group` at this very moment (promotion, LB rules, operations). */
  holds(group: string, now: number): boolean {
    return this.holding(now).some((g) => g.name === group);
  }

  iface(g: DesiredGroup): string {
    return this.opts.iface ?? g.interface;
  }

  ref(g: DesiredGroup): VipRef {
    return { vip: g.vip, prefix: g.prefix, iface: this.iface(g) };
  }

  /** Every group this node knows of (desired and once held). */
  knownGroups(): DesiredGroup[] {
    const out = new Map<string, DesiredGroup>();
    for (const g of this.everHeld.values()) out.set(g.name, g);
    for (const g of this.desired?.groups ?? []) out.set(g.name, g);
    return [...out.values()];
  }

  groupInfo(name: string): DesiredGroup | null {
    return this.desired?.groups.find((x) => x.name === name) ?? this.everHeld.get(name) ?? null;
  }

  /**
   * How much earlier than the local lease end the kernel's lease element must end so that, with
   * the backstop's worst lateness and clock-rate drift up to 1 %, it has ended before the control
   * plane can grant the group elsewhere (receipt + T + margin). 0 for any sane policy.
   */
  kernelCutMs(): number {
    const d = this.desired;
    if (!d) return KERNEL_SLACK_MS;
    return Math.max(0, KERNEL_SLACK_MS + Math.ceil(0.01 * (2 * d.leaseTtlMs + (d.driftMarginMs ?? 0))) - this.opts.localLeaseMarginMs - (d.driftMarginMs ?? 0));
  }

  private wanted(now: number): Map<string, Wanted> {
    const out = new Map<string, Wanted>();
    const cut = this.kernelCutMs();
    for (const g of this.holding(now)) {
      // Shadow mode: the VIP is the HA system in place's; this node only watches it.
      if (g.shadow) continue;
      const l = this.leases.valid(g.name, now)!;
      if (l.validUntil - cut > now) out.set(g.vip, { ref: this.ref(g), group: g.name, until: l.validUntil - cut });
    }
    return out;
  }

  /**
   * Held leases (group@epoch) whose VIP is up in the kernel (configured and leased), or that have
   * nothing to put up (shadow): what this node serves now. The agent heartbeats at once when one
   * of them is news to the control plane (its availability ledger counts the group as down until
   * the holder reports it).
   */
  served(now: number): string[] {
    const out: string[] = [];
    for (const l of this.leases.held(now)) {
      const g = this.groupInfo(l.group);
      if (!g || g.shadow || this.kernel.effective(g.vip, now)) out.push(`${l.group}@${l.epoch}`);
    }
    return out;
  }

  /** Groups whose VIPs this node may carry (never a shadow group's: the incumbent's, not ours to filter). */
  private acting(): DesiredGroup[] {
    return this.knownGroups().filter((g) => !g.shadow);
  }

  private ifaces(): string[] {
    const s = new Set(this.acting().map((g) => this.iface(g)));
    if (this.opts.iface) s.add(this.opts.iface);
    return [...s].sort();
  }

  /**
   * Called by the executor right before it runs `op`: the same op (lease ends clamped to the
   * leases valid now), or null when what it would do is no longer wanted (then it is not run).
   */
  recheck(op: KernelOp, now: number): KernelOp | null {
    const w = this.wanted(now);
    if (op.kind === "lease") {
      const entries = op.entries.flatMap((e) => {
        const cur = w.get(e.vip);
        return cur ? [{ vip: e.vip, until: Math.min(e.until, cur.until) }] : [];
      });
      return entries.length ? { kind: "lease", entries } : null;
    }
    if (op.kind === "addr-add") {
      const cur = w.get(op.ref.vip);
      return cur && refKey(cur.ref) === refKey(op.ref) ? { ...op, until: Math.min(op.until, cur.until) } : null;
    }
    return op;
  }

  /** The earliest instant at which tick() has something to do. */
  nextDeadline(now: number): number | null {
    const ts: (number | null)[] = [this.leases.nextExpiry(), this.kernel.nextDue(now, this.opts.resyncMs), this.promises.nextExpiry()];
    for (const l of this.losses.values()) if (l.vip && l.fence === "pending") ts.push(this.kernel.inertAt(l.vip));
    for (const ref of this.kernel.configured()) if (this.wanted(now).has(ref.vip)) ts.push((this.lastAnnounce.get(refKey(ref)) ?? now) + this.opts.reannounceMs);
    let next: number | null = null;
    for (const t of ts) if (t !== null && Number.isFinite(t) && (next === null || t < next)) next = t;
    return next;
  }

  // ------------------------------------------------------------------ heartbeats

  /** The next heartbeat to send (probe results come from the agent's schedulers). */
  request(probes: Record<string, ProbeReport>, now: number, wallNow?: number): HeartbeatRequest {
    const unreleased: HeartbeatRequest["unreleased"] = [];
    for (const l of this.losses.values()) {
      const f = l.report && l.vip ? this.kernel.removalFailure(l.vip) : null;
      if (l.report && f) unreleased.push({ group: l.group, epoch: l.epoch, detail: f.detail.slice(0, 500) });
    }
    const seq = this.seq++;
    this.sent.set(seq, now);
    if (this.sent.size > 64) this.sent.delete(this.sent.keys().next().value!);
    const req: HeartbeatRequest = {
      bootId: this.opts.bootId,
      seq,
      sentMs: Math.max(0, Math.round(now)),
      ...(this.desired ? { peersOf: this.desired.specVersion } : {}),
      probes,
      holding: this.leases.held(now).map((l) => ({ group: l.group, epoch: l.epoch })),
      released: [...this.pendingReleased],
      operations: [...this.pendingOps],
      unreleased,
      refused: [...this.refusedGrants],
      leaving: this.leaving,
      shimVersion: SHIM_VERSION,
    };
    const errors = wallNow === undefined ? [] : this.applyErrors(now, wallNow);
    if (errors.length) req.applyErrors = errors;
    return req;
  }

  private applyErrors(now: number, wallNow: number): ApplyError[] {
    const out: ApplyError[] = [];
    const byVip = new Map(this.knownGroups().map((g) => [g.vip, g.name]));
    for (const f of this.kernel.failures.values() as Iterable<Failure>) {
      const group = f.vip ? byVip.get(f.vip) : undefined;
      out.push({ ...(group ? { group } : {}), target: "vip", command: f.command.slice(0, 500), exitCode: f.exitCode, stderrTail: f.detail.slice(-500), since: Math.max(0, Math.round(wallNow - (now - f.since))) });
    }
    return out.slice(0, 32);
  }

  /** The control plane answered `req`, sent at `sentAt` (the lease counts from then). */
  onReply(req: Pick<HeartbeatRequest, "released" | "operations">, reply: HeartbeatReply, sentAt: number, now: number, final = false): CoreAction[] {
    this.lastReplyAt = now;
    if (this.keptOnPromises.size) this.log("failsafe over: control plane answers again", { groups: [...this.keptOnPromises] });
    this.keptOnPromises.clear();
    // What we reported is now known to the control plane.
    this.pendingReleased = this.pendingReleased.filter((r) => !req.released.some((b) => b.group === r.group && b.epoch === r.epoch));
    this.pendingOps = this.pendingOps.filter((o) => !req.operations.some((b) => b.id === o.id));
    if (final) return [];
    const actions: CoreAction[] = [];
    this.firstBeatDone = true;
    const desired = reply.desired;
    // Ignore groups whose epoch is older than one already seen (a reordered or stale reply).
    const groups = desired.groups.filter((g) => {
      const fresh = this.leases.observeEpoch(g.name, g.epoch);
      if (!fresh) this.log("stale desired state ignored", { group: g.name, epoch: g.epoch, seen: this.leases.epochSeen(g.name) });
      return fresh;
    });
    const prev = this.desired;
    this.desired = { ...desired, groups: groups.length === desired.groups.length ? desired.groups : mergeGroups(prev?.groups ?? [], groups, desired.groups) };
    const refused: typeof this.refusedGrants = [];
    for (const grant of reply.grants) {
      if (this.leaving) continue;
      const promised = this.promises.promisedTo(grant.group, now);
      if (promised !== null) {
        // This node promised the holder not to take the group while the control plane was away.
        if (!this.refusedGrants.some((r) => r.group === grant.group)) this.log("grant refused: failsafe promise", { group: grant.group, epoch: grant.epoch, promisedTo: promised });
        refused.push({ group: grant.group, epoch: grant.epoch, promisedTo: promised });
        continue;
      }
      const g = this.desired.groups.find((x) => x.name === grant.group);
      if (!g || g.role !== "holder") continue;
      // Its fence from an earlier loss is still running: take it on a later renewal, never meanwhile.
      if (this.losses.get(grant.group)?.fence === "running") continue;
      if (grant.epoch <= (this.releasedEpoch.get(grant.group) ?? -1)) continue;
      const had = this.leases.valid(grant.group, now);
      const r = this.leases.grant(grant.group, grant.epoch, grant.ttlMs, sentAt, now);
      if (r === "stale") this.log("stale grant ignored", { group: grant.group, epoch: grant.epoch, seen: this.leases.epochSeen(grant.group) });
      if (r === "granted") {
        if (this.leases.valid(grant.group, now)?.epoch === grant.epoch) this.unconfirmed.delete(grant.group);
        this.losses.delete(grant.group);
        this.everHeld.set(grant.group, g);
        if (!had || had.epoch !== grant.epoch) this.log("lease granted", { group: grant.group, epoch: grant.epoch });
      }
    }
    this.refusedGrants = refused;
    // Namings for a direct handoff: those of this reply (fresh groups only), counted from its heartbeat.
    for (const g of groups) {
      if (g.handoffFrom !== undefined && g.role === "standby") this.named.set(g.name, { from: g.handoffFrom, epoch: g.epoch, sentAt });
      else this.named.delete(g.name);
    }
    for (const name of this.named.keys()) if (!this.desired.groups.some((g) => g.name === name)) this.named.delete(name);
    const inDesired = new Set(this.desired.groups.map((g) => g.name));
    for (const l of this.leases.held(now)) {
      const g = this.desired.groups.find((x) => x.name === l.group);
      // Removed from the spec, told to release, or moved on at a newer epoch: let go now.
      if (!inDesired.has(l.group)) this.lose(l, "group left the desired state", false);
      else if (g!.role === "release") this.lose(l, "control plane asked", true);
      else if (g!.role === "standby" && g!.epoch > l.epoch) this.lose(l, `group moved to ${g!.holder} at epoch ${g!.epoch}`, true);
    }
    actions.push({ type: "sync-probes" }, { type: "reconcile" }, { type: "run-operations" });
    return [...actions, ...this.poll(now)];
  }

  /**
   * Grants pushed the moment the control plane decided them: a reply to our heartbeat `seq`, so each
   * lease counts from when that heartbeat was sent (the control plane counts from its decision,
   * later). One from another boot of this shim, or for a heartbeat too old to remember, is ignored.
   */
  onPushedGrants(push: PushedGrantsMessage, now: number): CoreAction[] {
    const sentAt = this.sent.get(push.seq);
    if (push.bootId !== this.opts.bootId || sentAt === undefined) {
      this.log("pushed grant ignored", { bootId: push.bootId, seq: push.seq, why: push.bootId !== this.opts.bootId ? "another boot" : "heartbeat not remembered" });
      return [{ type: "heartbeat-now" }];
    }
    return this.onReply({ released: [], operations: [] }, { grants: push.grants, desired: push.desired }, sentAt, now);
  }

  /** The heartbeat did not get a usable answer. */
  onFailure(kind: FailureKind, now: number): CoreAction[] {
    const actions: CoreAction[] = [];
    // Never reached the control plane since start: VIPs left from an earlier run cannot be adopted.
    if (!this.firstBeatDone) {
      this.firstBeatDone = true;
      actions.push({ type: "reconcile" });
    }
    // Failsafe: a network error or a 5xx (the control plane cannot decide); a 4xx is a real refusal.
    const d = this.desired;
    if ((kind === "unreachable" || kind === "server-error") && this.opts.failsafe && d?.failsafe && !this.leaving) {
      // (A group taken by handoff and not yet confirmed is not the control plane's grant yet: its lease just runs out.)
      for (const l of this.leases.held(now)) if (!this.unconfirmed.has(l.group)) actions.push({ type: "ask-promises", group: l.group, epoch: l.epoch, ttlMs: d.leaseTtlMs, timeoutMs: Math.min(1000, d.heartbeatIntervalMs), peers: this.peers(l.group) });
    }
    return [...actions, ...this.poll(now)];
  }

  /**
   * Every peer promised not to take `group` for `ttlMs`, asked at `askedAt`: keep the lease one
   * more TTL counted from the asking (minus the margin), if it is still ours at that epoch.
   */
  onPromised(group: string, epoch: number, ttlMs: number, askedAt: number, now: number): CoreAction[] {
    const still = this.leases.valid(group, now);
    if (!still || still.epoch !== epoch || this.leaving) return [];
    this.leases.extend(group, epoch, askedAt + ttlMs - this.opts.localLeaseMarginMs, now);
    if (!this.keptOnPromises.has(group)) this.log("failsafe: control plane unreachable, keeping group on peers' promises", { group, epoch });
    this.keptOnPromises.add(group);
    return this.poll(now);
  }

  /** Desired state pushed over the watch socket: it never grants; it may only take away at once. */
  onPush(desired: DesiredState, now: number): CoreAction[] {
    for (const g of desired.groups) {
      const lease = this.leases.valid(g.name, now);
      if (lease && g.epoch >= lease.epoch && g.role === "release") this.lose(lease, "control plane asked", true);
    }
    // The kernel's operation first: it goes to its session in this turn, the heartbeat after.
    return [...this.poll(now), { type: "heartbeat-now" }];
  }

  /** Time passed: leases that ended, retries due, announcements. */
  tick(now: number): CoreAction[] {
    const expired = this.leases.expire(now);
    for (const l of expired) {
      this.log("lease expired", { group: l.group, epoch: l.epoch, lastReplyAgoMs: this.lastReplyAt === null ? null : Math.round(now - this.lastReplyAt) });
      this.addLoss(l, "lease expired", false);
    }
    return [...(expired.length ? [{ type: "reconcile" } as const] : []), ...this.poll(now)];
  }

  /** A kernel operation finished. */
  kernelDone(op: KernelOp, r: KernelResult, now: number): CoreAction[] {
    const wasConfigured = op.kind === "addr-add" && this.kernel.configured().some((x) => refKey(x) === refKey(op.ref));
    this.kernel.done(op, r, now);
    if (!r.ok && !r.aborted && !r.stale) this.log("kernel operation failed", { op: op.kind, detail: r.detail, command: r.command });
    const actions: CoreAction[] = [];
    // A VIP that just appeared is announced at once (a lifetime renewal is not news).
    if (r.ok && op.kind === "addr-add" && !wasConfigured) this.lastAnnounce.delete(refKey(op.ref));
    if (r.ok && ((op.kind === "addr-add" && !wasConfigured) || op.kind === "addr-del" || op.kind === "unlease")) actions.push({ type: "reconcile" });
    return [...actions, ...this.poll(now)];
  }

  /**
   * This node's own probe for `group` changed (the agent's scheduler, after fall/rise). A holder
   * named a server to hand the group to lets go at once and hands it over once its VIP is gone.
   */
  probeChanged(group: string, healthy: boolean, now: number): CoreAction[] {
    this.health.set(group, healthy);
    const g = this.desired?.groups.find((x) => x.name === group);
    const lease = this.leases.valid(group, now);
    // The control plane hears of the change at once.
    if (healthy || !g || g.role !== "holder" || g.handoffTo === undefined || g.shadow || !lease || lease.epoch !== g.epoch || this.leaving || this.losses.has(group)) return [{ type: "heartbeat-now" }];
    this.lose(lease, `its probe failed: handing it straight to ${g.handoffTo}`, true);
    this.losses.get(group)!.handoffTo = g.handoffTo;
    // Handing over: the heartbeat goes with the "released" report a few ms later (poll), not now,
    // when building it and reading its reply would hold up the release on this one event loop.
    return this.poll(now);
  }

  /**
   * The holder of `req.group` hands it to this node (signature checked by the transport). Taken
   * only as named by this node's last reply: from that holder, at that epoch, while the lease
   * that naming gives runs, this node healthy and free to take it. The lease is epoch + 1.
   */
  handoffRequest(req: PromiseRequestBody, c: Clocks): { reply: PromiseReplyBody; actions: CoreAction[] } {
    const now = c.now;
    const refuse = (why: string) => {
      this.log("direct handoff refused", { group: req.group, from: req.from, epoch: req.epoch, why });
      return { reply: replyTo(req, this.opts.node, this.opts.cluster, false, why), actions: [] };
    };
    const d = this.desired;
    const why = this.promises.admit(req, { self: this.opts.node, cluster: this.opts.cluster, peers: this.peers(), maxTtlMs: d?.leaseTtlMs ?? 0 }, c.wall);
    if (why) return refuse(why);
    if (req.kind !== "handoff") return refuse(`not a handoff: ${req.kind}`);
    const named = this.named.get(req.group);
    if (!d || !named || named.from !== req.from || named.epoch !== req.epoch) return refuse(`${this.opts.node} is not named to take ${req.group} from ${req.from} at epoch ${req.epoch}`);
    const g = d.groups.find((x) => x.name === req.group);
    if (!g || !g.member || g.role !== "standby" || g.shadow) return refuse(`${req.group} is not a group ${this.opts.node} stands by for`);
    if (this.leaving) return refuse(`${this.opts.node} is stopping`);
    if (this.health.get(req.group) !== true) return refuse(`${this.opts.node}'s own probe for ${req.group} is not passing`);
    const promised = this.promises.promisedTo(req.group, now);
    if (promised !== null && promised !== req.from) return refuse(`${this.opts.node} promised ${req.group} to ${promised}`);
    if (req.epoch + 1 <= (this.releasedEpoch.get(req.group) ?? -1) || this.losses.get(req.group)?.fence === "running") return refuse(`${this.opts.node} is letting go of ${req.group}`);
    if (named.sentAt + d.leaseTtlMs - this.opts.localLeaseMarginMs <= now) return refuse("the naming is too old (its lease would be over)");
    const r = this.leases.grant(req.group, req.epoch + 1, d.leaseTtlMs, named.sentAt, now);
    if (r !== "granted") return refuse(`lease not taken (${r})`);
    const taken: DesiredGroup = { ...g, role: "holder", epoch: req.epoch + 1, holder: this.opts.node };
    delete taken.handoffFrom;
    this.desired = { ...d, groups: d.groups.map((x) => (x.name === req.group ? taken : x)) };
    this.named.delete(req.group);
    this.unconfirmed.add(req.group);
    this.losses.delete(req.group);
    this.everHeld.set(req.group, taken);
    this.log("took group by direct handoff", { group: req.group, from: req.from, epoch: req.epoch + 1 });
    // The VIP first (the kernel's session is shared with what a reconcile runs); the address coming
    // up asks for the reconcile, whose end sends the heartbeat that tells the control plane (a
    // heartbeat now would hold up the takeover on this event loop, reply and all).
    return { reply: replyTo(req, this.opts.node, this.opts.cluster, true, "taken"), actions: this.poll(now) };
  }

  /** The fence hooks for `group` ran (successfully or not: failures are logged by the agent). */
  fenceDone(group: string, now: number): CoreAction[] {
    const l = this.losses.get(group);
    if (l && l.fence === "running") l.fence = "done";
    return this.poll(now);
  }

  operationFinished(result: OperationResult): CoreAction[] {
    this.pendingOps.push(result);
    return [{ type: "heartbeat-now" }];
  }

  /**
   * Stopping. With `release` (SIGTERM: "stop means go"), let go of everything and say so, and say
   * this node is leaving (no grants taken, not a candidate until a new process starts). Without,
   * the leases simply run out (the kernel ends them).
   */
  stop(release: boolean, now: number): CoreAction[] {
    this.leaving = true;
    if (!release) {
      // Nothing is touched: the kernel ends the lease elements at their time, and a new process
      // may adopt what is still valid.
      this.leases.clear();
      return [];
    }
    for (const l of this.leases.held(now)) this.lose(l, "shutdown", true);
    return this.poll(now);
  }

  /** Everything being released is gone and fenced (or cannot be removed, and says so). */
  releasesSettled(): boolean {
    for (const l of this.losses.values()) if (l.report && !(l.vip && this.kernel.removalFailure(l.vip))) return false;
    return true;
  }

  // ------------------------------------------------------------------ letting go

  private lose(lease: Lease, why: string, report: boolean): void {
    this.leases.drop(lease.group);
    if (report) this.releasedEpoch.set(lease.group, Math.max(lease.epoch, this.releasedEpoch.get(lease.group) ?? -1));
    this.log("releasing group", { group: lease.group, epoch: lease.epoch, why });
    this.addLoss(lease, why, report);
  }

  private addLoss(lease: Lease, why: string, report: boolean): void {
    this.unconfirmed.delete(lease.group);
    const g = this.groupInfo(lease.group);
    if (g?.shadow) {
      // Shadow mode acts on nothing: nothing to remove, nothing to fence; say so at once.
      if (report) this.pendingReleased.push({ group: lease.group, epoch: lease.epoch });
      return;
    }
    this.losses.set(lease.group, { group: lease.group, epoch: lease.epoch, why, report, vip: g?.vip ?? null, fence: "pending" });
  }

  /** Whatever follows from the state at `now`: the next kernel operation, fences, reports. */
  private poll(now: number): CoreAction[] {
    const actions: CoreAction[] = [];
    // A node with no group of its own to carry (none known yet, or only shadow groups: the HA
    // system in place owns those VIPs) touches nothing in the kernel.
    const idle = this.acting().length === 0 && this.kernel.empty;
    const op = idle ? null : this.kernel.next({
      now,
      wanted: this.wanted(now),
      known: this.acting().map((g) => this.ref(g)),
      ifaces: this.ifaces(),
      removalsAllowed: this.firstBeatDone || this.leaving,
      resyncMs: this.opts.resyncMs,
    });
    if (op) actions.push({ type: "kernel", op });
    for (const l of [...this.losses.values()]) {
      // The fence runs once the VIP is inert here (no lease element can let traffic through).
      if (l.fence === "pending" && (l.vip === null || this.kernel.inert(l.vip, now))) {
        const g = this.groupInfo(l.group);
        l.fence = g ? "running" : "done";
        if (g) actions.push({ type: "fence", group: g, why: l.why });
        actions.push({ type: "release-promises", group: l.group, epoch: l.epoch, peers: this.peers(l.group) });
      }
      if (l.fence !== "done") continue;
      if (!l.report) {
        this.losses.delete(l.group);
        continue;
      }
      if (l.vip === null || this.kernel.gone(l.vip, now)) {
        this.losses.delete(l.group);
        // The report says whom it was handed to: without, the control plane knows nobody has it.
        this.pendingReleased.push({ group: l.group, epoch: l.epoch, ...(l.handoffTo !== undefined ? { handedTo: l.handoffTo } : {}) });
        this.log("released", { group: l.group, epoch: l.epoch, why: l.why });
        if (l.handoffTo !== undefined) actions.push({ type: "hand-off", group: l.group, epoch: l.epoch, to: l.handoffTo });
        actions.push({ type: "heartbeat-now" });
      }
    }
    const wanted = this.wanted(now);
    for (const ref of this.kernel.configured()) {
      const w = wanted.get(ref.vip);
      if (!w || refKey(w.ref) !== refKey(ref) || !this.kernel.effective(ref.vip, now)) continue;
      const last = this.lastAnnounce.get(refKey(ref));
      if (last === undefined || now - last >= this.opts.reannounceMs) {
        this.lastAnnounce.set(refKey(ref), now);
        actions.push({ type: "announce", ref });
      }
    }
    const heldKey = this.leases.held(now).map((l) => `${l.group}@${l.epoch}`).sort().join(",");
    if (heldKey !== this.heldKey) {
      this.heldKey = heldKey;
      actions.push({ type: "persist" });
    }
    return actions;
  }

  /** The other members of `group` (every other server when no group is named). */
  private peers(group?: string): string[] {
    if (!this.desired) return this.stored?.peers ?? [];
    return (this.desired.peers ?? []).filter((p) => group === undefined || p.groups.includes(group)).map((p) => p.name);
  }

  // ------------------------------------------------------------------ failsafe promises this node gives

  /** A peer's request (signature already checked). The reply goes back only after persisting when `persist`. */
  promiseRequest(req: PromiseRequestBody, c: Clocks): { reply: PromiseReplyBody; persist: boolean } {
    const d = this.desired;
    const { reply, changed } = this.promises.answer(
      req,
      {
        self: this.opts.node,
        cluster: this.opts.cluster,
        peers: this.peers(),
        maxTtlMs: d?.leaseTtlMs ?? this.stored?.leaseTtlMs ?? 0,
        marginMs: d?.driftMarginMs ?? this.stored?.driftMarginMs ?? 0,
        holds: (group) => this.leases.valid(group, c.now) !== null,
      },
      c.now,
      c.wall,
    );
    if (changed) this.log(req.kind === "promise" ? "failsafe promise given" : "failsafe promise released", { group: req.group, holder: req.from, epoch: req.epoch, ttlMs: req.ttlMs });
    // A request from this node itself is the listener's self-check (failsafe.ts), which logs its own outcome.
    else if (!reply.ok && req.from !== this.opts.node) this.log("failsafe promise refused", { group: req.group, to: req.from, reason: reply.reason });
    return { reply, persist: changed };
  }

  promisedTo(group: string, now: number): string | null {
    return this.promises.promisedTo(group, now);
  }

  durableState(c: Clocks): DurableState {
    return {
      v: 1,
      promises: this.promises.stored(c),
      peers: this.peers(),
      leaseTtlMs: this.desired?.leaseTtlMs ?? this.stored?.leaseTtlMs ?? 0,
      driftMarginMs: this.desired?.driftMarginMs ?? this.stored?.driftMarginMs ?? 0,
      held: this.holding(c.now),
    };
  }

  /** State written by an earlier process of this shim: its promises are honoured. */
  load(state: DurableState, c: Clocks): void {
    this.promises.load(state.promises, c);
    this.stored = { peers: state.peers, leaseTtlMs: state.leaseTtlMs, driftMarginMs: state.driftMarginMs };
  }
}

function mergeGroups(prev: DesiredGroup[], fresh: DesiredGroup[], all: DesiredGroup[]): DesiredGroup[] {
  // Stale entries keep what we knew; the order and membership follow the reply.
  const keep = new Map(prev.map((g) => [g.name, g]));
  const f = new Map(fresh.map((g) => [g.name, g]));
  return all.map((g) => f.get(g.name) ?? keep.get(g.name) ?? g);
}
