// mysql-writer's memory of what each server reported and when (worker/engine/modes/mysql-writer.ts):
// the window in which a probe read its facts (from the report's age and run time, else the probe's
// interval and timeout, widened by a heartbeat's delay), the last writer's position with the time
// its facts were read (kept while nothing changed, renewed when position, semi-sync or fencing
// changed), and each condition under its own key so it is said once and resolved once.
import { describe, expect, it } from "vitest";
import type { ProbeReport } from "../../protocol/heartbeat.js";
import { dataSpec, Driver, mysqlOk } from "./support/data-spec.js";

type Mysql = NonNullable<ProbeReport["mysql"]>;
const semi = (over: Partial<NonNullable<Mysql["semiSync"]>> = {}) => ({ masterEnabled: true, masterStatus: true, clients: 1, noTx: 0, yesTx: 100, waitSessions: 0, slaveEnabled: true, ...over });
const writer = (over: Partial<Mysql> = {}) => mysqlOk({ readOnly: false, gtidBinlogPos: "0-1-50", gtidCurrentPos: "0-1-50", gtidBinlogState: "0-1-50", serverId: 1, ioRunning: false, sqlRunning: false, caughtUp: false, ...over });
const standby = (over: Partial<Mysql> = {}) => mysqlOk({ gtidIoPos: "0-1-50", gtidCurrentPos: "0-1-50", gtidBinlogPos: "0-1-50", gtidBinlogState: "0-1-50", serverId: 2, ...over });
const timed = (r: ProbeReport, factsAgeMs?: number, factsRunMs?: number): ProbeReport => {
  const { factsAgeMs: _a, factsRunMs: _r, ...rest } = r;
  return { ...rest, ...(factsAgeMs === undefined ? {} : { factsAgeMs }), ...(factsRunMs === undefined ? {} : { factsRunMs }) };
};
const only = () => {
  const spec = dataSpec();
  return dataSpec({ ...spec, groups: spec.groups.filter((g) => g.name === "mysql") });
};

function started(): Driver {
  const d = new Driver(only());
  d.beat("server1", 0, { probes: { mysql: standby({ serverId: 1 }) } });
  d.beat("server2", 0, { probes: { mysql: standby() } });
  return d;
}

describe("mysql-writer: when facts were read", () => {
  it("from the report's age and run time; else the probe's interval + timeout and its timeout; always widened by a heartbeat interval", () => {
    const d = started();
    // Heartbeat interval 1000 ms; the probe: every 1000 ms, timeout 800 ms.
    d.beat("server1", 10_000, { probes: { mysql: timed(writer(), 300, 40) } });
    expect(d.state.mysql.mysql!.facts.server1).toMatchObject({ probedAfter: 10_000 - 300 - 1000, probedBefore: 10_000 - 300 + 40 });
    expect(d.state.mysql.mysql!.writer).toMatchObject({ node: "server1", pos: "0-1-50", state: "0-1-50", probedBefore: 9740, fenced: false, semiSyncOk: true, noTx: 0, asyncSince: null, asyncWhy: null });
    d.beat("server2", 11_000, { probes: { mysql: timed(standby()) } });
    expect(d.state.mysql.mysql!.facts.server2).toMatchObject({ probedAfter: 11_000 - 1800 - 1000, probedBefore: 11_000 });
    d.beat("server2", 12_000, { probes: { mysql: timed(standby(), 500) } });
    expect(d.state.mysql.mysql!.facts.server2).toMatchObject({ probedAfter: 12_000 - 500 - 1000, probedBefore: 12_000 - 500 + 800 });
  });

  it("the writer's facts keep their time while nothing changes; a new position, a semi-sync change or writing again after a fence renews it", () => {
    const d = started();
    d.beat("server1", 10_000, { probes: { mysql: timed(writer(), 0, 10) } });
    d.beat("server1", 11_000, { probes: { mysql: timed(writer(), 0, 10) } });
    expect(d.state.mysql.mysql!.writer!.probedBefore).toBe(10_010);
    d.beat("server1", 12_000, { probes: { mysql: timed(writer({ gtidBinlogPos: "0-1-51", gtidBinlogState: "0-1-51" }), 0, 10) } });
    expect(d.state.mysql.mysql!.writer).toMatchObject({ pos: "0-1-51", state: "0-1-51", probedBefore: 12_010 });
    d.beat("server1", 13_000, { probes: { mysql: timed(writer({ gtidBinlogPos: "0-1-51", gtidBinlogState: "0-1-51", semiSync: semi({ clients: 0 }) }), 0, 10) } });
    expect(d.state.mysql.mysql!.writer).toMatchObject({ probedBefore: 13_010, semiSyncOk: false, asyncSince: 13_000, asyncWhy: "no semi-sync standby connected" });
    // Still asynchronous: since when is kept.
    d.beat("server1", 13_500, { probes: { mysql: timed(writer({ gtidBinlogPos: "0-1-51", gtidBinlogState: "0-1-51", semiSync: semi({ clients: 0 }) }), 0, 10) } });
    expect(d.state.mysql.mysql!.writer).toMatchObject({ probedBefore: 13_010, asyncSince: 13_000 });
    // Fenced (read-only): its binlog is final; the same position keeps the time, a new one renews it.
    d.beat("server1", 14_000, { probes: { mysql: timed(standby({ serverId: 1, gtidBinlogPos: "0-1-51", gtidBinlogState: undefined }), 0, 10) } });
    expect(d.state.mysql.mysql!.writer).toMatchObject({ fenced: true, pos: "0-1-51", state: "0-1-51", probedBefore: 13_010 });
    d.beat("server1", 15_000, { probes: { mysql: timed(standby({ serverId: 1, gtidBinlogPos: "0-1-52", gtidBinlogState: "0-1-52" }), 0, 10) } });
    expect(d.state.mysql.mysql!.writer).toMatchObject({ fenced: true, pos: "0-1-52", state: "0-1-52", probedBefore: 15_010 });
    // Writable again at the same position: what it says now was read now.
    d.beat("server1", 16_000, { probes: { mysql: timed(writer({ gtidBinlogPos: "0-1-52", gtidBinlogState: "0-1-52" }), 0, 10) } });
    expect(d.state.mysql.mysql!.writer).toMatchObject({ fenced: false, probedBefore: 16_010, semiSyncOk: true });
  });

  it("a writer whose first report is asynchronous is asynchronous from then; one without a binlog state records none", () => {
    const d = started();
    d.beat("server1", 10_000, { probes: { mysql: writer({ semiSync: semi({ masterStatus: false }), gtidBinlogState: undefined }) } });
    expect(d.state.mysql.mysql!.writer).toMatchObject({ state: "", semiSyncOk: false, asyncSince: 10_000, asyncWhy: "semi-sync fell back to asynchronous (Rpl_semi_sync_master_status=OFF)" });
    expect(d.state.persisted.notes["mysql-async:mysql"]).toBe("server1:10000");
  });
});

describe("mysql-writer: conditions under their own keys", () => {
  it("two writers, errant transactions and unsafe settings: one note each, resolved with their own texts", () => {
    const d = started();
    d.beat("server1", 100, { probes: { mysql: writer() } });
    d.beat("server2", 1500, { probes: { mysql: standby({ gtidBinlogState: "0-1-50,0-2-3" }) } });
    expect(d.state.persisted.notes["mysql-errant:mysql:server2"]).toBeDefined();
    expect(d.events("mysql.errant-transactions").at(-1)!.reason).toBe(
      "server2 has transactions the writer server1 never had (0-2-3), e.g. written before a crash and never acknowledged; they are not replicated or merged: inspect them, then rebuild server2 from server1 or re-apply them by hand",
    );
    d.beat("server2", 2000, { probes: { mysql: standby() } });
    expect(d.events("mysql.errant-transactions").at(-1)).toMatchObject({ severity: "info", resolves: true, reason: "server2 has no transactions the writer lacks", node: "server2", group: "mysql" });
    expect(Object.keys(d.state.persisted.notes)).not.toContain("mysql-errant:mysql:server2");
    const config = { waitPoint: "AFTER_SYNC", waitNoSlave: true, semiSyncTimeoutMs: 10_000, logSlaveUpdates: true, gtidStrictMode: true, gtidDomainId: 2 };
    d.beat("server2", 2500, { probes: { mysql: standby({ config: { ...config, gtidStrictMode: false } as never }) } });
    expect(Object.keys(d.state.persisted.notes)).toContain("mysql-config:mysql:server2");
    d.beat("server2", 3000, { probes: { mysql: standby({ config: config as never }) } });
    expect(d.events("mysql.config-drift").at(-1)).toMatchObject({ severity: "info", resolves: true, reason: "server2's settings match the safe setup again" });
    d.beat("server2", 3050, { probes: { mysql: writer({ serverId: 2 }) } });
    expect(Object.keys(d.state.persisted.notes)).toContain("mysql-writers:mysql");
    d.beat("server2", 3060, { probes: { mysql: standby() } });
    // server1 turned read-only while it was the writer: the semi-sync condition's resolution names it.
    d.beat("server1", 3100, { probes: { mysql: writer({ semiSync: semi({ clients: 0 }) }) } });
    d.beat("server1", 3200, { probes: { mysql: standby({ serverId: 1 }) } });
    expect(d.events("mysql.semi-sync-off").at(-1)).toMatchObject({ reason: "server1 no longer writes (read-only)", resolves: true });
  });

  it("the same server_id is named only when both report one", () => {
    const d = started();
    const config = { waitPoint: "AFTER_SYNC", waitNoSlave: true, semiSyncTimeoutMs: 10_000, logSlaveUpdates: true, gtidStrictMode: true };
    d.beat("server1", 100, { probes: { mysql: writer({ serverId: undefined, config: { ...config, gtidDomainId: 1 } as never }) } });
    d.beat("server2", 200, { probes: { mysql: standby({ serverId: undefined, config: { ...config, gtidDomainId: 2 } as never }) } });
    expect(d.events("mysql.config-drift")).toEqual([]);
  });
});
