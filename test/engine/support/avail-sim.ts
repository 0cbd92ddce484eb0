// A small event-driven driver for the availability tests: nodes heartbeat on a schedule and react
// like the shim does (release at once when told, heartbeat as soon as a pushed grant is taken and
// its VIP is up), the Durable Object's storage is modelled (snapshot + month records, written only
// through the engine's persist and ledger effects), and reports are computed like the shell does.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import type { GroupEpoch, ProbeReport } from "../../../protocol/heartbeat.js";
import { ClusterSpec, type ClusterSpecInput } from "../../../protocol/spec.js";
import { boot, newPersistedState, step } from "../../../worker/engine/index.js";
import type { EngineEffect, EngineInput, EngineState, PersistedState } from "../../../worker/engine/index.js";
import { type LedgerMonth, memoryMonths, monthsBetween } from "../../../worker/engine/ledger.js";
import { clusterReport, type LedgerView, monthsNeeded } from "../../../worker/engine/report.js";

export type Event = Extract<EngineEffect, { type: "event" }>;

/** The example cluster with only server-api (one active-standby group), edited. */
export function availSpec(edit: (s: ClusterSpecInput) => void = () => {}): ClusterSpec {
  const raw = parse(readFileSync(new URL("../../../examples/chimestack.yaml", import.meta.url), "utf8")) as ClusterSpecInput;
  raw.groups = (raw.groups ?? []).filter((g) => g.name === "server-api");
  delete raw.evacuation;
  edit(raw);
  return ClusterSpec.parse(raw);
}

export const OK: ProbeReport = { healthy: true, detail: "http 200 in 2 ms" };
export const DOWN = (downForMs = 0): ProbeReport => ({ healthy: false, detail: "connect ECONNREFUSED 127.0.0.1:8801", downForMs });

export const utc = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0, ms = 0) => Date.UTC(y, mo - 1, d, h, mi, s, ms);

export class AvailSim {
  state: EngineState;
  events: Event[] = [];
  /** The Durable Object's storage: the last snapshot and the month records. */
  stored: { state: PersistedState; months: Map<string, LedgerMonth> };
  persists = 0;
  ledgerWrites = 0;
  alarm: number | null = null;
  rejected: string | undefined;
  now: number;
  /** Probe result each node reports now (per group). */
  probes: Record<string, Record<string, ProbeReport>> = {};
  /** Nodes whose shim runs (a crashed node is removed). */
  up = new Set<string>();
  /** node -> groups it refuses grants for (a failsafe promise to their holder). */
  refuse: Record<string, Set<string>> = {};
  /** Nodes whose leases their failsafe peers extend (kept past their end while cut off). */
  keep = new Set<string>();
  /** The shim's local lease margin. */
  localMarginMs = 200;
  /** Hosts that crashed: their VIPs answer nobody. A node not `up` whose host is not here lost only its shim: its kernel serves its VIPs until its local lease ends. */
  hostDown = new Set<string>();
  /** Members check the VIPs of the groups they do not hold and report the last answer (node-shim/vip-answers.ts). */
  vipChecks = false;
  private seq: Record<string, number> = {};
  /** What each node holds: group -> epoch and the end of its local lease (send time + TTL - margin). */
  private held: Record<string, Map<string, { epoch: number; until: number }>> = {};
  private released: Record<string, GroupEpoch[]> = {};
  private queue: { at: number; order: number; fn: () => void }[] = [];
  private order = 0;

  constructor(
    readonly spec: ClusterSpec,
    start: number,
    /** How long a shim takes to drop a VIP and report it, and to bring one up and report it. */
    readonly react = { releaseMs: 50, pushMs: 5, takeMs: 30 },
  ) {
    const p = newPersistedState("dc1.chimestack", spec, 1);
    this.stored = { state: structuredClone(p), months: new Map() };
    this.state = boot(p, start);
    this.now = start;
    for (const n of spec.nodes) if (n.role === "server") this.probes[n.name] = Object.fromEntries(spec.groups.map((g) => [g.name, OK]));
  }

  private perform(effects: EngineEffect[]): void {
    for (const e of effects) {
      if (e.type === "event") this.events.push(e);
      else if (e.type === "persist") {
        this.stored.state = structuredClone(e.state);
        this.persists++;
      } else if (e.type === "ledger") {
        for (const m of e.months) this.stored.months.set(m.month, structuredClone(m));
        this.ledgerWrites++;
      } else if (e.type === "alarm") this.alarm = e.at;
      else if (e.type === "push" && this.up.has(e.node)) this.at(this.now + this.react.pushMs, () => this.beat(e.node));
    }
  }

  input(input: EngineInput, now = this.now) {
    this.now = now;
    const r = step(this.state, input, now);
    this.state = r.state;
    this.rejected = r.rejected;
    // The shell writes month records only together with a snapshot.
    if (r.effects.some((e) => e.type === "ledger") && !r.effects.some((e) => e.type === "persist")) throw new Error("ledger effect without a persist");
    this.perform(r.effects);
    return r;
  }

  /** One heartbeat from `node` now, reporting what it holds and released; reacts to the reply. */
  beat(node: string, now = this.now): void {
    if (!this.up.has(node)) return;
    const held = (this.held[node] ??= new Map());
    // A lease that ran out on the node is gone (unless failsafe peers keep it going).
    for (const [group, l] of [...held]) if (l.until <= now && !this.keep.has(node)) held.delete(group);
    const released = this.released[node] ?? [];
    this.released[node] = [];
    const holding = [...held].map(([group, l]) => ({ group, epoch: l.epoch }));
    const request = { bootId: `${node}-boot`, seq: (this.seq[node] = (this.seq[node] ?? 0) + 1), probes: this.probes[node] ?? {}, holding, released, operations: [], ...this.vipAnswered(node, now) };
    const reply = this.input({ type: "heartbeat", node, request }, now).reply!;
    // Told to release: drop the VIP, then report it in a heartbeat at once.
    for (const d of reply.desired.groups) {
      if (d.role === "release" && held.has(d.name)) {
        const epoch = held.get(d.name)!.epoch;
        held.delete(d.name);
        this.at(now + this.react.releaseMs, () => {
          (this.released[node] ??= []).push({ group: d.name, epoch });
          this.beat(node);
        });
      }
    }
    let took = false;
    for (const g of reply.grants) {
      if (this.refuse[node]?.has(g.group)) continue;
      if (held.get(g.group)?.epoch !== g.epoch) took = true;
      held.set(g.group, { epoch: g.epoch, until: now + g.ttlMs - this.localMarginMs });
    }
    // A lease the reply does not renew ends on the node (at its end; here at once, which only matters for reports).
    for (const [group] of [...held]) if (!reply.grants.some((g) => g.group === group) && reply.desired.groups.find((d) => d.name === group)?.role !== "holder") held.delete(group);
    // The shim heartbeats as soon as the VIP of a group it just took is up.
    if (took) this.at(now + this.react.takeMs, () => this.beat(node));
  }

  /** What `node`'s VIP checks saw last: a VIP answers while a live host's kernel lease for it lasts (seen continuously here). */
  private vipAnswered(node: string, now: number): { vipAnswered?: { group: string; agoMs: number }[] } {
    if (!this.vipChecks) return {};
    const out: { group: string; agoMs: number }[] = [];
    for (const g of this.spec.groups) {
      if (this.held[node]?.has(g.name)) continue;
      let last = -Infinity;
      for (const [other, m] of Object.entries(this.held)) {
        const l = m.get(g.name);
        if (other !== node && l && !this.hostDown.has(other)) last = Math.max(last, Math.min(now, l.until));
      }
      if (now - last <= this.spec.policy.leaseTtlMs) out.push({ group: g.name, agoMs: now - last });
    }
    return out.length ? { vipAnswered: out } : {};
  }

  /** Schedule `fn` at `at` (a binary heap ordered by time, then by scheduling order). */
  at(at: number, fn: () => void): void {
    const q = this.queue;
    const item = { at, order: this.order++, fn };
    q.push(item);
    const less = (a: typeof item, b: typeof item) => a.at < b.at || (a.at === b.at && a.order < b.order);
    for (let i = q.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!less(q[i]!, q[parent]!)) break;
      [q[i], q[parent]] = [q[parent]!, q[i]!];
      i = parent;
    }
  }

  private pop(): { at: number; order: number; fn: () => void } | undefined {
    const q = this.queue;
    const top = q[0];
    const last = q.pop();
    if (q.length === 0 || !last) return top;
    q[0] = last;
    const less = (a: typeof last, b: typeof last) => a.at < b.at || (a.at === b.at && a.order < b.order);
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < q.length && less(q[l]!, q[m]!)) m = l;
      if (r < q.length && less(q[r]!, q[m]!)) m = r;
      if (m === i) break;
      [q[i], q[m]] = [q[m]!, q[i]!];
      i = m;
    }
    return top;
  }

  /** Every `everyMs` from `from` (inclusive) to `to` (exclusive), `node` beats at offset `offsetMs`. */
  beatsEvery(node: string, from: number, to: number, everyMs: number, offsetMs = 0): void {
    const next = (t: number) => {
      if (t >= to) return;
      this.at(t, () => {
        this.beat(node);
        next(t + everyMs);
      });
    };
    next(from + offsetMs);
  }

  /** Run scheduled actions and the alarm (like the Durable Object's) up to `until`. */
  runUntil(until: number): void {
    for (;;) {
      const next = this.queue[0];
      const alarmFirst = this.alarm !== null && this.alarm <= until && (!next || this.alarm < next.at);
      if (alarmFirst) {
        const t = this.alarm!;
        this.alarm = null;
        this.input({ type: "tick" }, t);
        continue;
      }
      if (!next || next.at > until) break;
      this.pop();
      this.now = next.at;
      next.fn();
    }
    this.now = until;
  }

  /** A Durable Object restart: memory gone, state and the month records it needs loaded from storage. */
  restart(now: number): void {
    const need = new Set(memoryMonths(now));
    for (const led of Object.values(this.stored.state.ledger)) for (const m of monthsBetween(led.open.start, now)) need.add(m);
    const months = [...need].map((m) => this.stored.months.get(m)).filter((m): m is LedgerMonth => m !== undefined);
    this.state = boot(structuredClone(this.stored.state), now, structuredClone(months));
    this.now = now;
  }

  /** What GET /v1/clusters/:id/availability would answer (months read from storage). */
  report(from: number, to: number, now = this.now) {
    const months: LedgerView["months"] = {};
    for (const m of monthsNeeded(from, to)) {
      const rec = this.stored.months.get(m);
      if (rec) months[m] = rec;
    }
    const p = this.state.persisted;
    return clusterReport({ spec: p.spec, ledger: p.ledger, drills: p.drills, months, now }, p.clusterId, "dc1", from, to);
  }

  group(name = "server-api") {
    const g = this.state.groups[name]!;
    return { holder: g.holder, epoch: g.epoch, phase: g.phase };
  }

  kinds(kind: string): Event[] {
    return this.events.filter((e) => e.kind === kind);
  }
}
