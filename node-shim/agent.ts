// The shim on one node: the glue between the pure core (core/shim-core.ts: what to hold, when to
// let go, what the kernel must have, what to report), the transport to the control plane
// (transport/), timers, and the executors that carry the core's actions out (apply/vip.ts for
// VIPs and the kernel lease filter, reconcile.ts for load balancing and appliers, fence hooks,
// run-operations.ts, failsafe.ts). Nothing here decides about leases: every input goes to the
// core, every action comes from it.
import { randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdir, open, rename } from "node:fs/promises";
import { join } from "node:path";
import type { DesiredGroup, DesiredState, HeartbeatRequest, ProbeReport } from "../protocol/heartbeat.js";
import type { ProbeSpec } from "../protocol/spec.js";
import { VipExecutor } from "./apply/vip.js";
import { type Clock, monotonic } from "./clock.js";
import type { CommandRunner } from "./command-runner.js";
import type { ShimConfig } from "./config.js";
import type { KernelOp } from "./core/kernel.js";
import type { Clocks } from "./core/promises.js";
import { type CoreAction, type DurableState, SHIM_VERSION, ShimCore } from "./core/shim-core.js";
import { FailsafePeers } from "./failsafe.js";
import { log } from "./log.js";
import { LimitGuard } from "./limits.js";
import { OutageTracker } from "./outage.js";
import { createProbe } from "./probes/index.js";
import { ProcessWatch } from "./probes/process-watch.js";
import { ProbeScheduler } from "./probes/scheduler.js";
import { NodeReconciler, type ReconcileInput } from "./reconcile.js";
import { OperationsRunner } from "./run-operations.js";
import { SdNotify } from "./sd-notify.js";
import { VipObserver } from "./shadow-observer.js";
import { VipAnswerChecks } from "./vip-answers.js";
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
  /** How long stop(true) waits for VIPs to be verified gone and fenced before it reports anyway. */
  stopTimeoutMs?: number;
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

/** The host's boot clock (CLOCK_MONOTONIC: survives a restart of the shim, not of the host). */
function bootClock(): { id: string; ms: number } {
  let id = "unknown";
  try {
    id = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    // not Linux: the wall clock is used for stored promises
  }
  return { id, ms: Number(process.hrtime.bigint() / 1000n) / 1000 };
}

export class ShimAgent {
  readonly bootId = randomUUID();
  readonly core: ShimCore;
  private readonly clock: Clock;
  private readonly transport: ControlPlaneTransport;
  private readonly vips: VipExecutor;
  private readonly reconciler: NodeReconciler;
  private readonly operations: OperationsRunner;
  private readonly failsafe: FailsafePeers;
  private readonly outage = new OutageTracker();
  private readonly limits: LimitGuard;
  private readonly notify: SdNotify;
  /** Shadow mode: the VIPs the HA system in place has on this host. */
  private readonly observer: VipObserver;
  private readonly vipChecks: VipAnswerChecks;
  private probes = new Map<string, { key: string; scheduler: ProbeScheduler; watch: ProcessWatch | null }>();
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private deadlineTimer: NodeJS.Timeout | null = null;
  private deadlineAt: number | null = null;
  private inFlight: Promise<void> | null = null;
  /** The state file writes, one at a time (saveState). */
  private saving: Promise<void> = Promise.resolve();
  private again = false;
  private stopped = true;
  /** Leases (group@epoch) the last heartbeat reported in `holding`. */
  private reported = new Set<string>();
  private lastBeatStartedAt = 0;
  private readonly stateFile: string;
  /** The failsafe listen address and keys the control plane gave (a restart during an outage needs them). */
  private readonly failsafeFile: string;

  constructor(private readonly opts: AgentOptions) {
    this.clock = opts.clock ?? monotonic;
    const cfg = opts.config;
    this.core = new ShimCore({
      node: cfg.node,
      cluster: cfg.cluster,
      bootId: this.bootId,
      localLeaseMarginMs: cfg.localLeaseMarginMs,
      // Failsafe needs no config (the control plane gives this node's IP and the keys): it is
      // used whenever the desired state has it on.
      failsafe: true,
      iface: cfg.interface,
      reannounceMs: cfg.reannounceSeconds * 1000,
      resyncMs: cfg.resyncSeconds * 1000,
      log,
    });
    const where = { controlPlaneUrl: cfg.controlPlaneUrl, cluster: cfg.cluster, node: cfg.node, token: opts.token };
    this.transport = opts.transport ?? (cfg.transport === "websocket" ? new WebSocketTransport(where) : new HttpTransport(where));
    this.observer = new VipObserver(opts.runner, this.clock, () => this.heartbeatNow(), cfg.resyncSeconds * 1000);
    this.vips = new VipExecutor(opts.runner, { arpCount: 2 });
    const holds = (group: string) => this.core.holds(group, this.clock());
    this.vipChecks = new VipAnswerChecks(this.clock, holds);
    this.reconciler = new NodeReconciler(opts.runner, cfg, this.clock, holds);
    this.limits = new LimitGuard(cfg.limits, cfg.interface, log);
    this.operations = new OperationsRunner(
      this.reconciler.ctx,
      (r) => this.perform(this.core.operationFinished(r)),
      (op) => {
        // Local limits first: what this host's config does not allow never runs.
        const refused = this.limits.mayRun(op);
        if (refused) return refused;
        // Fencing and evacuation are the chime-server holder's job: only while it holds.
        if (op.kind !== "fence-ipmi" && op.kind !== "fence-webhook" && op.kind !== "evacuate") return null;
        const held = this.core.holding(this.clock()).filter((g) => g.mode === "active-standby");
        return held.length ? null : "this node holds no active-standby group any more";
      },
    );
    this.failsafe = new FailsafePeers(cfg.failsafe, cfg.cluster, cfg.node, (req) => this.answerPeer(req));
    this.notify = new SdNotify(opts.runner);
    this.stateFile = join(cfg.stateDir, "state.json");
    this.failsafeFile = join(cfg.stateDir, "failsafe.json");
  }

  private clocks(): Clocks {
    return { now: this.clock(), wall: Date.now(), boot: bootClock() };
  }

  start(): void {
    this.stopped = false;
    this.loadState();
    log("shim started", { node: this.opts.config.node, cluster: this.opts.config.cluster, bootId: this.bootId, mode: this.opts.runner.mode, version: SHIM_VERSION });
    this.heartbeatNow();
    this.perform(this.core.tick(this.clock()));
    this.transport.start({
      desired: (d) => this.perform(this.core.onPush(this.limits.filterDesired(d), this.clock())),
      nudge: () => this.heartbeatNow(),
      grants: (p) => this.perform(this.core.onPushedGrants(this.limits.filter(p), this.clock())),
    });
    this.startFailsafe();
    // The watchdog hears from us only while heartbeats keep starting (a stuck loop gets restarted).
    this.notify.start(() => this.clock() - this.lastBeatStartedAt < 3 * (this.core.desired?.heartbeatIntervalMs ?? 1000) + 5000);
  }

  /**
   * Stop the loop. With `release` ("stop means go", SIGTERM): drop every VIP (verified gone) and
   * fence, tell the control plane, and say this node is leaving so it is not granted again until
   * a new process starts. Without: the leases simply run out (the kernel ends them).
   */
  async stop(release: boolean, opts: { handover?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    if (opts.handover && !release) await this.renewForHandover();
    await this.transport.stop();
    this.observer.stop();
    this.vipChecks.stop();
    await this.inFlight;
    await this.notify.stop();
    await this.failsafe.close();
    for (const p of this.probes.values()) p.watch?.stop();
    await Promise.all([...this.probes.values()].map((p) => p.scheduler.stop()));
    this.probes.clear();
    const held = this.core.leases.held(this.clock()).map((l) => l.group);
    this.perform(this.core.stop(release, this.clock()), true);
    if (release) {
      const deadline = this.clock() + (this.opts.stopTimeoutMs ?? 8000);
      while (!this.core.releasesSettled() && this.clock() < deadline) {
        await new Promise((r) => setTimeout(r, 10));
        this.perform(this.core.tick(this.clock()), true);
      }
      await this.sendHeartbeat(true);
    }
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    await this.saving;
    this.vips.close();
    log("shim stopped", { released: release ? held : [], settled: this.core.releasesSettled() });
  }

  /**
   * Upgrade handover: one more renewal right before this process goes (a heartbeat, and the
   * kernel's lease element renewed from its reply), so the next process has a whole lease
   * (send + TTL - margin) to start and renew in its turn; the lease element never outlives it.
   */
  private async renewForHandover(): Promise<void> {
    await this.inFlight;
    if (this.core.leases.held(this.clock()).length === 0) return;
    const probes: Record<string, ProbeReport> = {};
    for (const [g, p] of this.probes) if (p.scheduler.hasResult) probes[g] = p.scheduler.report();
    const sentAt = this.clock();
    const req = this.core.request(probes, sentAt, Date.now());
    const interval = this.core.desired?.heartbeatIntervalMs ?? 1000;
    const out = await this.transport.heartbeat(req, this.opts.config.heartbeatTimeoutMs ?? Math.max(200, Math.round(interval * 0.8)));
    if (!out.ok) return;
    this.perform(this.core.onReply(req, out.reply, sentAt, this.clock()), true);
    const deadline = this.clock() + 500;
    while (this.core.kernel.busy && this.clock() < deadline) await new Promise((r) => setTimeout(r, 2));
    log("handover: lease renewed for the next process", { held: this.core.leases.held(this.clock()).map((l) => `${l.group}@${l.epoch}`) });
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
    this.lastBeatStartedAt = sentAt;
    const req: HeartbeatRequest = this.core.request(probes, sentAt, Date.now());
    // A control-plane outage as this node saw it, until a heartbeat gets through (outage.ts).
    const heldNow = new Set(req.holding.map((h) => h.group));
    this.outage.sync(heldNow, sentAt);
    const outage = this.outage.report(sentAt);
    if (outage) req.outage = outage;
    // Load balancing and appliers that keep failing (the VIP's own failures come from the core).
    const applyErrors = [...(req.applyErrors ?? []), ...this.reconciler.applyErrors()].slice(0, 32);
    if (applyErrors.length) req.applyErrors = applyErrors;
    // What this node's local limits allow, and what it refuses now.
    Object.assign(req, this.limits.report());
    if (this.shadowGroups().length) req.observed = this.observer.observed(sentAt);
    const answered = this.vipChecks.report(sentAt, this.core.desired?.leaseTtlMs ?? 3000);
    if (answered.length) req.vipAnswered = answered;
    // Only what was up when this heartbeat left counts as reported (see "reconcile" below).
    const served = new Set(this.core.served(sentAt));
    this.reported = new Set(req.holding.map((h) => `${h.group}@${h.epoch}`).filter((k) => served.has(k)));
    const interval = this.core.desired?.heartbeatIntervalMs ?? 1000;
    const timeoutMs = this.opts.config.heartbeatTimeoutMs ?? Math.max(200, Math.round(interval * 0.8));
    const out = await this.transport.heartbeat(req, timeoutMs);
    if (!out.ok) {
      log("heartbeat failed", { error: out.detail });
      this.outage.failed(req.seq, sentAt, out.detail, req.holding);
      if (!final) this.perform(this.core.onFailure(out.kind, this.clock()));
      return;
    }
    if (outage) log("control plane reachable again; outage reported", { fromAgoMs: outage.fromAgoMs, failures: outage.failures, held: outage.held });
    this.outage.answered();
    // Local limits: what this node refuses never reaches the core (limits.ts).
    this.perform(this.core.onReply(req, this.limits.filter(out.reply), sentAt, this.clock(), final), final);
  }

  /** Carry out the core's actions, then re-arm the one timer at the core's next deadline. */
  private perform(actions: CoreAction[], stopping = false): void {
    for (const a of actions) {
      switch (a.type) {
        case "kernel":
          void this.runKernel(a.op);
          break;
        case "announce":
          this.vips.announce(a.ref);
          break;
        case "fence":
          void this.reconciler.fence(a.group, a.why).then(() => this.perform(this.core.fenceDone(a.group.name, this.clock()), this.stopped));
          break;
        case "reconcile": {
          if (stopping) break;
          // Groups taken since the last heartbeat whose VIP is up in the kernel (the core asks for a
          // reconcile when a new VIP came up): say so as soon as what serves them is in place (the
          // control plane's availability ledger counts a group down until its new holder reports it).
          const taken = this.core.served(this.clock()).filter((k) => !this.reported.has(k)).map((k) => k.slice(0, k.lastIndexOf("@")));
          void this.enqueueReconcile(taken.length ? { groups: taken, served: () => this.heartbeatNow() } : undefined);
          break;
        }
        case "heartbeat-now":
          this.heartbeatNow();
          break;
        case "sync-probes":
          this.syncProbes();
          this.syncFailsafe();
          this.syncOrigin();
          this.observer.watch(this.shadowGroups().map((g) => ({ name: g.name, vip: g.vip })));
          this.syncVipChecks();
          break;
        case "run-operations":
          this.operations.run(this.core.desired?.operations ?? []);
          break;
        case "ask-promises":
          void this.askPromises(a.group, a.epoch, a.ttlMs, a.timeoutMs, a.peers);
          break;
        case "release-promises":
          this.failsafe.releaseAll(this.peerAddresses(a.peers), a.group, a.epoch);
          break;
        case "hand-off":
          void this.handOff(a.group, a.epoch, a.to);
          break;
        case "persist":
          // Held groups for the stop hook: written soon, not in the way (a failure is logged).
          void this.saveState().catch(() => undefined);
          break;
      }
    }
    this.armDeadline();
  }

  private async runKernel(op: KernelOp): Promise<void> {
    let r;
    try {
      r = await this.vips.run(op, (o) => this.core.recheck(o, this.clock()), this.clock);
    } catch (err) {
      r = { ok: false as const, detail: (err as Error).message, command: op.kind, exitCode: null };
    }
    this.perform(this.core.kernelDone(op, r, this.clock()), this.stopped);
  }

  private peerAddresses(names: string[]): { name: string; ip?: string }[] {
    const ips = new Map((this.core.desired?.peers ?? []).map((p) => [p.name, p.ip]));
    return names.map((name) => {
      const ip = ips.get(name);
      return ip ? { name, ip } : { name };
    });
  }

  private async askPromises(group: string, epoch: number, ttlMs: number, timeoutMs: number, peerNames: string[]): Promise<void> {
    if (this.stopped) return;
    const askedAt = this.clock();
    const ok = await this.failsafe.askAll(this.peerAddresses(peerNames), group, epoch, ttlMs, timeoutMs);
    if (ok) {
      this.outage.keptOnPromises(group);
      this.perform(this.core.onPromised(group, epoch, ttlMs, askedAt, this.clock()));
    }
  }

  private async handOff(group: string, epoch: number, to: string): Promise<void> {
    const startedAt = this.clock();
    const peer = this.peerAddresses([to])[0]!;
    const why = await this.failsafe.handOff(peer, group, epoch, this.core.desired?.leaseTtlMs ?? 1000, 1000);
    if (why === null) log("direct handoff: taken", { group, epoch, to, ms: Math.round(this.clock() - startedAt) });
    else log("direct handoff not taken: the control plane moves the group", { group, epoch, to, why });
  }

  /** A peer asks for a promise or hands a group over (signature checked): decide, persist if it changed, then answer. */
  private async answerPeer(req: Parameters<ShimCore["promiseRequest"]>[0]) {
    if (req.kind === "handoff") {
      const { reply, actions } = this.core.handoffRequest(req, this.clocks());
      this.perform(actions, this.stopped);
      return reply;
    }
    const { reply, persist } = this.core.promiseRequest(req, this.clocks());
    // The promise is on disk before the peer hears it (a write that fails answers 500: no promise).
    if (persist) await this.saveState();
    return reply;
  }

  private armDeadline(): void {
    const now = this.clock();
    const at = this.core.nextDeadline(now);
    if (at === this.deadlineAt && this.deadlineTimer) return;
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = null;
    this.deadlineAt = at;
    if (at === null || this.stopped) return;
    // Timers may fire a millisecond early: the core checks the time itself, and we re-arm.
    this.deadlineTimer = setTimeout(() => {
      this.deadlineTimer = null;
      this.deadlineAt = null;
      this.perform(this.core.tick(this.clock()));
    }, Math.max(1, Math.ceil(at - now)));
  }

  /** Load balancing and appliers; passes run one at a time; callers may await the run that includes their change. */
  enqueueReconcile(taken?: ReconcileInput["taken"]): Promise<void> {
    // Shadow groups are the HA system in place's business: no table, no applier for them.
    const acting = (gs: DesiredGroup[]) => gs.filter((g) => !g.shadow);
    return this.reconciler.enqueue(() => ({ groups: acting(this.core.desired?.groups ?? []), holding: acting(this.core.holding(this.clock())), ...(taken ? { taken } : {}) }));
  }

  /** Groups in shadow mode on this node (desired state, v3). */
  private shadowGroups(): DesiredGroup[] {
    return (this.core.desired?.groups ?? []).filter((g) => g.shadow && g.member);
  }

  /** Provenance on every command's log line: the spec version this node follows and who made it. */
  private syncOrigin(): void {
    const d = this.core.desired;
    if (d) this.opts.runner.origin = { specVersion: d.specVersion, ...(d.specBy ? { specBy: d.specBy } : {}) };
  }

  // ------------------------------------------------------------------ failsafe without config

  /** Listen with what the config says, or what the control plane said before this process started. */
  private startFailsafe(): void {
    try {
      const saved = JSON.parse(readFileSync(this.failsafeFile, "utf8")) as { listen?: unknown; keys?: unknown };
      const ip = typeof saved.listen === "string" ? saved.listen.slice(0, saved.listen.lastIndexOf(":")) : undefined;
      const keys = Array.isArray(saved.keys) ? saved.keys.filter((k): k is string => typeof k === "string") : undefined;
      this.failsafe.learn(ip, keys);
    } catch {
      // first start, or failsafe configured in full
    }
    void this.failsafe.start();
  }

  /** The control plane's word on this node's IP and the cluster's keys: take it, keep it, listen. */
  private syncFailsafe(): void {
    const d = this.core.desired;
    if (!d?.failsafe) return;
    if (this.failsafe.learn(d.ip, d.failsafeKeys) && this.opts.runner.mode !== "recording") {
      try {
        mkdirSync(this.opts.config.stateDir, { recursive: true, mode: 0o700 });
        writeFileSync(this.failsafeFile, JSON.stringify(this.failsafe.learned()), { mode: 0o600 });
      } catch (err) {
        log("failsafe keys not written", { file: this.failsafeFile, error: (err as Error).message });
      }
    }
    if (!this.stopped) void this.failsafe.start();
  }

  // ------------------------------------------------------------------ durable state

  private loadState(): void {
    let text: string;
    try {
      text = readFileSync(this.stateFile, "utf8");
    } catch {
      return; // first start
    }
    try {
      const state = JSON.parse(text) as DurableState;
      if (state.v === 1) {
        this.core.load(state, this.clocks());
        if (state.promises.length) log("failsafe promises from before the restart are honoured", { promises: state.promises.map((p) => `${p.group}->${p.holder}`) });
      }
    } catch (err) {
      log("state file unreadable, ignored", { file: this.stateFile, error: (err as Error).message });
    }
  }

  /**
   * Written before a promise is answered: a temp file, fsynced, renamed over the old one. Off the
   * event loop (the threadpool's fs) and one write at a time, each taking the state as it is when
   * it starts: an fsync under a busy disk took milliseconds out of a takeover when it ran inline.
   */
  private saveState(): Promise<void> {
    const write = async () => {
      if (this.opts.runner.mode === "recording") return;
      const text = JSON.stringify(this.core.durableState(this.clocks()));
      try {
        await mkdir(this.opts.config.stateDir, { recursive: true, mode: 0o700 });
        const tmp = `${this.stateFile}.tmp`;
        const file = await open(tmp, "w", 0o600);
        try {
          await file.writeFile(text);
          await file.sync();
        } finally {
          await file.close();
        }
        await rename(tmp, this.stateFile);
        const dir = await open(this.opts.config.stateDir, "r");
        try {
          await dir.sync();
        } finally {
          await dir.close();
        }
      } catch (err) {
        log("state file not written", { file: this.stateFile, error: (err as Error).message });
        throw err;
      }
    };
    const p = this.saving.then(write);
    this.saving = p.catch(() => undefined);
    return p;
  }

  /**
   * The VIPs of the groups this node is a member of, checked from this node's own address (not in
   * recording mode: nothing real may leave a recorded run). Not shadow groups (keepalived's VIPs),
   * not mysql-writer groups (vip-answers.ts says why).
   */
  private syncVipChecks(): void {
    const d = this.core.desired;
    const targets = (d?.groups ?? [])
      .filter((g) => g.member && !g.shadow && g.mode !== "mysql-writer" && g.ports.length > 0)
      .map((g) => ({ group: g.name, vip: g.vip, port: g.ports[0]!.port, intervalMs: g.probe.intervalMs }));
    this.vipChecks.watch(this.opts.runner.mode === "recording" ? [] : targets, d?.ip ?? null);
  }

  /**
   * Probes follow the desired state: one scheduler per member group (config may override). A
   * group whose service has a process name also gets a ProcessWatch: the probe runs the moment
   * that process exits (not in recording mode, where nothing real is watched).
   */
  private syncProbes(): void {
    const want = new Map<string, { spec: ProbeSpec; process: string | null }>();
    for (const g of this.core.desired?.groups ?? []) if (g.member) want.set(g.name, { spec: this.opts.config.probes[g.name] ?? g.probe, process: g.process ?? null });
    for (const [name, spec] of Object.entries(this.opts.config.probes)) if (!want.has(name)) want.set(name, { spec, process: null });
    const keyOf = (w: { spec: ProbeSpec; process: string | null }) => JSON.stringify([w.spec, this.opts.runner.mode === "recording" ? null : w.process]);
    for (const [name, p] of this.probes) {
      const w = want.get(name);
      if (!w || keyOf(w) !== p.key) {
        p.watch?.stop();
        void p.scheduler.stop();
        this.probes.delete(name);
      }
    }
    for (const [name, w] of want) {
      if (this.probes.has(name)) continue;
      const probe = createProbe(w.spec, { host: this.opts.config.probeHost, runner: this.opts.runner, settings: this.opts.config.settings });
      const scheduler = new ProbeScheduler(name, w.spec, probe, (_n, report) => {
        // A holder whose own probe fails may hand its group straight over (direct handoff); the
        // core says when the control plane hears of it.
        this.perform(this.core.probeChanged(name, report.healthy, this.clock()), this.stopped);
      });
      const watch =
        w.process !== null && this.opts.runner.mode !== "recording"
          ? new ProcessWatch(w.process, (detail) => {
              log("service process exited: probing now", { group: name, detail });
              scheduler.expedite();
            })
          : null;
      this.probes.set(name, { key: keyOf(w), scheduler, watch });
      scheduler.start();
      watch?.start();
    }
  }

}
