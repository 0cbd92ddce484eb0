// Why a free group waits, said once (worker/engine/transitions.ts, grantFree): each reason is one
// note under `wait:<group>` whose identity ignores what only counts up (how long a node has been
// silent, silent since a restart of the control plane), so the same condition is not said again;
// a VIP still leased to a removed group's holder names that group and how long is left; the note
// goes when the group is granted.
import { describe, expect, it } from "vitest";
import { API_GROUP, Shell, smallSpec } from "./support/small-spec.js";

const OK = { healthy: true, detail: "ok" };
const DOWN = { healthy: false, detail: "refused" };
const WEB = { ...API_GROUP, name: "web", vip: "192.168.231.20" };
const DB = { ...API_GROUP, name: "db", vip: "192.168.231.20" };

describe("wait notes", () => {
  it("a VIP still leased to a removed group's holder: named, with the time left; said once; the group is granted when it ends", () => {
    const sh = new Shell(smallSpec({ groups: [API_GROUP, WEB], policy: { holdDownMs: 0 } }));
    sh.beat("server1", 0, { probes: { api: OK, web: DOWN } });
    sh.beat("server2", 0, { probes: { api: DOWN, web: OK } });
    sh.beat("server2", 1000, { probes: { api: DOWN, web: OK } });
    expect(sh.holder("web")).toBe("server2");
    // web (server2's lease until 4000) is removed; db gets its VIP.
    sh.run({ type: "spec", spec: smallSpec({ groups: [API_GROUP, DB], policy: { holdDownMs: 0 } }), specVersion: 2, actor: "ops" }, 1100);
    sh.beat("server1", 1200, { probes: { api: OK, db: OK } });
    expect(sh.state.persisted.notes["wait:db"]).toBe("vip-busy:web:server2");
    expect(sh.events("group.vip-busy").map((e) => [e.severity, e.group, e.reason])).toEqual([
      ["warning", "db", "db has no holder yet; db's VIP 192.168.231.20 was server2's for removed group web: waiting 3.3 s for that lease to end"],
    ]);
    sh.beat("server1", 2200, { probes: { api: OK, db: OK } });
    expect(sh.events("group.vip-busy")).toHaveLength(1);
    sh.beat("server1", 4500, { probes: { api: OK, db: OK } });
    expect(sh.holder("db")).toBe("server1");
    expect(Object.keys(sh.state.persisted.notes)).not.toContain("wait:db");
  });

  it("no candidate: one critical note while the same nodes stay silent, however long; a restart of the control plane says nothing new", () => {
    const sh = new Shell(smallSpec({ policy: { holdDownMs: 0 } }));
    sh.beat("server1", 0, { probes: { api: OK } });
    sh.beat("server2", 0, { probes: { api: DOWN } });
    for (let t = 1000; t <= 9000; t += 1000) sh.beat("server2", t, { probes: { api: DOWN } });
    expect(sh.state.persisted.notes["wait:api"]).toBe("no-candidate:server1 is silent; server2's probe for api is failing (refused)");
    expect(sh.events("group.no-candidate").map((e) => [e.severity, e.incident, e.reason])).toEqual([
      ["critical", "group:api", "server1 lease expired 4.0 s after its last heartbeat; no healthy candidate for api (server1 is not alive (no heartbeat for 4.0 s); server2's probe for api is failing (refused))"],
    ]);
    sh.restart(10_000);
    for (let t = 10_000; t <= 20_000; t += 1000) sh.beat("server2", t, { probes: { api: DOWN } });
    expect(sh.events("group.no-candidate")).toHaveLength(1);
    // A different reason is news.
    sh.beat("server2", 21_000, { probes: { api: { healthy: false, detail: "timeout" } } });
    expect(sh.events("group.no-candidate")).toHaveLength(2);
    expect(sh.state.persisted.notes["wait:api"]).toBe("no-candidate:server1 is silent; server2's probe for api is failing (timeout)");
  });

  it("a group released while the cluster is in maintenance stays free: one warning note", () => {
    const sh = new Shell(smallSpec({ policy: { holdDownMs: 0 } }));
    sh.beat("server1", 0, { probes: { api: OK } });
    sh.beat("server2", 0, { probes: { api: OK } });
    sh.run({ type: "maintenance", node: null, on: true, actor: "ops" }, 100);
    sh.beat("server1", 200, { probes: { api: OK }, released: [{ group: "api", epoch: 1 }] });
    expect(sh.holder("api")).toBeNull();
    expect(sh.state.persisted.notes["wait:api"]).toBe("frozen");
    expect(sh.events("group.frozen").map((e) => [e.severity, e.incident, e.reason])).toEqual([["warning", "group:api", "server1 released api; cluster in maintenance, api stays without a holder"]]);
  });
});
