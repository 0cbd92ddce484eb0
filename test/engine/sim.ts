// A discrete-event simulation of one cluster that runs the REAL code on both sides: the pure
// engine inside a Durable Object that can restart, and the shim's pure core (node-shim/core/) in
// every shim process, fed exactly as the agent feeds it: heartbeat replies (or failures after the
// request timeout), pushes, timer ticks at the core's own deadlines, kernel-operation results,
// fence completions and failsafe promise exchanges with the other shims.
//
// What the simulator adds is the world: per-node clocks drifting up to ±1 %, one-way delays
// (with spikes up to a full TTL), lost requests or replies, partitions, DO restarts, spec changes
// (a node or a group removed and added back), operator calls, and shims that are SIGKILLed,
// SIGSTOPped (alone, or together with their nft/ip sessions so writes sit in the pipe), stopped by
// SIGTERM, or whose `ip` fails. And a model of the kernel on each host: addresses with their
// lifetime, the lease filter (managed VIPs, lease elements that time out up to KERNEL_LATE_MS late,
// the freshness guard on renewals). A VIP is EFFECTIVE on a host while its address is configured
// and either it is not under the filter or its lease element is alive: that is what the property
// tests check, in real time, never two hosts at once.
import type { HeartbeatReply, HeartbeatRequest } from "../../protocol/heartbeat.js";
import type { ClusterSpec } from "../../protocol/spec.js";
import { ClusterSpec as ClusterSpecSchema } from "../../protocol/spec.js";
import { FRESH_MS, type KernelOp, type KernelResult, lifetimeSeconds, refKey, type VipRef } from "../../node-shim/core/kernel.js";
import type { PromiseRequestBody } from "../../node-shim/core/promises.js";
import { replyConfirms } from "../../node-shim/core/promises.js";
import { type CoreAction, type DurableState, ShimCore } from "../../node-shim/core/shim-core.js";
import { boot, desiredFor, newPersistedState, step } from "../../worker/engine/index.js";
import type { EngineState, PersistedState } from "../../worker/engine/index.js";

export interface Policy {
  heartbeatIntervalMs: number;
  leaseTtlMs: number;
  driftMarginMs: number;
  holdDownMs: number;
}
export const POLICY: Policy = { heartbeatIntervalMs: 1000, leaseTtlMs: 3000, driftMarginMs: 500, holdDownMs: 2000 };
export const LOCAL_MARGIN_MS = 100;
/** The kernel's lateness in timing out a lease element (one jiffy; measured <= 4 ms here). */
export const KERNEL_LATE_MS = 4;

export type Fault =
  /** Host crash: shim and kernel state gone (addresses, tables), back after downFor. */
  | { at: number; kind: "crash"; node: number; downFor: number }
  /** SIGKILL of the shim: the kernel keeps everything; a new process starts after downFor. */
  | { at: number; kind: "kill"; node: number; downFor: number }
  /**
   * SIGSTOP for `for` ms, then SIGCONT; `group`: its nft/ip sessions are stopped too; `atWrite`:
   * the stop lands just as the next lease renewal is on its way to the kernel (it sits in the pipe).
   */
  | { at: number; kind: "stop"; node: number; for: number; group: boolean; atWrite?: boolean }
  /** SIGTERM: the shim releases, says it is leaving, exits; a new process starts after downFor. */
  | { at: number; kind: "term"; node: number; downFor: number }
  | { at: number; kind: "partition"; node: number; for: number }
  /** Only requests (`dir: "req"`) or only replies and pushes (`"rep"`) of this node are lost. */
  | { at: number; kind: "loss"; node: number; for: number; dir: "req" | "rep" }
  /** One-way delays of this node's messages up to a full lease TTL. */
  | { at: number; kind: "slow"; node: number; for: number }
  | { at: number; kind: "unhealthy"; node: number; for: number }
  /** The node's `ip` commands fail (addresses cannot be added, removed or read). */
  | { at: number; kind: "ip-fail"; node: number; for: number }
  /** The node's `nft` commands fail (lease elements cannot be renewed or removed: they time out). */
  | { at: number; kind: "nft-fail"; node: number; for: number }
  /** The failsafe link between this node and every other shim is cut. */
  | { at: number; kind: "peer-cut"; node: number; for: number }
  | { at: number; kind: "do-restart"; downFor: number }
  | { at: number; kind: "switchover"; to: number | null }
  | { at: number; kind: "maintenance"; node: number; for: number }
  /** The node is removed from the spec through the API, and added back after `for` (3 servers only). */
  | { at: number; kind: "remove-node"; node: number; for: number }
  /** The server-api group is removed from the spec, and added back (same name, same VIP) after `for`. */
  | { at: number; kind: "remove-group"; for: number };

export interface SimParams {
  servers: number;
  nodes: { drift: number }[];
  doDrift: number;
  /** One-way delays are drawn uniformly in [0, maxDelay] (up to the TTL during a `slow` fault). */
  maxDelayMs: number;
  seed: number;
  faults: Fault[];
  /** Every fault has ended by then (the schedule guarantees it). */
  healAt: number;
  /** The holder's host crashes (or its shim is killed) here; nothing else fails afterwards. */
  finalCrashAt: number;
  finalKind: "crash" | "kill";
  durationMs: number;
  failsafe: boolean;
  policy?: Policy;
  /**
   * Weakening for the test that shows the property test catches a broken margin: the control
   * plane grants this much before the shims' leases (and kernel elements) can have ended.
   */
  engineEarlyMs?: number;
  /** Unsafe variant: no kernel lease filter (a VIP is effective whenever configured). */
  noKernelFilter?: boolean;
  /** Replaying a failing schedule: every decision, heartbeat and core log line, with its time. */
  log?: (line: string) => void;
}

/** A VIP effective on a host, in REAL time. */
export interface VipInterval {
  vip: string;
  node: string;
  start: number;
  end: number;
}

export interface SimResult {
  effective: VipInterval[];
  grantedEpochs: Record<string, number[]>;
  persistedEpochs: Record<string, number[]>;
  /** When (real time) some host first had server-api's VIP effective after healAt, and who held it at finalCrashAt. */
  heal: { at: number; servedAt: number | null; holderAtFinal: string | null };
  finalCrash: { at: number; holder: string | null; recoveredAt: number | null; by: string | null };
  steps: number;
  events: number;
  /** Direct handoffs a shim took (the holder's probe failed, the named server took the group). */
  handoffs: number;
}

export const API_VIP = "192.168.231.10";
export const PORTAL_VIP = "192.168.231.20";

export function simSpec(servers: number, policy: Policy = POLICY, without: { node?: string; group?: boolean } = {}): ClusterSpec {
  const nodes = [];
  for (let i = 1; i <= servers; i++) if (`server${i}` !== without.node) nodes.push({ name: `server${i}`, hostname: `server${i}.chime.com`, ip: `192.168.231.${10 + i}`, role: "server" as const, priority: 100 + (i === 1 ? 10 : 0) });
  nodes.push({ name: "node1", hostname: "node1.chime.com", ip: "192.168.231.101", role: "compute" as const });
  const groups = [
    { name: "server-api", service: "chime-server", mode: "active-standby", vip: API_VIP, ports: [{ port: 8801 }], probe: { type: "tcp", port: 8801 } },
    { name: "portal", service: "chime-portal", mode: "active-active-lb", vip: PORTAL_VIP, ports: [{ port: 80, realPort: 8033 }], probe: { type: "tcp", port: 8033 } },
  ].filter((g) => !(without.group && g.name === "server-api"));
  return ClusterSpecSchema.parse({ apiVersion: "chime-ha/v1", name: "sim", policy: { ...policy, deadAfterMs: 600_000 }, nodes, groups });
}

/** Tiny deterministic PRNG (mulberry32) so a failing schedule replays exactly. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A binary heap of events by (time, insertion order). */
class Queue {
  private h: { at: number; seq: number; run: () => void }[] = [];
  private seq = 0;
  get size(): number {
    return this.h.length;
  }
  push(at: number, run: () => void): void {
    const e = { at, seq: this.seq++, run };
    const h = this.h;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(h[p]!, e)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }
  pop(): { at: number; run: () => void } {
    const h = this.h;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && less(h[r]!, h[l]!) ? r : l;
        if (less(last, h[c]!)) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
  peekAt(): number {
    return this.h[0]!.at;
  }
}
const less = (a: { at: number; seq: number }, b: { at: number; seq: number }) => a.at < b.at || (a.at === b.at && a.seq < b.seq);

/** One host's kernel, with every change of effectiveness recorded as intervals. */
class Kernel {
  tables = false;
  managed = new Set<string>();
  /** vip -> element expiry (real time), including the kernel's lateness. */
  leased = new Map<string, number>();
  fresh = new Map<number, number>();
  addrs = new Map<string, { ref: VipRef; end: number }>();
  /** Recorded raw intervals per VIP: address configured, element alive, VIP under the filter. */
  readonly addrIv: { vip: string; start: number; end: number }[] = [];
  readonly elemIv: { vip: string; start: number; end: number }[] = [];
  readonly managedIv: { vip: string; start: number; end: number }[] = [];
  private addrOpen = new Map<string, number>();
  private elemOpen = new Map<string, number>();
  private managedOpen = new Map<string, number>();

  /** Let time pass to `t`: lifetimes and elements that ran out are gone. */
  advance(t: number): void {
    for (const [k, a] of [...this.addrs]) if (a.end <= t) this.dropAddr(k, a.end);
    for (const [v, e] of [...this.leased]) if (e <= t) this.dropElem(v, e);
    for (const [n, e] of [...this.fresh]) if (e <= t) this.fresh.delete(n);
  }
  private dropAddr(k: string, t: number): void {
    const a = this.addrs.get(k)!;
    this.addrs.delete(k);
    this.addrIv.push({ vip: a.ref.vip, start: this.addrOpen.get(k)!, end: t });
    this.addrOpen.delete(k);
  }
  private dropElem(v: string, t: number): void {
    this.leased.delete(v);
    this.elemIv.push({ vip: v, start: this.elemOpen.get(v)!, end: t });
    this.elemOpen.delete(v);
  }
  setAddr(ref: VipRef, t: number, end: number): void {
    const k = refKey(ref);
    const cur = this.addrs.get(k);
    if (cur) cur.end = end;
    else {
      this.addrs.set(k, { ref, end });
      this.addrOpen.set(k, t);
    }
  }
  delAddr(ref: VipRef, t: number): boolean {
    if (!this.addrs.has(refKey(ref))) return false;
    this.dropAddr(refKey(ref), t);
    return true;
  }
  setElem(v: string, t: number, end: number): void {
    if (this.leased.has(v)) this.leased.set(v, end);
    else {
      this.leased.set(v, end);
      this.elemOpen.set(v, t);
    }
  }
  delElem(v: string, t: number): void {
    if (this.leased.has(v)) this.dropElem(v, t);
  }
  manage(v: string, t: number): void {
    if (this.managed.has(v)) return;
    this.managed.add(v);
    this.managedOpen.set(v, t);
  }
  /** Host crash or the end of the run: close everything at `t` (crash: it is all gone). */
  closeAll(t: number, wipe: boolean): void {
    this.advance(t);
    for (const k of [...this.addrs.keys()]) this.dropAddr(k, t);
    for (const v of [...this.leased.keys()]) this.dropElem(v, t);
    for (const [v, s] of this.managedOpen) this.managedIv.push({ vip: v, start: s, end: t });
    this.managedOpen.clear();
    if (wipe) {
      this.tables = false;
      this.managed.clear();
      this.fresh.clear();
    } else for (const v of this.managed) this.managedOpen.set(v, t);
  }
}

type Iv = [number, number][];
const norm = (xs: Iv): Iv => {
  const s = xs.filter(([a, b]) => b > a).sort((p, q) => p[0] - q[0]);
  const out: Iv = [];
  for (const [a, b] of s) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
};
const intersect = (xs: Iv, ys: Iv): Iv => {
  const out: Iv = [];
  let i = 0;
  let j = 0;
  while (i < xs.length && j < ys.length) {
    const a = Math.max(xs[i]![0], ys[j]![0]);
    const b = Math.min(xs[i]![1], ys[j]![1]);
    if (b > a) out.push([a, b]);
    if (xs[i]![1] < ys[j]![1]) i++;
    else j++;
  }
  return out;
};
const complement = (xs: Iv, from: number, to: number): Iv => {
  const out: Iv = [];
  let cur = from;
  for (const [a, b] of xs) {
    if (a > cur) out.push([cur, a]);
    cur = Math.max(cur, b);
  }
  if (cur < to) out.push([cur, to]);
  return out;
};

interface Proc {
  boot: number;
  core: ShimCore;
  up: boolean;
  stoppedUntil: number;
  sessionsStopped: boolean;
  deferred: (() => void)[];
  inFlight: { seq: number; req: HeartbeatRequest; sentLocal: number } | null;
  again: boolean;
  beatToken: number;
  deadlineToken: number;
  deadlineAt: number | null;
  terminating: boolean;
}

interface Host {
  name: string;
  index: number;
  drift: number;
  hostBoot: number;
  kernel: Kernel;
  disk: DurableState | null;
  /** When the state file write in progress ends (the agent's writes are one at a time). */
  diskWriteEnds: number;
  /** Writes in the order the agent makes them; one that lands after a later one is already on disk changes nothing. */
  diskWrites: number;
  diskLanded: number;
  proc: Proc | null;
  partitionedUntil: number;
  lossReqUntil: number;
  lossRepUntil: number;
  slowUntil: number;
  unhealthyUntil: number;
  ipFailUntil: number;
  nftFailUntil: number;
  /** A pending SIGSTOP that lands at the next lease write. */
  stopAtWrite: { for: number; group: boolean } | null;
  peerCutUntil: number;
  /** The nft/ip sessions are stopped until then (SIGSTOP of the whole process group). */
  sessionsStoppedUntil: number;
  sessionQueue: { at: number; run: () => void }[];
}

export function simulate(p: SimParams): SimResult {
  const policy = p.policy ?? POLICY;
  const early = p.engineEarlyMs ?? 0;
  // Weakened variant: the engine believes leases are shorter than the shims do.
  const enginePolicy: Policy = early ? { ...policy, leaseTtlMs: policy.leaseTtlMs - early } : policy;
  const rand = rng(p.seed);
  const q = new Queue();
  const at = (t: number, run: () => void) => q.push(t, run);
  let curT = 0;
  const doClock = (t: number) => t * (1 + p.doDrift);
  const WALL = 1.7e12;
  const removed = { node: null as string | null, group: false };
  let specVersion = 1;
  const specNow = () => simSpec(p.servers, enginePolicy, { ...(removed.node ? { node: removed.node } : {}), group: removed.group });

  let persisted: PersistedState = newPersistedState("sim.sim", specNow(), 1);
  let engine: EngineState | null = boot(persisted, doClock(0));
  let doUpAt = 0;
  let alarmAt: number | null = null;
  let steps = 0;
  const result: SimResult = {
    effective: [],
    grantedEpochs: {},
    persistedEpochs: {},
    heal: { at: p.healAt, servedAt: null, holderAtFinal: null },
    finalCrash: { at: p.finalCrashAt, holder: null, recoveredAt: null, by: null },
    steps: 0,
    events: 0,
    handoffs: 0,
  };

  const hosts: Host[] = p.nodes.slice(0, p.servers).map((n, i) => ({
    name: `server${i + 1}`,
    index: i,
    drift: n.drift,
    hostBoot: 1,
    kernel: new Kernel(),
    disk: null,
    diskWriteEnds: 0,
    diskWrites: 0,
    diskLanded: 0,
    proc: null,
    partitionedUntil: -1,
    lossReqUntil: -1,
    lossRepUntil: -1,
    slowUntil: -1,
    unhealthyUntil: -1,
    ipFailUntil: -1,
    nftFailUntil: -1,
    stopAtWrite: null,
    peerCutUntil: -1,
    sessionsStoppedUntil: -1,
    sessionQueue: [],
  }));
  const local = (h: Host, t: number) => t * (1 + h.drift);
  const realOf = (h: Host, l: number) => l / (1 + h.drift);
  const delay = (h: Host, t: number) => (t < h.slowUntil ? rand() * policy.leaseTtlMs : rand() * p.maxDelayMs);
  const linkUp = (h: Host, t: number) => t >= h.partitionedUntil;
  const inSpec = (h: Host) => removed.node !== h.name;

  // ---------------------------------------------------------------- the Durable Object

  const perform = (effects: ReturnType<typeof step>["effects"], t: number) => {
    for (const e of effects) {
      if (e.type === "persist") {
        persisted = structuredClone(e.state);
        for (const [g, v] of Object.entries(e.state.groups)) (result.persistedEpochs[g] ??= []).push(v.epoch);
      } else if (e.type === "alarm") {
        const want = e.at ?? doClock(t) + enginePolicy.leaseTtlMs + enginePolicy.driftMarginMs;
        if (alarmAt === null || want < alarmAt) {
          alarmAt = want;
          // A real alarm never fires before its time: round the conversion up.
          let fireAt = Math.max(t, want / (1 + p.doDrift));
          while (doClock(fireAt) < want) fireAt += 1e-6;
          at(fireAt, () => onAlarm(fireAt, want));
        }
      } else if (e.type === "event" && p.log) {
        p.log(`${t.toFixed(1)} DO: ${e.kind} ${e.reason}`);
        if (e.kind === "group.granted" && e.group && e.epoch !== undefined) (result.grantedEpochs[e.group] ??= []).push(e.epoch);
      } else if (e.type === "event" && e.kind === "group.granted" && e.group && e.epoch !== undefined) {
        (result.grantedEpochs[e.group] ??= []).push(e.epoch);
      } else if (e.type === "push") {
        const h = hosts.find((x) => x.name === e.node);
        if (h && engine) {
          const desired = told(desiredFor(engine, h.name, doClock(t)));
          const arrive = t + delay(h, t);
          at(arrive, () => {
            if (!linkUp(h, arrive) || arrive < h.lossRepUntil) return;
            deliver(h, h.proc?.boot ?? -1, arrive, (pr, tt) => act(h, pr, pr.core.onPush(desired, local(h, tt)), tt));
          });
        }
      }
    }
  };
  /** What the shims are told: the real policy (differs from the engine's only in the weakened variant). */
  const told = <T extends { leaseTtlMs: number; driftMarginMs?: number | undefined }>(d: T): T => (early ? { ...d, leaseTtlMs: policy.leaseTtlMs, driftMarginMs: policy.driftMarginMs } : d);
  const doUp = (t: number) => engine !== null && t >= doUpAt;
  const onAlarm = (t: number, setFor: number) => {
    if (!doUp(t) || engine === null || alarmAt !== setFor) return;
    alarmAt = null;
    const r = step(engine, { type: "tick" }, doClock(t));
    steps++;
    engine = r.state;
    perform(r.effects, t);
  };
  const doInput = (t: number, input: Parameters<typeof step>[1]) => {
    if (!doUp(t) || engine === null) return null;
    const r = step(engine, input, doClock(t));
    steps++;
    engine = r.state;
    perform(r.effects, t);
    return r;
  };

  // ---------------------------------------------------------------- shim processes

  /** Run `fn` in the host's current process (if it is still the one `bootNo` names), after any SIGSTOP. */
  const deliver = (h: Host, bootNo: number, t: number, fn: (pr: Proc, t: number) => void) => {
    const pr = h.proc;
    if (!pr || !pr.up || pr.boot !== bootNo) return;
    if (t < pr.stoppedUntil) {
      pr.deferred.push(() => fn(pr, Math.max(t, pr.stoppedUntil)));
      return;
    }
    fn(pr, t);
  };

  const startProc = (h: Host, t: number) => {
    // systemd runs one process: a restart only when the last one has ended.
    if (h.proc?.up) return;
    const bootNo = (h.proc?.boot ?? 0) + 1;
    const dbg = p.log;
    const core = new ShimCore({ node: h.name, cluster: "sim.sim", bootId: `${h.name}-b${bootNo}`, localLeaseMarginMs: LOCAL_MARGIN_MS, failsafe: p.failsafe, reannounceMs: 10_000, resyncMs: 5000, ...(dbg ? { log: (m: string, f?: Record<string, unknown>) => dbg(`${curT.toFixed(1)} ${h.name}: ${m} ${JSON.stringify(f ?? {})}`) } : {}) });
    if (h.disk) core.load(h.disk, clocks(h, t));
    const pr: Proc = { boot: bootNo, core, up: true, stoppedUntil: -1, sessionsStopped: false, deferred: [], inFlight: null, again: false, beatToken: 0, deadlineToken: 0, deadlineAt: null, terminating: false };
    h.proc = pr;
    // The probes' first results (the agent's schedulers report them as they come).
    act(h, pr, core.probeChanged("server-api", t >= h.unhealthyUntil, local(h, t)), t);
    act(h, pr, core.probeChanged("portal", true, local(h, t)), t);
    act(h, pr, core.tick(local(h, t)), t);
    heartbeatNow(h, pr, t);
  };
  const clocks = (h: Host, t: number) => ({ now: local(h, t), wall: WALL + t, boot: { id: `${h.name}-host${h.hostBoot}`, ms: local(h, t) } });

  const heartbeatNow = (h: Host, pr: Proc, t: number) => {
    if (!pr.up || pr.terminating) return;
    if (pr.inFlight) {
      pr.again = true;
      return;
    }
    sendBeat(h, pr, t, false);
  };

  const scheduleNext = (h: Host, pr: Proc, t: number) => {
    if (pr.again) {
      pr.again = false;
      sendBeat(h, pr, t, false);
      return;
    }
    const token = ++pr.beatToken;
    const next = realOf(h, local(h, t) + (pr.core.desired?.heartbeatIntervalMs ?? policy.heartbeatIntervalMs));
    at(next, () => deliver(h, pr.boot, next, (p2, tt) => p2.beatToken === token && !p2.inFlight && sendBeat(h, p2, tt, false)));
  };

  const sendBeat = (h: Host, pr: Proc, t: number, final: boolean) => {
    const sentLocal = local(h, t);
    const healthy = t >= h.unhealthyUntil;
    const req = pr.core.request({ "server-api": { healthy, detail: "" }, portal: { healthy: true, detail: "" } }, sentLocal, WALL + t);
    p.log?.(`${t.toFixed(1)} ${h.name} b${pr.boot}: heartbeat seq ${req.seq}${final ? " final" : ""}`);
    const seq = req.seq;
    pr.inFlight = { seq, req, sentLocal };
    const interval = pr.core.desired?.heartbeatIntervalMs ?? policy.heartbeatIntervalMs;
    const timeoutLocal = Math.max(200, Math.round(interval * 0.8));
    const done = (fn: (p2: Proc, tt: number) => void) => (p2: Proc, tt: number) => {
      if (!p2.inFlight || p2.inFlight.seq !== seq) return; // timed out already: a late reply is dropped
      p2.inFlight = null;
      fn(p2, tt);
      if (!final) scheduleNext(h, p2, tt);
      else finishTerm(h, p2, tt);
    };
    const timeoutAt = realOf(h, sentLocal + timeoutLocal);
    at(timeoutAt, () => deliver(h, pr.boot, timeoutAt, done((p2, tt) => !final && act(h, p2, p2.core.onFailure("unreachable", local(h, tt)), tt))));
    if (!linkUp(h, t) || t < h.lossReqUntil) return;
    const arrive = t + delay(h, t);
    at(arrive, () => {
      if (!linkUp(h, arrive) || !doUp(arrive) || engine === null) {
        // Refused connection (DO down) answers at once; a cut link answers nothing.
        if (linkUp(h, arrive)) {
          const back = arrive + delay(h, arrive);
          at(back, () => linkUp(h, back) && deliver(h, pr.boot, back, done((p2, tt) => !final && act(h, p2, p2.core.onFailure("unreachable", local(h, tt)), tt))));
        }
        return;
      }
      if (!inSpec(h)) {
        const back = arrive + delay(h, arrive);
        at(back, () => linkUp(h, back) && back >= h.lossRepUntil && deliver(h, pr.boot, back, done((p2, tt) => !final && act(h, p2, p2.core.onFailure("refused", local(h, tt)), tt))));
        return;
      }
      const r = doInput(arrive, { type: "heartbeat", node: h.name, request: req });
      p.log?.(`${arrive.toFixed(1)} DO got ${h.name} ${req.bootId}#${req.seq}: grants ${JSON.stringify(r?.reply?.grants.map((g) => g.group))}`);
      if (!r?.reply) return;
      const reply: HeartbeatReply = { ...r.reply, grants: r.reply.grants.map((g) => ({ ...g, ttlMs: early ? policy.leaseTtlMs : g.ttlMs })), desired: told(r.reply.desired) };
      const back = arrive + delay(h, arrive);
      at(back, () => {
        if (!linkUp(h, back) || back < h.lossRepUntil) return;
        deliver(h, pr.boot, back, done((p2, tt) => act(h, p2, p2.core.onReply(req, reply, sentLocal, local(h, tt), final), tt)));
      });
    });
  };

  /** Carry out a core's actions (the agent's perform()), then re-arm its one timer. */
  const act = (h: Host, pr: Proc, actions: CoreAction[], t: number) => {
    if (!pr.up || h.proc !== pr) return;
    for (const a of actions) {
      switch (a.type) {
        case "kernel":
          runKernel(h, pr, a.op, t);
          break;
        case "fence": {
          const fin = t + 1 + rand() * 20;
          at(fin, () => deliver(h, pr.boot, fin, (p2, tt) => act(h, p2, p2.core.fenceDone(a.group.name, local(h, tt)), tt)));
          break;
        }
        case "heartbeat-now":
          heartbeatNow(h, pr, t);
          break;
        case "ask-promises":
          askPromises(h, pr, a, t);
          break;
        case "release-promises":
          for (const peer of a.peers) sendPromise(h, peer, "release", a.group, a.epoch, 1, t, () => undefined);
          break;
        case "hand-off":
          sendPromise(h, a.to, "handoff", a.group, a.epoch, policy.leaseTtlMs, t, () => undefined);
          break;
        case "persist": {
          // The agent writes it off the event loop, one write at a time, each with the state as
          // it was when it started: on disk 2 ms later, unless the process is gone by then.
          const state = structuredClone(pr.core.durableState(clocks(h, t)));
          const done = Math.max(t, h.diskWriteEnds) + 2;
          const n = ++h.diskWrites;
          h.diskWriteEnds = done;
          at(done, () => {
            if (h.proc !== pr || !pr.up || n < h.diskLanded) return;
            h.disk = state;
            h.diskLanded = n;
          });
          break;
        }
        default:
          break; // announce, reconcile, probes, operations: nothing to model
      }
    }
    const dl = pr.core.nextDeadline(local(h, t));
    // As the agent's timer: one at the core's deadline (re-armed only when it moves), >= 1 ms ahead.
    if (dl !== null && dl !== pr.deadlineAt) {
      pr.deadlineAt = dl;
      const token = ++pr.deadlineToken;
      const fire = Math.max(t + 1, realOf(h, dl));
      at(fire, () =>
        deliver(h, pr.boot, fire, (p2, tt) => {
          if (p2.deadlineToken !== token) return;
          p2.deadlineAt = null;
          act(h, p2, p2.core.tick(local(h, tt)), tt);
        }),
      );
    }
  };

  // ---------------------------------------------------------------- the kernel and its sessions

  /** A session write reaching the kernel: after `d` ms, later if the sessions are stopped. */
  const session = (h: Host, t: number, fn: (t: number) => void) => {
    const d = rand() < 0.02 ? rand() * 400 : 0.2 + rand() * 3;
    const when = t + d;
    at(when, () => {
      if (when < h.sessionsStoppedUntil) h.sessionQueue.push({ at: when, run: () => fn(h.sessionsStoppedUntil) });
      else fn(when);
    });
  };

  const runKernel = (h: Host, pr: Proc, op: KernelOp, t: number) => {
    const k = h.kernel;
    const hostBoot = h.hostBoot;
    const reply = (r: KernelResult, ta: number) => {
      p.log?.(`${ta.toFixed(1)} ${h.name} b${pr.boot} kernel: ${op.kind} ${JSON.stringify(op).slice(0, 160)} -> ${r.ok ? "ok" : r.detail}`);
      const back = ta + 0.1 + rand();
      at(back, () => deliver(h, pr.boot, back, (p2, tt) => act(h, p2, p2.core.kernelDone(op, r, local(h, tt)), tt)));
    };
    const ipFails = (ta: number) => ta < h.ipFailUntil;
    const nftFails = (ta: number) => ta < h.nftFailUntil;
    const nftFault: KernelResult = { ok: false, detail: "injected fault: nft fails", command: "nft", exitCode: 1 };
    const injected = (cmd: string): KernelResult => ({ ok: false, detail: "injected fault: ip fails", command: cmd, exitCode: 1 });
    const sameHost = () => h.hostBoot === hostBoot;
    switch (op.kind) {
      case "setup":
        session(h, t, (ta) => {
          if (!sameHost()) return;
          k.advance(ta);
          if (nftFails(ta)) return reply(nftFault, ta);
          if (!p.noKernelFilter) k.tables = true;
          reply({ ok: true }, ta);
        });
        return;
      case "manage":
        session(h, t, (ta) => {
          if (!sameHost()) return;
          k.advance(ta);
          if (nftFails(ta)) return reply(nftFault, ta);
          if (k.tables) for (const v of op.vips) k.manage(v, ta);
          reply({ ok: true }, ta);
        });
        return;
      case "unlease":
        session(h, t, (ta) => {
          if (!sameHost()) return;
          k.advance(ta);
          if (nftFails(ta)) return reply(nftFault, ta);
          for (const v of op.vips) k.delElem(v, ta);
          reply({ ok: true }, ta);
        });
        return;
      case "lease": {
        const token = Math.floor(rand() * 1e9);
        session(h, t, (ta) => {
          if (!sameHost()) return;
          k.advance(ta);
          if (nftFails(ta)) return reply(nftFault, ta);
          k.fresh.set(token, realOf(h, local(h, ta) + FRESH_MS));
          // The ack goes back to the shim, which decides the timeouts then (recheck) and writes.
          const back = ta + 0.1 + rand();
          at(back, () =>
            deliver(h, pr.boot, back, (p2, tb) => {
              const fresh = p2.core.recheck(op, local(h, tb));
              const entries = fresh && fresh.kind === "lease" ? fresh.entries.map((e) => ({ vip: e.vip, ms: Math.floor(e.until - local(h, tb)) })).filter((e) => e.ms >= 1) : [];
              if (entries.length === 0) return act(h, p2, p2.core.kernelDone(op, { ok: false, aborted: true, detail: "lease over", command: "nft", exitCode: null }, local(h, tb)), tb);
              if (h.stopAtWrite && tb + h.stopAtWrite.for < p.healAt) {
                // The SIGSTOP lands now: the renewal sits in the pipe (with the sessions) until SIGCONT.
                const st = h.stopAtWrite;
                h.stopAtWrite = null;
                p2.stoppedUntil = Math.max(p2.stoppedUntil, tb + st.for);
                if (st.group) h.sessionsStoppedUntil = Math.max(h.sessionsStoppedUntil, tb + 0.01 + st.for);
                at(tb + st.for + 0.02, () => {
                  wakeSessions(h, tb + st.for + 0.02);
                  wake(h, p2, tb + st.for + 0.02);
                });
              }
              session(h, tb, (tc) => {
                if (!sameHost()) return;
                k.advance(tc);
                if (nftFails(tc)) return reply(nftFault, tc);
                if (!k.fresh.has(token)) return reply({ ok: false, stale: true, detail: "Error: Could not process rule: No such file or directory", command: "nft", exitCode: 1 }, tc);
                k.fresh.delete(token);
                for (const e of entries) k.setElem(e.vip, tc, realOf(h, local(h, tc) + e.ms + rand() * KERNEL_LATE_MS));
                reply({ ok: true }, tc);
              });
            }),
          );
        });
        return;
      }
      case "addr-add": {
        const cur = pr.core.recheck(op, local(h, t));
        if (!cur || cur.kind !== "addr-add") return reply({ ok: false, aborted: true, detail: "lease over", command: "ip", exitCode: null }, t);
        session(h, t, (ta) => {
          if (!sameHost()) return;
          k.advance(ta);
          if (ipFails(ta)) return reply(injected("ip addr replace"), ta);
          // The lifetime belt: whole seconds, removed up to a second late by the kernel.
          const life = lifetimeSeconds(cur.until, local(h, ta));
          k.setAddr(op.ref, ta, realOf(h, local(h, ta) + life * 1000 + rand() * 1000));
          reply({ ok: true }, ta);
        });
        return;
      }
      case "addr-del":
        session(h, t, (ta) => {
          if (!sameHost()) return;
          k.advance(ta);
          if (ipFails(ta)) return reply(injected("ip addr del"), ta);
          k.delAddr(op.ref, ta);
          reply({ ok: true }, ta);
        });
        return;
      case "read":
        session(h, t, (ta) => {
          if (!sameHost()) return;
          k.advance(ta);
          if (ipFails(ta)) return reply(injected("ip addr show"), ta);
          reply({ ok: true, addrs: [...k.addrs.values()].filter((a) => op.ifaces.includes(a.ref.iface)).map((a) => a.ref) }, ta);
        });
        return;
    }
  };

  // ---------------------------------------------------------------- failsafe between shims

  let nonce = 0;
  const sendPromise = (from: Host, peerName: string, kind: PromiseRequestBody["kind"], group: string, epoch: number, ttlMs: number, t: number, onReply: (ok: boolean, t: number) => void) => {
    const peer = hosts.find((x) => x.name === peerName);
    const cut = (x: Host, tt: number) => tt < x.peerCutUntil || tt < x.partitionedUntil;
    if (!peer || cut(from, t) || cut(peer, t)) return;
    const req: PromiseRequestBody = { v: 1, kind, cluster: "sim.sim", from: from.name, to: peer.name, group, epoch, ttlMs, nonce: `n${++nonce}-${p.seed}`, sentAt: Math.round(WALL + t) };
    const arrive = t + rand() * p.maxDelayMs;
    const fromBoot = from.proc?.boot ?? -1;
    at(arrive, () => {
      if (cut(from, arrive) || cut(peer, arrive)) return;
      deliver(peer, peer.proc?.boot ?? -1, arrive, (pp, ta) => {
        if (kind === "handoff") {
          // Direct handoff: the peer takes the group (or not) and acts on it at once.
          const { reply, actions } = pp.core.handoffRequest(req, clocks(peer, ta));
          if (reply.ok) result.handoffs++;
          p.log?.(`${ta.toFixed(1)} ${peer.name} b${pp.boot}: handoff of ${group}@${epoch} from ${from.name}: ${reply.ok ? "taken" : reply.reason}`);
          const back = ta + rand() * p.maxDelayMs;
          at(back, () => !cut(from, back) && !cut(peer, back) && deliver(from, fromBoot, back, (_p, tt) => onReply(replyConfirms(reply, req), tt)));
          act(peer, pp, actions, ta);
          return;
        }
        const { reply, persist } = pp.core.promiseRequest(req, clocks(peer, ta));
        // Persisted (fsync) before the answer leaves.
        // (Modelled as landing at once: a write still pending from before lands first in the agent,
        // so it must not land over this one here.)
        if (persist) {
          peer.disk = structuredClone(pp.core.durableState(clocks(peer, ta)));
          peer.diskLanded = ++peer.diskWrites;
        }
        const back = ta + rand() * p.maxDelayMs;
        at(back, () => !cut(from, back) && !cut(peer, back) && deliver(from, fromBoot, back, (_p, tt) => onReply(replyConfirms(reply, req), tt)));
        act(peer, pp, [], ta);
      });
    });
  };

  const askPromises = (h: Host, pr: Proc, a: Extract<CoreAction, { type: "ask-promises" }>, t: number) => {
    const askedAt = local(h, t);
    let pending = a.peers.length;
    let allOk = a.peers.length > 0;
    let settled = false;
    const settle = (tt: number) => {
      if (settled) return;
      settled = true;
      if (allOk && pending === 0) deliver(h, pr.boot, tt, (p2, t2) => act(h, p2, p2.core.onPromised(a.group, a.epoch, a.ttlMs, askedAt, local(h, t2)), t2));
    };
    for (const peer of a.peers) {
      sendPromise(h, peer, "promise", a.group, a.epoch, a.ttlMs, t, (ok, tt) => {
        if (settled) return;
        pending--;
        if (!ok) allOk = false;
        if (pending === 0) settle(tt);
      });
    }
    // The asker gives up after its timeout: no promise then.
    const giveUp = realOf(h, askedAt + a.timeoutMs);
    at(giveUp, () => {
      if (!settled) {
        allOk = false;
        settled = true;
      }
    });
  };

  // ---------------------------------------------------------------- stopping (SIGTERM)

  const term = (h: Host, pr: Proc, t: number) => {
    pr.terminating = true;
    act(h, pr, pr.core.stop(true, local(h, t)), t);
    const deadline = t + 8000;
    const wait = (tt: number) => {
      if (!pr.up || h.proc !== pr) return;
      if (pr.core.releasesSettled() || tt >= deadline) {
        // The final heartbeat: releases, `unreleased` and `leaving`; then the process exits.
        if (pr.inFlight) pr.inFlight = null;
        sendBeat(h, pr, tt, true);
        return;
      }
      const next = tt + 10;
      at(next, () => deliver(h, pr.boot, next, (p2, t2) => wait(t2)));
    };
    wait(t);
  };
  const finishTerm = (h: Host, pr: Proc, t: number) => {
    if (h.proc === pr) pr.up = false;
    void t;
  };

  // ---------------------------------------------------------------- faults

  for (const h of hosts) {
    const first = rand() * policy.heartbeatIntervalMs;
    at(first, () => startProc(h, first));
  }
  /** Operators' API calls, in order: while the control plane is down they fail and are tried again. */
  const calls: (() => Parameters<typeof step>[1])[] = [];
  let pumping = false;
  const pump = (t: number) => {
    while (calls.length && doUp(t) && engine !== null) doInput(t, calls.shift()!());
    pumping = calls.length > 0;
    if (pumping) at(t + 500, () => pump(t + 500));
  };
  const admin = (t: number, input: () => Parameters<typeof step>[1]) => {
    calls.push(input);
    if (!pumping) pump(t);
  };
  const setSpec = (t: number) =>
    admin(t, () => {
      specVersion++;
      return { type: "spec", spec: specNow(), specVersion, actor: "sim" };
    });
  const wake = (h: Host, pr: Proc, t: number) => {
    if (h.proc !== pr || t < pr.stoppedUntil) return;
    const d = pr.deferred;
    pr.deferred = [];
    for (const fn of d) if (pr.up && h.proc === pr) fn();
  };
  const wakeSessions = (h: Host, t: number) => {
    if (t < h.sessionsStoppedUntil) return;
    const qd = h.sessionQueue;
    h.sessionQueue = [];
    for (const e of qd) e.run();
  };
  for (const f of p.faults) {
    at(f.at, () => {
      const t = f.at;
      if (f.kind === "do-restart") {
        engine = null;
        alarmAt = null;
        const back = t + f.downFor;
        at(back, () => {
          engine = boot(persisted, doClock(back));
          doUpAt = back;
          const r = step(engine, { type: "tick" }, doClock(back));
          engine = r.state;
          perform(r.effects, back);
        });
        return;
      }
      if (f.kind === "switchover") {
        admin(t, () => ({ type: "switchover", group: "server-api", to: f.to === null ? null : `server${(f.to % p.servers) + 1}`, actor: "sim" }));
        return;
      }
      if (f.kind === "remove-group") {
        if (removed.group) return;
        removed.group = true;
        setSpec(t);
        at(t + f.for, () => {
          removed.group = false;
          setSpec(t + f.for);
        });
        return;
      }
      const h = hosts[f.node % hosts.length]!;
      switch (f.kind) {
        case "crash": {
          const pr = h.proc;
          if (!pr || !pr.up) return;
          pr.up = false;
          h.kernel.closeAll(t, true);
          h.hostBoot++;
          h.sessionQueue = [];
          at(t + f.downFor, () => startProc(h, t + f.downFor));
          return;
        }
        case "kill": {
          const pr = h.proc;
          if (!pr || !pr.up) return;
          pr.up = false;
          at(t + f.downFor, () => startProc(h, t + f.downFor));
          return;
        }
        case "term": {
          const pr = h.proc;
          if (!pr || !pr.up || pr.terminating || t < pr.stoppedUntil) return;
          term(h, pr, t);
          at(t + f.downFor, () => {
            if (h.proc === pr && pr.up) pr.up = false; // still not exited: systemd's stop timeout
            if (!h.proc?.up) startProc(h, t + f.downFor);
          });
          return;
        }
        case "stop": {
          const pr = h.proc;
          if (!pr || !pr.up) return;
          if (f.atWrite) {
            h.stopAtWrite = { for: f.for, group: f.group };
            return;
          }
          pr.stoppedUntil = Math.max(pr.stoppedUntil, t + f.for);
          if (f.group) h.sessionsStoppedUntil = Math.max(h.sessionsStoppedUntil, t + f.for);
          at(t + f.for, () => {
            wakeSessions(h, t + f.for);
            wake(h, pr, t + f.for);
          });
          return;
        }
        case "partition":
          h.partitionedUntil = Math.max(h.partitionedUntil, t + f.for);
          return;
        case "loss":
          if (f.dir === "req") h.lossReqUntil = Math.max(h.lossReqUntil, t + f.for);
          else h.lossRepUntil = Math.max(h.lossRepUntil, t + f.for);
          return;
        case "slow":
          h.slowUntil = Math.max(h.slowUntil, t + f.for);
          return;
        case "unhealthy": {
          // The shim's own probe sees it at once (a holder named a server hands the group over).
          h.unhealthyUntil = Math.max(h.unhealthyUntil, t + f.for);
          const probe = (healthy: boolean) => (tt: number) => h.proc && deliver(h, h.proc.boot, tt, (pr, t2) => act(h, pr, pr.core.probeChanged("server-api", healthy, local(h, t2)), t2));
          probe(false)(t);
          const end = h.unhealthyUntil;
          at(end, () => end === h.unhealthyUntil && probe(true)(end));
          return;
        }
        case "ip-fail":
          h.ipFailUntil = Math.max(h.ipFailUntil, t + f.for);
          return;
        case "nft-fail":
          h.nftFailUntil = Math.max(h.nftFailUntil, t + f.for);
          return;
        case "peer-cut":
          h.peerCutUntil = Math.max(h.peerCutUntil, t + f.for);
          return;
        case "maintenance":
          admin(t, () => ({ type: "maintenance", node: h.name, on: true, actor: "sim" }));
          at(t + f.for, () => admin(t + f.for, () => ({ type: "maintenance", node: h.name, on: false, actor: "sim" })));
          return;
        case "remove-node":
          if (p.servers < 3 || removed.node) return;
          removed.node = h.name;
          setSpec(t);
          at(t + f.for, () => {
            removed.node = null;
            setSpec(t + f.for);
          });
          return;
      }
    });
  }

  // What is effective right now, as far as the kernels say (for the liveness checks).
  const effectiveNow = (vip: string, t: number): string[] =>
    hosts
      .filter((h) => {
        const k = h.kernel;
        k.advance(t);
        const addr = [...k.addrs.values()].some((a) => a.ref.vip === vip);
        if (!addr) return false;
        if (!k.tables || !k.managed.has(vip)) return true;
        return (k.leased.get(vip) ?? -Infinity) > t;
      })
      .map((h) => h.name);

  at(p.finalCrashAt, () => {
    const t = p.finalCrashAt;
    const holders = effectiveNow(API_VIP, t);
    result.heal.holderAtFinal = holders[0] ?? null;
    result.finalCrash.holder = holders[0] ?? null;
    const h = hosts.find((x) => x.name === holders[0]);
    if (!h?.proc) return;
    h.proc.up = false;
    if (p.finalKind === "crash") {
      h.kernel.closeAll(t, true);
      h.hostBoot++;
    }
  });


  const maxEvents = 400_000;
  while (q.size > 0) {
    if (++result.events > maxEvents) throw new Error(`simulation did not settle after ${maxEvents} events (t=${q.peekAt()})`);
    const ev = q.pop();
    if (ev.at > p.durationMs) break;
    curT = ev.at;
    ev.run();
  }
  // Effective intervals: address ∩ (lease element ∪ not under the filter), per host and VIP.
  for (const h of hosts) {
    h.kernel.closeAll(p.durationMs, false);
    const vips = new Set([...h.kernel.addrIv, ...h.kernel.elemIv].map((x) => x.vip));
    for (const vip of vips) {
      const pick = (xs: { vip: string; start: number; end: number }[]): Iv => norm(xs.filter((x) => x.vip === vip).map((x) => [x.start, x.end]));
      const covered = norm([...pick(h.kernel.elemIv), ...complement(pick(h.kernel.managedIv), 0, p.durationMs)]);
      for (const [start, end] of intersect(pick(h.kernel.addrIv), covered)) result.effective.push({ vip, node: h.name, start, end });
    }
  }
  // Liveness from the same intervals: served after healAt, and by another host after the final crash.
  const api = result.effective.filter((x) => x.vip === API_VIP).sort((a, b) => a.start - b.start);
  const heal = api.find((x) => x.end > p.healAt && x.start < p.finalCrashAt);
  result.heal.servedAt = heal ? Math.max(heal.start, p.healAt) : null;
  const fc = result.finalCrash;
  const by = api.find((x) => x.node !== fc.holder && x.end > fc.at);
  if (fc.holder !== null && by) {
    fc.recoveredAt = Math.max(by.start, fc.at);
    fc.by = by.node;
  }
  result.steps = steps;
  return result;
}

/** Pairs of hosts with one VIP effective at the same real instant. */
export function overlaps(intervals: VipInterval[]): [VipInterval, VipInterval][] {
  const out: [VipInterval, VipInterval][] = [];
  const byVip = new Map<string, VipInterval[]>();
  for (const i of intervals) if (i.end > i.start) (byVip.get(i.vip) ?? byVip.set(i.vip, []).get(i.vip)!).push(i);
  for (const list of byVip.values()) {
    list.sort((a, b) => a.start - b.start);
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length && list[j]!.start < list[i]!.end; j++) {
        if (list[j]!.node !== list[i]!.node) out.push([list[i]!, list[j]!]);
      }
    }
  }
  return out;
}
