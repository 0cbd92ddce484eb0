// The shim's lease and decision core, pure: what to hold, when to let go, what to report. It
// reads no clock (every input carries `now` on the shim's monotonic clock), starts no timer and
// runs no command; it answers each input with actions for the agent to carry out. The agent
// (node-shim/agent.ts) feeds it heartbeat replies, pushes, timer ticks and command results; the
// simulator (test/engine/sim.ts) feeds the very same class from a discrete-event schedule.
//
// Safety rules (README, "How it stays split-brain safe"):
// - A VIP is on this node only while a lease for its group is valid on the monotonic clock.
// - A lease ends at send time + ttl - margin; at that instant the VIP goes and the group is fenced.
// - `release` (switchover, drain, unhealthy) drops the VIP and fences first, then reports it.
// - Desired state older than an epoch already seen is ignored.
// - Failsafe: with the control plane unreachable, a held group is kept one TTL at a time only on
//   every peer's promise; a node with a live promise refuses the control plane's grants.
import type { DesiredGroup, DesiredState, GroupEpoch, HeartbeatReply, HeartbeatRequest, OperationResult, ProbeReport, PushedGrantsMessage } from "../../protocol/heartbeat.js";
import { type Lease, LeaseBook } from "./leases.js";

export const SHIM_VERSION = "0.1.0";

export type CoreLog = (msg: string, fields?: Record<string, unknown>) => void;

export interface CoreOptions {
  node: string;
  bootId: string;
  /** Subtracted from every lease on this node (covers the time to drop a VIP). */
  localLeaseMarginMs: number;
  /** This node has failsafe peers configured (the spec's policy.failsafe must be on too). */
  failsafe: boolean;
  log?: CoreLog;
}

/** How a heartbeat failed: no answer, a 5xx (control plane there but cannot decide), a 4xx, or a reply that is not the protocol. */
export type FailureKind = "unreachable" | "server-error" | "refused" | "bad-reply";

export type CoreAction =
  /** Make the node match what it holds now (VIPs, load balancing, appliers). */
  | { type: "reconcile" }
  /** Let go of a group now: VIP gone and fenced, then call released(). */
  | { type: "release"; group: DesiredGroup; epoch: number; why: string }
  /** A lease ran out: drop the VIP first (fast path), then reconcile and fence. */
  | { type: "expired"; group: DesiredGroup | null; name: string; epoch: number }
  /** Ask every failsafe peer to promise not to take `group` for `ttlMs` (control plane unreachable). */
  | { type: "ask-promises"; group: string; epoch: number; ttlMs: number; timeoutMs: number }
  /** Tell failsafe peers their promise for `group` is no longer needed. */
  | { type: "release-promises"; group: string }
  | { type: "heartbeat-now" }
  | { type: "sync-probes" }
  | { type: "run-operations" };

export interface PromiseAnswer {
  ok: boolean;
  status: 200 | 409;
  reason: string;
}

export class ShimCore {
  readonly leases: LeaseBook;
  private seq = 0;
  desired: DesiredState | null = null;
  /** Groups released (VIP gone, fenced) but not yet reported to the control plane. */
  private pendingReleased: GroupEpoch[] = [];
  private pendingOps: OperationResult[] = [];
  /** Groups fenced since their last lease, so fencing runs once per loss. */
  private fenced = new Set<string>();
  /** The desired group as last held: a group that left the desired state can still be dropped and fenced. */
  private everHeld = new Map<string, DesiredGroup>();
  private firstBeatDone = false;
  lastReplyAt: number | null = null;
  /** Groups kept on peers' promises right now (logged once per outage). */
  private keptOnPromises = new Set<string>();
  /** When each recent heartbeat was sent (seq -> shim clock): a pushed grant counts from one of them. */
  private readonly sent = new Map<number, number>();
  /** Per group, the highest epoch this node released: a grant for it can only be a late message. */
  private readonly releasedEpoch = new Map<string, number>();
  /** Promises this node gave: group -> holder and local expiry. */
  private readonly given = new Map<string, { holder: string; until: number }>();
  private readonly log: CoreLog;

  constructor(private readonly opts: CoreOptions) {
    this.leases = new LeaseBook(opts.localLeaseMarginMs);
    this.log = opts.log ?? (() => undefined);
  }

  get node(): string {
    return this.opts.node;
  }

  // ------------------------------------------------------------------ what the node holds

  /** Groups whose VIP this node should carry at `now`: role holder with a valid lease. */
  holding(now: number): DesiredGroup[] {
    return (this.desired?.groups ?? []).filter((g) => g.role === "holder" && this.leases.valid(g.name, now) !== null);
  }

  /** Every group whose interface this node may have touched (for reading back its labelled addresses). */
  knownGroups(): DesiredGroup[] {
    const out = new Map<string, DesiredGroup>();
    for (const g of this.everHeld.values()) out.set(g.name, g);
    for (const g of this.desired?.groups ?? []) out.set(g.name, g);
    return [...out.values()];
  }

  /** The group's spec as last known (desired state first, else as last held). */
  groupInfo(name: string): DesiredGroup | null {
    return this.desired?.groups.find((x) => x.name === name) ?? this.everHeld.get(name) ?? null;
  }

  /** Fence once per loss: the group to fence, or null when it was fenced already. */
  claimFence(name: string): DesiredGroup | null {
    if (this.fenced.has(name)) return null;
    this.fenced.add(name);
    return this.groupInfo(name);
  }

  /** The earliest instant at which tick() has something to do. */
  nextDeadline(): number | null {
    return this.leases.nextExpiry();
  }

  // ------------------------------------------------------------------ heartbeats

  /** The next heartbeat to send (probe results come from the agent's schedulers). */
  request(probes: Record<string, ProbeReport>, now: number): HeartbeatRequest {
    const seq = this.seq++;
    this.sent.set(seq, now);
    if (this.sent.size > 64) this.sent.delete(this.sent.keys().next().value!);
    return {
      bootId: this.opts.bootId,
      seq,
      probes,
      holding: this.leases.held(now).map((l) => ({ group: l.group, epoch: l.epoch })),
      released: [...this.pendingReleased],
      operations: [...this.pendingOps],
      shimVersion: SHIM_VERSION,
    };
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
    this.firstBeatDone = true;
    const actions: CoreAction[] = [];
    const desired = reply.desired;
    // Ignore groups whose epoch is older than one already seen (a reordered or stale reply).
    const groups = desired.groups.filter((g) => {
      const fresh = this.leases.observeEpoch(g.name, g.epoch);
      if (!fresh) this.log("stale desired state ignored", { group: g.name, epoch: g.epoch, seen: this.leases.epochSeen(g.name) });
      return fresh;
    });
    const prev = this.desired;
    this.desired = { ...desired, groups: groups.length === desired.groups.length ? desired.groups : mergeGroups(prev?.groups ?? [], groups) };
    for (const grant of reply.grants) {
      const promised = this.promisedTo(grant.group, now);
      if (promised !== null) {
        // This node promised the holder not to take the group while the control plane was away.
        this.log("grant refused: failsafe promise", { group: grant.group, epoch: grant.epoch, promisedTo: promised });
        continue;
      }
      const g = this.desired.groups.find((x) => x.name === grant.group);
      if (!g || g.role !== "holder") continue;
      if (grant.epoch <= (this.releasedEpoch.get(grant.group) ?? 0)) {
        // Released at this epoch already: a reordered message (a push behind an HTTP reply).
        this.log("grant for a released epoch ignored", { group: grant.group, epoch: grant.epoch });
        continue;
      }
      const r = this.leases.grant(grant.group, grant.epoch, grant.ttlMs, sentAt, now);
      if (r === "stale") this.log("stale grant ignored", { group: grant.group, epoch: grant.epoch, seen: this.leases.epochSeen(grant.group) });
      if (r === "granted") {
        this.fenced.delete(grant.group);
        this.everHeld.set(grant.group, g);
      }
    }
    for (const g of this.desired.groups) {
      const lease = this.leases.valid(g.name, now);
      if (!lease) continue;
      // Not the holder any more at a newer epoch, or told to release: let go now.
      if (g.role === "release" || (g.role === "standby" && g.epoch > lease.epoch)) actions.push(this.release(g, lease, g.role === "release" ? "control plane asked" : `group moved to ${g.holder} at epoch ${g.epoch}`));
    }
    actions.push({ type: "sync-probes" }, { type: "reconcile" }, { type: "run-operations" });
    return actions;
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
    if ((kind === "unreachable" || kind === "server-error") && this.opts.failsafe && d?.failsafe) {
      for (const l of this.leases.held(now)) actions.push({ type: "ask-promises", group: l.group, epoch: l.epoch, ttlMs: d.leaseTtlMs, timeoutMs: Math.min(1000, d.heartbeatIntervalMs) });
    }
    return actions;
  }

  /**
   * Every peer promised not to take `group` for `ttlMs`, asked at `askedAt`: keep the lease one
   * more TTL counted from the asking (minus the margin), if it is still ours at that epoch.
   */
  onPromised(group: string, epoch: number, ttlMs: number, askedAt: number, now: number): void {
    const still = this.leases.valid(group, now);
    if (!still || still.epoch !== epoch) return;
    this.leases.extend(group, epoch, askedAt + ttlMs - this.opts.localLeaseMarginMs, now);
    if (!this.keptOnPromises.has(group)) this.log("failsafe: control plane unreachable, keeping group on peers' promises", { group, epoch });
    this.keptOnPromises.add(group);
  }

  /** Desired state pushed over the watch socket: it never grants; it may only take away at once. */
  onPush(desired: DesiredState, now: number): CoreAction[] {
    const actions: CoreAction[] = [];
    for (const g of desired.groups) {
      const lease = this.leases.valid(g.name, now);
      if (lease && g.epoch >= lease.epoch && g.role === "release") actions.push(this.release(g, lease, "control plane asked"));
    }
    actions.push({ type: "heartbeat-now" });
    return actions;
  }

  /** Time passed: leases that ended. */
  onTick(now: number): CoreAction[] {
    const actions: CoreAction[] = [];
    for (const l of this.leases.expire(now)) {
      this.log("lease expired", { group: l.group, epoch: l.epoch, lastReplyAgoMs: this.lastReplyAt === null ? null : Math.round(now - this.lastReplyAt) });
      actions.push({ type: "expired", group: this.groupInfo(l.group), name: l.group, epoch: l.epoch });
    }
    return actions;
  }

  /** The agent carried out a release (VIP gone, fenced): report it in the next heartbeat. */
  released(group: string, epoch: number): CoreAction[] {
    this.pendingReleased.push({ group, epoch });
    return [{ type: "release-promises", group }, { type: "heartbeat-now" }];
  }

  operationFinished(result: OperationResult): CoreAction[] {
    this.pendingOps.push(result);
    return [{ type: "heartbeat-now" }];
  }

  /** Stopping: with `release`, drop every lease (the agent drops VIPs, fences and says so). */
  stop(release: boolean, now: number): CoreAction[] {
    if (!release) {
      this.leases.clear();
      return [];
    }
    return this.leases.held(now).map((l) => this.release(this.groupInfo(l.group), l, "shutdown"));
  }

  private release(g: DesiredGroup | null, lease: Lease, why: string): CoreAction {
    this.leases.drop(lease.group);
    this.releasedEpoch.set(lease.group, Math.max(lease.epoch, this.releasedEpoch.get(lease.group) ?? 0));
    this.log("releasing group", { group: lease.group, epoch: lease.epoch, why });
    return { type: "release", group: g ?? this.groupInfo(lease.group)!, epoch: lease.epoch, why };
  }

  // ------------------------------------------------------------------ failsafe promises this node gives

  /** A peer asks this node to promise not to take `group` for `ttlMs` (counted from now). */
  promiseRequest(from: string, group: string, epoch: number, ttlMs: number, now: number): PromiseAnswer {
    if (this.leases.valid(group, now)) return { ok: false, status: 409, reason: `${this.opts.node} holds ${group}` };
    const until = now + ttlMs;
    const prev = this.given.get(group);
    this.given.set(group, { holder: from, until: prev && prev.holder === from ? Math.max(prev.until, until) : until });
    if (!prev || prev.holder !== from) this.log("failsafe promise given", { group, to: from, epoch, ttlMs });
    return { ok: true, status: 200, reason: "promised" };
  }

  /** The holder let the group go: its promise ends now. */
  promiseReleased(from: string, group: string): void {
    if (this.given.get(group)?.holder === from) {
      this.given.delete(group);
      this.log("failsafe promise released", { group, by: from });
    }
  }

  /** The holder this node promised `group` to, while that promise lasts (then it must not take it). */
  promisedTo(group: string, now: number): string | null {
    const p = this.given.get(group);
    if (!p) return null;
    if (p.until <= now) {
      this.given.delete(group);
      return null;
    }
    return p.holder;
  }
}

function mergeGroups(prev: DesiredGroup[], fresh: DesiredGroup[]): DesiredGroup[] {
  const out = new Map(prev.map((g) => [g.name, g]));
  for (const g of fresh) out.set(g.name, g);
  return [...out.values()];
}
