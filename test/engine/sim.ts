// A discrete-event simulation of one cluster: the pure engine inside a Durable Object that can
// restart, and shims on 2-3 server nodes with drifting clocks, random one-way delays, crashes,
// partitions and failing services. The shims follow the real lease rule (valid until their LOCAL
// send time + ttl - margin) and drop the VIP at lease end or on `release`. Every lease a node
// holds is recorded as an interval of real time, so safety can be checked exactly afterwards.
import type { ClusterSpec } from "../../protocol/spec.js";
import { ClusterSpec as ClusterSpecSchema } from "../../protocol/spec.js";
import type { HeartbeatReply, HeartbeatRequest } from "../../protocol/heartbeat.js";
import { boot, newPersistedState, step } from "../../worker/engine/index.js";
import type { EngineState, PersistedState } from "../../worker/engine/index.js";

export interface SimNodeParams {
  /** Clock rate error: local time runs at (1 + drift) x real time. */
  drift: number;
}

export type Fault =
  | { at: number; kind: "crash"; node: number; downFor: number }
  | { at: number; kind: "partition"; node: number; for: number }
  | { at: number; kind: "unhealthy"; node: number; for: number }
  | { at: number; kind: "do-restart"; downFor: number };

export interface SimParams {
  servers: number;
  nodes: SimNodeParams[];
  doDrift: number;
  /** One-way delays are drawn uniformly in [0, maxDelay] from this seeded sequence. */
  maxDelayMs: number;
  seed: number;
  faults: Fault[];
  /** Simulated length, ms of real time. */
  durationMs: number;
  /** At this time the holder (if any) crashes for good and nothing else fails: liveness is checked. */
  finalCrashAt: number | null;
}

export const POLICY = { heartbeatIntervalMs: 1000, leaseTtlMs: 3000, driftMarginMs: 500, holdDownMs: 2000 };
export const LOCAL_MARGIN_MS = 100;

export function simSpec(servers: number): ClusterSpec {
  const nodes = [];
  for (let i = 1; i <= servers; i++) nodes.push({ name: `server${i}`, hostname: `server${i}.chime.com`, ip: `192.168.231.${10 + i}`, role: "server" as const, priority: 100 + (i === 1 ? 10 : 0) });
  nodes.push({ name: "node1", hostname: "node1.chime.com", ip: "192.168.231.101", role: "compute" as const });
  return ClusterSpecSchema.parse({
    apiVersion: "chime-ha/v1",
    name: "sim",
    policy: { ...POLICY, deadAfterMs: 600_000 },
    nodes,
    groups: [
      { name: "server-api", service: "chime-server", mode: "active-standby", vip: "192.168.231.10", ports: [{ port: 8801 }], probe: { type: "tcp", port: 8801 } },
      { name: "portal", service: "chime-portal", mode: "active-active-lb", vip: "192.168.231.20", ports: [{ port: 80, realPort: 8033 }], probe: { type: "tcp", port: 8033 } },
    ],
  });
}

/** A lease as held on a node, in REAL time. */
export interface LeaseInterval {
  group: string;
  node: string;
  epoch: number;
  start: number;
  end: number;
}

interface ShimState {
  name: string;
  drift: number;
  up: boolean;
  bootId: number;
  seq: number;
  partitionedUntil: number;
  unhealthyUntil: number;
  /** Local-clock expiry per group, with the real time the lease started. */
  leases: Map<string, { epoch: number; validUntilLocal: number; startReal: number }>;
  released: { group: string; epoch: number }[];
  epochSeen: Map<string, number>;
  nextBeat: number;
}

type Ev = { at: number; seq: number; run: () => void };

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

export interface SimResult {
  intervals: LeaseInterval[];
  /** Every epoch the engine granted, per group, in grant order. */
  grantedEpochs: Record<string, number[]>;
  /** Persisted epoch per group at each persist, in order (across DO restarts). */
  persistedEpochs: Record<string, number[]>;
  finalCrash: { at: number; holder: string | null; recoveredAt: number | null; by: string | null } | null;
  steps: number;
}

export function simulate(p: SimParams): SimResult {
  const spec = simSpec(p.servers);
  const rand = rng(p.seed);
  const delay = () => rand() * p.maxDelayMs;
  const queue: Ev[] = [];
  let evSeq = 0;
  const at = (t: number, run: () => void) => {
    queue.push({ at: t, seq: evSeq++, run });
  };
  const doClock = (t: number) => t * (1 + p.doDrift);

  let persisted: PersistedState = newPersistedState("sim.sim", spec, 1);
  let engine: EngineState | null = boot(persisted, doClock(0));
  let doUpAt = 0;
  let alarmAt: number | null = null; // DO clock
  let steps = 0;
  const result: SimResult = { intervals: [], grantedEpochs: {}, persistedEpochs: {}, finalCrash: null, steps: 0 };

  const shims: ShimState[] = p.nodes.slice(0, p.servers).map((n, i) => ({
    name: `server${i + 1}`,
    drift: n.drift,
    up: true,
    bootId: 1,
    seq: 0,
    partitionedUntil: -1,
    unhealthyUntil: -1,
    leases: new Map(),
    released: [],
    epochSeen: new Map(),
    nextBeat: rand() * POLICY.heartbeatIntervalMs,
  }));
  const local = (s: ShimState, t: number) => t * (1 + s.drift);
  const realOf = (s: ShimState, localT: number) => localT / (1 + s.drift);

  const dropLease = (s: ShimState, group: string, t: number) => {
    const l = s.leases.get(group);
    if (!l) return;
    s.leases.delete(group);
    result.intervals.push({ group, node: s.name, epoch: l.epoch, start: l.startReal, end: Math.min(t, realOf(s, l.validUntilLocal)) });
  };
  const expireLeases = (s: ShimState, t: number) => {
    for (const [g, l] of [...s.leases]) if (local(s, t) >= l.validUntilLocal) dropLease(s, g, realOf(s, l.validUntilLocal));
  };

  const perform = (effects: ReturnType<typeof step>["effects"], t: number) => {
    for (const e of effects) {
      if (e.type === "persist") {
        persisted = structuredClone(e.state);
        for (const [g, v] of Object.entries(e.state.groups)) (result.persistedEpochs[g] ??= []).push(v.epoch);
      } else if (e.type === "alarm") {
        // Like the real shell: only an earlier alarm is (re)written; none wanted -> a safety tick.
        const want = e.at ?? doClock(t) + POLICY.leaseTtlMs + POLICY.driftMarginMs;
        if (alarmAt === null || want < alarmAt) {
          alarmAt = want;
          // A real alarm never fires before its time: round the conversion up so floating point
          // cannot make it fire a hair early (the engine would rightly ask for it again).
          let fireAt = Math.max(t, want / (1 + p.doDrift));
          while (doClock(fireAt) < want) fireAt += 1e-6;
          at(fireAt, () => onAlarm(fireAt, want));
        }
      } else if (e.type === "event" && e.kind === "group.granted" && e.group && e.epoch !== undefined) {
        (result.grantedEpochs[e.group] ??= []).push(e.epoch);
      }
    }
  };
  const doUp = (t: number) => engine !== null && t >= doUpAt;

  const onAlarm = (t: number, setFor: number) => {
    if (!doUp(t) || engine === null || alarmAt !== setFor) return; // superseded, or DO down
    alarmAt = null;
    const r = step(engine, { type: "tick" }, doClock(t));
    steps++;
    engine = r.state;
    perform(r.effects, t);
  };

  const sendBeat = (s: ShimState, t: number, chain: number) => {
    // One heartbeat chain per shim boot: a crash ends it, the restart starts a new one.
    if (!s.up || chain !== s.bootId) return;
    expireLeases(s, t);
    const sentLocal = local(s, t);
    const boot = s.bootId;
    const req: HeartbeatRequest = {
      bootId: `b${s.bootId}`,
      seq: s.seq++,
      probes: {
        "server-api": { healthy: t >= s.unhealthyUntil, detail: "" },
        portal: { healthy: true, detail: "" },
      },
      holding: [...s.leases].map(([group, l]) => ({ group, epoch: l.epoch })),
      released: [...s.released],
      operations: [],
    };
    const sentReleased = [...s.released];
    if (t >= s.partitionedUntil) {
      const arrive = t + delay();
      at(arrive, () => {
        if (!doUp(arrive) || engine === null || arrive < s.partitionedUntil) return;
        const r = step(engine, { type: "heartbeat", node: s.name, request: req }, doClock(arrive));
        steps++;
        engine = r.state;
        perform(r.effects, arrive);
        const reply = r.reply!;
        const back = arrive + delay();
        at(back, () => onReply(s, boot, reply, sentLocal, sentReleased, back));
      });
    }
    const next = realOf(s, sentLocal + POLICY.heartbeatIntervalMs);
    s.nextBeat = next;
    at(next, () => sendBeat(s, next, chain));
  };

  const onReply = (s: ShimState, boot: number, reply: HeartbeatReply, sentLocal: number, sentReleased: { group: string; epoch: number }[], t: number) => {
    if (!s.up || s.bootId !== boot || t < s.partitionedUntil) return;
    expireLeases(s, t);
    s.released = s.released.filter((r) => !sentReleased.some((x) => x.group === r.group && x.epoch === r.epoch));
    for (const g of reply.desired.groups) {
      if (g.epoch < (s.epochSeen.get(g.name) ?? 0)) continue; // stale
      s.epochSeen.set(g.name, g.epoch);
      const held = s.leases.get(g.name);
      if (held && (g.role === "release" || (g.role === "standby" && g.epoch > held.epoch))) {
        dropLease(s, g.name, t);
        s.released.push({ group: g.name, epoch: held.epoch });
      }
    }
    for (const gr of reply.grants) {
      const g = reply.desired.groups.find((x) => x.name === gr.group);
      if (!g || g.role !== "holder" || gr.epoch < (s.epochSeen.get(gr.group) ?? 0)) continue;
      const validUntilLocal = sentLocal + gr.ttlMs - LOCAL_MARGIN_MS;
      if (validUntilLocal <= local(s, t)) continue;
      const cur = s.leases.get(gr.group);
      if (cur && cur.epoch === gr.epoch) cur.validUntilLocal = Math.max(cur.validUntilLocal, validUntilLocal);
      else {
        if (cur) dropLease(s, gr.group, t);
        s.leases.set(gr.group, { epoch: gr.epoch, validUntilLocal, startReal: t });
      }
    }
  };

  for (const s of shims) {
    const first = s.nextBeat;
    at(first, () => sendBeat(s, first, s.bootId));
  }
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
      const s = shims[f.node % shims.length]!;
      if (f.kind === "crash") {
        if (!s.up) return;
        for (const g of [...s.leases.keys()]) dropLease(s, g, t);
        s.up = false;
        at(t + f.downFor, () => {
          s.up = true;
          s.bootId++;
          s.released = [];
          sendBeat(s, t + f.downFor, s.bootId);
        });
      } else if (f.kind === "partition") s.partitionedUntil = Math.max(s.partitionedUntil, t + f.for);
      else if (f.kind === "unhealthy") s.unhealthyUntil = Math.max(s.unhealthyUntil, t + f.for);
    });
  }
  if (p.finalCrashAt !== null) {
    const tc = p.finalCrashAt;
    at(tc, () => {
      for (const s of shims) expireLeases(s, tc);
      const holder = shims.find((s) => s.up && s.leases.has("server-api")) ?? null;
      result.finalCrash = { at: tc, holder: holder?.name ?? null, recoveredAt: null, by: null };
      if (holder) {
        for (const g of [...holder.leases.keys()]) dropLease(holder, g, tc);
        holder.up = false;
      }
    });
  }

  // Bounded: a schedule that spins (e.g. an alarm the engine keeps asking for in the past)
  // fails loudly instead of hanging the suite.
  const maxEvents = 200_000;
  let events = 0;
  while (queue.length > 0) {
    if (++events > maxEvents) throw new Error(`simulation did not settle after ${maxEvents} events (t=${queue[0]?.at})`);
    let best = 0;
    for (let i = 1; i < queue.length; i++) if (queue[i]!.at < queue[best]!.at || (queue[i]!.at === queue[best]!.at && queue[i]!.seq < queue[best]!.seq)) best = i;
    const ev = queue.splice(best, 1)[0]!;
    if (ev.at > p.durationMs) break;
    ev.run();
    const fc = result.finalCrash;
    if (fc && fc.recoveredAt === null && ev.at >= fc.at) {
      const by = shims.find((s) => s.up && s.leases.has("server-api") && s.name !== fc.holder);
      if (by) {
        fc.recoveredAt = by.leases.get("server-api")!.startReal;
        fc.by = by.name;
      }
    }
  }
  for (const s of shims) for (const g of [...s.leases.keys()]) dropLease(s, g, Math.min(p.durationMs, realOf(s, s.leases.get(g)!.validUntilLocal)));
  result.steps = steps;
  return result;
}

/** Pairs of leases on different nodes for one group that overlap in real time. */
export function overlaps(intervals: LeaseInterval[]): [LeaseInterval, LeaseInterval][] {
  const out: [LeaseInterval, LeaseInterval][] = [];
  const byGroup = new Map<string, LeaseInterval[]>();
  for (const i of intervals) if (i.end > i.start) (byGroup.get(i.group) ?? byGroup.set(i.group, []).get(i.group)!).push(i);
  for (const list of byGroup.values()) {
    list.sort((a, b) => a.start - b.start);
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length && list[j]!.start < list[i]!.end; j++) {
        if (list[j]!.node !== list[i]!.node) out.push([list[i]!, list[j]!]);
      }
    }
  }
  return out;
}
