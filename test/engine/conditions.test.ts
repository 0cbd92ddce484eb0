// Conditions a group waits in (frozen, waiting, refused, no candidate) are said once while they
// last and said again when they come back after the group had a holder in between
// (worker/engine/transitions.ts, grantFree); a switchover's target that only waits for a fresher
// report is waited for rather than passed over.
import { describe, expect, it } from "vitest";
import type { ProbeReport } from "../../protocol/heartbeat.js";
import { Driver, dataSpec, healthy, mysqlOk } from "./support/data-spec.js";
import { Shell, smallSpec } from "./support/small-spec.js";

const OK: ProbeReport = { healthy: true, detail: "ok" };
const DOWN: ProbeReport = { healthy: false, detail: "http 503" };
const ops = "token:ops";

describe("conditions", () => {
  it("a release arriving while the cluster is in maintenance leaves the group free, said once per episode", () => {
    const sh = new Shell(smallSpec());
    const episode = (t: number, from: string, to: string) => {
      sh.beat("server1", t, { probes: { api: OK } });
      sh.beat("server2", t, { probes: { api: OK } });
      sh.run({ type: "switchover", group: "api", to, actor: ops }, t + 100);
      sh.run({ type: "maintenance", node: null, on: true, actor: ops }, t + 200);
      sh.beat(from, t + 300, { probes: { api: OK }, released: [{ group: "api", epoch: sh.state.groups.api!.epoch }] });
      sh.beat(from, t + 400, { probes: { api: OK } });
      sh.beat(to, t + 400, { probes: { api: OK } });
      expect(sh.holder("api")).toBeNull();
      sh.run({ type: "maintenance", node: null, on: false, actor: ops }, t + 500);
    };
    episode(0, "server1", "server2");
    expect(sh.events("group.frozen").map((e) => [e.severity, e.reason])).toEqual([["warning", "server1 released api; cluster in maintenance, api stays without a holder"]]);
    // Out of maintenance the free group goes where the switchover wanted it.
    expect(sh.holder("api")).toBe("server2");
    expect(sh.state.groups.api!.epoch).toBe(2);
    episode(1000, "server2", "server1");
    expect(sh.holder("api")).toBe("server1");
    expect(sh.events("group.frozen")).toHaveLength(2);
  });

  it("a holder that expired during maintenance and releases later is one frozen condition, not two", () => {
    const sh = new Shell(smallSpec());
    sh.beat("server1", 0, { probes: { api: OK } });
    sh.beat("server2", 0, { probes: { api: OK } });
    sh.run({ type: "switchover", group: "api", to: "server2", actor: ops }, 100);
    sh.run({ type: "maintenance", node: null, on: true, actor: ops }, 200);
    // server1 is silent past its lease end + margin (3 s + 0.5 s): frozen, the holder stays recorded.
    sh.beat("server2", 1000, { probes: { api: OK } });
    sh.beat("server2", 2000, { probes: { api: OK } });
    sh.beat("server2", 3000, { probes: { api: OK } });
    sh.tick(3600);
    expect(sh.events("group.frozen").map((e) => e.reason)).toEqual(["server1 lease expired 3.6 s after its last heartbeat; cluster in maintenance, decisions frozen"]);
    sh.beat("server1", 3700, { probes: { api: OK }, released: [{ group: "api", epoch: 1 }] });
    expect(sh.holder("api")).toBeNull();
    expect(sh.events("group.frozen")).toHaveLength(1);
  });

  it("a new cluster waiting for its shims says so once, then again only after the group had a holder and lost it", () => {
    const sh = new Shell(smallSpec());
    sh.tick(0);
    sh.tick(1000);
    expect(sh.events("group.waiting").map((e) => [e.severity, e.reason])).toEqual([["info", "api has no holder yet: waiting for the first heartbeat from server1 and server2"]]);
    sh.beat("server1", 1500, {});
    // The text changes (server1 now owes its probe result), the condition does not: not said again.
    expect(sh.events("group.waiting")).toHaveLength(1);
    sh.beat("server1", 2000, { probes: { api: OK } });
    expect(sh.holder("api")).toBe("server1");
  });

  it("no candidate is said once per condition, and again when it comes back after a holder", () => {
    const sh = new Shell(smallSpec());
    sh.beat("server1", 0, { probes: { api: OK } });
    // server1 dies; server2 is unhealthy: no candidate, said once whatever the silence's length.
    for (let t = 0; t <= 6000; t += 1000) sh.beat("server2", t, { probes: { api: DOWN } });
    expect(sh.events("group.no-candidate").map((e) => [e.severity, e.reason])).toEqual([
      ["critical", "server1 lease expired 4.0 s after its last heartbeat; no healthy candidate for api (server1 is not alive (no heartbeat for 4.0 s); server2's probe for api is failing (http 503))"],
    ]);
    // server1 comes back and takes the group, then dies again with server2 still failing: said again.
    sh.beat("server1", 7000, { probes: { api: OK } });
    expect(sh.holder("api")).toBe("server1");
    for (let t = 7000; t <= 12_000; t += 1000) sh.beat("server2", t, { probes: { api: DOWN } });
    expect(sh.holder("api")).toBeNull();
    expect(sh.events("group.no-candidate").map((e) => e.reason.split(";")[0])).toEqual(["server1 lease expired 4.0 s after its last heartbeat", "server1 lease expired 4.0 s after its last heartbeat"]);
  });

  it("a switchover target that only waits for a fresher report is waited for, then gets the group", () => {
    // mysql-writer: server2's replica is still applying what it read when the release arrives.
    const d = new Driver(dataSpec());
    const t0 = 0;
    d.beat("server1", t0, { probes: { "server-api": healthy, mysql: mysqlOk({ readOnly: false, replicaConfigured: false }) } });
    d.beat("server2", t0, { probes: { "server-api": healthy, mysql: mysqlOk() } });
    expect(d.holder("mysql")).toBe("server1");
    d.run({ type: "switchover", group: "mysql", to: "server2", actor: ops }, 100);
    d.beat("server2", 200, { probes: { "server-api": healthy, mysql: mysqlOk({ caughtUp: false }) } });
    d.beat("server1", 300, { probes: { "server-api": healthy, mysql: mysqlOk({ readOnly: true }) }, released: [{ group: "mysql", epoch: 1 }] });
    expect(d.holder("mysql")).toBeNull();
    expect(d.events("group.waiting").filter((e) => e.group === "mysql").map((e) => [e.severity, e.reason])).toEqual([
      ["info", "server1 released mysql; server2: replication catching up (SQL thread has not applied all it read)"],
    ]);
    d.beat("server2", 400, { probes: { "server-api": healthy, mysql: mysqlOk() } });
    expect(d.holder("mysql")).toBe("server2");
    expect(d.events("group.granted").at(-1)!.reason).toContain("granting mysql epoch 2 to server2");
  });
  it("the gap of an engine's move off an unhealthy holder is downtime; the gap of an operator's switchover is planned, and says whose", () => {
    const run = (move: (sh: Shell) => void) => {
      const sh = new Shell(smallSpec());
      for (let t = 0; t <= 2000; t += 1000) {
        sh.beat("server1", t, { probes: { api: OK }, holding: t > 0 ? [{ group: "api", epoch: 1 }] : [] });
        sh.beat("server2", t, { probes: { api: OK } });
      }
      move(sh);
      sh.beat("server1", 2600, { probes: { api: OK }, released: [{ group: "api", epoch: 1 }] });
      expect(sh.holder("api")).toBe("server2");
      return sh.state.persisted.ledger.api!.open;
    };
    // server1's probe fails at 2500: the engine moves api; the gap is unplanned.
    const engine = run((sh) => sh.beat("server1", 2500, { probes: { api: DOWN }, holding: [{ group: "api", epoch: 1 }] }));
    expect(engine).toMatchObject({ kind: "down", start: 2500, cause: "probe", holder: "server1", epoch: 1 });
    expect(engine.plannedBy).toBeUndefined();
    const operator = run((sh) => sh.run({ type: "switchover", group: "api", to: "server2", actor: ops }, 2500));
    expect(operator).toMatchObject({ kind: "planned", start: 2600, plannedBy: "switchover by token:ops", grantedTo: "server2" });
  });
});
