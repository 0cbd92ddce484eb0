// Shadow mode in the engine: decisions as usual, shims acting on nothing but reporting which host
// has each VIP; the ledger pairs every move of the incumbent (keepalived) with chime-ha's own and
// judges them (agreed, disagreed, only one moved, split brain) with the time difference. Also:
// older shims are never shown a shadow group as theirs to hold.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import type { HeartbeatReply, ObservedVip, ProbeReport } from "../../protocol/heartbeat.js";
import { ClusterSpec, type ClusterSpecInput } from "../../protocol/spec.js";
import { desiredFor, replyFor } from "../../worker/cluster/protocol.js";
import { boot, newPersistedState, shadowReport, step } from "../../worker/engine/index.js";
import type { EngineEffect, EngineState } from "../../worker/engine/index.js";

const OK: ProbeReport = { healthy: true, detail: "tcp ok" };
const DOWN: ProbeReport = { healthy: false, detail: "connect ECONNREFUSED" };

function spec(edit: (s: ClusterSpecInput) => void = () => {}): ClusterSpec {
  const raw = parse(readFileSync(new URL("../../examples/chimestack.yaml", import.meta.url), "utf8")) as ClusterSpecInput;
  raw.groups = (raw.groups ?? []).filter((g) => g.name === "server-api");
  delete raw.evacuation;
  raw.policy = { ...raw.policy, shadow: true, holdDownMs: 0 };
  edit(raw);
  return ClusterSpec.parse(raw);
}

/** Drives the engine like the Durable Object; each node reports its VIP as a shadow shim does. */
class Shadow {
  state: EngineState;
  events: Extract<EngineEffect, { type: "event" }>[] = [];
  seq = 0;
  /** Where the incumbent has the VIP, per host: since when (engine clock). */
  vip: Record<string, number | null> = { server1: null, server2: null };
  probes: Record<string, ProbeReport> = { server1: OK, server2: OK };
  released: Record<string, { group: string; epoch: number }[]> = { server1: [], server2: [] };

  constructor(readonly s: ClusterSpec) {
    this.state = boot(newPersistedState("dc1.shadow", s, 1), 0);
  }

  /**
   * A heartbeat sent at `sentAt` (default: `now`, when it arrives) saying what was true then; the
   * shim's clock reads 1,000,000 ms more than the engine's (only differences count).
   */
  beat(node: string, now: number, sentAt = now, vipSince = this.vip[node]): HeartbeatReply {
    const since = vipSince;
    const observed: ObservedVip[] = [{ group: "server-api", present: since != null, forMs: since == null ? 0 : sentAt - since }];
    const released = this.released[node]!;
    this.released[node] = [];
    const request = { bootId: `${node}-b`, seq: ++this.seq, sentMs: 1_000_000 + sentAt, probes: { "server-api": this.probes[node]! }, holding: [], released, operations: [], observed };
    const r = step(this.state, { type: "heartbeat", node, request }, now);
    this.state = r.state;
    for (const e of r.effects) if (e.type === "event") this.events.push(e);
    // A shadow shim acts on nothing: told to release, it reports the release at once.
    for (const g of r.reply!.desired.groups) if (g.role === "release") this.released[node]!.push({ group: g.name, epoch: g.epoch });
    return r.reply!;
  }

  tick(now: number): void {
    const r = step(this.state, { type: "tick" }, now);
    this.state = r.state;
    for (const e of r.effects) if (e.type === "event") this.events.push(e);
  }

  /** Both servers beat once a second in [from, to) (server2 10 ms after server1), as live shims do. */
  beats(from: number, to: number, who: string[] = ["server1", "server2"]): void {
    for (let t = from; t < to; t += 1000) who.forEach((n, i) => this.beat(n, t + i * 10));
  }

  report(now: number) {
    return shadowReport(this.state, now)[0]!;
  }
}

describe("shadow mode", () => {
  it("decides as usual, marks the groups shadow in the desired state, and pairs each keepalived move with chime-ha's", () => {
    const sh = new Shadow(spec());
    sh.vip.server1 = 0;
    const r1 = sh.beat("server1", 10);
    expect(r1.desired.groups[0]).toMatchObject({ name: "server-api", role: "holder", shadow: true });
    expect(r1.grants).toEqual([{ group: "server-api", epoch: 1, ttlMs: 3000 }]);
    sh.beat("server2", 20);
    expect(sh.report(100).entries.map((e) => [e.verdict, e.text])).toEqual([["agreed", "both start with server1"]]);

    // (a) chime-server dies on server1 at 10 000. keepalived's track_process moves the VIP to
    // server2 at 10 180; chime-ha's probe sees it, revokes, the shadow shim releases at once, grant.
    sh.beats(1000, 10_000);
    sh.probes.server1 = DOWN;
    sh.beat("server1", 10_100);
    sh.beat("server1", 10_110); // reports the release
    sh.vip.server1 = null;
    sh.vip.server2 = 10_180;
    // The new holder's report may arrive before the old one's removal: undecided, not a split brain.
    sh.beat("server2", 10_185);
    expect(sh.report(10_190).entries.length).toBe(2);
    sh.beat("server1", 10_200);
    const a = sh.report(10_300).entries.at(-1)!;
    expect(a).toMatchObject({ verdict: "agreed", keepalived: { to: "server2", at: 10_180 }, chimeHa: { to: "server2", at: 10_110, epoch: 2 }, deltaMs: -70 });
    expect(a.text).toBe("both moved to server2; chime-ha 70 ms before keepalived");

    // (b) server2 crashes at 20 000 (last beat 19 990). keepalived on server1 takes over at 22 900;
    // chime-ha's lease ends at 19 990 + 3000 + 500.
    sh.probes.server1 = OK;
    sh.beats(11_000, 20_000, ["server1", "server2"].reverse());
    sh.beat("server2", 19_990);
    sh.vip.server2 = null;
    sh.beats(20_000, 23_000, ["server1"]);
    sh.vip.server1 = 22_900;
    sh.beat("server1", 22_905);
    sh.tick(23_490);
    sh.beat("server1", 23_495);
    const b = sh.report(24_000).entries.at(-1)!;
    expect(b).toMatchObject({ verdict: "agreed", keepalived: { to: "server1", at: 22_900 }, chimeHa: { to: "server1", at: 23_490, epoch: 3 }, deltaMs: 590 });
    expect(b.text).toBe("both moved to server1; chime-ha 590 ms after keepalived");
    expect(sh.report(24_000).summary).toEqual({ keepalivedMoves: 2, agreed: 2, disagreed: 0, keepalivedOnly: 0, chimeHaOnly: 0, splitBrain: 0, medianDeltaMs: -70, maxAbsDeltaMs: 590 });
  });

  it("the shadow ledger survives a spec change (what a removed group's VIP was doing is dropped)", () => {
    const sh = new Shadow(spec());
    sh.vip.server1 = 0;
    sh.beat("server1", 10);
    sh.beat("server2", 20);
    expect(sh.report(100).entries).toHaveLength(1);
    const withWeb = spec((raw) => void raw.groups!.push({ name: "web", service: "chime-portal", mode: "active-standby", vip: "192.168.231.99", ports: [{ port: 8033 }], probe: { type: "tcp", port: 8033 } }));
    const r = step(sh.state, { type: "spec", spec: withWeb, specVersion: 2, actor: "ops" }, 200);
    sh.state = r.state;
    expect(sh.report(300).entries.map((e) => e.text)).toEqual(["both start with server1"]);
    expect(Object.keys(sh.state.persisted.shadow!.hosts)).toEqual(["server-api"]);
    const gone = step(sh.state, { type: "spec", spec: spec((raw) => void (raw.groups = [{ ...raw.groups![0]!, name: "api2" }])), specVersion: 3, actor: "ops" }, 400);
    expect(gone.state.persisted.shadow!.hosts).toEqual({});
    expect(gone.state.persisted.shadow!.entries).toHaveLength(1);
  });

  it("a keepalived move chime-ha would not have made is reported once the window has passed; a split brain is an entry and a critical event", () => {
    const sh = new Shadow(spec());
    sh.vip.server1 = 0;
    sh.beat("server1", 0);
    sh.beat("server2", 10);
    // keepalived moves to server2 for no reason chime-ha sees (say, a lost advert).
    sh.beats(1000, 5000);
    sh.vip.server1 = null;
    sh.vip.server2 = 5_000;
    sh.beats(5000, 6000);
    expect(sh.report(6_000).entries.at(-1)!.verdict).toBe("pending");
    sh.beats(6000, 41_000);
    expect(sh.report(40_000).entries.at(-1)).toMatchObject({ verdict: "keepalived-only", text: "keepalived moved to server2; chime-ha would not have moved" });
    // Then both hosts have it (VRRP between them broken).
    sh.vip.server1 = 41_000;
    sh.beats(41_000, 42_000);
    expect(sh.report(42_000).entries.at(-1)).toMatchObject({ verdict: "keepalived-split-brain", text: "keepalived had the VIP on server1 and server2 at once" });
    expect(sh.events.filter((e) => e.kind === "shadow.split-brain").map((e) => e.reason)).toEqual([
      "shadow: the VIP of server-api is on server1 and server2 at once (the HA system in place has two masters); chime-ha's holder is server1",
    ]);
    // Still the same split brain at the next beats: said once.
    sh.beat("server1", 42_010);
    expect(sh.events.filter((e) => e.kind === "shadow.split-brain").length).toBe(1);
    expect(sh.report(42_000).summary).toMatchObject({ keepalivedMoves: 1, keepalivedOnly: 1, splitBrain: 1 });
  });

  it("a host whose shim went silent does not count as having the VIP (a crashed or cut-off host serves nobody we can see)", () => {
    const sh = new Shadow(spec());
    sh.vip.server1 = 0;
    sh.beat("server1", 0);
    sh.beat("server2", 10);
    // server1's link goes down at 1 000: its last report says it has the VIP. keepalived on server2
    // takes over at 4 000: not a split brain, server1 is late by then.
    sh.beats(1000, 4000, ["server2"]);
    sh.vip.server2 = 4_000;
    sh.beats(4000, 5000, ["server2"]);
    const e = sh.report(5_000).entries.filter((x) => x.keepalived && !x.keepalived.initial);
    expect(e.map((x) => [x.keepalived!.to, x.keepalived!.dual ?? null])).toEqual([["server2", null]]);
  });

  it("a host that comes back does not count with what it said before it went away (no false split brain after a crash)", () => {
    const sh = new Shadow(spec());
    sh.vip.server1 = 0;
    sh.beats(0, 5000);
    // keepalived moves to server2; then server2 crashes (its last report: it has the VIP).
    sh.vip.server1 = null;
    sh.vip.server2 = 5000;
    sh.beats(5000, 6000);
    sh.vip.server2 = null;
    sh.vip.server1 = 8000;
    sh.beats(6000, 12_000, ["server1"]);
    // server2 boots: its new shim's first heartbeat says nothing about VIPs yet.
    const r = step(sh.state, { type: "heartbeat", node: "server2", request: { bootId: "server2-b2", seq: 999, probes: { "server-api": OK }, holding: [], released: [], operations: [], unreleased: [], refused: [], leaving: false } }, 12_010);
    sh.state = r.state;
    sh.beats(13_000, 15_000);
    const entries = sh.report(15_000).entries;
    expect(entries.filter((e) => e.verdict === "keepalived-split-brain")).toEqual([]);
    expect(entries.filter((e) => e.keepalived && !e.keepalived.initial).map((e) => e.keepalived!.to)).toEqual(["server2", "server1"]);
  });

  it("a heartbeat held up in the network (sent before a link went down, delivered after it came back) is no news: no false split brain", () => {
    const sh = new Shadow(spec());
    sh.vip.server1 = 0;
    sh.beats(0, 5000);
    // server1 sends a heartbeat at 4 400 (VIP present); it sits in the socket's send queue: the
    // link went down at 4 450, and keepalived on server1 dropped the VIP (FAULT) at 4 460.
    sh.vip.server1 = null;
    // keepalived on server2 takes over at 5 500.
    sh.beats(5000, 5500, ["server2"]);
    sh.vip.server2 = 5_500;
    sh.beats(5500, 7500, ["server2"]);
    // The link is back at 7 500: the queued heartbeat arrives (it says: present, as at 4 400) ...
    const observedAt = sh.state.nodes.server1!.observedAt;
    sh.beat("server1", 7_500, 4_400, 0);
    // ... and what it saw is no news: it proves server1 alive, not that it has the VIP now.
    expect(sh.state.nodes.server1!.lastBeatAt).toBe(7_500);
    expect(sh.state.nodes.server1!.observedAt).toBe(observedAt);
    // Then server1's fresh heartbeats: no VIP.
    sh.beats(7600, 10_000);
    const e = sh.report(10_000).entries.filter((x) => x.keepalived && !x.keepalived.initial);
    expect(e.map((x) => [x.keepalived!.to, x.keepalived!.dual ?? null])).toEqual([["server2", null]]);
    expect(sh.events.filter((x) => x.kind === "shadow.split-brain")).toEqual([]);
  });

  it("a path that got slower for good counts again after a heartbeat interval (one heartbeat's observations are not counted)", () => {
    const sh = new Shadow(spec());
    sh.vip.server1 = 0;
    sh.beats(0, 5000);
    // From 5 000 on, server1's heartbeats take 2.5 s to arrive (a congested path), every one.
    const before = sh.state.nodes.server1!.observedAt;
    sh.beat("server1", 7_500, 5_000);
    expect(sh.state.nodes.server1!.observedAt).toBe(before);
    expect(sh.state.nodes.server1!.lastBeatAt).toBe(7_500);
    sh.beat("server1", 8_500, 6_000);
    expect(sh.state.nodes.server1!.observedAt).toBe(8_500);
    sh.beat("server1", 9_500, 7_000);
    expect(sh.state.nodes.server1!.observedAt).toBe(9_500);
  });

  it("writes storage only when something moves, not per heartbeat", () => {
    const sh = new Shadow(spec());
    sh.vip.server1 = 0;
    let persists = 0;
    for (let t = 0; t < 60_000; t += 1000) {
      for (const node of ["server1", "server2"]) {
        const since = sh.vip[node];
        const r = step(sh.state, { type: "heartbeat", node, request: { bootId: "b", seq: t, probes: { "server-api": OK }, holding: [], released: [], operations: [], unreleased: [], refused: [], leaving: false, observed: [{ group: "server-api", present: since != null, forMs: since == null ? 0 : t - since + (t % 7) }] } }, t + (node === "server2" ? 10 : 0));
        sh.state = r.state;
        persists += r.effects.filter((x) => x.type === "persist").length;
      }
    }
    // The first grant with server1's first report, server2's first report; then nothing.
    expect(persists).toBe(2);
  });

  it("a shim that speaks protocol v2 or older is never shown a shadow group as its own: standby, no grant", () => {
    const sh = new Shadow(spec());
    const reply = sh.beat("server1", 0);
    expect(reply.grants.length).toBe(1);
    for (const v of [1, 2]) {
      const old = replyFor(v, reply);
      expect(old.grants).toEqual([]);
      expect(old.desired.groups[0]!.role).toBe("standby");
      expect("shadow" in old.desired.groups[0]!).toBe(false);
    }
    expect(replyFor(5, reply)).toEqual({ ...reply, protocol: 5 });
    // v4 shims know shadow mode and failsafe peers, not v5's own IP (nor keys, nor provenance).
    const { ip: _i, ...v4desired } = reply.desired;
    expect(replyFor(4, reply)).toEqual({ ...reply, desired: v4desired, protocol: 4 });
    // v3 shims know shadow mode but not v4's failsafe peers and drift margin.
    const { peers: _p, driftMarginMs: _m, ...v3desired } = v4desired;
    expect(replyFor(3, reply)).toEqual({ ...reply, desired: v3desired, protocol: 3 });
    // Without shadow groups every version from v5 on gets the same desired state.
    const plain = new Shadow(spec((s) => (s.policy!.shadow = false))).beat("server1", 0);
    expect(desiredFor(5, plain.desired)).toBe(plain.desired);
  });
});
