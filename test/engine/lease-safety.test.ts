// The engine's lease rules that keep one VIP on one host when shims misbehave or the spec changes:
// late heartbeats, a node that is stopping, a node that cannot remove its VIP, a node that still
// holds what moved on, a holder removed from the spec, and a group removed and added again.
import { describe, expect, it } from "vitest";
import { ClusterSpec, type ClusterSpecInput } from "../../protocol/spec.js";
import { Driver, down, healthy } from "./support/data-spec.js";

const T = 3000;
const M = 500;

function spec(over: Partial<ClusterSpecInput> = {}): ClusterSpec {
  return ClusterSpec.parse({
    apiVersion: "chime-ha/v1",
    name: "safety",
    policy: { heartbeatIntervalMs: 1000, leaseTtlMs: T, driftMarginMs: M, holdDownMs: 0, deadAfterMs: 600_000 },
    nodes: [
      { name: "server1", hostname: "server1.chime.com", ip: "192.168.231.11", role: "server", priority: 110 },
      { name: "server2", hostname: "server2.chime.com", ip: "192.168.231.12", role: "server", priority: 100 },
      { name: "server3", hostname: "server3.chime.com", ip: "192.168.231.13", role: "server", priority: 90 },
      { name: "node1", hostname: "node1.chime.com", ip: "192.168.231.101", role: "compute" },
    ],
    groups: [{ name: "server-api", service: "chime-server", mode: "active-standby", vip: "192.168.231.10", ports: [{ port: 8801 }], probe: { type: "tcp", port: 8801 } }],
    ...over,
  });
}

const ok = { "server-api": healthy };

/** server1 holds server-api at epoch 1 (everyone alive and healthy), at t = 0. */
function started(s = spec()): Driver {
  const d = new Driver(s, -(T + M));
  for (const n of ["server1", "server2", "server3"]) d.beat(n, 0, { probes: ok });
  d.tick(0);
  expect(d.holder("server-api")).toBe("server1");
  return d;
}

describe("engine lease safety rules", () => {
  it("ignores a heartbeat sent before one it already has from the same shim process (no renewal, no stale probe results)", () => {
    const d = started();
    d.beat("server1", 50, { probes: ok }); // seq 1
    const r = d.run({ type: "heartbeat", node: "server1", request: { bootId: "boot-server1", seq: 0, probes: { "server-api": { healthy: false, detail: "late" } }, holding: [], released: [], operations: [], unreleased: [], refused: [], leaving: false } }, 100);
    expect(r.reply!.grants).toEqual([]);
    expect(d.state.nodes.server1!.probes["server-api"]!.healthy).toBe(true);
    expect(d.state.groups["server-api"]!.leaseUntil).toBe(50 + T);
    // A new process (new boot id) starts its own sequence.
    const r2 = d.run({ type: "heartbeat", node: "server1", request: { bootId: "boot-server1-b", seq: 0, probes: ok, holding: [], released: [], operations: [], unreleased: [], refused: [], leaving: false } }, 200);
    expect(r2.reply!.grants).toHaveLength(1);
  });

  it("stop means go: a node that released because it is stopping is not granted again until it says it is back", () => {
    const d = started();
    d.beat("server1", 100, { probes: ok, released: [{ group: "server-api", epoch: 1 }], leaving: true });
    expect(d.holder("server-api")).toBe("server2");
    expect(d.events("group.released").at(-1)!.reason).toBe("server1 released server-api at epoch 1");
    // server2 stops too: server3, never server1.
    d.beat("server2", 200, { probes: ok, released: [{ group: "server-api", epoch: 2 }], leaving: true });
    expect(d.holder("server-api")).toBe("server3");
    d.beat("server3", 300, { probes: ok, released: [{ group: "server-api", epoch: 3 }], leaving: true });
    expect(d.holder("server-api")).toBeNull();
    // server1's new process is back (no `leaving`): a candidate again.
    d.run({ type: "heartbeat", node: "server1", request: { bootId: "boot-server1-new", seq: 0, probes: ok, holding: [], released: [], operations: [], unreleased: [], refused: [], leaving: false } }, 400);
    expect(d.holder("server-api")).toBe("server1");
  });

  it("a holder that cannot remove its VIP says so: a critical event, and the group waits out the lease instead of moving at once", () => {
    const d = started();
    d.beat("server1", 500, { probes: ok });
    const leaseEnd = 500 + T;
    d.run({ type: "switchover", group: "server-api", to: "server2", actor: "ops" }, 600);
    d.beat("server1", 700, { probes: ok, unreleased: [{ group: "server-api", epoch: 1, detail: "ip addr del failed: injected" }] });
    const ev = d.events("group.unreleased");
    expect(ev).toHaveLength(1);
    expect(ev[0]!.severity).toBe("critical");
    expect(ev[0]!.reason).toBe("server1 cannot remove the VIP of server-api (epoch 1): ip addr del failed: injected; waiting out its lease before server-api goes elsewhere");
    // Said once however often it is reported; no renewal meanwhile.
    d.beat("server1", 1700, { probes: ok, unreleased: [{ group: "server-api", epoch: 1, detail: "ip addr del failed: injected" }] });
    expect(d.events("group.unreleased")).toHaveLength(1);
    d.tick(leaseEnd + M - 1);
    expect(d.holder("server-api")).toBe("server1");
    d.beat("server2", leaseEnd + M - 1, { probes: ok });
    d.tick(leaseEnd + M);
    expect(d.holder("server-api")).toBe("server2");
  });

  it("a node that stops without being told and cannot remove its VIP gets no more renewals", () => {
    const d = started();
    const r = d.beat("server1", 500, { probes: ok, unreleased: [{ group: "server-api", epoch: 1, detail: "ip: injected" }], leaving: true });
    expect(r.reply!.grants).toEqual([]);
    expect(d.state.groups["server-api"]!.phase).toBe("revoking");
    d.beat("server2", T + M - 10, { probes: ok });
    d.tick(T + M);
    expect(d.holder("server-api")).toBe("server2");
  });

  it("a node still holding a group the control plane moved on is reported once, critical", () => {
    const d = started();
    d.beat("server1", 100, { probes: ok, released: [{ group: "server-api", epoch: 1 }] });
    expect(d.holder("server-api")).toBe("server1"); // best candidate again (not stopping): epoch 2
    d.run({ type: "switchover", group: "server-api", to: "server2", actor: "ops" }, 200);
    d.beat("server1", 300, { probes: ok, released: [{ group: "server-api", epoch: 2 }] });
    expect(d.holder("server-api")).toBe("server2");
    d.beat("server1", 400, { probes: ok, holding: [{ group: "server-api", epoch: 2 }] });
    d.beat("server1", 500, { probes: ok, holding: [{ group: "server-api", epoch: 2 }] });
    const ev = d.events("group.stale-holder");
    expect(ev.map((e) => [e.severity, e.reason])).toEqual([["critical", "server1 says it still holds server-api at epoch 2, but epoch 3 belongs to server2"]]);
  });

  it("a grant refused on a failsafe promise is an event; the promised holder keeping the group is not a critical one", () => {
    const d = started();
    d.beat("server2", 100, { probes: ok });
    d.beat("server3", 100, { probes: ok });
    // server1 falls silent (cut off from the control plane); server2 gets the group and refuses it.
    d.beat("server2", T + M, { probes: ok });
    d.beat("server3", T + M, { probes: ok });
    d.tick(T + M);
    expect(d.holder("server-api")).toBe("server2");
    d.beat("server2", T + M + 100, { probes: ok, refused: [{ group: "server-api", epoch: 2, promisedTo: "server1" }] });
    expect(d.events("group.refused").map((e) => e.reason)).toEqual(["server2 refused server-api epoch 2: it promised server1 (failsafe) not to take it while the control plane could not reach server1"]);
    d.beat("server1", T + M + 200, { probes: ok, holding: [{ group: "server-api", epoch: 1 }] });
    expect(d.events("group.stale-holder")).toEqual([]);
    expect(d.events("group.kept-on-promise")).toHaveLength(1);
  });

  it("a holder removed from the spec keeps its group until its lease has surely ended", () => {
    const d = started();
    d.beat("server1", 1000, { probes: ok });
    const s2 = spec({ nodes: spec().nodes.filter((n) => n.name !== "server1") });
    d.run({ type: "spec", spec: s2, specVersion: 2, actor: "ops" }, 1100);
    expect(d.holder("server-api")).toBe("server1");
    expect(d.state.groups["server-api"]!.phase).toBe("revoking");
    d.beat("server2", 1000 + T + M - 1, { probes: ok });
    d.beat("server3", 1000 + T + M - 1, { probes: ok });
    d.tick(1000 + T + M - 1);
    expect(d.holder("server-api")).toBe("server1");
    d.tick(1000 + T + M);
    expect(d.holder("server-api")).toBe("server2");
    expect(d.state.groups["server-api"]!.epoch).toBe(2);
  });

  it("epochs never go back for a group name, and a group added again waits for the old holder's lease", () => {
    const d = started();
    for (let i = 0; i < 3; i++) {
      d.beat("server1", 100 + i * 10, { probes: ok, released: [{ group: "server-api", epoch: d.state.groups["server-api"]!.epoch }] });
    }
    const epoch = d.state.groups["server-api"]!.epoch;
    expect(epoch).toBe(4);
    d.beat("server1", 1000, { probes: ok });
    d.run({ type: "spec", spec: spec({ groups: [] }), specVersion: 2, actor: "ops" }, 1100);
    expect(d.state.groups["server-api"]).toBeUndefined();
    d.run({ type: "spec", spec: spec(), specVersion: 3, actor: "ops" }, 1200);
    // Back at once with server1, the only node that may still carry the VIP, at a new epoch.
    expect(d.holder("server-api")).toBe("server1");
    expect(d.state.groups["server-api"]!.epoch).toBe(epoch + 1);
  });

  it("a group added again goes to nobody else before its old holder's lease has surely ended", () => {
    const d = started();
    const epoch = d.state.groups["server-api"]!.epoch;
    d.beat("server1", 1000, { probes: ok });
    d.run({ type: "spec", spec: spec({ groups: [] }), specVersion: 2, actor: "ops" }, 1100);
    // server1's service fails: it is no candidate when the group comes back.
    d.beat("server1", 1150, { probes: { "server-api": down } });
    d.run({ type: "spec", spec: spec(), specVersion: 3, actor: "ops" }, 1200);
    for (const n of ["server2", "server3"]) d.beat(n, 1000 + T + M - 1, { probes: ok });
    expect(d.holder("server-api")).toBeNull();
    expect(d.events("group.vip-busy").at(-1)!.reason).toMatch(/server-api's VIP \S+ was server1's before the group was removed: waiting/);
    d.tick(1000 + T + M);
    expect(d.holder("server-api")).toBe("server2");
    expect(d.state.groups["server-api"]!.epoch).toBe(epoch + 1);
  });

  it("a switchover of a group added again goes to nobody else before its old holder's lease has surely ended (refused, with the wait)", () => {
    const d = started();
    d.beat("server1", 1000, { probes: ok });
    d.run({ type: "spec", spec: spec({ groups: [] }), specVersion: 2, actor: "ops" }, 1100);
    d.beat("server1", 1150, { probes: { "server-api": down } });
    d.run({ type: "spec", spec: spec(), specVersion: 3, actor: "ops" }, 1200);
    for (const n of ["server2", "server3"]) d.beat(n, 1300, { probes: ok });
    expect(d.holder("server-api")).toBeNull();
    // Found by the property test (CHIME_FUZZ_SEED=560608526): a planned move of the holderless
    // group granted it at once, while the old holder's VIP was still up.
    const r = d.run({ type: "switchover", group: "server-api", to: null, actor: "ops" }, 1400);
    expect(r.rejected).toBe("cannot switch server-api to server2 yet: its VIP 192.168.231.10 was server1's before the group was removed, and that lease may run 3.1 s more");
    expect(d.holder("server-api")).toBeNull();
    const named = d.run({ type: "switchover", group: "server-api", to: "server3", actor: "ops" }, 1500);
    expect(named.rejected).toMatch(/^cannot switch server-api to server3 yet: .* may run 3\.0 s more$/);
    for (const n of ["server2", "server3"]) d.beat(n, 1000 + T + M - 1, { probes: ok });
    expect(d.holder("server-api")).toBeNull();
    d.tick(1000 + T + M);
    expect(d.holder("server-api")).toBe("server2");
  });

  it("failsafe: a group whose holder went silent goes only to a member that holder knew as a peer (one that joined later was never asked for a promise)", () => {
    const d = started();
    const all = spec();
    const without2 = spec({ nodes: all.nodes.filter((n) => n.name !== "server2") });
    expect(d.state.persisted.spec.policy.failsafe).not.toBe(false);
    d.run({ type: "spec", spec: without2, specVersion: 2, actor: "ops" }, 100);
    // server1's shim has the peer list of version 2 (server3 only) when it is cut off.
    d.beat("server1", 500, { probes: ok, holding: [{ group: "server-api", epoch: 1 }], peersOf: 2 });
    d.run({ type: "spec", spec: all, specVersion: 3, actor: "ops" }, 600);
    // server3's service is down: server2, back in the spec, is the only healthy member.
    for (let t = 700; t <= 500 + T + M + 2000; t += 500) {
      d.beat("server2", t, { probes: ok, peersOf: 3 });
      d.beat("server3", t, { probes: { "server-api": down }, peersOf: 3 });
      d.tick(t);
    }
    // server1 may be keeping the group on server3's promise: server2 never promised anything.
    expect(d.holder("server-api")).toBeNull();
    expect(d.events("group.no-candidate").at(-1)!.reason).toContain(
      "server2 joined server-api in spec version 3, after the peer list server1 last had (version 2): server1 may still keep server-api on its peers' promises, and server2 was never asked for one",
    );
    // server1 is back and holds nothing any more: the lapse is over, server2 gets the group.
    d.beat("server1", 5000, { probes: { "server-api": down }, holding: [], peersOf: 3 });
    d.beat("server2", 5000, { probes: ok, peersOf: 3 });
    expect(d.holder("server-api")).toBe("server2");
  });

  it("failsafe: a holder that reports the newer peer list lets the new member take over when it goes silent", () => {
    const d = started();
    const all = spec();
    d.run({ type: "spec", spec: spec({ nodes: all.nodes.filter((n) => n.name !== "server2") }), specVersion: 2, actor: "ops" }, 100);
    d.run({ type: "spec", spec: all, specVersion: 3, actor: "ops" }, 200);
    d.beat("server1", 500, { probes: ok, holding: [{ group: "server-api", epoch: 1 }], peersOf: 3 });
    for (let t = 700; t <= 500 + T + M; t += 500) {
      d.beat("server2", t, { probes: ok, peersOf: 3 });
      d.beat("server3", t, { probes: { "server-api": down }, peersOf: 3 });
      d.tick(t);
    }
    d.tick(500 + T + M);
    expect(d.holder("server-api")).toBe("server2");
  });

  it("failsafe: a holder removed from the spec leaves no lapse behind (a member that joined later takes the group once its lease has surely ended)", () => {
    const d = started();
    const all = spec();
    const drop = (name: string) => spec({ nodes: all.nodes.filter((n) => n.name !== name) });
    // server2 leaves and comes back (it joined again in version 3); server1 knows that peer list.
    d.run({ type: "spec", spec: drop("server2"), specVersion: 2, actor: "ops" }, 100);
    d.run({ type: "spec", spec: all, specVersion: 3, actor: "ops" }, 200);
    d.beat("server1", 300, { probes: ok, holding: [{ group: "server-api", epoch: 1 }], peersOf: 3 });
    // Then the holder itself is removed (the lab's scenario (l), run again).
    d.run({ type: "spec", spec: drop("server1"), specVersion: 4, actor: "ops" }, 400);
    for (let t = 500; t <= 300 + T + M + 1000; t += 250) {
      d.beat("server2", t, { probes: ok, peersOf: 4 });
      d.beat("server3", t, { probes: { "server-api": down }, peersOf: 4 });
      d.tick(t);
    }
    expect(d.holder("server-api")).toBe("server2");
    expect(d.state.persisted.groups["server-api"]!.lapsedHolder).toBeUndefined();
  });

  it("a group added again survives a restart of the object in between: held at a new epoch, never the released one", () => {
    const d = started();
    d.beat("server1", 1000, { probes: ok });
    const epoch = d.state.groups["server-api"]!.epoch;
    d.run({ type: "spec", spec: spec({ groups: [] }), specVersion: 2, actor: "ops" }, 1100);
    // server1 lets go of the removed group.
    d.beat("server1", 1150, { probes: ok, released: [{ group: "server-api", epoch }] });
    d.run({ type: "spec", spec: spec(), specVersion: 3, actor: "ops" }, 1200);
    d.restart(1210);
    for (let t = 1300; t < 1210 + 3 * (T + M); t += 100) {
      for (const n of ["server1", "server2", "server3"]) d.beat(n, t, { probes: ok });
      d.tick(t);
      expect(d.state.groups["server-api"]!.epoch).toBe(epoch + 1);
    }
    expect(d.holder("server-api")).toBe("server1");
    expect(d.desired("server1", 1210 + 3 * (T + M)).groups.find((g) => g.name === "server-api")).toMatchObject({ epoch: epoch + 1 });
  });

  it("a removed group's VIP reused by a new group goes to nobody else before the old holder's lease has surely ended", () => {
    const d = started();
    d.beat("server1", 1000, { probes: ok });
    const g = spec().groups[0]!;
    // server1 is not a member of the new group: only server2 and server3 can get it.
    const moved = spec({ groups: [{ ...g, name: "api2", members: ["server2", "server3"] }] });
    d.run({ type: "spec", spec: moved, specVersion: 2, actor: "ops" }, 1100);
    for (const n of ["server2", "server3"]) d.beat(n, 1200, { probes: { api2: healthy } });
    expect(d.holder("api2")).toBeNull();
    expect(d.events("group.vip-busy")).toHaveLength(1);
    for (const n of ["server2", "server3"]) d.beat(n, 1000 + T + M - 1, { probes: { api2: healthy } });
    expect(d.holder("api2")).toBeNull();
    d.tick(1000 + T + M);
    expect(d.holder("api2")).toBe("server2");
  });
});
