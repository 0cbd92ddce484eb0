// mysql-writer: why semi-sync did not protect a writer's commits, said exactly (one warning per
// episode, resolved when it is effective again), and the settings checked on every report.
import { describe, expect, it } from "vitest";
import type { ProbeReport } from "../../protocol/heartbeat.js";
import { mysqlWriter } from "../../worker/engine/modes/mysql-writer.js";
import { dataSpec, Driver, mysqlOk } from "./support/data-spec.js";

type Mysql = NonNullable<ProbeReport["mysql"]>;
const semi = (over: Partial<NonNullable<Mysql["semiSync"]>> = {}) => ({ masterEnabled: true, masterStatus: true, clients: 1, noTx: 0, yesTx: 100, waitSessions: 0, slaveEnabled: true, ...over });
const writer = (over: Partial<Mysql> = {}) => mysqlOk({ readOnly: false, gtidBinlogPos: "0-1-50", gtidCurrentPos: "0-1-50", gtidBinlogState: "0-1-50", serverId: 1, ioRunning: false, sqlRunning: false, caughtUp: false, ...over });
const standby = (over: Partial<Mysql> = {}) => mysqlOk({ gtidIoPos: "0-1-50", gtidCurrentPos: "0-1-50", gtidBinlogPos: "0-1-50", gtidBinlogState: "0-1-50", serverId: 2, ...over });
const only = () => {
  const spec = dataSpec();
  return dataSpec({ ...spec, groups: spec.groups.filter((g) => g.name === "mysql") });
};
const SUFFIX = "; an automatic failover now could lose them, so it would be refused";

function writing(): Driver {
  const d = new Driver(only());
  d.beat("server1", 0, { probes: { mysql: standby({ serverId: 1 }) } });
  d.beat("server2", 0, { probes: { mysql: standby() } });
  d.beat("server1", 100, { probes: { mysql: writer() } });
  d.beat("server2", 100, { probes: { mysql: standby() } });
  expect(d.events("mysql.semi-sync-off")).toEqual([]);
  return d;
}

describe("mysql-writer: semi-sync gaps", () => {
  it.each<[string, Partial<Mysql>, string]>([
    ["no semi-sync state", { semiSync: undefined }, "it reports no semi-sync state"],
    ["semi-sync off", { semiSync: semi({ masterEnabled: false }) }, "semi-sync is off (rpl_semi_sync_master_enabled=OFF)"],
    ["no standby connected", { semiSync: semi({ clients: 0 }) }, "no semi-sync standby connected"],
  ])("%s: said with its reason", (_, over, gap) => {
    const d = writing();
    d.beat("server1", 1000, { probes: { mysql: writer(over) } });
    expect(d.events("mysql.semi-sync-off").map((e) => [e.severity, e.node, e.group, e.reason])).toEqual([["warning", "server1", "mysql", `server1 (writer) acknowledges commits without a standby: ${gap}${SUFFIX}`]]);
    // Effective again: resolved, said once.
    d.beat("server1", 1500, { probes: { mysql: writer() } });
    d.beat("server1", 2000, { probes: { mysql: writer() } });
    expect(d.events("mysql.semi-sync-off").slice(1).map((e) => [e.severity, e.resolves, e.reason])).toEqual([["info", true, "semi-sync is effective again on server1"]]);
  });

  it("commits acknowledged without a standby since the previous report are counted; counters that went back mean a restart", () => {
    const d = writing();
    d.beat("server1", 1000, { probes: { mysql: writer({ semiSync: semi({ noTx: 3 }) }) } });
    expect(d.events("mysql.semi-sync-off").at(-1)!.reason).toBe(`server1 (writer) acknowledges commits without a standby: 3 commits acknowledged without a standby since its previous report${SUFFIX}`);
    d.beat("server1", 1500, { probes: { mysql: writer({ semiSync: semi({ noTx: 3 }) }) } });
    expect(d.events("mysql.semi-sync-off").at(-1)!.reason).toBe("semi-sync is effective again on server1");
    // From 3 to 8: five more.
    d.beat("server1", 1700, { probes: { mysql: writer({ semiSync: semi({ noTx: 8 }) }) } });
    expect(d.events("mysql.semi-sync-off").at(-1)!.reason).toBe(`server1 (writer) acknowledges commits without a standby: 5 commits acknowledged without a standby since its previous report${SUFFIX}`);
    d.beat("server1", 1800, { probes: { mysql: writer({ semiSync: semi({ noTx: 8 }) }) } });
    d.beat("server1", 2000, { probes: { mysql: writer({ semiSync: semi({ noTx: 1 }) }) } });
    expect(d.events("mysql.semi-sync-off").at(-1)!.reason).toBe(`server1 (writer) acknowledges commits without a standby: its semi-sync counters started over (mysqld restarted)${SUFFIX}`);
  });

  it("a writer turned read-only resolves the warning: its binlog is final", () => {
    const d = writing();
    d.beat("server1", 1000, { probes: { mysql: writer({ semiSync: semi({ clients: 0 }) }) } });
    d.beat("server1", 1500, { probes: { mysql: standby({ serverId: 1 }) } });
    expect(d.events("mysql.semi-sync-off").at(-1)).toMatchObject({ severity: "info", resolves: true, reason: "server1 no longer writes (read-only)" });
  });

  it("two writable servers at once is critical, naming both; resolved when only one is", () => {
    const d = writing();
    d.beat("server2", 1000, { probes: { mysql: writer({ serverId: 2 }) } });
    expect(d.events("mysql.two-writers").map((e) => [e.severity, e.reason])).toEqual([["critical", "server2 and server1 are writable at once"]]);
    d.beat("server2", 1500, { probes: { mysql: standby() } });
    d.beat("server1", 1600, { probes: { mysql: writer() } });
    expect(d.events("mysql.two-writers").at(-1)).toMatchObject({ severity: "info", resolves: true, reason: "only server1 is writable" });
  });
});

describe("mysql-writer: the safe settings", () => {
  const config = (over: Record<string, unknown> = {}) => ({ waitPoint: "AFTER_SYNC", waitNoSlave: true, semiSyncTimeoutMs: 10_000, logSlaveUpdates: true, gtidStrictMode: true, gtidDomainId: 1, ...over });

  it("each unsafe setting is named, on one line per server; the same server_id on two servers too", () => {
    const d = writing();
    d.beat("server2", 1000, { probes: { mysql: standby({ serverId: 1, config: config({ gtidDomainId: 2, logSlaveUpdates: false, gtidStrictMode: false, waitNoSlave: false, waitPoint: "AFTER_COMMIT", semiSyncTimeoutMs: 1000 }) as never }) } });
    const drift = d.events("mysql.config-drift");
    expect(drift).toHaveLength(1);
    expect(drift[0]!.reason).toBe(
      "server2: rpl_semi_sync_master_wait_point is AFTER_COMMIT (want AFTER_SYNC); rpl_semi_sync_master_wait_no_slave is OFF (want ON: with OFF a writer whose standby disconnects acknowledges commits at once without it); rpl_semi_sync_master_timeout is 1000 ms (want >= the lease TTL, 3000 ms, so a writer cut off from everything fences itself before semi-sync gives up); log_slave_updates is OFF (want ON); gtid_strict_mode is OFF (want ON); server_id 1 is also server1's (must differ)",
    );
    d.beat("server2", 1500, { probes: { mysql: standby({ config: config({ gtidDomainId: 2 }) as never }) } });
    expect(d.events("mysql.config-drift").at(-1)).toMatchObject({ severity: "info", resolves: true, reason: "server2's settings match the safe setup again" });
  });
});

describe("mysql-writer: what a standby is told while a writer is remembered", () => {
  it("only the topology and fencing: the required position is for the holder", () => {
    const d = writing();
    const g = d.state.persisted.spec.groups[0]!;
    expect(mysqlWriter.desiredExtras!(d.state, g, "server2", false, 200)).toEqual({ mysql: { topology: "dual-master", strictFence: false } });
    expect(mysqlWriter.desiredExtras!(d.state, g, "server2", true, 200)).toEqual({ mysql: { topology: "dual-master", strictFence: false, requiredGtid: "0-1-50" } });
  });
});

describe("mysql-writer: a standby still applying what it received waits", () => {
  it("read-only, replicating, not caught up: wait (not unfit); a writable server or a Galera group never waits for that", () => {
    const d = writing();
    d.beat("server2", 200, { probes: { mysql: standby({ caughtUp: false }) } });
    const g = d.state.persisted.spec.groups[0]!;
    expect(mysqlWriter.hold!(d.state, g, "server2", 200)).toEqual({ kind: "wait", reason: "replication catching up (SQL thread has not applied all it read)" });
    const galera = { ...g, mysql: { ...g.mysql!, topology: "galera" as const } };
    expect(mysqlWriter.hold!(d.state, galera, "server2", 200)).toBeNull();
    // A writable server that is "not caught up" on its (unused) reverse channel: no such wait.
    d.beat("server2", 300, { probes: { mysql: standby({ caughtUp: false, readOnly: false, replicaConfigured: true }) } });
    expect(mysqlWriter.hold!(d.state, g, "server2", 300)?.reason ?? null).not.toBe("replication catching up (SQL thread has not applied all it read)");
    // Not replicating at all: nothing to catch up with.
    d.beat("server2", 400, { probes: { mysql: standby({ caughtUp: false, replicaConfigured: false }) } });
    expect(mysqlWriter.hold!(d.state, g, "server2", 400)?.reason ?? null).not.toBe("replication catching up (SQL thread has not applied all it read)");
  });
});
