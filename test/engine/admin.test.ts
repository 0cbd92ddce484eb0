// Operators' inputs (worker/engine/on-admin.ts): switchover refusals with their exact reasons, and
// cluster or node maintenance — each change one event an operator can follow (who, what, incident,
// resolved), persisted; a repeated request is said as such and changes nothing.
import { describe, expect, it } from "vitest";
import type { ProbeReport } from "../../protocol/heartbeat.js";
import { Shell, smallSpec } from "./support/small-spec.js";

const OK: ProbeReport = { healthy: true, detail: "ok" };
const DOWN: ProbeReport = { healthy: false, detail: "http 503" };

function held(): Shell {
  const sh = new Shell(smallSpec());
  for (let t = 0; t <= 1000; t += 1000) {
    sh.beat("server1", t, { probes: { api: OK } });
    sh.beat("server2", t, { probes: { api: OK } });
  }
  return sh;
}

describe("switchover", () => {
  it("an unknown group is refused by name", () => {
    const sh = held();
    expect(sh.run({ type: "switchover", group: "nosuch", to: "server2", actor: "token:alice" }, 1100).rejected).toBe("no group 'nosuch'");
  });

  it("acceptDataLoss is refused for a Galera mysql group", () => {
    const sh = new Shell(
      smallSpec({ groups: [{ name: "db", service: "mysql", mode: "mysql-writer", vip: "192.168.231.30", ports: [{ port: 3306 }], probe: { type: "mysql" }, mysql: { topology: "galera" } }] }),
    );
    expect(sh.run({ type: "switchover", group: "db", to: "server2", actor: "x", acceptDataLoss: true }, 0).rejected).toBe("acceptDataLoss applies to mysql-writer dual-master groups; db is mysql-writer");
  });

  it("to the best other node when none is named; refused when that is nobody", () => {
    const sh = held();
    sh.beat("server2", 1100, { probes: { api: DOWN } });
    expect(sh.run({ type: "switchover", group: "api", to: null, actor: "token:alice" }, 1200).rejected).toBe("no healthy candidate other than server1 for api");
    sh.beat("server2", 1300, { probes: { api: OK } });
    const r = sh.run({ type: "switchover", group: "api", to: null, actor: "token:alice" }, 1400);
    expect(r.rejected).toBeUndefined();
    expect(sh.state.groups.api).toMatchObject({ holder: "server1", phase: "revoking", revokeTo: "server2", revokeReason: "switchover requested by token:alice", revokeAt: 1400 });
  });
});

describe("cluster maintenance", () => {
  it("on and off are one persisted event each, with the operator, the incident and its resolution", () => {
    const sh = held();
    const on = sh.run({ type: "maintenance", node: null, on: true, actor: "token:ops" }, 2000);
    expect(sh.persistsOf(on).map((p) => p.maintenance)).toEqual([true]);
    const off = sh.run({ type: "maintenance", node: null, on: false, actor: "token:ops" }, 3000);
    expect(sh.persistsOf(off).map((p) => p.maintenance)).toEqual([false]);
    expect(sh.events("cluster.maintenance").map((e) => [e.severity, e.actor, e.incident, e.resolves, e.reason])).toEqual([
      ["warning", "token:ops", "cluster:maintenance", false, "maintenance on (by token:ops): automatic decisions frozen"],
      ["warning", "token:ops", "cluster:maintenance", true, "maintenance off (by token:ops): automatic decisions resume"],
    ]);
  });

  it("asking again for what is already so is said, and nothing else happens", () => {
    const sh = held();
    const r1 = sh.run({ type: "maintenance", node: null, on: false, actor: "token:ops" }, 2000);
    sh.run({ type: "maintenance", node: null, on: true, actor: "token:ops" }, 2100);
    const r2 = sh.run({ type: "maintenance", node: null, on: true, actor: "token:bob" }, 2200);
    expect(sh.persistsOf(r1)).toEqual([]);
    expect(sh.persistsOf(r2)).toEqual([]);
    expect(r1.rejected).toBeUndefined();
    expect(sh.events("cluster.maintenance").map((e) => [e.severity, e.actor, e.reason])).toEqual([
      ["info", "token:ops", "cluster maintenance already off"],
      ["warning", "token:ops", "maintenance on (by token:ops): automatic decisions frozen"],
      ["info", "token:bob", "cluster maintenance already on"],
    ]);
    expect(sh.state.persisted.maintenance).toBe(true);
  });

  it("maintenance makes waiting conditions be looked at afresh (said again after it ends); setup notes stay said", () => {
    const sh = new Shell(smallSpec({ edit: (s) => void delete s.nodes![2]!.fence }));
    sh.beat("server1", 0, { probes: { api: DOWN } });
    sh.run({ type: "maintenance", node: null, on: true, actor: "op" }, 100);
    sh.run({ type: "maintenance", node: null, on: false, actor: "op" }, 200);
    const said = "api has no holder yet; no healthy candidate for api (server1's probe for api is failing (http 503); server2 has not sent a heartbeat)";
    expect(sh.events("group.no-candidate").map((e) => e.reason)).toEqual([said, said]);
    expect(sh.events("compute.no-fence").map((e) => e.node)).toEqual(["node1"]);
  });

  it("a release arriving while the cluster is frozen leaves the group without a holder, said once", () => {
    const sh = held();
    sh.run({ type: "switchover", group: "api", to: "server2", actor: "op" }, 1100);
    sh.run({ type: "maintenance", node: null, on: true, actor: "op" }, 1200);
    sh.beat("server1", 1300, { probes: { api: OK }, released: [{ group: "api", epoch: 1 }] });
    sh.beat("server1", 1400, { probes: { api: OK } });
    expect(sh.holder("api")).toBeNull();
    expect(sh.events("group.frozen").map((e) => [e.severity, e.group, e.reason])).toEqual([["warning", "api", "server1 released api; cluster in maintenance, api stays without a holder"]]);
    // When maintenance ends, the switchover's target gets it.
    sh.beat("server2", 1500, { probes: { api: OK } });
    sh.run({ type: "maintenance", node: null, on: false, actor: "op" }, 1600);
    expect(sh.holder("api")).toBe("server2");
  });
});

describe("node maintenance", () => {
  it("on and off are one persisted event each; the node's groups drain away and it is a candidate again after", () => {
    const sh = held();
    const on = sh.run({ type: "maintenance", node: "server1", on: true, actor: "token:ops" }, 2000);
    expect(sh.persistsOf(on).map((p) => p.nodeMaintenance)).toEqual([["server1"]]);
    expect(sh.state.groups.api).toMatchObject({ phase: "revoking", revokeTo: "server2" });
    sh.run({ type: "maintenance", node: "server2", on: true, actor: "token:ops" }, 2100);
    expect(sh.state.persisted.nodeMaintenance).toEqual(["server1", "server2"]);
    const off = sh.run({ type: "maintenance", node: "server1", on: false, actor: "token:ops" }, 3000);
    expect(sh.persistsOf(off).map((p) => p.nodeMaintenance)).toEqual([["server2"]]);
    expect(sh.events("node.maintenance").map((e) => [e.severity, e.node, e.actor, e.incident, e.resolves, e.reason])).toEqual([
      ["warning", "server1", "token:ops", "node-maintenance:server1", false, "server1 maintenance on (by token:ops): its groups move away, then it is frozen"],
      ["warning", "server2", "token:ops", "node-maintenance:server2", false, "server2 maintenance on (by token:ops): its groups move away, then it is frozen"],
      ["warning", "server1", "token:ops", "node-maintenance:server1", true, "server1 maintenance off (by token:ops): it is a candidate again"],
    ]);
  });

  it("an unknown node is refused; asking again is said and changes nothing", () => {
    const sh = held();
    expect(sh.run({ type: "maintenance", node: "nosuch", on: true, actor: "token:ops" }, 2000).rejected).toBe("no node 'nosuch'");
    const again = sh.run({ type: "maintenance", node: "server2", on: false, actor: "token:ops" }, 2100);
    expect(again.rejected).toBeUndefined();
    expect(sh.persistsOf(again)).toEqual([]);
    sh.run({ type: "maintenance", node: "server2", on: true, actor: "token:ops" }, 2200);
    sh.run({ type: "maintenance", node: "server2", on: true, actor: "token:bob" }, 2300);
    expect(sh.events("node.maintenance").map((e) => [e.severity, e.node, e.actor, e.reason])).toEqual([
      ["info", "server2", "token:ops", "server2 maintenance already off"],
      ["warning", "server2", "token:ops", "server2 maintenance on (by token:ops): its groups move away, then it is frozen"],
      ["info", "server2", "token:bob", "server2 maintenance already on"],
    ]);
    expect(sh.state.persisted.nodeMaintenance).toEqual(["server2"]);
  });

  it("a drain with nobody to take the group keeps it where it is and says so once", () => {
    const sh = held();
    sh.beat("server2", 1100, { probes: { api: DOWN } });
    sh.run({ type: "maintenance", node: "server1", on: true, actor: "token:ops" }, 1200);
    sh.beat("server1", 2000, { probes: { api: OK } });
    sh.beat("server2", 2000, { probes: { api: DOWN } });
    expect(sh.state.groups.api).toMatchObject({ holder: "server1", phase: "held" });
    expect(sh.events("group.drain-blocked").map((e) => [e.severity, e.group, e.reason])).toEqual([["warning", "api", "server1 is in maintenance but no healthy candidate can take api; it stays"]]);
  });
});
