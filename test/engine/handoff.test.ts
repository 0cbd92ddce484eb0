// Direct handoff, the control plane's side (worker/engine/handoff.ts): whom it names, what a
// naming blocks, and how a handoff becomes the grant.
import { describe, expect, it } from "vitest";
import { replyFor } from "../../worker/cluster/protocol.js";
import { MODES } from "../../worker/engine/modes/index.js";
import { Driver, dataSpec, healthy, mysqlOk } from "./support/data-spec.js";
import { Shell, smallSpec } from "./support/small-spec.js";

const OK = { healthy: true, detail: "ok" };
const DOWN = { healthy: false, detail: "connection refused" };
const T = 3000;
const M = 500;
const three = (over: Parameters<typeof smallSpec>[0] = {}) => smallSpec({ priorities: [110, 100, 90], ...over });

/** server1 holds api at epoch 1 (after the restart grace); everyone healthy; server2 was answered last at `t`. */
function held(spec = three(), t = 100): Shell {
  const sh = new Shell(spec, -(T + M));
  for (const n of ["server1", "server2", "server3"]) if (spec.nodes.some((x) => x.name === n)) sh.beat(n, 0, { probes: { api: OK } });
  expect(sh.holder("api")).toBe("server1");
  for (const n of ["server1", "server3", "server2"]) if (spec.nodes.some((x) => x.name === n)) sh.beat(n, t, { probes: { api: OK } });
  return sh;
}
const group = (sh: Shell, node: string, now: number) => sh.desired(node, now).groups.find((g) => g.name === "api")!;

describe("direct handoff: whom the control plane names", () => {
  it("the holder is told the best candidate; that server whom it may take the group from; nobody else anything", () => {
    const sh = held();
    expect(group(sh, "server1", 200)).toMatchObject({ role: "holder", handoffTo: "server2" });
    expect(group(sh, "server2", 200)).toMatchObject({ role: "standby", handoffFrom: "server1" });
    expect(group(sh, "server3", 200).handoffTo).toBeUndefined();
    expect(group(sh, "server3", 200).handoffFrom).toBeUndefined();
    // Recorded when the reply that names it leaves: a lease from it ends T after.
    expect(sh.state.groups.api!.handoff).toEqual([{ to: "server2", from: "server1", epoch: 1, until: 100 + T }]);
  });

  const none: [string, () => Shell][] = [
    ["in hold-down after an automatic failover", () => {
      const sh = held();
      sh.beat("server1", 200, { probes: { api: DOWN } });
      sh.beat("server1", 300, { probes: { api: DOWN }, released: [{ group: "api", epoch: 1, handedTo: "server2" }] });
      sh.beat("server2", 400, { probes: { api: OK }, holding: [{ group: "api", epoch: 2 }] });
      expect(sh.holder("api")).toBe("server2");
      sh.beat("server3", 500, { probes: { api: OK } });
      return sh;
    }],
    ["without the failsafe channel (policy.failsafe off)", () => held(three({ policy: { failsafe: false } }))],
    ["in cluster maintenance", () => {
      const sh = held();
      sh.run({ type: "maintenance", node: null, on: true, actor: "ops" }, 150);
      sh.beat("server2", 200, { probes: { api: OK } });
      return sh;
    }],
    ["with no healthy candidate", () => {
      const sh = held();
      sh.beat("server2", 200, { probes: { api: DOWN } });
      sh.beat("server3", 200, { probes: { api: DOWN } });
      return sh;
    }],
  ];
  for (const [what, make] of none) {
    it(`names nobody ${what}`, () => {
      const sh = make();
      for (const n of ["server1", "server2", "server3"]) {
        expect(group(sh, n, 600).handoffTo).toBeUndefined();
        expect(group(sh, n, 600).handoffFrom).toBeUndefined();
      }
    });
  }

  it("only modes whose takeover needs no check at that moment hand off (not mysql, influxdb, minio)", () => {
    expect(Object.entries(MODES).filter(([, m]) => m.handoff).map(([k]) => k).sort()).toEqual(["active-active-lb", "active-standby"]);
  });

  it("in a cluster with every mode, only the plain service group names anyone", () => {
    const d = new Driver(dataSpec(), -(T + M));
    const probes = { "server-api": healthy, mysql: mysqlOk(), influxdb: healthy, minio: healthy };
    for (const t of [0, 100]) for (const n of ["server1", "server2"]) d.beat(n, t, { probes });
    const named = (node: string) => d.desired(node, 200).groups.filter((g) => g.handoffTo !== undefined || g.handoffFrom !== undefined).map((g) => g.name);
    expect(d.state.groups.mysql!.holder).not.toBeNull();
    expect([...named("server1"), ...named("server2")].sort()).toEqual(["server-api", "server-api"]);
  });

  it("names nobody while a move is under way (a switchover asked the holder to release)", () => {
    const sh = held();
    sh.run({ type: "switchover", group: "api", to: "server3", actor: "ops" }, 200);
    expect(group(sh, "server1", 200)).toMatchObject({ role: "release" });
    expect(group(sh, "server1", 200).handoffTo).toBeUndefined();
    expect(group(sh, "server2", 200).handoffFrom).toBeUndefined();
  });

  it("names again exactly when the hold-down after an automatic failover ends", () => {
    const sh = held(three({ policy: { holdDownMs: 5000 } }));
    sh.beat("server2", 400, { probes: { api: OK }, holding: [{ group: "api", epoch: 2 }] });
    expect(sh.state.groups.api!.lastAutoFailoverAt).toBe(400);
    for (let t = 1000; t <= 5000; t += 1000) for (const n of ["server1", "server3", "server2"]) sh.beat(n, t, { probes: { api: OK } });
    expect(sh.holder("api")).toBe("server2");
    expect(group(sh, "server2", 5399).handoffTo).toBeUndefined();
    expect(group(sh, "server2", 5400).handoffTo).toBe("server1");
  });

  it("names nobody a removed group's VIP still keeps waiting", () => {
    const sh = new Shell(three(), -(T + M));
    sh.beat("server1", 0, { probes: { api: OK } });
    for (const n of ["server2", "server3"]) sh.beat(n, 0, { probes: { api: DOWN } });
    expect(sh.holder("api")).toBe("server1");
    // api is replaced by api2 on the same VIP: server1 (whose lease may run) gets it back at once,
    // and nobody else may hold that VIP before the old lease has surely ended.
    sh.run({ type: "spec", spec: three({ groups: [{ name: "api2", service: "chime-server", mode: "active-standby", vip: "192.168.231.10", ports: [{ port: 8801 }], probe: { type: "tcp", port: 8801 } }] }), specVersion: 2, actor: "ops" }, 200);
    for (const n of ["server1", "server2", "server3"]) sh.beat(n, 300, { probes: { api2: OK } });
    expect(sh.holder("api2")).toBe("server1");
    const api2 = (node: string, t: number) => sh.desired(node, t).groups.find((g) => g.name === "api2")!;
    expect(api2("server1", 300).handoffTo).toBeUndefined();
    for (const n of ["server1", "server2", "server3"]) sh.beat(n, 3000, { probes: { api2: OK } });
    expect(api2("server1", T + M - 1).handoffTo).toBeUndefined();
    expect(api2("server1", T + M).handoffTo).toBe("server2");
  });

  it("one record per server and epoch, renewed by each reply that names it; a withdrawn naming stays recorded until its end", () => {
    const sh = held();
    sh.beat("server2", 300, { probes: { api: OK } });
    expect(sh.state.groups.api!.handoff).toEqual([{ to: "server2", from: "server1", epoch: 1, until: 300 + T }]);
    sh.beat("server2", 400, { probes: { api: DOWN } });
    sh.beat("server3", 500, { probes: { api: OK } });
    expect(sh.state.groups.api!.handoff).toEqual([
      { to: "server2", from: "server1", epoch: 1, until: 300 + T },
      { to: "server3", from: "server1", epoch: 1, until: 500 + T },
    ]);
    for (const t of [1000, 2000, 3000, 300 + T + M]) for (const n of ["server1", "server3"]) sh.beat(n, t, { probes: { api: OK } });
    expect(sh.state.groups.api!.handoff).toEqual([{ to: "server3", from: "server1", epoch: 1, until: 300 + T + M + T }]);
  });

  it("names nobody during the restart grace (a naming from before the restart may still run)", () => {
    const sh = held();
    sh.restart(200);
    for (const n of ["server1", "server2", "server3"]) sh.beat(n, 300, { probes: { api: OK } });
    expect(group(sh, "server1", 300).handoffTo).toBeUndefined();
    for (const n of ["server1", "server2", "server3"]) sh.beat(n, 200 + T + M, { probes: { api: OK } });
    expect(group(sh, "server1", 200 + T + M).handoffTo).toBe("server2");
  });

  it("the holder is pushed when its naming changes (it heartbeats and learns it at once), the standby is not", () => {
    const sh = held();
    sh.beat("server2", 200, { probes: { api: DOWN } });
    sh.beat("server3", 200, { probes: { api: DOWN } });
    expect(group(sh, "server1", 200).handoffTo).toBeUndefined();
    const back = sh.beat("server2", 300, { probes: { api: OK } });
    expect(back.effects.filter((e) => e.type === "push").map((e) => (e as { node: string }).node)).toEqual(["server1"]);
    expect(group(sh, "server1", 300).handoffTo).toBe("server2");
  });

  it("shims older than protocol v7 are never shown a naming", () => {
    const sh = held();
    const reply = sh.beat("server2", 200, { probes: { api: OK } }).reply!;
    expect(reply.desired.groups[0]!.handoffFrom).toBe("server1");
    expect(replyFor(6, reply).desired.groups[0]).not.toHaveProperty("handoffFrom");
    expect(replyFor(7, reply).desired.groups[0]!.handoffFrom).toBe("server1");
  });
});

describe("direct handoff: the grant", () => {
  it("the named server saying it holds the next epoch is the grant; the old holder's release and late report change nothing", () => {
    const sh = held();
    const r = sh.beat("server2", 400, { probes: { api: OK }, holding: [{ group: "api", epoch: 2 }] });
    expect(sh.holder("api")).toBe("server2");
    expect(sh.state.groups.api).toMatchObject({ epoch: 2, phase: "held", lastAutoFailoverAt: 400 });
    expect(r.reply!.grants).toEqual([{ group: "api", epoch: 2, ttlMs: T }]);
    expect(sh.events("group.granted").at(-1)!.reason).toBe("server1 handed api straight to server2 (its own probe failed; direct handoff); granting api epoch 2 to server2 (priority 100, healthy)");
    // server1's heartbeat sent before it let go, then its release: not news, not an alarm.
    sh.beat("server1", 450, { probes: { api: DOWN }, holding: [{ group: "api", epoch: 1 }] });
    sh.beat("server1", 500, { probes: { api: DOWN }, released: [{ group: "api", epoch: 1, handedTo: "server2" }] });
    expect(sh.events("group.stale-holder")).toEqual([]);
    expect(sh.holder("api")).toBe("server2");
    expect(sh.state.groups.api!.epoch).toBe(2);
  });

  it("the old holder's report from before the handoff is quiet for T + margin, then a stale holder again; nobody else's is", () => {
    const sh = held();
    sh.beat("server2", 400, { probes: { api: OK }, holding: [{ group: "api", epoch: 2 }] });
    sh.beat("server3", 500, { probes: { api: OK }, holding: [{ group: "api", epoch: 1 }] });
    expect(sh.events("group.stale-holder").map((e) => e.node)).toEqual(["server3"]);
    sh.beat("server1", 400 + T + M - 1, { probes: { api: DOWN }, holding: [{ group: "api", epoch: 1 }] });
    expect(sh.events("group.stale-holder").map((e) => e.node)).toEqual(["server3"]);
    sh.beat("server1", 400 + T + M, { probes: { api: DOWN }, holding: [{ group: "api", epoch: 1 }] });
    expect(sh.events("group.stale-holder").map((e) => e.node)).toEqual(["server3", "server1"]);
  });

  it("a server not named (or named for another epoch) saying it holds the next epoch is not a grant", () => {
    const sh = held();
    sh.beat("server3", 400, { probes: { api: OK }, holding: [{ group: "api", epoch: 2 }] });
    sh.beat("server2", 400, { probes: { api: OK }, holding: [{ group: "api", epoch: 3 }] });
    sh.beat("server2", 450, { probes: { api: OK }, holding: [{ group: "gone", epoch: 2 }] });
    expect(sh.holder("api")).toBe("server1");
    expect(sh.state.groups.api!.epoch).toBe(1);
  });

  it("the old holder's release saying whom it handed the group to goes there, even before that server reports", () => {
    const sh = held();
    sh.beat("server1", 300, { probes: { api: DOWN }, released: [{ group: "api", epoch: 1, handedTo: "server2" }] });
    expect(sh.holder("api")).toBe("server2");
    expect(sh.state.groups.api!.epoch).toBe(2);
  });
});

describe("direct handoff: nobody else while a named server may have the group", () => {
  it("handed to a server that is no candidate now: the group waits for that naming's lease, then goes elsewhere", () => {
    const sh = held();
    sh.beat("server2", 200, { probes: { api: DOWN } });
    sh.beat("server1", 300, { probes: { api: DOWN }, released: [{ group: "api", epoch: 1, handedTo: "server2" }] });
    expect(sh.holder("api")).toBeNull();
    expect(sh.events("group.waiting").at(-1)!.reason).toBe("server1 released api; api would go to server3, but server2 may have taken it straight from server1 (direct handoff): waiting 3.3 s for that lease to end");
    sh.beat("server3", 100 + T + M - 1, { probes: { api: OK } });
    expect(sh.holder("api")).toBeNull();
    sh.tick(100 + T + M);
    expect(sh.holder("api")).toBe("server3");
  });

  it("a naming for an earlier epoch blocks nothing at the current one", () => {
    const sh = held(three({ policy: { holdDownMs: 0 } }));
    // server1 goes silent; server2, named while server1 lived, gets the group when its lease ends.
    for (const t of [1000, 2000, 3000]) for (const n of ["server2", "server3"]) sh.beat(n, t, { probes: { api: OK } });
    sh.tick(100 + T + M);
    expect(sh.holder("api")).toBe("server2");
    expect(sh.state.groups.api!.epoch).toBe(2);
    // server2's service fails; it releases (handing to nobody): server3 at once, the epoch-1 naming of server2 notwithstanding.
    sh.beat("server2", 3700, { probes: { api: DOWN } });
    sh.beat("server2", 3800, { probes: { api: DOWN }, released: [{ group: "api", epoch: 2 }] });
    expect(sh.holder("api")).toBe("server3");
  });

  it("a release handed to nobody voids the namings: the best candidate gets it at once", () => {
    const sh = held();
    sh.beat("server2", 200, { probes: { api: DOWN } });
    sh.beat("server1", 300, { probes: { api: DOWN }, released: [{ group: "api", epoch: 1 }] });
    expect(sh.holder("api")).toBe("server3");
  });

  it("the holder silent (its lease over): the named server goes first; a switchover elsewhere waits for the naming", () => {
    const sh = held();
    sh.beat("server2", 1000, { probes: { api: OK } });
    sh.beat("server3", 1000, { probes: { api: OK } });
    sh.tick(100 + T + M);
    expect(sh.holder("api")).toBe("server2");
    const sh2 = held();
    sh2.run({ type: "switchover", group: "api", to: "server3", actor: "ops" }, 300);
    sh2.beat("server1", 400, { probes: { api: OK }, released: [{ group: "api", epoch: 1 }] });
    expect(sh2.holder("api")).toBe("server3");
    const sh3 = held();
    sh3.beat("server2", 200, { probes: { api: DOWN } });
    sh3.beat("server1", 300, { probes: { api: DOWN }, released: [{ group: "api", epoch: 1, handedTo: "server2" }] });
    sh3.run({ type: "switchover", group: "api", to: "server3", actor: "ops" }, 400);
    expect(sh3.lastRejected).toBe("cannot switch api to server3 yet: server2 may have taken it straight from server1 (direct handoff): waiting 3.2 s for that lease to end");
  });

  it("after a restart, a release handed to a server this incarnation never named waits out boot + T", () => {
    const sh = held();
    sh.restart(200);
    for (const n of ["server2", "server3"]) sh.beat(n, 300, { probes: { api: n === "server2" ? DOWN : OK } });
    sh.beat("server1", 400, { probes: { api: DOWN }, released: [{ group: "api", epoch: 1, handedTo: "server2" }] });
    expect(sh.holder("api")).toBeNull();
    sh.tick(200 + T + M - 1);
    expect(sh.holder("api")).toBeNull();
    sh.beat("server3", 200 + T + M, { probes: { api: OK } });
    expect(sh.holder("api")).toBe("server3");
  });

  it("a group removed while a server is named: its VIP goes to neither the holder nor that server before both leases end", () => {
    const sh = held();
    sh.run({ type: "spec", spec: three({ groups: [] }), specVersion: 2, actor: "ops" }, 200);
    expect(sh.state.persisted.retired!.api).toMatchObject({ holder: "server1", handoffTo: "server2", until: 100 + T });
    // (Two servers named: the later end counts.)
    const two = held();
    two.beat("server2", 200, { probes: { api: DOWN } });
    two.beat("server3", 300, { probes: { api: OK } });
    two.beat("server1", 300, { probes: { api: OK } });
    two.run({ type: "spec", spec: three({ groups: [] }), specVersion: 2, actor: "ops" }, 400);
    expect(two.state.persisted.retired!.api).toMatchObject({ holder: "server1", handoffTo: "server3", until: 300 + T });
    sh.run({ type: "spec", spec: three(), specVersion: 3, actor: "ops" }, 300);
    for (const t of [400, 3000]) for (const n of ["server1", "server2", "server3"]) sh.beat(n, t, { probes: { api: OK } });
    expect(sh.holder("api")).toBeNull();
    sh.tick(100 + T + M);
    expect(sh.holder("api")).toBe("server1");
  });
});
