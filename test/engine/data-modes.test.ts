// Engine rules of the data-service modes: mysql-writer (catch-up, errant transactions, most
// advanced GTID, Galera), influxdb-read (VIP on a healthy instance, outage windows) and minio
// (write quorum). Pure: explicit times, no I/O.
import { describe, expect, it } from "vitest";
import { candidates } from "../../worker/engine/index.js";
import { compareGtid } from "../../worker/engine/modes/mysql-writer.js";
import { isoTime } from "../../worker/engine/liveness.js";
import { dataSpec, down, Driver, healthy, minioReport, mysqlOk } from "./support/data-spec.js";

describe("mysql-writer", () => {
  it("compares MariaDB GTID positions per domain: a partial order", () => {
    expect(compareGtid("0-1-101", "0-2-100")).toBe("after");
    expect(compareGtid("0-1-100,1-1-5", "0-1-100")).toBe("after");
    expect(compareGtid("0-1-100", "0-1-100")).toBe("equal");
    expect(compareGtid("", "0-1-1")).toBe("before");
    expect(compareGtid("0-1-100, 1-2-7,bad", "1-2-7,0-1-100")).toBe("equal");
    // Ahead in one domain, behind in the other: no order (the old sum said "equal" here).
    expect(compareGtid("1-1-10,2-2-5", "1-1-5,2-2-10")).toBe("incomparable");
    // The same sequence number from two servers: different transactions.
    expect(compareGtid("0-1-100", "0-2-100")).toBe("incomparable");
  });

  it("the most advanced GTID wins over priority; the holder's desired state carries the fence option", () => {
    const d = new Driver(dataSpec());
    // server1 (priority 110) is not caught up at first, so the first grant waits for server2.
    d.beat("server1", 0, { probes: { mysql: mysqlOk({ gtidCurrentPos: "0-1-90", caughtUp: false }) } });
    d.beat("server2", 0, { probes: { mysql: mysqlOk({ gtidCurrentPos: "0-1-100" }) } });
    d.beat("server1", 10, { probes: { mysql: mysqlOk({ gtidCurrentPos: "0-1-90" }) } });
    expect(d.holder("mysql")).toBe("server2");
    const group = d.state.persisted.spec.groups.find((g) => g.name === "mysql")!;
    // server2 becomes the writer; server1, once it received all of server2's binlog, is next in line.
    d.beat("server2", 20, { probes: { mysql: mysqlOk({ readOnly: false, gtidBinlogPos: "0-1-100", gtidCurrentPos: "0-1-100" }) } });
    d.beat("server1", 30, { probes: { mysql: mysqlOk({ gtidCurrentPos: "0-1-100" }) } });
    // Equal positions: priority decides the order.
    expect(candidates(d.state, group, 30)).toEqual(["server1", "server2"]);
    const g = d.desired("server2", 10).groups.find((x) => x.name === "mysql")!;
    expect(g.role).toBe("holder");
    expect(g.mysql).toEqual({ topology: "dual-master", strictFence: false });
    const strict = new Driver(dataSpec({ groups: [{ name: "mysql", service: "mysql", mode: "mysql-writer", vip: "192.168.231.30", ports: [{ port: 3306 }], probe: { type: "mysql" }, mysql: { strictFence: true } }] }));
    strict.beat("server1", 0, { probes: { mysql: mysqlOk() } });
    expect(strict.desired("server1", 0).groups[0]!.mysql).toEqual({ topology: "dual-master", strictFence: true });
  });

  it("a replica that has not applied all it read, lags, or holds errant transactions is never a candidate", () => {
    const d = new Driver();
    d.beat("server1", 0, { probes: { mysql: mysqlOk({ errantTransactions: true, gtidCurrentPos: "0-1-200" }) } });
    d.beat("server2", 0, { probes: { mysql: mysqlOk({ caughtUp: false }) } });
    d.tick(10);
    expect(d.holder("mysql")).toBeNull();
    const noCandidate = () => d.events("group.no-candidate").filter((e) => e.group === "mysql");
    // Catching up is a wait (a warning), not a dead end.
    const why = d.events("group.waiting").filter((e) => e.group === "mysql").at(-1)!.reason;
    expect(why).toContain("server1: has errant transactions");
    expect(why).toContain("server2: replication catching up (SQL thread has not applied all it read)");
    d.beat("server2", 100, { probes: { mysql: mysqlOk({ secondsBehind: 9 }) } });
    expect(d.holder("mysql")).toBeNull();
    expect(noCandidate().at(-1)!.reason).toContain("server2: replication lag 9s > 5s");
    d.beat("server2", 200, { probes: { mysql: mysqlOk({ secondsBehind: 1 }) } });
    expect(d.holder("mysql")).toBe("server2");
    expect(d.events("group.granted").at(-1)!.reason).toMatch(/granting mysql epoch 1 to server2/);
  });

  it("a writable holder is not judged on its reverse channel; a dead writer's group goes to the caught-up standby", () => {
    const d = new Driver();
    d.beat("server1", 0, { probes: { mysql: mysqlOk() } });
    d.beat("server2", 0, { probes: { mysql: mysqlOk() } });
    expect(d.holder("mysql")).toBe("server1");
    // As writer, server1 stopped its channel from server2 (and it shows as not caught up).
    d.beat("server1", 500, { probes: { mysql: mysqlOk({ readOnly: false, ioRunning: false, sqlRunning: false, caughtUp: false, gtidCurrentPos: "0-1-150" }) } });
    d.beat("server2", 500, { probes: { mysql: mysqlOk({ gtidCurrentPos: "0-1-150" }) } });
    expect(d.holder("mysql")).toBe("server1");
    expect(d.state.groups.mysql!.phase).toBe("held");
    // mysqld on server1 is killed: its probe fails; the group is revoked for server2 at once.
    d.beat("server1", 1000, { probes: { mysql: down } });
    expect(d.state.groups.mysql!.phase).toBe("revoking");
    expect(d.state.groups.mysql!.revokeTo).toBe("server2");
    expect(d.desired("server1", 1000).groups.find((g) => g.name === "mysql")!.role).toBe("release");
    d.beat("server1", 1100, { probes: { mysql: down }, released: [{ group: "mysql", epoch: 1 }] });
    expect(d.holder("mysql")).toBe("server2");
    expect(d.state.groups.mysql!.epoch).toBe(2);
  });

  it("Galera: any node Synced in a Primary component is a candidate, nothing else", () => {
    const d = new Driver(dataSpec({ groups: [{ name: "mysql", service: "mysql", mode: "mysql-writer", vip: "192.168.231.30", ports: [{ port: 3306 }], probe: { type: "mysql" }, mysql: { topology: "galera" } }] }));
    d.beat("server1", 0, { probes: { mysql: mysqlOk({ galeraSynced: false, readOnly: false }) } });
    d.beat("server2", 0, { probes: { mysql: mysqlOk({ galeraSynced: true, readOnly: false }) } });
    expect(d.holder("mysql")).toBe("server2");
    expect(d.events("group.no-candidate").filter((e) => e.group === "mysql").at(-1)!.reason).toContain("galera node not Synced in a Primary component");
  });
});

describe("influxdb-read", () => {
  it("moves the read VIP off a failed instance and records its outage window when it returns", () => {
    const t0 = Date.UTC(2026, 10, 25, 12, 0, 0);
    const d = new Driver(dataSpec(), t0);
    d.beat("server1", t0, { probes: { influxdb: healthy } });
    d.beat("server2", t0, { probes: { influxdb: healthy } });
    expect(d.holder("influxdb")).toBe("server1");
    d.beat("server1", t0 + 1000, { probes: { influxdb: down } });
    d.beat("server1", t0 + 1100, { probes: { influxdb: down }, released: [{ group: "influxdb", epoch: 1 }] });
    expect(d.holder("influxdb")).toBe("server2");
    expect(d.events("influxdb.outage-window")).toHaveLength(0);
    for (let t = t0 + 1000; t <= t0 + 61_000; t += 1000) d.beat("server2", t, { probes: { influxdb: healthy } });
    d.beat("server1", t0 + 61_000, { probes: { influxdb: healthy } });
    const ev = d.events("influxdb.outage-window");
    expect(ev).toHaveLength(1);
    expect(ev[0]!.node).toBe("server1");
    expect(ev[0]!.reason).toBe(`influxdb on server1 missed writes from ${isoTime(t0 + 1000)} to ${isoTime(t0 + 61_000)} (60.0 s); copying it back from a healthy peer`);
    expect(ev[0]!.incident).toBe(`influxdb-gap:influxdb:server1:${t0 + 1000}`);
    // No preemption: the VIP stays where it is.
    expect(d.holder("influxdb")).toBe("server2");
  });

  it("a whole node lost counts from its last heartbeat", () => {
    const d = new Driver();
    d.beat("server1", 0, { probes: { influxdb: healthy } });
    d.beat("server2", 0, { probes: { influxdb: healthy } });
    for (let t = 1000; t <= 9000; t += 1000) d.beat("server2", t, { probes: { influxdb: healthy } });
    expect(d.holder("influxdb")).toBe("server2");
    d.beat("server1", 20_000, { probes: { influxdb: healthy } });
    const ev = d.events("influxdb.outage-window");
    expect(ev).toHaveLength(1);
    expect(ev[0]!.reason).toContain(`from ${isoTime(0)} to ${isoTime(20_000)}`);
  });
});

describe("minio", () => {
  it("the VIP needs a live node whose cluster has write quorum; quorum loss everywhere is critical", () => {
    const d = new Driver();
    d.beat("server1", 0, { probes: { minio: minioReport(true, false) } });
    d.beat("server2", 0, { probes: { minio: minioReport(true, true) } });
    expect(d.holder("minio")).toBe("server2");
    d.beat("server2", 500, { probes: { minio: minioReport(true, false) } });
    d.beat("server1", 500, { probes: { minio: minioReport(true, false) } });
    expect(d.holder("minio")).toBe("server2");
    const degraded = d.events("group.degraded").at(-1)!;
    expect(degraded.severity).toBe("critical");
    expect(degraded.reason).toContain("no healthy candidate");
    d.beat("server1", 900, { probes: { minio: minioReport(true, true) } });
    expect(d.state.groups.minio!.revokeTo).toBe("server1");
  });

  it("a report without quorum data is not trusted", () => {
    const d = new Driver();
    d.beat("server1", 0, { probes: { minio: healthy } });
    expect(d.holder("minio")).toBeNull();
    expect(d.events("group.no-candidate").find((e) => e.group === "minio")!.reason).toContain("no minio report");
  });
});
