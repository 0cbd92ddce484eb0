// The shim's control loop on one node: heartbeats carrying probe results, leases from the
// replies, and reconcilers that make the node match the desired state (VIPs, load balancing,
// data-service appliers, fencing, one-shot operations).
//
// Safety rules (DESIGN.md, "The lease protocol"):
// - A VIP is on this node only while a lease for its group is valid on the monotonic clock.
// - A lease ends at send time + ttl - margin; at that instant the VIP goes and the group is fenced.
// - `release` (switchover, drain, unhealthy) drops the VIP and fences first, then reports it.
// - Desired state older than an epoch already seen is ignored.
import { randomUUID } from "node:crypto";
import WebSocket from "ws";
import { type DesiredGroup, type DesiredState, type GroupEpoch, HeartbeatReply, type HeartbeatRequest, type OperationResult, type ProbeReport, WatchMessage } from "../protocol/heartbeat.js";
import type { ProbeSpec } from "../protocol/spec.js";
import { IpvsReconciler } from "./apply/lvs-ipvs.js";
import { NftablesReconciler } from "./apply/lvs-nftables.js";
import { virtualServices } from "./apply/lvs.js";
import { type ApplyContext, fenceHooksFor, groupAppliersFor, operationHandlerFor } from "./apply/types.js";
import { VipReconciler, type VipWanted } from "./apply/vip.js";
import type { CommandRunner } from "./command-runner.js";
import type { ShimConfig } from "./config.js";
import { type Clock, type Lease, LeaseTable, monotonic } from "./lease.js";
import { FailsafePeers } from "./failsafe.js";
import { HttpError, type HttpResponse, httpRequest } from "./http-client.js";
import { log } from "./log.js";
import { createProbe } from "./probes/index.js";
import { ProbeScheduler } from "./probes/scheduler.js";

export const SHIM_VERSION = "0.1.0";

export interface AgentOptions {
  config: ShimConfig;
  token: string;
  runner: CommandRunner;
  clock?: Clock;
}

export interface AgentSnapshot {
  node: string;
  connected: boolean;
  lastReplyAgoMs: number | null;
  leases: { group: string; epoch: number; remainingMs: number }[];
  probes: Record<string, ProbeReport>;
  desired: DesiredState | null;
  watchConnected: boolean;
}

export class ShimAgent {
  readonly bootId = randomUUID();
  private seq = 0;
  private desired: DesiredState | null = null;
  private readonly leases: LeaseTable;
  private readonly vip: VipReconciler;
  private readonly ipvs: IpvsReconciler;
  private readonly nft: NftablesReconciler;
  private readonly ctx: ApplyContext;
  private readonly clock: Clock;
  private probes = new Map<string, { key: string; scheduler: ProbeScheduler }>();
  /** Groups released (VIP gone, fenced) but not yet reported to the control plane. */
  private pendingReleased: GroupEpoch[] = [];
  private pendingOps: OperationResult[] = [];
  private startedOps = new Set<string>();
  /** Groups fenced since their last lease, so fencing runs once per loss. */
  private fenced = new Set<string>();
  private everHeld = new Map<string, DesiredGroup>();
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private again = false;
  private reconciling: Promise<void> = Promise.resolve();
  private stopped = true;
  private lastReplyAt: number | null = null;
  private ws: WebSocket | null = null;
  private wsBackoffMs = 500;
  private wsTimer: NodeJS.Timeout | null = null;
  private firstBeatDone = false;
  private readonly failsafe: FailsafePeers | null;
  /** Groups kept on peers' promises right now (reported once per outage). */
  private keptOnPromises = new Set<string>();

  constructor(private readonly opts: AgentOptions) {
    this.clock = opts.clock ?? monotonic;
    const cfg = opts.config;
    this.leases = new LeaseTable((l) => this.onLeaseExpired(l), this.clock, cfg.localLeaseMarginMs);
    this.vip = new VipReconciler(opts.runner, { reannounceMs: cfg.reannounceSeconds * 1000, arpCount: 2 });
    this.ipvs = new IpvsReconciler(opts.runner, { drainMs: cfg.lbDrainSeconds * 1000 });
    this.nft = new NftablesReconciler(opts.runner);
    this.ctx = { runner: opts.runner, settings: cfg.settings };
    this.failsafe = cfg.failsafe ? new FailsafePeers(cfg.failsafe, cfg.cluster, cfg.node, this.clock, (g) => this.leases.valid(g) !== null) : null;
  }

  private get base(): string {
    return `${this.opts.config.controlPlaneUrl.replace(/\/$/, "")}/v1/clusters/${encodeURIComponent(this.opts.config.cluster)}/nodes/${encodeURIComponent(this.opts.config.node)}`;
  }

  start(): void {
    this.stopped = false;
    log("shim started", { node: this.opts.config.node, cluster: this.opts.config.cluster, bootId: this.bootId, mode: this.opts.runner.mode, version: SHIM_VERSION });
    this.heartbeatNow();
    this.connectWatch();
    void this.failsafe?.start().catch((err: Error) => log("failsafe listener failed", { error: err.message }));
  }

  /** Stop the loop; with `release`, drop every VIP, fence, and tell the control plane. */
  async stop(release: boolean): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    if (this.wsTimer) clearTimeout(this.wsTimer);
    this.ws?.removeAllListeners();
    this.ws?.terminate();
    this.ws = null;
    await this.inFlight;
    await this.failsafe?.close();
    await Promise.all([...this.probes.values()].map((p) => p.scheduler.stop()));
    this.probes.clear();
    if (release) {
      const held = this.leases.held();
      for (const l of held) {
        this.leases.drop(l.group);
        this.pendingReleased.push({ group: l.group, epoch: l.epoch });
      }
      await this.enqueueReconcile();
      for (const l of held) {
        await this.fence(l.group, "shutdown");
        this.failsafe?.releaseAll(l.group);
      }
      if (held.length > 0) await this.sendHeartbeat(true).catch(() => undefined);
      log("shim stopped", { released: held.map((l) => l.group) });
    } else {
      this.leases.clear();
      log("shim stopped", { released: [] });
    }
  }

  snapshot(): AgentSnapshot {
    const probes: Record<string, ProbeReport> = {};
    for (const [g, p] of this.probes) probes[g] = p.scheduler.report();
    return {
      node: this.opts.config.node,
      connected: this.lastReplyAt !== null && this.clock() - this.lastReplyAt < (this.desired?.leaseTtlMs ?? 3000),
      lastReplyAgoMs: this.lastReplyAt === null ? null : Math.round(this.clock() - this.lastReplyAt),
      leases: this.leases.held().map((l) => ({ group: l.group, epoch: l.epoch, remainingMs: Math.round(l.validUntil - this.clock()) })),
      probes,
      desired: this.desired,
      watchConnected: this.ws?.readyState === WebSocket.OPEN,
    };
  }

  /** Send a heartbeat as soon as possible (probe change, push, release). */
  heartbeatNow(): void {
    if (this.stopped) return;
    if (this.inFlight) {
      this.again = true;
      return;
    }
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = null;
    this.inFlight = this.sendHeartbeat(false)
      .catch((err) => log("heartbeat failed", { error: (err as Error).message }))
      .finally(() => {
        this.inFlight = null;
        if (this.stopped) return;
        if (this.again) {
          this.again = false;
          this.heartbeatNow();
          return;
        }
        this.heartbeatTimer = setTimeout(() => this.heartbeatNow(), this.desired?.heartbeatIntervalMs ?? 1000);
      });
  }

  private buildRequest(): HeartbeatRequest {
    const probes: Record<string, ProbeReport> = {};
    for (const [g, p] of this.probes) if (p.scheduler.hasResult) probes[g] = p.scheduler.report();
    return {
      bootId: this.bootId,
      seq: this.seq++,
      probes,
      holding: this.leases.held().map((l) => ({ group: l.group, epoch: l.epoch })),
      released: [...this.pendingReleased],
      operations: [...this.pendingOps],
      shimVersion: SHIM_VERSION,
    };
  }

  private async sendHeartbeat(final: boolean): Promise<void> {
    const body = this.buildRequest();
    const interval = this.desired?.heartbeatIntervalMs ?? 1000;
    const timeoutMs = this.opts.config.heartbeatTimeoutMs ?? Math.max(200, Math.round(interval * 0.8));
    const sentAt = this.clock();
    let res: HttpResponse;
    try {
      res = await httpRequest(`${this.base}/heartbeat`, {
        method: "POST",
        headers: { authorization: `Bearer ${this.opts.token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      await this.onHeartbeatFailure();
      void this.keepOnPromises();
      throw new Error(`control plane unreachable: ${err instanceof HttpError ? (err.code === "aborted" ? `no reply within ${timeoutMs} ms` : err.code) : (err as Error).message}`);
    }
    const text = res.text;
    if (res.status < 200 || res.status > 299) {
      await this.onHeartbeatFailure();
      // 5xx: the control plane is there but cannot decide (restarting); a 4xx is a real refusal.
      if (res.status >= 500) void this.keepOnPromises();
      throw new Error(`heartbeat refused: ${res.status} ${text.slice(0, 300)}`);
    }
    const parsed = HeartbeatReply.safeParse(JSON.parse(text));
    if (!parsed.success) throw new Error(`heartbeat reply does not match the protocol: ${parsed.error.message.slice(0, 300)}`);
    this.lastReplyAt = this.clock();
    if (this.keptOnPromises.size) log("failsafe over: control plane answers again", { groups: [...this.keptOnPromises] });
    this.keptOnPromises.clear();
    // What we reported is now known to the control plane.
    this.pendingReleased = this.pendingReleased.filter((r) => !body.released.some((b) => b.group === r.group && b.epoch === r.epoch));
    this.pendingOps = this.pendingOps.filter((o) => !body.operations.some((b) => b.id === o.id));
    if (final) return;
    this.onReply(parsed.data, sentAt);
  }

  private async onHeartbeatFailure(): Promise<void> {
    // Never reached the control plane since start: VIPs left from an earlier run cannot be adopted.
    if (!this.firstBeatDone) {
      this.firstBeatDone = true;
      await this.enqueueReconcile();
    }
  }

  /**
   * Failsafe: the control plane did not answer. Keep each held group one more TTL, counted from
   * now, only if every peer promises not to take it; otherwise the lease runs out as usual.
   */
  private async keepOnPromises(): Promise<void> {
    const d = this.desired;
    if (!this.failsafe || !d?.failsafe || this.stopped) return;
    for (const l of this.leases.held()) {
      const sentAt = this.clock();
      const ok = await this.failsafe.askAll(l.group, l.epoch, d.leaseTtlMs, Math.min(1000, d.heartbeatIntervalMs));
      const still = this.leases.valid(l.group);
      if (!ok || !still || still.epoch !== l.epoch) continue;
      this.leases.grant(l.group, l.epoch, d.leaseTtlMs, sentAt);
      if (!this.keptOnPromises.has(l.group)) log("failsafe: control plane unreachable, keeping group on peers' promises", { group: l.group, epoch: l.epoch });
      this.keptOnPromises.add(l.group);
    }
  }

  private onReply(reply: HeartbeatReply, sentAt: number): void {
    this.firstBeatDone = true;
    const desired = reply.desired;
    // Ignore groups whose epoch is older than one already seen (a reordered or stale reply).
    const groups = desired.groups.filter((g) => {
      const fresh = this.leases.observeEpoch(g.name, g.epoch);
      if (!fresh) log("stale desired state ignored", { group: g.name, epoch: g.epoch, seen: this.leases.epochSeen(g.name) });
      return fresh;
    });
    const prev = this.desired;
    this.desired = { ...desired, groups: groups.length === desired.groups.length ? desired.groups : mergeGroups(prev?.groups ?? [], groups) };
    for (const grant of reply.grants) {
      const promised = this.failsafe?.promisedTo(grant.group) ?? null;
      if (promised !== null) {
        // This node promised the holder not to take the group while the control plane was away.
        log("grant refused: failsafe promise", { group: grant.group, epoch: grant.epoch, promisedTo: promised });
        continue;
      }
      const g = this.desired.groups.find((x) => x.name === grant.group);
      if (g && g.role === "holder" && this.leases.grant(grant.group, grant.epoch, grant.ttlMs, sentAt)) {
        this.fenced.delete(grant.group);
        this.everHeld.set(grant.group, g);
      }
    }
    for (const g of this.desired.groups) {
      const lease = this.leases.valid(g.name);
      if (!lease) continue;
      // Not the holder any more at a newer epoch, or told to release: let go now.
      if (g.role === "release" || (g.role === "standby" && g.epoch > lease.epoch)) this.release(g, lease);
    }
    this.syncProbes();
    void this.enqueueReconcile();
    this.runOperations();
  }

  private release(g: DesiredGroup, lease: Lease): void {
    this.leases.drop(g.name);
    log("releasing group", { group: g.name, epoch: lease.epoch, why: g.role === "release" ? "control plane asked" : `group moved to ${g.holder} at epoch ${g.epoch}` });
    void this.enqueueReconcile().then(async () => {
      await this.fence(g.name, "release");
      this.failsafe?.releaseAll(g.name);
      this.pendingReleased.push({ group: g.name, epoch: lease.epoch });
      this.heartbeatNow();
    });
  }

  private onLeaseExpired(lease: Lease): void {
    log("lease expired", { group: lease.group, epoch: lease.epoch, lastReplyAgoMs: this.lastReplyAt === null ? null : Math.round(this.clock() - this.lastReplyAt) });
    // Fast path first: the VIP of this group goes before anything else runs.
    const g = this.desired?.groups.find((x) => x.name === lease.group) ?? this.everHeld.get(lease.group);
    const fast = g ? this.vip.remove({ vip: g.vip, prefix: g.prefix, iface: this.iface(g) }).catch((err) => log("vip removal failed", { error: String(err) })) : Promise.resolve();
    void fast
      .then(() => this.enqueueReconcile())
      .then(() => this.fence(lease.group, "lease expired"))
      .then(() => this.failsafe?.releaseAll(lease.group));
  }

  private async fence(group: string, why: string): Promise<void> {
    if (this.fenced.has(group)) return;
    this.fenced.add(group);
    const g = this.desired?.groups.find((x) => x.name === group) ?? this.everHeld.get(group);
    if (!g) return;
    for (const hook of fenceHooksFor(g.mode)) {
      try {
        await hook(g, this.ctx);
        log("fenced", { group, mode: g.mode, why });
      } catch (err) {
        log("fence failed", { group, mode: g.mode, why, error: (err as Error).message });
      }
    }
  }

  private iface(g: DesiredGroup): string {
    return this.opts.config.interface ?? g.interface;
  }

  /** Reconcile runs one at a time; callers may await the run that includes their change. */
  enqueueReconcile(): Promise<void> {
    this.reconciling = this.reconciling.then(() => this.reconcile()).catch((err) => log("reconcile failed", { error: (err as Error).message }));
    return this.reconciling;
  }

  private async reconcile(): Promise<void> {
    const groups = this.desired?.groups ?? [];
    const holding = groups.filter((g) => g.role === "holder" && this.leases.valid(g.name) !== null);
    const wanted: VipWanted[] = holding.map((g) => ({ vip: g.vip, prefix: g.prefix, iface: this.iface(g) }));
    const ifaces = new Set<string>(groups.map((g) => this.iface(g)));
    for (const g of this.everHeld.values()) ifaces.add(this.iface(g));
    if (this.opts.config.interface) ifaces.add(this.opts.config.interface);
    // Load balancing only on the director, only while it holds the VIP.
    const lbGroups = groups.filter((g) => g.mode === "active-active-lb");
    const backends = new Set(lbGroups.map((g) => g.lb?.backend ?? "nftables"));
    const services = virtualServices(holding);
    const nftServices = services.filter((s) => holding.find((g) => g.name === s.group)?.lb?.backend === "nftables");
    const ipvsServices = services.filter((s) => holding.find((g) => g.name === s.group)?.lb?.backend === "ipvs");
    // Reading the kernel's state costs a process per table: do it when what we want changed, and
    // every resyncSeconds to repair drift. A lease expiry removes its VIP directly (fast path).
    const key = JSON.stringify([wanted, [...ifaces], nftServices, ipvsServices]);
    const now = this.clock();
    if (key !== this.appliedKey || now - this.appliedAt >= this.opts.config.resyncSeconds * 1000) {
      await this.vip.reconcile(wanted, [...ifaces]);
      if (backends.has("nftables") || this.nftUsed) {
        this.nftUsed = true;
        await this.nft.reconcile(nftServices);
      }
      if (backends.has("ipvs") || this.ipvsUsed) {
        this.ipvsUsed = true;
        await this.ipvs.reconcile(ipvsServices);
      }
      // Only a complete pass counts as applied: a throw above leaves the key stale, so the next
      // reconcile tries again.
      this.appliedKey = key;
      this.appliedAt = now;
    }
    for (const g of groups) {
      for (const apply of groupAppliersFor(g.mode)) {
        try {
          await apply(g, holding.includes(g), this.ctx);
        } catch (err) {
          log("apply failed", { group: g.name, mode: g.mode, error: (err as Error).message });
        }
      }
    }
  }
  private nftUsed = false;
  private ipvsUsed = false;
  /** What the VIP/LB reconcilers last applied completely, and when. */
  private appliedKey: string | null = null;
  private appliedAt = -Infinity;

  private runOperations(): void {
    for (const op of this.desired?.operations ?? []) {
      if (this.startedOps.has(op.id)) continue;
      this.startedOps.add(op.id);
      const handler = operationHandlerFor(op.kind);
      log("operation started", { id: op.id, kind: op.kind });
      const run = handler ? handler(op, this.ctx) : Promise.resolve({ ok: false, detail: `this shim cannot run '${op.kind}'` });
      void run
        .catch((err: Error) => ({ ok: false, detail: `failed: ${err.message}` }))
        .then((r) => {
          log("operation finished", { id: op.id, kind: op.kind, ok: r.ok, detail: r.detail });
          this.pendingOps.push({ id: op.id, ok: r.ok, detail: r.detail });
          this.heartbeatNow();
        });
    }
  }

  /** Probes follow the desired state: one scheduler per member group (config may override). */
  private syncProbes(): void {
    const want = new Map<string, ProbeSpec>();
    for (const g of this.desired?.groups ?? []) if (g.member) want.set(g.name, this.opts.config.probes[g.name] ?? g.probe);
    for (const [name, spec] of Object.entries(this.opts.config.probes)) if (!want.has(name)) want.set(name, spec);
    for (const [name, p] of this.probes) {
      const spec = want.get(name);
      if (!spec || JSON.stringify(spec) !== p.key) {
        void p.scheduler.stop();
        this.probes.delete(name);
      }
    }
    for (const [name, spec] of want) {
      if (this.probes.has(name)) continue;
      const probe = createProbe(spec, { host: this.opts.config.probeHost, runner: this.opts.runner, settings: this.opts.config.settings });
      const scheduler = new ProbeScheduler(name, spec, probe, () => this.heartbeatNow());
      this.probes.set(name, { key: JSON.stringify(spec), scheduler });
      scheduler.start();
    }
  }

  private connectWatch(): void {
    if (this.stopped) return;
    const url = `${this.base.replace(/^http/, "ws")}/watch`;
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${this.opts.token}` }, handshakeTimeout: 5000 });
    this.ws = ws;
    ws.on("open", () => {
      this.wsBackoffMs = 500;
      log("watch connected", {});
    });
    ws.on("message", (data) => {
      const parsed = WatchMessage.safeParse(safeJson(String(data)));
      if (!parsed.success) return;
      if (parsed.data.type === "desired") {
        // A push never grants; it may only take away (release) at once, then we heartbeat.
        for (const g of parsed.data.desired.groups) {
          const lease = this.leases.valid(g.name);
          if (lease && g.epoch >= lease.epoch && g.role === "release") this.release(g, lease);
        }
      }
      this.heartbeatNow();
    });
    const retry = (why: string) => {
      if (this.stopped || this.ws !== ws) return;
      this.ws = null;
      // Exponential backoff with full jitter, capped.
      const wait = Math.round(Math.random() * this.wsBackoffMs);
      this.wsBackoffMs = Math.min(30_000, this.wsBackoffMs * 2);
      log("watch disconnected", { why, retryInMs: wait });
      this.wsTimer = setTimeout(() => this.connectWatch(), wait);
    };
    ws.on("close", (code) => retry(`closed ${code}`));
    ws.on("error", (err) => {
      ws.terminate();
      retry(err.message);
    });
  }
}

function mergeGroups(prev: DesiredGroup[], fresh: DesiredGroup[]): DesiredGroup[] {
  const out = new Map(prev.map((g) => [g.name, g]));
  for (const g of fresh) out.set(g.name, g);
  return [...out.values()];
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
