// Moving a group off a holder that is alive but unfit (worker/engine/evaluate-groups.ts): only to
// a better candidate, once per condition, and preemption only by a strictly higher priority.
import { describe, expect, it } from "vitest";
import type { ProbeReport } from "../../protocol/heartbeat.js";
import { mysqlOk } from "./support/data-spec.js";
import { Shell, smallSpec } from "./support/small-spec.js";

const OK: ProbeReport = { healthy: true, detail: "ok" };
const DOWN: ProbeReport = { healthy: false, detail: "http 503" };
const mysqlGroup = { name: "db", service: "mysql", mode: "mysql-writer" as const, vip: "192.168.231.30", ports: [{ port: 3306 }], probe: { type: "mysql" as const, maxLagSeconds: 5 } };

describe("health moves", () => {
  it("an unfit holder whose only possible successor is still catching up waits, said once, then moves", () => {
    const sh = new Shell(smallSpec({ groups: [mysqlGroup], policy: { holdDownMs: 0 } }));
    const writer = mysqlOk({ readOnly: false, gtidBinlogPos: "0-1-50", gtidCurrentPos: "0-1-50", gtidBinlogState: "0-1-50", serverId: 1 });
    const behind = mysqlOk({ caughtUp: false, gtidIoPos: "0-1-50", gtidCurrentPos: "0-1-45", gtidBinlogPos: "0-1-45", gtidBinlogState: "0-1-45", serverId: 2 });
    const caughtUp = mysqlOk({ gtidIoPos: "0-1-50", gtidCurrentPos: "0-1-50", gtidBinlogPos: "0-1-50", gtidBinlogState: "0-1-50", serverId: 2 });
    sh.beat("server1", 0, { probes: { db: writer } });
    sh.beat("server2", 0, { probes: { db: behind } });
    expect(sh.holder("db")).toBe("server1");
    sh.beat("server1", 100, { probes: { db: { ...writer, healthy: false, detail: "mysqld not answering" } } });
    sh.beat("server1", 200, { probes: { db: { ...writer, healthy: false, detail: "mysqld not answering" } } });
    sh.beat("server2", 300, { probes: { db: behind } });
    expect(sh.state.groups.db).toMatchObject({ holder: "server1", phase: "held" });
    expect(sh.events("group.waiting").map((e) => [e.severity, e.node, e.reason])).toEqual([
      ["warning", "server1", "server1's probe for db is failing (mysqld not answering); db waits before moving (server2: replication catching up (SQL thread has not applied all it read))"],
    ]);
    sh.beat("server2", 400, { probes: { db: caughtUp } });
    expect(sh.state.groups.db).toMatchObject({ holder: "server1", phase: "revoking", revokeTo: "server2" });
  });

  it("equal priority never preempts; a strictly higher one does", () => {
    const sh = new Shell(smallSpec({ priorities: [100, 100], policy: { preempt: { enabled: true, delayMs: 0 } } }));
    sh.beat("server1", 0, { probes: { api: DOWN } });
    sh.beat("server2", 0, { probes: { api: OK } });
    expect(sh.holder("api")).toBe("server2");
    // server1 comes first in the spec and is healthy now: equal priority, no preemption.
    for (let t = 1000; t <= 5000; t += 1000) {
      sh.beat("server1", t, { probes: { api: OK } });
      sh.beat("server2", t, { probes: { api: OK } });
    }
    expect(sh.state.groups.api).toMatchObject({ holder: "server2", phase: "held" });
    expect(sh.events("group.revoking")).toEqual([]);
  });

  it("a degraded holder that later has a successor in hold-down says the new condition", () => {
    const sh = new Shell(smallSpec());
    for (let t = 0; t <= 2000; t += 1000) {
      sh.beat("server1", t, { probes: { api: OK } });
      sh.beat("server2", t, { probes: { api: DOWN } });
    }
    // A health failover at 3000 (server1 fails, server2 recovered): hold-down until 13 000.
    sh.beat("server2", 3000, { probes: { api: OK } });
    sh.beat("server1", 3000, { probes: { api: DOWN } });
    sh.beat("server1", 3100, { probes: { api: DOWN }, released: [{ group: "api", epoch: 1 }] });
    expect(sh.holder("api")).toBe("server2");
    // server2 fails, nobody can take over (degraded); then server1 recovers inside the hold-down.
    sh.beat("server2", 4000, { probes: { api: DOWN } });
    sh.beat("server1", 4000, { probes: { api: DOWN } });
    sh.beat("server1", 5000, { probes: { api: OK } });
    sh.beat("server2", 5000, { probes: { api: DOWN } });
    expect(sh.events().filter((e) => e.group === "api" && (e.kind === "group.degraded" || e.kind === "group.hold-down")).map((e) => [e.kind, e.severity, e.node, e.reason])).toEqual([
      ["group.degraded", "critical", "server2", "server2's probe for api is failing (http 503), but no healthy candidate; server2 keeps api"],
      ["group.hold-down", "warning", "server2", "server2's probe for api is failing (http 503); api would move to server1 but failed over 2.0 s ago: holding down 8.0 s more"],
    ]);
  });
});
