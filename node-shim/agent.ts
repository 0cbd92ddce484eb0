// The shim on one node: the glue between the pure core (core/shim-core.ts: what to hold, when to
// let go, what to report), the transport to the control plane (transport/), timers, and the
// commands that carry the core's decisions out (reconcile.ts, run-operations.ts, failsafe.ts).
// Nothing here decides about leases: every input goes to the core, every action comes from it.
import { randomUUID } from "node:crypto";
import type { DesiredGroup, DesiredState, HeartbeatRequest, ProbeReport } from "../protocol/heartbeat.js";
import type { ProbeSpec } from "../protocol/spec.js";
import type { CommandRunner } from "./command-runner.js";
import type { ShimConfig } from "./config.js";
import { type CoreAction, SHIM_VERSION, ShimCore } from "./core/shim-core.js";
import { FailsafePeers } from "./failsafe.js";
import { type Clock, monotonic } from "./clock.js";
import { log } from "./log.js";
import { createProbe } from "./probes/index.js";
import { ProbeScheduler } from "./probes/scheduler.js";
import { NodeReconciler, type ReconcileInput } from "./reconcile.js";
import { OperationsRunner } from "./run-operations.js";
import { VipObserver } from "./shadow-observer.js";
import { HttpTransport } from "./transport/http.js";
import type { ControlPlaneTransport } from "./transport/types.js";
import { WebSocketTransport } from "./transport/websocket.js";

export { SHIM_VERSION };

export interface AgentOptions {
  config: ShimConfig;
  /** The node token, or a function giving the current one (re-read after a rotation). */
  token: string | (() => string);
  runner: CommandRunner;
  clock?: Clock;
  /** Default: as the config says (heartbeats on the watch socket, or HTTP POSTs). */
  transport?: ControlPlaneTransport;
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
  readonly core: ShimCore;
  private readonly clock: Clock;
  private readonly transport: ControlPlaneTransport;
  private readonly reconciler: NodeReconciler;
  private readonly operations: OperationsRunner;
  private readonly failsafe: FailsafePeers | null;
  /** Shadow mode: the VIPs the HA system in place has on this host. */
  private readonly observer: VipObserver;
  private probes = new Map<string, { key: string; scheduler: ProbeScheduler }>();
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private deadlineTimer: NodeJS.Timeout | null = null;
  private deadlineAt: number | null = null;
  private inFlight: Promise<void> | null = null;
  private again = false;
  private stopped = true;
  /** Leases (group@epoch) the last heartbeat reported in `holding`. */
  private reported = new Set<string>();

  constructor(private readonly opts: AgentOptions) {
    this.clock = opts.clock ?? monotonic;
    const cfg = opts.config;
    this.core = new ShimCore({ node: cfg.node, bootId: this.bootId, localLeaseMarginMs: cfg.localLeaseMarginMs, failsafe: cfg.failsafe !== undefined, log });
    const where = { controlPlaneUrl: cfg.controlPlaneUrl, cluster: cfg.cluster, node: cfg.node, token: opts.token };
    this.transport = opts.transport ?? (cfg.transport === "websocket" ? new WebSocketTransport(where) : new HttpTransport(where));
    this.observer = new VipObserver(opts.runner, this.clock, () => this.heartbeatNow(), cfg.resyncSeconds * 1000);
    this.reconciler = new NodeReconciler(opts.runner, cfg, this.clock);
    this.operations = new OperationsRunner(this.reconciler.ctx, (r) => this.perform(this.core.operationFinished(r)));
    this.failsafe = cfg.failsafe
      ? new FailsafePeers(cfg.failsafe, cfg.cluster, cfg.node, {
          promise: (from, group, epoch, ttlMs) => this.core.promiseRequest(from, group, epoch, ttlMs, this.clock()),
          release: (from, group) => this.core.promiseReleased(from, group),
        })
      : null;
  }

  start(): void {
    this.stopped = false;
    log("shim started", { node: this.opts.config.node, cluster: this.opts.config.cluster, bootId: this.bootId, mode: this.opts.runner.mode, version: SHIM_VERSION });
    this.heartbeatNow();
    this.transport.start({
      desired: (d) => this.perform(this.core.onPush(d, this.clock())),
      nudge: () => this.heartbeatNow(),
      grants: (p) => this.perform(this.core.onPushedGrants(p, this.clock())),
    });
    void this.failsafe?.start().catch((err: Error) => log("failsafe listener failed", { error: err.message }));
  }

  /** Stop the loop; with `release`, drop every VIP, fence, and tell the control plane. */
  async stop(release: boolean): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    await this.transport.stop();
    this.observer.stop();
    await this.inFlight;
    await this.failsafe?.close();
    await Promise.all([...this.probes.values()].map((p) => p.scheduler.stop()));
    this.probes.clear();
    const actions = this.core.stop(release, this.clock());
    const groups = actions.flatMap((a) => (a.type === "release" ? [a] : []));
    if (groups.length > 0) {
      await this.enqueueReconcile();
      for (const a of groups) {
        const g = a.group.shadow ? null : this.core.claimFence(a.group.name);
        if (g) await this.reconciler.fence(g, "shutdown");
        this.core.released(a.group.name, a.epoch);
        this.failsafe?.releaseAll(a.group.name);
      }
      await this.sendHeartbeat(true);
    }
    log("shim stopped", { released: groups.map((a) => a.group.name) });
  }

  snapshot(): AgentSnapshot {
    const now = this.clock();
    const probes: Record<string, ProbeReport> = {};
    for (const [g, p] of this.probes) probes[g] = p.scheduler.report();
    const last = this.core.lastReplyAt;
    return {
      node: this.opts.config.node,
      connected: last !== null && now - last < (this.core.desired?.leaseTtlMs ?? 3000),
      lastReplyAgoMs: last === null ? null : Math.round(now - last),
      leases: this.core.leases.held(now).map((l) => ({ group: l.group, epoch: l.epoch, remainingMs: Math.round(l.validUntil - now) })),
      probes,
      desired: this.core.desired,
      watchConnected: this.transport.pushConnected,
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
    this.inFlight = this.sendHeartbeat(false).finally(() => {
      this.inFlight = null;
      if (this.stopped) return;
      if (this.again) {
        this.again = false;
        this.heartbeatNow();
        return;
      }
      this.heartbeatTimer = setTimeout(() => this.heartbeatNow(), this.core.desired?.heartbeatIntervalMs ?? 1000);
    });
  }

  private async sendHeartbeat(final: boolean): Promise<void> {
    const probes: Record<string, ProbeReport> = {};
    for (const [g, p] of this.probes) if (p.scheduler.hasResult) probes[g] = p.scheduler.report();
    const sentAt = this.clock();
    const req: HeartbeatRequest = this.core.request(probes, sentAt);
    const shadow = this.shadowGroups();
    if (shadow.length) req.observed = this.observer.observed(sentAt);
    this.reported = new Set(req.holding.map((h) => `${h.group}@${h.epoch}`));
    const interval = this.core.desired?.heartbeatIntervalMs ?? 1000;
    const timeoutMs = this.opts.config.heartbeatTimeoutMs ?? Math.max(200, Math.round(interval * 0.8));
    const out = await this.transport.heartbeat(req, timeoutMs);
    if (!out.ok) {
      log("heartbeat failed", { error: out.detail });
      if (!final) this.perform(this.core.onFailure(out.kind, this.clock()));
      return;
    }
    this.perform(this.core.onReply(req, out.reply, sentAt, this.clock(), final));
  }

  /** Carry out the core's actions, then re-arm the one timer at the core's next deadline. */
  private perform(actions: CoreAction[]): void {
    for (const a of actions) {
      switch (a.type) {
        case "reconcile": {
          // Groups taken since the last heartbeat: say so as soon as what serves them is in place
          // (the control plane's availability ledger counts a group down until its new holder reports it).
          const taken = this.core.leases.held(this.clock()).filter((l) => !this.reported.has(`${l.group}@${l.epoch}`));
          void this.enqueueReconcile(taken.length ? { groups: taken.map((l) => l.group), served: () => this.heartbeatNow() } : undefined);
          break;
        }
        case "heartbeat-now":
          this.heartbeatNow();
          break;
        case "sync-probes":
          this.syncProbes();
          this.observer.watch(this.shadowGroups().map((g) => ({ name: g.name, vip: g.vip })));
          break;
        case "run-operations":
          this.operations.run(this.core.desired?.operations ?? []);
          break;
        case "release":
          // Shadow mode acts on nothing: nothing to remove, nothing to fence; say so at once.
          if (a.group.shadow) {
            this.perform(this.core.released(a.group.name, a.epoch));
            break;
          }
          void this.enqueueReconcile().then(async () => {
            const g = this.core.claimFence(a.group.name);
            if (g) await this.reconciler.fence(g, "release");
            this.perform(this.core.released(a.group.name, a.epoch));
          });
          break;
        case "expired": {
          if (a.group?.shadow) break;
          // Fast path first: the VIP of this group goes before anything else runs.
          const fast = a.group ? this.reconciler.removeVip(a.group).catch((err) => log("vip removal failed", { error: String(err) })) : Promise.resolve();
          void fast
            .then(() => this.enqueueReconcile())
            .then(async () => {
              const g = this.core.claimFence(a.name);
              if (g) await this.reconciler.fence(g, "lease expired");
            })
            .then(() => this.failsafe?.releaseAll(a.name));
          break;
        }
        case "ask-promises":
          void this.askPromises(a.group, a.epoch, a.ttlMs, a.timeoutMs);
          break;
        case "release-promises":
          this.failsafe?.releaseAll(a.group);
          break;
      }
    }
    this.armDeadline();
  }

  private async askPromises(group: string, epoch: number, ttlMs: number, timeoutMs: number): Promise<void> {
    if (!this.failsafe || this.stopped) return;
    const askedAt = this.clock();
    const ok = await this.failsafe.askAll(group, epoch, ttlMs, timeoutMs);
    if (ok) this.core.onPromised(group, epoch, ttlMs, askedAt, this.clock());
    this.armDeadline();
  }

  private armDeadline(): void {
    const at = this.core.nextDeadline();
    if (at === this.deadlineAt && this.deadlineTimer) return;
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = null;
    this.deadlineAt = at;
    if (at === null || this.stopped) return;
    // Timers may fire a millisecond early: the core checks the time itself, and we re-arm.
    this.deadlineTimer = setTimeout(() => {
      this.deadlineTimer = null;
      this.deadlineAt = null;
      this.perform(this.core.onTick(this.clock()));
    }, Math.max(1, Math.ceil(at - this.clock())));
  }

  /** Reconcile runs one at a time; callers may await the run that includes their change. */
  enqueueReconcile(taken?: ReconcileInput["taken"]): Promise<void> {
    // Shadow groups are the HA system in place's business: no VIP, no table, no applier for them.
    const acting = (gs: DesiredGroup[]) => gs.filter((g) => !g.shadow);
    return this.reconciler.enqueue(() => ({ groups: acting(this.core.desired?.groups ?? []), holding: acting(this.core.holding(this.clock())), known: acting(this.core.knownGroups()), ...(taken ? { taken } : {}) }));
  }

  /** Groups in shadow mode on this node (desired state, v3). */
  private shadowGroups(): DesiredGroup[] {
    return (this.core.desired?.groups ?? []).filter((g) => g.shadow && g.member);
  }

  /** Probes follow the desired state: one scheduler per member group (config may override). */
  private syncProbes(): void {
    const want = new Map<string, ProbeSpec>();
    for (const g of this.core.desired?.groups ?? []) if (g.member) want.set(g.name, this.opts.config.probes[g.name] ?? g.probe);
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
}
