// A new spec version (worker/engine/on-spec.ts): a removed group is retired with its epoch, VIP,
// holder and that holder's lease end, and its VIP goes to nobody before that end + margin; after
// it only the epoch floor stays. What belongs to nodes and groups that remain carries over (heard,
// node maintenance, limits, failsafe peer lists, conditions, compute progress, drills); what
// belongs to removed ones is dropped. A holder removed from the spec is told once why its group
// moves. Every spec change is written and said in one event.
import { describe, expect, it } from "vitest";
import type { ClusterSpecInput } from "../../protocol/spec.js";
import type { EngineEffect } from "../../worker/engine/index.js";
import { API_GROUP, Shell, smallSpec } from "./support/small-spec.js";

const OK = { healthy: true, detail: "ok" };
const WEB = { ...API_GROUP, name: "web", vip: "192.168.231.20" };
const LAN = { restricted: true, vipCidrs: ["192.168.231.0/25"], minPrefixLength: 24, interfaces: ["eth0"] };
const three = (groups = [API_GROUP, WEB], edit?: (s: ClusterSpecInput) => void) => smallSpec({ priorities: [110, 100, 90], groups, ...(edit ? { edit } : {}) });
const without = (node: string, groups = [API_GROUP, WEB]) => three(groups, (s) => void (s.nodes = s.nodes.filter((n) => n.name !== node)));

/** Failsafe off: a removed group's holder cannot keep its VIP past its lease (see the failsafe tests below). */
const noFailsafe = (s: ClusterSpecInput) => void (s.policy = { ...s.policy, failsafe: false });

/** server1 holds api at epoch 1, its lease renewed at 1000 (until 4000); web has no candidate (nobody reports it). */
function held(edit?: (s: ClusterSpecInput) => void): Shell {
  const sh = new Shell(three(undefined, edit));
  sh.beat("server1", 0, { probes: { api: OK } });
  sh.beat("server2", 0, { probes: { api: OK } });
  sh.beat("server1", 1000, { probes: { api: OK } });
  expect(sh.holder("api")).toBe("server1");
  expect(sh.state.groups.api!.leaseUntil).toBe(4000);
  return sh;
}

const events = (effects: EngineEffect[], kind: string) => effects.flatMap((e) => (e.type === "event" && e.kind === kind ? [e] : []));

describe("spec change", () => {
  it("retires removed groups with epoch, VIP, holder and lease end; one event names them; the change is written", () => {
    const sh = held(noFailsafe);
    const r = sh.run({ type: "spec", spec: three([], noFailsafe), specVersion: 2, actor: "ops" }, 1100);
    expect(sh.state.persisted.retired).toEqual({
      api: { epoch: 1, vip: "192.168.231.10", holder: "server1", until: 4000 },
      // Never held: nothing to wait for, only the epoch floor.
      web: { epoch: 0, vip: "192.168.231.20", holder: null, until: null },
    });
    expect(sh.state.groups).toEqual({});
    expect(events(r.effects, "cluster.spec")).toEqual([{ type: "event", kind: "cluster.spec", severity: "info", reason: "spec version 2 applied by ops; groups removed (their VIPs are dropped): api, web", actor: "ops" }]);
    expect(sh.persistsOf(r).map((p) => [p.specVersion, p.specBy])).toEqual([[2, "ops"]]);
    // The condition about web (no candidate) went with it.
    expect(sh.state.persisted.notes).toEqual({});
  });

  it("a spec change that keeps every group retires nothing and adds no failsafe bookkeeping, but is still written", () => {
    const sh = held();
    const r = sh.run({ type: "spec", spec: three(), specVersion: 2, actor: "ops" }, 1100);
    const p = sh.state.persisted;
    expect(Object.keys(p)).not.toContain("retired");
    expect(Object.keys(p)).not.toContain("memberSince");
    expect(Object.keys(p)).not.toContain("peersOf");
    expect(p.groups.api).toEqual({ holder: "server1", epoch: 1, lastAutoFailoverAt: null, holderBoot: "boot-server1" });
    // The holder keeps its group and its lease as it was.
    expect(sh.state.groups.api!.leaseUntil).toBe(4000);
    expect(sh.state.groups.api!.phase).toBe("held");
    expect(events(r.effects, "cluster.spec").map((e) => e.reason)).toEqual(["spec version 2 applied by ops"]);
    expect(sh.persistsOf(r).map((p) => p.specVersion)).toEqual([2]);
    expect(p.notes).toEqual({ "wait:web": "waiting" });
  });

  it("a retired VIP blocks until its holder's lease end + margin (4500); from then only the epoch floor stays", () => {
    for (const [at, holder, until] of [[4499, "server1", 4000], [4500, null, null]] as const) {
      const sh = held(noFailsafe);
      sh.run({ type: "spec", spec: three([], noFailsafe), specVersion: 2, actor: "ops" }, 1100);
      sh.run({ type: "spec", spec: three([], (s) => void (s.policy = { ...s.policy, holdDownMs: 5000, failsafe: false })), specVersion: 3, actor: "ops" }, at);
      expect(sh.state.persisted.retired!.api).toEqual({ epoch: 1, vip: "192.168.231.10", holder, until });
      expect(sh.state.persisted.retired!.web).toEqual({ epoch: 0, vip: "192.168.231.20", holder: null, until: null });
    }
  });

  it("a group added again is free at the epoch it reached; its retired entry stays while the old lease may run (until 4500)", () => {
    for (const [at, kept] of [[4499, true], [4500, false]] as const) {
      const sh = held(noFailsafe);
      sh.run({ type: "spec", spec: three([], noFailsafe), specVersion: 2, actor: "ops" }, 1100);
      sh.run({ type: "spec", spec: three(undefined, noFailsafe), specVersion: 3, actor: "ops" }, at);
      expect(sh.state.persisted.groups.api).toEqual({ holder: null, epoch: 1, lastAutoFailoverAt: null });
      expect(sh.state.groups.api).toMatchObject({ holder: null, epoch: 1, phase: "free", leaseUntil: null, revokeTo: null });
      // web never had a holder: nothing to wait out, its entry goes at once.
      expect(sh.state.persisted.retired).toEqual(kept ? { api: { epoch: 1, vip: "192.168.231.10", holder: "server1", until: 4000 } } : undefined);
    }
  });

  it("failsafe: a removed group's holder may keep its VIP on promises from the members it knew; one that joined later gets it only once the holder says it let go", () => {
    const DOWN = { healthy: false, detail: "down" };
    // server3 joins in version 2, after the peer list server1 says it uses (version 1).
    const sh = new Shell(without("server3"));
    sh.beat("server1", 0, { probes: { api: OK }, peersOf: 1 });
    sh.beat("server2", 0, { probes: { api: OK }, peersOf: 1 });
    sh.run({ type: "spec", spec: three(), specVersion: 2, actor: "ops" }, 500);
    sh.beat("server1", 1000, { probes: { api: OK }, peersOf: 1 });
    expect(sh.holder("api")).toBe("server1");
    sh.run({ type: "spec", spec: three([WEB]), specVersion: 3, actor: "ops" }, 1100);
    expect(sh.state.persisted.retired!.api).toEqual({ epoch: 1, vip: "192.168.231.10", holder: "server1", until: 4000, knownBy: ["server2"] });
    // server1 falls silent; api comes back long after its lease. server2 (known) cannot serve; server3 (never asked) waits.
    sh.run({ type: "spec", spec: three(), specVersion: 4, actor: "ops" }, 6000);
    sh.beat("server2", 6100, { probes: { api: DOWN } });
    const r = sh.beat("server3", 6200, { probes: { api: OK } });
    expect(sh.holder("api")).toBeNull();
    expect(events(r.effects, "group.vip-busy").map((e) => e.reason)).toEqual([
      "api is free; api's VIP 192.168.231.10 was server1's before the group was removed: waiting for server1 to say it let go (it may keep the VIP on failsafe promises from the members it knew, and server3 was never asked for one)",
    ]);
    expect(sh.run({ type: "switchover", group: "api", to: "server3", actor: "op" }, 6300).rejected).toBe(
      "cannot switch api to server3 yet: its VIP 192.168.231.10 was server1's before the group was removed, and server1 may keep it on failsafe promises from the members it knew (server3 was never asked for one) until it says it let go",
    );
    // server1 reports again, holding nothing: its VIP is gone, server3 gets the group.
    sh.beat("server1", 6400, { probes: { api: DOWN }, peersOf: 4 });
    expect(sh.state.persisted.retired!.api!.knownBy).toBeUndefined();
    sh.beat("server3", 6500, { probes: { api: OK } });
    expect(sh.holder("api")).toBe("server3");
  });

  it("failsafe: a member the removed group's holder knew gets the VIP once the lease is over, before a higher one it did not know", () => {
    const sh = new Shell(smallSpec({ priorities: [110, 90, 100], groups: [API_GROUP, WEB], edit: (s) => void (s.nodes = s.nodes.filter((n) => n.name !== "server3")) }));
    sh.beat("server1", 0, { probes: { api: OK }, peersOf: 1 });
    sh.beat("server2", 0, { probes: { api: OK }, peersOf: 1 });
    sh.run({ type: "spec", spec: smallSpec({ priorities: [110, 90, 100], groups: [API_GROUP, WEB] }), specVersion: 2, actor: "ops" }, 500);
    sh.beat("server1", 1000, { probes: { api: OK }, peersOf: 1 });
    sh.run({ type: "spec", spec: smallSpec({ priorities: [110, 90, 100], groups: [WEB] }), specVersion: 3, actor: "ops" }, 1100);
    sh.run({ type: "spec", spec: smallSpec({ priorities: [110, 90, 100], groups: [API_GROUP, WEB] }), specVersion: 4, actor: "ops" }, 6000);
    sh.beat("server3", 6100, { probes: { api: OK } });
    sh.beat("server2", 6200, { probes: { api: OK } });
    expect(sh.holder("api")).toBe("server2");
  });

  it("a holder removed from the spec: revoking from now with the reason, said once even when the spec changes again", () => {
    const sh = held();
    const r = sh.run({ type: "spec", spec: without("server3"), specVersion: 2, actor: "ops" }, 1050);
    expect(events(r.effects, "group.revoking")).toEqual([]);
    const r2 = sh.run({ type: "spec", spec: without("server1"), specVersion: 3, actor: "ops" }, 1100);
    expect(sh.state.groups.api).toMatchObject({ holder: "server1", phase: "revoking", revokeTo: null, revokeReason: "server1 was removed from the spec", revokeAt: 1100, leaseUntil: 4000 });
    expect(events(r2.effects, "group.revoking")).toEqual([
      { type: "event", kind: "group.revoking", severity: "warning", reason: "server1 was removed from the spec; api epoch 1 moves once its lease has surely ended", actor: "ops", group: "api", node: "server1", epoch: 1, incident: "group:api" },
    ]);
    const r3 = sh.run({ type: "spec", spec: without("server1", [API_GROUP]), specVersion: 4, actor: "ops" }, 1200);
    expect(events(r3.effects, "group.revoking")).toEqual([]);
    expect(sh.state.groups.api!.revokeAt).toBe(1100);
  });

  it("what belongs to removed nodes is dropped; what belongs to the others carries over", () => {
    const sh = new Shell(three());
    for (let t = 0; t <= 2000; t += 1000) {
      for (const n of ["server1", "server2", "server3"]) sh.beat(n, t, { probes: { api: OK }, limits: LAN, peersOf: 1 });
    }
    sh.beat("node1", 0, {});
    sh.run({ type: "maintenance", node: "server3", on: true, actor: "ops" }, 2050);
    sh.run({ type: "maintenance", node: "server2", on: true, actor: "ops" }, 2060);
    // node1 stops: at 70 s its fencing is under way (persisted progress).
    sh.tick(70_000);
    const compute = sh.state.persisted.computes.node1;
    expect(compute!.phase).not.toBe("alive");
    sh.run({ type: "spec", spec: without("server3"), specVersion: 2, actor: "ops" }, 70_100);
    const p = sh.state.persisted;
    expect(p.heard).toEqual(["server1", "server2", "node1"]);
    expect(p.nodeMaintenance).toEqual(["server2"]);
    expect(Object.keys(p.limits!)).toEqual(["server1", "server2"]);
    expect(p.peersOf).toEqual({ server1: 1, server2: 1 });
    expect(p.computes.node1).toEqual(compute);
    expect(Object.keys(sh.state.nodes)).toEqual(["server1", "server2", "node1"]);
  });

  it("members that join a group are recorded with the spec version they joined in; members from the start are not", () => {
    const sh = new Shell(smallSpec({ priorities: [110, 100] }));
    sh.run({ type: "spec", spec: three([API_GROUP]), specVersion: 2, actor: "ops" }, 100);
    expect(sh.state.persisted.memberSince).toEqual({ api: { server3: 2 } });
    // Kept while it stays a member; a member that leaves and comes back joined again.
    sh.run({ type: "spec", spec: three([API_GROUP, WEB]), specVersion: 3, actor: "ops" }, 200);
    expect(sh.state.persisted.memberSince).toEqual({ api: { server3: 2 }, web: { server1: 3, server2: 3, server3: 3 } });
    sh.run({ type: "spec", spec: without("server3", [API_GROUP, WEB]), specVersion: 4, actor: "ops" }, 300);
    expect(sh.state.persisted.memberSince).toEqual({ web: { server1: 3, server2: 3 } });
    sh.run({ type: "spec", spec: three([API_GROUP, WEB]), specVersion: 5, actor: "ops" }, 400);
    expect(sh.state.persisted.memberSince).toEqual({ api: { server3: 5 }, web: { server1: 3, server2: 3, server3: 5 } });
    // A group whose members are listed: only those.
    const listed = { ...WEB, members: ["server1", "server3"] };
    sh.run({ type: "spec", spec: three([API_GROUP, listed]), specVersion: 6, actor: "ops" }, 500);
    expect(sh.state.persisted.memberSince).toEqual({ api: { server3: 5 }, web: { server1: 3, server3: 5 } });
  });

  it("drills and operations carry over (drills of removed groups are forgotten); conditions stay while their group or node does", () => {
    const sh = held();
    const drill = { lastAt: 500, lastResult: "passed", lastOk: true, run: null };
    sh.state.persisted.drills = { api: drill, web: { ...drill, lastOk: false } };
    sh.state.persisted.operations = { "op-1": { id: "op-1" } as never };
    sh.state.persisted.notes = { ...sh.state.persisted.notes, "agent:node1": "down", "agent:server3": "down", "limits:server2": "x" };
    sh.run({ type: "spec", spec: without("server3", [API_GROUP]), specVersion: 2, actor: "ops" }, 1100);
    const p = sh.state.persisted;
    expect(p.drills).toEqual({ api: drill });
    expect(p.operations).toEqual({ "op-1": { id: "op-1" } });
    expect(p.notes).toEqual({ "agent:node1": "down", "limits:server2": "x" });
  });

  it("a lapsed holder that leaves the spec takes its lapse with it; one that stays keeps it", () => {
    const lapsed = () => {
      const sh = new Shell(three([API_GROUP]));
      for (const n of ["server1", "server2", "server3"]) sh.beat(n, 0, { probes: { api: OK } });
      sh.beat("server1", 1000, { probes: { api: OK }, holding: [{ group: "api", epoch: 1 }] });
      for (let t = 1500; t <= 4500; t += 500) for (const n of ["server2", "server3"]) sh.beat(n, t, { probes: { api: OK } });
      expect(sh.state.persisted.groups.api!.lapsedHolder).toBe("server1");
      return sh;
    };
    const gone = lapsed();
    gone.run({ type: "spec", spec: without("server1", [API_GROUP]), specVersion: 2, actor: "ops" }, 5000);
    expect(gone.state.persisted.groups.api).toEqual({ holder: "server2", epoch: 2, lastAutoFailoverAt: 4500, holderBoot: "boot-server2" });
    const stays = lapsed();
    stays.run({ type: "spec", spec: without("server3", [API_GROUP]), specVersion: 2, actor: "ops" }, 5000);
    expect(stays.state.persisted.groups.api!.lapsedHolder).toBe("server1");
  });
});
