// mysql-writer (dual master): an automatic promotion happens only when the standby had received
// everything the last writer reported as committed, and semi-sync was effective at that report.
// Otherwise it is refused with a critical event naming the possible loss; an operator may force it
// (acceptDataLoss, audited) or the group may prefer availability. Pure: explicit times.
import { describe, expect, it } from "vitest";
import type { ProbeReport } from "../../protocol/heartbeat.js";
import { isoTime } from "../../worker/engine/liveness.js";
import { dataSpec, down, Driver, mysqlOk } from "./support/data-spec.js";

type Mysql = NonNullable<ProbeReport["mysql"]>;
const semi = (over: Partial<NonNullable<Mysql["semiSync"]>> = {}) => ({ masterEnabled: true, masterStatus: true, clients: 1, noTx: 0, yesTx: 100, waitSessions: 0, slaveEnabled: true, ...over });
const writer = (pos: string, over: Partial<Mysql> = {}) => mysqlOk({ readOnly: false, gtidBinlogPos: pos, gtidCurrentPos: pos, gtidBinlogState: pos, serverId: 1, ioRunning: false, sqlRunning: false, caughtUp: false, ...over });
const standby = (received: string, over: Partial<Mysql> = {}) => mysqlOk({ gtidIoPos: received, gtidCurrentPos: received, gtidBinlogPos: received, gtidBinlogState: received, serverId: 2, ...over });
const only = (spec = dataSpec()) => dataSpec({ ...spec, groups: spec.groups.filter((g) => g.name === "mysql") });

/** server1 is the writer at epoch 1 (reported writable at t=100), server2 its caught-up standby. */
function writing(spec = only()): Driver {
  const d = new Driver(spec);
  d.beat("server1", 0, { probes: { mysql: standby("0-1-10", { serverId: 1 }) } });
  d.beat("server2", 0, { probes: { mysql: standby("0-1-10") } });
  expect(d.holder("mysql")).toBe("server1");
  d.beat("server1", 100, { probes: { mysql: writer("0-1-50") } });
  d.beat("server2", 100, { probes: { mysql: standby("0-1-50") } });
  return d;
}

const refusals = (d: Driver) => d.events("group.promotion-refused").map((e) => e.reason);

describe("mysql-writer: no automatic promotion that could lose an acknowledged write", () => {
  it("writer's mysqld dies: the standby that received its last position is promoted; the new holder must apply it", () => {
    const d = writing();
    d.beat("server1", 1000, { probes: { mysql: writer("0-1-80") } });
    d.beat("server2", 1100, { probes: { mysql: standby("0-1-80") } });
    d.beat("server1", 1500, { probes: { mysql: down } });
    d.beat("server1", 1600, { probes: { mysql: down }, released: [{ group: "mysql", epoch: 1 }] });
    expect(d.holder("mysql")).toBe("server2");
    expect(refusals(d)).toEqual([]);
    // Its applier promotes only once it applied everything server1 reported as committed.
    expect(d.desired("server2", 1600).groups[0]!.mysql).toEqual({ topology: "dual-master", strictFence: false, requiredGtid: "0-1-80" });
    // Once it reports writable, it is the writer and needs nothing more.
    d.beat("server2", 1800, { probes: { mysql: writer("0-1-80", { serverId: 2 }) } });
    expect(d.desired("server2", 1800).groups[0]!.mysql).toEqual({ topology: "dual-master", strictFence: false });
  });

  it("a standby report older than the writer's last one waits for a fresh report (a warning, not a refusal)", () => {
    const d = writing();
    d.beat("server1", 1000, { probes: { mysql: writer("0-1-90") } });
    // server2's report left before server1's: its facts may simply be older.
    d.beat("server2", 1500, { probes: { mysql: standby("0-1-85") } });
    d.beat("server1", 1600, { probes: { mysql: down } });
    d.beat("server1", 1700, { probes: { mysql: down }, released: [{ group: "mysql", epoch: 1 }] });
    expect(d.holder("mysql")).toBeNull();
    expect(refusals(d)).toEqual([]);
    const waiting = d.events("group.waiting").at(-1)!;
    expect(waiting.severity).toBe("warning");
    expect(waiting.reason).toContain("server2: waiting for a report showing it received server1's last committed position 0-1-90 (it reported 0-1-85)");
    // A report whose probe surely ran after server1's (more than one heartbeat interval later) settles it.
    d.beat("server2", 2200, { probes: { mysql: standby("0-1-90") } });
    expect(d.holder("mysql")).toBe("server2");
  });

  it("standby's IO thread stopped, writer fell back to async, then died: refused, naming the possible loss", () => {
    const d = writing();
    // The standby's IO thread stops: no semi-sync client; commits are acknowledged without it.
    d.beat("server2", 900, { probes: { mysql: standby("0-1-50", { ioRunning: false, caughtUp: true }) } });
    d.beat("server1", 1000, { probes: { mysql: writer("0-1-70", { semiSync: semi({ clients: 0, masterStatus: false, noTx: 20 }) }) } });
    const async = d.events("mysql.semi-sync-off");
    expect(async).toHaveLength(1);
    expect(async[0]!.severity).toBe("warning");
    expect(async[0]!.reason).toBe("server1 (writer) acknowledges commits without a standby: semi-sync fell back to asynchronous (Rpl_semi_sync_master_status=OFF); an automatic failover now could lose them, so it would be refused");
    d.beat("server1", 1500, { probes: { mysql: writer("0-1-90", { semiSync: semi({ clients: 0, masterStatus: false, noTx: 40 }) }) } });
    expect(d.events("mysql.semi-sync-off")).toHaveLength(1); // said once per episode
    d.beat("server2", 1500, { probes: { mysql: standby("0-1-50", { ioRunning: false }) } });
    // The writer's mysqld is killed: its probe fails, and nobody may take over.
    d.beat("server1", 2000, { probes: { mysql: down } });
    expect(d.holder("mysql")).toBe("server1");
    expect(d.state.groups.mysql!.phase).toBe("held");
    const refused = d.events("group.promotion-refused");
    expect(refused).toHaveLength(1);
    expect(refused[0]!.severity).toBe("critical");
    expect(refused[0]!.reason).toBe(
      `server1's probe for mysql is failing (connect ECONNREFUSED), but automatic promotion is refused (server2: server1 was asynchronous since ${isoTime(1000)} (semi-sync fell back to asynchronous (Rpl_semi_sync_master_status=OFF)); it received 0-1-50 of server1's last committed 0-1-90; server2 may lack transactions after 0-1-50); server1 keeps mysql`,
    );
    // The whole node goes: the lease ends, and the refusal stands.
    for (let t = 2500; t <= 8000; t += 500) d.beat("server2", t, { probes: { mysql: standby("0-1-50", { ioRunning: false }) } });
    expect(d.events("group.promotion-refused").at(-1)!.reason).toMatch(/^server1 lease expired \d\.\d s after its last heartbeat; automatic promotion in mysql refused \(server1 is not alive/);
    // Said once more, however long it lasts.
    for (let t = 8500; t <= 20_000; t += 500) d.beat("server2", t, { probes: { mysql: standby("0-1-50", { ioRunning: false }) } });
    expect(d.events("group.promotion-refused")).toHaveLength(2);
    expect(d.holder("mysql")).toBeNull();
  });

  it("semi-sync off at the writer's last report refuses even a standby that has its whole position", () => {
    const d = writing();
    d.beat("server1", 1000, { probes: { mysql: writer("0-1-70", { semiSync: semi({ noTx: 3 }) }) } });
    d.beat("server2", 1100, { probes: { mysql: standby("0-1-70") } });
    d.beat("server1", 1200, { probes: { mysql: down } });
    d.beat("server1", 1300, { probes: { mysql: down }, released: [{ group: "mysql", epoch: 1 }] });
    expect(d.holder("mysql")).toBeNull();
    expect(refusals(d).at(-1)).toContain(`server2: server1 was asynchronous since ${isoTime(1000)} (3 commits acknowledged without a standby since its previous report); server2 may lack transactions after 0-1-70`);
  });

  it("the refused old writer comes back: it gets the group again (the others are behind it, not it)", () => {
    const d = writing();
    d.beat("server1", 1000, { probes: { mysql: writer("0-1-70", { semiSync: semi({ clients: 0 }) }) } });
    d.beat("server1", 1500, { probes: { mysql: down } });
    d.beat("server1", 1600, { probes: { mysql: down }, released: [{ group: "mysql", epoch: 1 }] });
    expect(d.holder("mysql")).toBeNull();
    // mysqld restarted read-only with everything it had; its own binlog is final now.
    d.beat("server1", 5000, { probes: { mysql: standby("0-1-70", { serverId: 1 }) } });
    expect(d.holder("mysql")).toBe("server1");
    expect(d.state.groups.mysql!.epoch).toBe(2);
  });

  it("the whole writer node dies (lease on the path): promotion after the lease, if nothing can be missing", () => {
    const d = writing();
    d.beat("server1", 1000, { probes: { mysql: writer("0-1-80") } });
    for (let t = 1200; t <= 6000; t += 400) d.beat("server2", t, { probes: { mysql: standby("0-1-80") } });
    expect(d.holder("mysql")).toBe("server2");
    expect(d.events("group.granted").at(-1)!.reason).toMatch(/^server1 lease expired 3\.\d s after its last heartbeat; granting mysql epoch 2 to server2/);
  });

  it("a standby that received only part of the writer's last position (fresh report) is refused", () => {
    const d = writing();
    d.beat("server1", 1000, { probes: { mysql: writer("0-1-80") } });
    for (let t = 1200; t <= 6000; t += 400) d.beat("server2", t, { probes: { mysql: standby("0-1-78") } });
    expect(d.holder("mysql")).toBeNull();
    expect(refusals(d).at(-1)).toContain("server2: it received 0-1-78 of server1's last committed 0-1-80; server2 may lack transactions after 0-1-78");
  });

  it("an operator can force it (acceptDataLoss, audited); the applier is told not to wait for the lost position", () => {
    const d = writing();
    d.beat("server1", 1000, { probes: { mysql: writer("0-1-80", { semiSync: semi({ clients: 0 }) }) } });
    for (let t = 1200; t <= 6000; t += 400) d.beat("server2", t, { probes: { mysql: standby("0-1-50") } });
    expect(d.holder("mysql")).toBeNull();
    d.run({ type: "switchover", group: "mysql", to: "server2", actor: "token:ops" }, 6100);
    expect(d.lastRejected).toContain("cannot switch mysql to server2: server2: server1 was asynchronous since");
    d.run({ type: "switchover", group: "mysql", to: null, actor: "token:ops", acceptDataLoss: true }, 6100);
    expect(d.lastRejected).toBe("acceptDataLoss needs a target: name the server to promote (to)");
    d.run({ type: "switchover", group: "mysql", to: "server2", actor: "token:ops", acceptDataLoss: true }, 6200);
    expect(d.lastRejected).toBeUndefined();
    expect(d.holder("mysql")).toBe("server2");
    const audit = d.events("mysql.data-loss-accepted");
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ severity: "critical", actor: "token:ops", node: "server2", epoch: 2 });
    expect(audit[0]!.reason).toContain("token:ops promoted server2 accepting possible data loss: server1 was asynchronous since");
    expect(audit[0]!.reason).toContain("server2 may lack transactions after 0-1-50");
    expect(d.desired("server2", 6200).groups[0]!.mysql).toEqual({ topology: "dual-master", strictFence: false, acceptDataLoss: true });
    // Only for dual-master mysql groups.
    const other = new Driver();
    other.run({ type: "switchover", group: "server-api", to: "server2", actor: "x", acceptDataLoss: true }, 0);
    expect(other.lastRejected).toBe("acceptDataLoss applies to mysql-writer dual-master groups; server-api is active-standby");
  });

  it("policy mysql.promoteOnPossibleLoss chooses availability, with a critical event", () => {
    const spec = only();
    spec.groups[0]!.mysql = { topology: "dual-master", strictFence: false, promoteOnPossibleLoss: true };
    const d = writing(spec);
    d.beat("server1", 1000, { probes: { mysql: writer("0-1-80", { semiSync: semi({ masterEnabled: false }) }) } });
    d.beat("server2", 1100, { probes: { mysql: standby("0-1-79") } });
    d.beat("server1", 1200, { probes: { mysql: down } });
    d.beat("server1", 1300, { probes: { mysql: down }, released: [{ group: "mysql", epoch: 1 }] });
    expect(d.holder("mysql")).toBe("server2");
    const e = d.events("mysql.possible-loss-promotion");
    expect(e).toHaveLength(1);
    expect(e[0]!.severity).toBe("critical");
    expect(e[0]!.reason).toContain("promoting server2 although server1 was asynchronous since");
    expect(e[0]!.reason).toContain("(policy mysql.promoteOnPossibleLoss)");
    expect(d.desired("server2", 1300).groups[0]!.mysql!.acceptDataLoss).toBe(true);
  });

  it("a writer that died before any writable report: the standby is refused, and the group goes back to that last holder when it returns, also after a restart", () => {
    const d = new Driver(only());
    d.beat("server1", 0, { probes: { mysql: standby("0-1-10", { serverId: 1 }) } });
    d.beat("server2", 0, { probes: { mysql: standby("0-1-10") } });
    expect(d.holder("mysql")).toBe("server1");
    // server1 goes silent (its host died) before it ever reported itself writable.
    for (let t = 500; t <= 6000; t += 500) d.beat("server2", t, { probes: { mysql: standby("0-1-10") } });
    expect(d.holder("mysql")).toBeNull();
    expect(refusals(d).at(-1)).toContain("server2: the last writer's committed position is unknown");
    expect(d.state.persisted.groups.mysql).toMatchObject({ holder: null, epoch: 1, lastHolder: "server1" });
    // The control plane restarts; server1 comes back read-only (its shim fenced it at start).
    d.restart(7000);
    for (let t = 7000; t <= 11_000; t += 500) d.beat("server2", t, { probes: { mysql: standby("0-1-10") } });
    expect(d.holder("mysql")).toBeNull();
    d.beat("server1", 11_200, { bootId: "server1-b2", probes: { mysql: standby("0-1-12", { serverId: 1 }) } });
    expect(d.holder("mysql")).toBe("server1");
    expect(d.state.groups.mysql!.epoch).toBe(2);
    expect(d.state.persisted.groups.mysql!.lastHolder).toBeUndefined();
  });

  it("after a control-plane restart the last writer's position is unknown: refused, not guessed", () => {
    const d = writing();
    // A new Durable Object incarnation keeps the persisted holder and epoch, not the positions.
    const restarted = new Driver(only(), 10_000);
    restarted.state = { ...restarted.state, persisted: d.state.persisted, groups: { mysql: { ...restarted.state.groups.mysql!, holder: "server1", epoch: 1, phase: "held" } } };
    for (let t = 10_000; t <= 20_000; t += 500) restarted.beat("server2", t, { probes: { mysql: standby("0-1-50") } });
    expect(restarted.holder("mysql")).toBeNull();
    expect(refusals(restarted).at(-1)).toContain("server2: the last writer's committed position is unknown (no report from a writable server since the control plane started); server2 may lack acknowledged transactions");
  });
});

describe("mysql-writer: GTID domains, errant transactions, config drift", () => {
  it("two GTID domains: a standby ahead in one domain and behind in the other is not 'ahead'", () => {
    const d = new Driver(only());
    d.beat("server1", 0, { probes: { mysql: standby("1-1-10,2-2-5", { serverId: 1 }) } });
    d.beat("server2", 0, { probes: { mysql: standby("1-1-10,2-2-5") } });
    d.beat("server1", 100, { probes: { mysql: writer("1-1-40,2-2-5") } });
    d.beat("server1", 1000, { probes: { mysql: writer("1-1-60,2-2-5") } });
    // server2 is ahead in domain 2 (a transaction from another source, 2-3-9) but lacks 1-1-51..60.
    for (let t = 1200; t <= 6000; t += 400) d.beat("server2", t, { probes: { mysql: standby("1-1-50,2-3-9") } });
    expect(d.holder("mysql")).toBeNull();
    expect(refusals(d).at(-1)).toContain("server2: its position 1-1-50,2-3-9 and server1's last committed 1-1-60,2-2-5 are incomparable; server2 may lack transactions after 1-1-50,2-3-9");
    // Had it written in its own domain (2-2-9), that is an errant transaction: not a candidate at all.
    for (let t = 6400; t <= 8000; t += 400) d.beat("server2", t, { probes: { mysql: standby("1-1-60,2-2-9") } });
    expect(d.holder("mysql")).toBeNull();
    expect(d.events("group.no-candidate").at(-1)!.reason).toContain("server2: has transactions the writer server1 never had (2-2-9)");
  });

  it("two standbys with incomparable positions: neither is promoted, the event names both positions", () => {
    const base = only();
    const spec = dataSpec({ ...base, nodes: [...base.nodes.slice(0, 2), { name: "server3", hostname: "server3.chime.com", ip: "192.168.231.13", role: "server", priority: 90, prefix: 24 }, ...base.nodes.slice(2)] });
    const d = new Driver(spec);
    d.beat("server1", 0, { probes: { mysql: standby("0-1-10", { serverId: 1 }) } });
    d.beat("server2", 0, { probes: { mysql: standby("0-1-10") } });
    d.beat("server3", 0, { probes: { mysql: standby("0-1-10", { serverId: 3 }) } });
    d.beat("server1", 100, { probes: { mysql: writer("0-1-20,1-1-5") } });
    for (let t = 1200; t <= 6000; t += 400) {
      d.beat("server2", t, { probes: { mysql: standby("0-1-20,1-1-4") } });
      d.beat("server3", t, { probes: { mysql: standby("0-1-19,1-1-5", { serverId: 3 }) } });
    }
    expect(d.holder("mysql")).toBeNull();
    const why = refusals(d).at(-1)!;
    expect(why).toContain("server2: its position 0-1-20,1-1-4 and server3's 0-1-19,1-1-5 are incomparable (each has transactions the other lacks); neither is promoted automatically");
    expect(why).toContain("server3: its position 0-1-19,1-1-5 and server2's 0-1-20,1-1-4 are incomparable");
  });

  it("errant transactions are judged against the last writer's last report, also when it cannot be reached", () => {
    const d = writing();
    d.beat("server1", 1000, { probes: { mysql: writer("0-1-80", { gtidBinlogState: "0-2-7,0-1-80" }) } });
    // server2 (read-only) holds 0-2-9, which server1 never had: someone wrote there (READ_ONLY ADMIN).
    d.beat("server2", 1100, { probes: { mysql: standby("0-1-80", { gtidBinlogState: "0-1-80,0-2-9" }) } });
    const errant = d.events("mysql.errant-transactions");
    expect(errant).toHaveLength(1);
    expect(errant[0]!.severity).toBe("critical");
    expect(errant[0]!.reason).toBe("server2 has transactions the writer server1 never had (0-2-9), e.g. written before a crash and never acknowledged; they are not replicated or merged: inspect them, then rebuild server2 from server1 or re-apply them by hand");
    // server1 dies: the check still stands on its last report.
    for (let t = 1500; t <= 6000; t += 400) d.beat("server2", t, { probes: { mysql: standby("0-1-80", { gtidBinlogState: "0-1-80,0-2-9" }) } });
    expect(d.holder("mysql")).toBeNull();
    expect(d.events("group.no-candidate").at(-1)!.reason).toContain("server2: has transactions the writer server1 never had (0-2-9); not promoted automatically");
  });

  it("config drift from the safe setup is a warning per server, resolved when fixed", () => {
    const d = new Driver(only());
    const config = { gtidDomainId: 1, gtidStrictMode: true, logSlaveUpdates: true, waitPoint: "AFTER_SYNC", waitNoSlave: true, semiSyncTimeoutMs: 3000 };
    d.beat("server1", 0, { probes: { mysql: standby("", { serverId: 1, config }) } });
    d.beat("server2", 0, { probes: { mysql: standby("", { config: { ...config, gtidDomainId: 2 } }) } });
    expect(d.events("mysql.config-drift")).toEqual([]);
    d.beat("server2", 500, {
      probes: { mysql: standby("", { config: { ...config, waitPoint: "AFTER_COMMIT", waitNoSlave: false, semiSyncTimeoutMs: 2000, gtidStrictMode: false }, semiSync: semi({ slaveEnabled: false }) }) },
    });
    const drift = d.events("mysql.config-drift");
    expect(drift).toHaveLength(1);
    expect(drift[0]).toMatchObject({ severity: "warning", node: "server2" });
    expect(drift[0]!.reason).toBe(
      "server2: semi-sync is not on both ways (rpl_semi_sync_master_enabled and rpl_semi_sync_slave_enabled must be ON on every server); rpl_semi_sync_master_wait_point is AFTER_COMMIT (want AFTER_SYNC); rpl_semi_sync_master_wait_no_slave is OFF (want ON: with OFF a writer whose standby disconnects acknowledges commits at once without it); rpl_semi_sync_master_timeout is 2000 ms (want >= the lease TTL, 3000 ms, so a writer cut off from everything fences itself before semi-sync gives up); gtid_strict_mode is OFF (want ON); gtid_domain_id 1 is also server1's (want one domain per server)",
    );
    d.beat("server2", 1000, { probes: { mysql: standby("", { config: { ...config, gtidDomainId: 2 } }) } });
    const after = d.events("mysql.config-drift");
    expect(after).toHaveLength(2);
    expect(after[1]).toMatchObject({ severity: "info", resolves: true, reason: "server2's settings match the safe setup again" });
  });
});
