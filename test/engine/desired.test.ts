// What each node is told (worker/engine/desired.ts), and when it is told at once (a push): its
// role per group (holder, release while a move runs, standby), the epoch and the holder, whether it
// is a member, its maintenance, the policy it must follow; a push exactly when that changes.
import { describe, expect, it } from "vitest";
import type { ProbeReport } from "../../protocol/heartbeat.js";
import { desiredFor } from "../../worker/engine/index.js";
import { API_GROUP, Shell, smallSpec } from "./support/small-spec.js";

const OK: ProbeReport = { healthy: true, detail: "ok" };
const spec = () =>
  smallSpec({
    priorities: [110, 100, 90],
    policy: { failsafe: true },
    groups: [{ ...API_GROUP, members: ["server1", "server2"], prefix: 23, interface: "eth1" }],
  });

function held(): Shell {
  const sh = new Shell(spec());
  for (const n of ["server1", "server2", "server3"]) sh.beat(n, 0, { probes: { api: OK } });
  return sh;
}

const pushes = (r: ReturnType<Shell["run"]>) => r.effects.flatMap((e) => (e.type === "push" ? [e.node] : []));

describe("desired state", () => {
  it("the holder's full desired state", () => {
    const sh = held();
    expect(desiredFor(sh.state, "server1", 100)).toEqual({
      cluster: "dc1.data",
      node: "server1",
      specVersion: 1,
      heartbeatIntervalMs: 1000,
      leaseTtlMs: 3000,
      maintenance: false,
      groups: [
        {
          name: "api",
          mode: "active-standby",
          vip: "192.168.231.10",
          prefix: 23,
          interface: "eth1",
          ports: [{ port: 8801, protocol: "tcp" }],
          probe: sh.state.persisted.spec.groups[0]!.probe,
          member: true,
          role: "holder",
          epoch: 1,
          holder: "server1",
        },
      ],
      operations: [],
      failsafe: true,
      ip: "192.168.231.11",
      // Failsafe peers: every other server (promises are asked of the group's other members) and
      // the drift margin the promises are bounded by.
      peers: [
        { name: "server2", ip: "192.168.231.12", groups: ["api"] },
        { name: "server3", ip: "192.168.231.13", groups: [] },
      ],
      driftMarginMs: 500,
    });
  });

  it("standby, non-member, release while a move runs", () => {
    const sh = held();
    const g = (node: string) => desiredFor(sh.state, node, 100).groups[0]!;
    expect(g("server2")).toMatchObject({ member: true, role: "standby", epoch: 1, holder: "server1" });
    expect(g("server3")).toMatchObject({ member: false, role: "standby", epoch: 1, holder: "server1" });
    sh.run({ type: "switchover", group: "api", to: "server2", actor: "op" }, 200);
    expect(g("server1")).toMatchObject({ role: "release", epoch: 1, holder: "server1" });
    expect(g("server2")).toMatchObject({ role: "standby", epoch: 1, holder: "server1" });
  });

  it("maintenance: the whole cluster's tells every node; a node's tells that node only", () => {
    const sh = held();
    const r = sh.run({ type: "maintenance", node: "server3", on: true, actor: "op" }, 100);
    expect(pushes(r)).toEqual(["server3"]);
    expect(["server1", "server2", "server3"].map((n) => desiredFor(sh.state, n, 100).maintenance)).toEqual([false, false, true]);
    const r2 = sh.run({ type: "maintenance", node: null, on: true, actor: "op" }, 200);
    expect(pushes(r2)).toEqual(["server1", "server2", "node1"]);
    expect(["server1", "server2", "server3", "node1"].map((n) => desiredFor(sh.state, n, 200).maintenance)).toEqual([true, true, true, true]);
  });

  it("a push goes to every node whose desired state changed, never to the node being answered", () => {
    const sh = held();
    // A renewal changes nothing: no push.
    expect(pushes(sh.beat("server1", 1000, { probes: { api: OK } }))).toEqual([]);
    // A switchover changes the holder's role (release): only the holder is told.
    expect(pushes(sh.run({ type: "switchover", group: "api", to: "server2", actor: "op" }, 1100))).toEqual(["server1"]);
    // The release arrives with server1's heartbeat: the new holder and epoch reach everybody else at once.
    const r = sh.beat("server1", 1200, { probes: { api: OK }, released: [{ group: "api", epoch: 1 }] });
    expect(pushes(r)).toEqual(["server2", "server3", "node1"]);
    expect(r.reply!.desired.groups[0]).toMatchObject({ role: "standby", epoch: 2, holder: "server2" });
  });

  it("a new spec version is pushed to every node", () => {
    const sh = held();
    const r = sh.run({ type: "spec", spec: spec(), specVersion: 2, actor: "op" }, 100);
    expect(pushes(r)).toEqual(["server1", "server2", "server3", "node1"]);
    expect(desiredFor(sh.state, "node1", 100).specVersion).toBe(2);
  });
  it("failsafe is on by default when a group has two or more members, off when no group has, and as the policy says when set", () => {
    const two = smallSpec();
    expect(two.policy.failsafe).toBeUndefined();
    expect(desiredFor(new Shell(two).state, "server1", 0).failsafe).toBe(true);
    const alone = smallSpec({ groups: [{ ...API_GROUP, members: ["server1"] }] });
    expect(desiredFor(new Shell(alone).state, "server1", 0).failsafe).toBe(false);
    expect(desiredFor(new Shell(smallSpec({ policy: { failsafe: false } })).state, "server1", 0).failsafe).toBe(false);
    expect(desiredFor(new Shell(smallSpec({ policy: { failsafe: true }, groups: [{ ...API_GROUP, members: ["server1"] }] })).state, "server1", 0).failsafe).toBe(true);
  });
});
