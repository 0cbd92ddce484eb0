// Scripted scenarios for the pure engine: heartbeats, ticks, partitions and admin inputs at exact
// times, with the decisions and reason strings an operator would read in the event log.
// Policy from examples/chimestack.yaml: heartbeat 1 s, T = 3 s, margin 0.5 s, hold-down 10 s.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import type { DesiredGroup, HeartbeatReply, ProbeReport } from "../../protocol/heartbeat.js";
import { ClusterSpec, type ClusterSpecInput } from "../../protocol/spec.js";
import { boot, newPersistedState, step } from "../../worker/engine/index.js";
import type { EngineEffect, EngineInput, EngineState, PersistedState } from "../../worker/engine/index.js";

type Event = Extract<EngineEffect, { type: "event" }>;

/** The example cluster, reduced to the groups these scenarios are about (data modes have their own tests). */
function exampleSpec(edit: (s: ClusterSpecInput) => void = () => {}): ClusterSpec {
  const raw = parse(readFileSync(new URL("../../examples/chimestack.yaml", import.meta.url), "utf8")) as ClusterSpecInput;
  raw.groups = (raw.groups ?? []).filter((g) => g.name === "server-api" || g.name === "portal");
  delete raw.evacuation;
  edit(raw);
  return ClusterSpec.parse(raw);
}

const OK: ProbeReport = { healthy: true, detail: "http 200 in 2 ms" };
const DOWN: ProbeReport = { healthy: false, detail: "connect ECONNREFUSED 127.0.0.1:8801" };

/** Drives the engine like the Durable Object shell does, recording every effect. */
class Harness {
  state: EngineState;
  persisted: PersistedState;
  events: Event[] = [];
  persists = 0;
  pushes: string[] = [];
  alarm: number | null = null;
  seq: Record<string, number> = {};
  health: Record<string, Record<string, ProbeReport>> = {};
  released: Record<string, { group: string; epoch: number }[]> = {};
  /** What each node holds, as a shim reports it (`holding`): its grants, until it releases. */
  held: Record<string, Map<string, number>> = {};

  constructor(readonly spec: ClusterSpec, now = 0) {
    this.persisted = newPersistedState("dc1.chimestack", spec, 1);
    this.state = boot(this.persisted, now);
    for (const n of spec.nodes) this.health[n.name] = n.role === "server" ? { "server-api": OK, portal: OK } : { "chime-agent": { healthy: true, detail: "chime-agent active" } };
  }

  private run(input: EngineInput, now: number) {
    const r = step(this.state, input, now);
    this.state = r.state;
    for (const e of r.effects) {
      if (e.type === "event") this.events.push(e);
      else if (e.type === "persist") {
        this.persisted = structuredClone(e.state);
        this.persists++;
      } else if (e.type === "push") this.pushes.push(e.node);
      else if (e.type === "alarm") this.alarm = e.at;
    }
    return r;
  }

  beat(node: string, now: number): HeartbeatReply {
    const released = this.released[node] ?? [];
    this.released[node] = [];
    const held = (this.held[node] ??= new Map());
    for (const r of released) held.delete(r.group);
    const holding = [...held].map(([group, epoch]) => ({ group, epoch }));
    const request = { bootId: `${node}-boot`, seq: (this.seq[node] = (this.seq[node] ?? 0) + 1), probes: this.health[node]!, holding, released, operations: [], unreleased: [], refused: [], leaving: false };
    const reply = this.run({ type: "heartbeat", node, request }, now).reply!;
    for (const g of reply.grants) held.set(g.group, g.epoch);
    // A lease that the reply no longer renews is over on the node too (it lets go at its end).
    for (const group of [...held.keys()]) if (!reply.grants.some((g) => g.group === group)) held.delete(group);
    return reply;
  }

  tick(now: number) {
    return this.run({ type: "tick" }, now);
  }

  admin(input: EngineInput, now: number) {
    return this.run(input, now);
  }

  /** Every node in `nodes` beats once a second from `from` up to `to` (inclusive), ticking alarms in between. */
  beatEverySecond(nodes: string[], from: number, to: number): void {
    for (let t = from; t <= to; t += 1000) {
      for (let i = 0; i < 100 && this.alarm !== null && this.alarm < t; i++) this.tick(this.alarm);
      nodes.forEach((n, i) => this.beat(n, t + i));
    }
  }

  /** The shim's side of a release: it removes the VIP and reports it in its next heartbeat. */
  confirmRelease(node: string, group: string, epoch: number): void {
    (this.released[node] ??= []).push({ group, epoch });
  }

  holder(group: string) {
    const g = this.state.groups[group]!;
    return { holder: g.holder, epoch: g.epoch, phase: g.phase };
  }

  reasons(kind?: string): string[] {
    return this.events.filter((e) => kind === undefined || e.kind === kind).map((e) => e.reason);
  }

  /** Restart the Durable Object from what was persisted. */
  restart(now: number): void {
    this.state = boot(structuredClone(this.persisted), now);
  }
}

const role = (reply: HeartbeatReply, group: string): DesiredGroup => reply.desired.groups.find((g) => g.name === group)!;

describe("engine scenarios", () => {
  it("grants a group with no holder to the first healthy server that beats, with a reason", () => {
    const h = new Harness(exampleSpec());
    const r1 = h.beat("server1", 0);
    expect(r1.grants).toEqual([
      { group: "server-api", epoch: 1, ttlMs: 3000 },
      { group: "portal", epoch: 1, ttlMs: 3000 },
    ]);
    expect(role(r1, "server-api").role).toBe("holder");
    expect(h.reasons("group.granted")).toEqual([
      "server-api has no holder yet; granting server-api epoch 1 to server1 (priority 110, healthy)",
      "portal has no holder yet; granting portal epoch 1 to server1 (priority 110, healthy)",
    ]);
    expect(h.persists).toBe(1);
    const r2 = h.beat("server2", 10);
    expect(r2.grants).toEqual([]);
    expect(role(r2, "server-api")).toMatchObject({ role: "standby", holder: "server1", epoch: 1 });
    // No alarm for deadlines a heartbeat will move: the one alarm is the end of the boot's restart
    // grace (T + margin), a one-off (engine/deadlines.ts).
    expect(h.alarm).toBe(3500);
  });

  it("fails over after T + drift margin counted from the holder's last heartbeat, never before", () => {
    const h = new Harness(exampleSpec());
    h.beatEverySecond(["server1", "server2"], 0, 10_000);
    expect(h.holder("server-api")).toEqual({ holder: "server1", epoch: 1, phase: "held" });
    // server1 dies after its beat at 10 000. server2 keeps beating.
    for (let t = 11_001; t <= 13_001; t += 1000) expect(h.beat("server2", t).grants).toEqual([]);
    h.tick(13_499);
    expect(h.holder("server-api").holder).toBe("server1");
    expect(h.reasons("node.lost")).toEqual(["server1 missed heartbeats for 3.0 s (lease TTL 3.0 s)"]);
    // The engine asked for an alarm exactly at the lease end plus margin.
    expect(h.alarm).toBe(13_500);
    h.tick(13_500);
    expect(h.holder("server-api")).toEqual({ holder: "server2", epoch: 2, phase: "held" });
    expect(h.reasons("group.granted").slice(-2)).toEqual([
      "server1 lease expired 3.5 s after its last heartbeat; granting server-api epoch 2 to server2 (priority 100, healthy)",
      "server1 lease expired 3.5 s after its last heartbeat; granting portal epoch 2 to server2 (priority 100, healthy)",
    ]);
    // server2 learns it at once through a push, and its next heartbeat carries the grant.
    expect(h.pushes).toContain("server2");
    expect(h.beat("server2", 13_600).grants.map((g) => `${g.group}@${g.epoch}`)).toEqual(["server-api@2", "portal@2"]);
  });

  it("an alarm that fires twice (at-least-once delivery) decides nothing new", () => {
    const h = new Harness(exampleSpec());
    h.beatEverySecond(["server1", "server2"], 0, 2000);
    h.beat("server2", 3001);
    h.beat("server2", 4001);
    h.tick(5500);
    const events = h.events.length;
    const persists = h.persists;
    h.tick(5500);
    h.tick(5500);
    expect(h.events.length).toBe(events);
    expect(h.persists).toBe(persists);
    expect(h.holder("server-api")).toEqual({ holder: "server2", epoch: 2, phase: "held" });
  });

  it("moves the group off an unhealthy holder by release, without waiting for the lease", () => {
    const h = new Harness(exampleSpec());
    h.beatEverySecond(["server1", "server2"], 0, 20_000);
    h.health.server1!["server-api"] = DOWN;
    const r = h.beat("server1", 21_000);
    expect(role(r, "server-api").role).toBe("release");
    expect(r.grants.map((g) => g.group)).toEqual(["portal"]); // no renewal for a group being revoked
    expect(h.reasons("group.revoking")).toEqual([
      "server1's probe for server-api is failing (connect ECONNREFUSED 127.0.0.1:8801); revoking server-api epoch 1 from server1 for server2",
    ]);
    // The shim drops the VIP and confirms; the control plane grants at once.
    h.confirmRelease("server1", "server-api", 1);
    h.beat("server1", 21_200);
    expect(h.holder("server-api")).toEqual({ holder: "server2", epoch: 2, phase: "held" });
    expect(h.reasons("group.released")).toEqual([
      "server1 released server-api at epoch 1 (server1's probe for server-api is failing (connect ECONNREFUSED 127.0.0.1:8801))",
    ]);
    expect(h.reasons("group.granted").at(-1)).toBe("server1 released server-api; granting server-api epoch 2 to server2 (priority 100, healthy)");
  });

  it("a holder that never confirms a release loses the group only when its lease has surely ended", () => {
    const h = new Harness(exampleSpec());
    h.beatEverySecond(["server1", "server2"], 0, 5000);
    h.health.server1!["server-api"] = DOWN;
    h.beat("server1", 6000); // revoke starts; this reply carries no renewal
    h.beat("server2", 6001);
    h.beat("server1", 7000); // still alive, still not confirming
    h.beat("server2", 7001);
    h.beat("server1", 8000);
    h.beat("server2", 8001);
    // Last renewal of server-api was at 5000: lease end 8000, grant elsewhere from 8500.
    h.tick(8499);
    expect(h.holder("server-api").holder).toBe("server1");
    h.tick(8500);
    expect(h.holder("server-api")).toEqual({ holder: "server2", epoch: 2, phase: "held" });
    expect(h.reasons("group.granted").at(-1)).toMatch(/^server1 lease expired .* \(it never confirmed the release\); granting server-api epoch 2 to server2/);
  });

  it("anti-flap hold-down: a second health failover waits out holdDownMs and says so once", () => {
    const h = new Harness(exampleSpec());
    h.beatEverySecond(["server1", "server2"], 0, 3000);
    h.health.server1!["server-api"] = DOWN;
    h.beat("server1", 4000);
    h.confirmRelease("server1", "server-api", 1);
    h.beat("server1", 4100);
    expect(h.holder("server-api").holder).toBe("server2");
    // server1 recovers, then server2's service fails 2 s after the failover.
    h.health.server1!["server-api"] = OK;
    h.beat("server1", 5000);
    h.health.server2!["server-api"] = DOWN;
    h.beat("server2", 6000);
    h.beat("server2", 7000);
    expect(h.holder("server-api")).toMatchObject({ holder: "server2", phase: "held" });
    expect(h.reasons("group.hold-down")).toEqual([
      "server2's probe for server-api is failing (connect ECONNREFUSED 127.0.0.1:8801); server-api would move to server1 but failed over 2.0 s ago: holding down 8.0 s more",
    ]);
    // The engine wakes itself at the end of the hold-down.
    h.beatEverySecond(["server1", "server2"], 8000, 13_000);
    expect(h.holder("server-api")).toMatchObject({ holder: "server2", phase: "held" });
    expect(h.reasons("group.hold-down").length).toBe(1);
    expect(h.alarm).toBe(14_000);
    h.tick(14_000);
    expect(h.holder("server-api").phase).toBe("revoking");
    expect(h.reasons("group.revoking").at(-1)).toBe("server2's probe for server-api is failing (connect ECONNREFUSED 127.0.0.1:8801); revoking server-api epoch 2 from server2 for server1");
  });

  it("does not preempt by default: a recovered higher-priority node stays standby", () => {
    const h = new Harness(exampleSpec());
    h.beatEverySecond(["server2"], 0, 2000);
    expect(h.holder("server-api").holder).toBe("server2");
    h.beatEverySecond(["server1", "server2"], 3000, 120_000);
    expect(h.holder("server-api")).toEqual({ holder: "server2", epoch: 1, phase: "held" });
    expect(h.reasons("group.revoking")).toEqual([]);
  });

  it("preempts when enabled, only after the better node was healthy for the delay", () => {
    const h = new Harness(exampleSpec((s) => void (s.policy = { ...s.policy, preempt: { enabled: true, delayMs: 5000 } })));
    h.beatEverySecond(["server2"], 0, 2000);
    h.beatEverySecond(["server1", "server2"], 3000, 7000);
    expect(h.holder("server-api").phase).toBe("held");
    h.beatEverySecond(["server1", "server2"], 8000, 8000);
    expect(h.holder("server-api").phase).toBe("revoking");
    expect(h.reasons("group.revoking")[0]).toBe("server1 (priority 110) healthy for 5.0 s outranks server2 (priority 100): preempting; revoking server-api epoch 1 from server2 for server1");
    h.confirmRelease("server2", "server-api", 1);
    h.beat("server2", 8500);
    expect(h.holder("server-api")).toEqual({ holder: "server1", epoch: 2, phase: "held" });
  });

  it("after a Durable Object restart: the holder keeps its epoch, others wait out T + margin", () => {
    const h = new Harness(exampleSpec());
    h.beatEverySecond(["server1", "server2"], 0, 5000);
    const persistsBefore = h.persists;
    // Restart at 5 200: lease state is memory only, so the engine assumes server1 may hold until 8 200.
    h.restart(5200);
    const r = h.beat("server1", 6000);
    expect(r.grants.find((g) => g.group === "server-api")).toEqual({ group: "server-api", epoch: 1, ttlMs: 3000 });
    expect(h.persists).toBe(persistsBefore); // a renewal after restart writes nothing
    // Now server1 is silent; server2 beats: nothing moves before the grace (boot + T + M = 8 700)
    // nor before server1's lease (6 000 + 3 000 + 500 = 9 500).
    h.beatEverySecond(["server2"], 7000, 9000);
    h.tick(9499);
    expect(h.holder("server-api").holder).toBe("server1");
    h.tick(9500);
    expect(h.holder("server-api")).toEqual({ holder: "server2", epoch: 2, phase: "held" });
  });

  it("after a restart with a silent holder, the grant waits for boot + T + margin", () => {
    const h = new Harness(exampleSpec());
    h.beatEverySecond(["server1", "server2"], 0, 5000);
    h.restart(5200);
    h.beatEverySecond(["server2"], 5500, 8500);
    h.tick(8699);
    expect(h.holder("server-api").holder).toBe("server1");
    h.tick(8700);
    expect(h.holder("server-api")).toEqual({ holder: "server2", epoch: 2, phase: "held" });
    expect(h.reasons("group.granted").at(-2)).toBe(
      "server1 lease expired (no heartbeat since the control plane started 3.5 s ago); granting server-api epoch 2 to server2 (priority 100, healthy)",
    );
  });

  it("cluster maintenance freezes failover; turning it off resumes it", () => {
    const h = new Harness(exampleSpec());
    h.beatEverySecond(["server1", "server2"], 0, 3000);
    h.admin({ type: "maintenance", node: null, on: true, actor: "token:ops" }, 3500);
    expect(h.reasons("cluster.maintenance")).toEqual(["maintenance on (by token:ops): automatic decisions frozen"]);
    h.beatEverySecond(["server2"], 4000, 20_000);
    expect(h.holder("server-api")).toMatchObject({ holder: "server1", epoch: 1 });
    expect(h.reasons("group.frozen")[0]).toBe("server1 lease expired 3.5 s after its last heartbeat; cluster in maintenance, decisions frozen");
    // Said once per group, not on every tick.
    expect(h.reasons("group.frozen").length).toBe(2);
    // A switchover is refused while frozen.
    expect(h.admin({ type: "switchover", group: "server-api", to: "server2", actor: "token:ops" }, 20_100).rejected).toBe("the cluster is in maintenance: decisions are frozen");
    h.admin({ type: "maintenance", node: null, on: false, actor: "token:ops" }, 20_500);
    expect(h.holder("server-api")).toEqual({ holder: "server2", epoch: 2, phase: "held" });
  });

  it("node maintenance drains the node's groups by release and keeps it out", () => {
    const h = new Harness(exampleSpec());
    h.beatEverySecond(["server1", "server2"], 0, 3000);
    h.admin({ type: "maintenance", node: "server1", on: true, actor: "token:ops" }, 3200);
    expect(h.reasons("group.revoking")).toEqual([
      "server1 is in maintenance (drain); revoking server-api epoch 1 from server1 for server2",
      "server1 is in maintenance (drain); revoking portal epoch 1 from server1 for server2",
    ]);
    h.confirmRelease("server1", "server-api", 1);
    h.confirmRelease("server1", "portal", 1);
    const r = h.beat("server1", 3300);
    expect(r.desired.maintenance).toBe(true);
    expect(h.holder("server-api")).toEqual({ holder: "server2", epoch: 2, phase: "held" });
    expect(h.holder("portal")).toEqual({ holder: "server2", epoch: 2, phase: "held" });
    // The drained node is not a real server of the portal while in maintenance.
    const director = h.beat("server2", 3400);
    expect(role(director, "portal").lb?.realServers.map((s) => s.node)).toEqual(["server2"]);
  });

  it("planned switchover to a named node: release then grant, no lease wait", () => {
    const h = new Harness(exampleSpec());
    h.beatEverySecond(["server1", "server2"], 0, 3000);
    const r = h.admin({ type: "switchover", group: "server-api", to: "server2", actor: "token:alice" }, 3100);
    expect(r.rejected).toBeUndefined();
    expect(r.effects.filter((e) => e.type === "push").map((e) => (e as { node: string }).node)).toContain("server1");
    expect(h.reasons("group.revoking")).toEqual(["switchover requested by token:alice; revoking server-api epoch 1 from server1 for server2"]);
    h.confirmRelease("server1", "server-api", 1);
    h.beat("server1", 3150);
    expect(h.holder("server-api")).toEqual({ holder: "server2", epoch: 2, phase: "held" });
    expect(h.reasons("group.granted").at(-1)).toBe("server1 released server-api; granting server-api epoch 2 to server2 (priority 100, healthy)");
    // Planned moves do not start a hold-down.
    expect(h.state.groups["server-api"]!.lastAutoFailoverAt).toBeNull();
  });

  it("switchover to the best node, and the refusals an operator needs to understand", () => {
    const h = new Harness(exampleSpec());
    h.beatEverySecond(["server1", "server2"], 0, 3000);
    const sw = (to: string | null, at: number) => h.admin({ type: "switchover", group: "server-api", to, actor: "token:alice" }, at).rejected;
    expect(sw("server1", 3100)).toBe("server1 already holds server-api");
    expect(sw("node1", 3100)).toBe("cannot switch server-api to node1: node1 is not a member of server-api");
    expect(sw("nosuch", 3100)).toBe("cannot switch server-api to nosuch: nosuch is not in the cluster");
    h.health.server2!["server-api"] = DOWN;
    h.beat("server2", 3200);
    expect(sw("server2", 3300)).toBe("cannot switch server-api to server2: server2's probe for server-api is failing (connect ECONNREFUSED 127.0.0.1:8801)");
    expect(sw(null, 3300)).toBe("no healthy candidate other than server1 for server-api");
    h.health.server2!["server-api"] = OK;
    h.beat("server2", 3400);
    expect(sw(null, 3500)).toBeUndefined();
    expect(sw(null, 3600)).toBe("a move of server-api from server1 is already running");
    expect(h.holder("server-api")).toMatchObject({ holder: "server1", phase: "revoking" });
  });

  it("portal director: real servers follow the members' health, and the director is told at once", () => {
    const h = new Harness(exampleSpec());
    h.beatEverySecond(["server1", "server2"], 0, 3000);
    const rs = (node: string, t: number) => role(h.beat(node, t), "portal").lb?.realServers.map((s) => `${s.node}=${s.ip}:${s.weight}`);
    expect(rs("server1", 4000)).toEqual(["server1=192.168.231.11:1", "server2=192.168.231.12:1"]);
    expect(role(h.beat("server1", 4001), "portal").lb).toMatchObject({ backend: "ipvs", scheduler: "wrr" });
    h.pushes = [];
    h.health.server2!.portal = { healthy: false, detail: "http 502" };
    h.beat("server2", 4100);
    expect(h.pushes).toEqual(["server1"]); // the director's desired state changed
    expect(rs("server1", 4200)).toEqual(["server1=192.168.231.11:1"]);
    // A sick real server does not move the portal VIP away from a healthy director.
    expect(h.holder("portal")).toMatchObject({ holder: "server1", epoch: 1, phase: "held" });
    h.health.server2!.portal = OK;
    h.beat("server2", 4300);
    expect(rs("server1", 4400)).toEqual(["server1=192.168.231.11:1", "server2=192.168.231.12:1"]);
    // A dead real server (no heartbeats) leaves the pool too.
    h.beatEverySecond(["server1"], 5000, 8000);
    expect(rs("server1", 8001)).toEqual(["server1=192.168.231.11:1"]);
  });

  it("0 storage writes over 1,000 steady renewals", () => {
    const h = new Harness(exampleSpec());
    const all = ["server1", "server2", "node1", "node2"];
    h.beatEverySecond(all, 0, 2000);
    const before = h.persists;
    const eventsBefore = h.events.length;
    h.beatEverySecond(all, 3000, 3000 + 999 * 1000);
    expect(h.events.slice(eventsBefore)).toEqual([]);
    expect(h.persists).toBe(before);
    expect(h.holder("server-api")).toEqual({ holder: "server1", epoch: 1, phase: "held" });
  });

  it("ignores a stale release from an older epoch", () => {
    const h = new Harness(exampleSpec());
    h.beatEverySecond(["server1", "server2"], 0, 2000);
    h.beatEverySecond(["server2"], 3000, 6000); // server1 partitioned away; server2 takes over at 5 500
    expect(h.holder("server-api")).toMatchObject({ holder: "server2", epoch: 2 });
    // server1 comes back and reports it released epoch 1: that must not free epoch 2.
    h.confirmRelease("server1", "server-api", 1);
    const r = h.beat("server1", 6500);
    expect(r.grants).toEqual([]);
    expect(role(r, "server-api")).toMatchObject({ role: "standby", holder: "server2", epoch: 2 });
    expect(h.holder("server-api")).toEqual({ holder: "server2", epoch: 2, phase: "held" });
    expect(h.reasons("group.released")).toEqual([]);
    expect(h.reasons("node.back")).toEqual(["server1 is sending heartbeats again after 4.5 s"]);
  });

  it("says why nobody can take a group, once, and grants as soon as someone can", () => {
    const h = new Harness(exampleSpec());
    h.health.server1!["server-api"] = DOWN;
    h.health.server2!["server-api"] = DOWN;
    h.beatEverySecond(["server1", "server2"], 0, 3000);
    expect(h.holder("server-api").holder).toBeNull();
    expect(h.reasons("group.no-candidate")).toEqual([
      "server-api has no holder yet; no healthy candidate for server-api (server1's probe for server-api is failing (connect ECONNREFUSED 127.0.0.1:8801); server2 has not sent a heartbeat)",
      "server-api has no holder yet; no healthy candidate for server-api (server1's probe for server-api is failing (connect ECONNREFUSED 127.0.0.1:8801); server2's probe for server-api is failing (connect ECONNREFUSED 127.0.0.1:8801))",
    ]);
    h.health.server2!["server-api"] = OK;
    h.beat("server2", 4001);
    expect(h.holder("server-api")).toEqual({ holder: "server2", epoch: 1, phase: "held" });
  });

  it("when every server dies: one 'lost' and one 'no candidate' per group, not one per tick", () => {
    const h = new Harness(exampleSpec());
    h.beatEverySecond(["server1", "server2"], 0, 3000);
    // Alarms as the engine asks for them, plus a spurious tick every 500 ms.
    for (let t = 4000; t <= 60_000; t += 500) {
      for (let i = 0; i < 100 && h.alarm !== null && h.alarm < t; i++) h.tick(h.alarm);
      h.tick(t);
    }
    expect(h.holder("server-api").holder).toBeNull();
    expect(h.reasons("group.lost").filter((r) => r.includes("server-api has no holder"))).toEqual(["server1 lease expired 3.5 s after its last heartbeat; server-api has no holder"]);
    const noCandidate = h.events.filter((e) => e.kind === "group.no-candidate" && e.group === "server-api").map((e) => e.reason);
    expect(noCandidate).toEqual([
      "server1 lease expired 3.5 s after its last heartbeat; no healthy candidate for server-api (server1 is not alive (no heartbeat for 3.5 s); server2 is not alive (no heartbeat for 3.5 s))",
    ]);
    expect(h.reasons("node.lost")).toEqual(["server1 missed heartbeats for 3.0 s (lease TTL 3.0 s)", "server2 missed heartbeats for 3.0 s (lease TTL 3.0 s)"]);
    // The first server back gets the group at once (a free group has no lease anywhere).
    h.beat("server2", 61_000);
    expect(h.holder("server-api")).toEqual({ holder: "server2", epoch: 2, phase: "held" });
  });
});
