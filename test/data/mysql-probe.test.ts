// The mysql probe against a real dual master: an empty GTID position is never "caught up" unless a
// connected IO thread has nothing pending; a stopped SQL thread is not caught up; a write on the
// read-only standby that its peer lacks is reported as an errant transaction.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CommandRunner } from "../../node-shim/command-runner.js";
import { setLogSink } from "../../node-shim/log.js";
import { errantGtids, mysqlProbe } from "../../node-shim/probes/mysql.js";
import { waitFor } from "./support/cluster.js";
import { AGENT, type DualMaster, type MariaInstance, mariadbMissing, startDualMaster } from "./support/mariadb.js";

const missing = mariadbMissing();
if (missing && process.env.CI === "true") throw new Error(`mysql probe test cannot run: ${missing}`);

describe("errantGtids", () => {
  it("lists this server's own GTIDs the peer does not have", () => {
    expect(errantGtids("0-1-100,0-2-7", 2, "0-1-100,0-2-7")).toEqual([]);
    expect(errantGtids("0-1-100,0-2-9", 2, "0-1-100,0-2-7")).toEqual(["0-2-9"]);
    expect(errantGtids("0-1-100", 1, "")).toEqual(["0-1-100"]);
    expect(errantGtids("0-1-100,1-2-3", 2, "0-1-100")).toEqual(["1-2-3"]);
  });
});

describe.runIf(missing === null)("mysql probe on a real dual master", () => {
  let dm: DualMaster;

  beforeAll(async () => {
    setLogSink(null);
    dm = await startDualMaster("chd-probe-");
  }, 60_000);
  afterAll(async () => dm?.cleanup());

  const probe = (m: MariaInstance, peer: MariaInstance) =>
    mysqlProbe(
      { type: "mysql", port: m.port, maxLagSeconds: 5, intervalMs: 1000, timeoutMs: 800, fall: 1, rise: 1 },
      { host: "127.0.0.1", runner: new CommandRunner("recording"), settings: { mysql: { user: AGENT.user, password: AGENT.password, peer: { host: "127.0.0.1", port: peer.port } } } },
    ).run(AbortSignal.timeout(5000));
  const root = async (m: MariaInstance, sql: string) => {
    const c = await m.root();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };

  it("empty positions: caught up only while connected with nothing pending", async () => {
    // Just started: until the IO thread has connected and read the master's binlog header there
    // is no proof, so it is not caught up; then it is (nothing pending, no GTIDs anywhere).
    const r = await waitFor("db2 to be caught up", async () => {
      const x = await probe(dm.b, dm.a);
      if (!x.mysql?.caughtUp) expect(x.detail).toMatch(/no GTID position read from the master yet/);
      return x.mysql?.caughtUp ? x : null;
    }, 10_000, 100);
    expect(r.ok).toBe(true);
    expect(r.mysql).toMatchObject({ readOnly: true, replicaConfigured: true, ioRunning: true, caughtUp: true, gtidCurrentPos: "", errantTransactions: false });
    await root(dm.b, "STOP SLAVE IO_THREAD");
    const stopped = await probe(dm.b, dm.a);
    expect(stopped.mysql!.caughtUp).toBe(false);
    expect(stopped.detail).toContain("an empty position is never caught up");
    await root(dm.b, "START SLAVE IO_THREAD");
  });

  it("a stopped SQL thread is not caught up; once it applies what was read, it is", async () => {
    await root(dm.a, "SET GLOBAL read_only = 0");
    await root(dm.b, "STOP SLAVE SQL_THREAD");
    await root(dm.a, "INSERT INTO loaddb.t (seq, at) VALUES (1, 1), (2, 2)");
    await new Promise((r) => setTimeout(r, 300));
    const behind = await probe(dm.b, dm.a);
    expect(behind.mysql).toMatchObject({ caughtUp: false, sqlRunning: false, ioRunning: true });
    expect(behind.detail).toMatch(/SQL thread has not applied 0-1-1 yet/);
    // Received (relay log) is not applied: the control plane needs both.
    expect(behind.mysql).toMatchObject({ gtidIoPos: "0-1-1", gtidCurrentPos: "", serverId: 2 });
    await root(dm.b, "START SLAVE SQL_THREAD");
    const after = await probe(dm.b, dm.a);
    expect(after.mysql).toMatchObject({ caughtUp: true, gtidCurrentPos: "0-1-1", errantTransactions: false });
    const writer = await probe(dm.a, dm.b);
    expect(writer.mysql).toMatchObject({ readOnly: false, gtidBinlogPos: "0-1-1", gtidBinlogState: "0-1-1", serverId: 1 });
    expect(writer.mysql!.semiSync).toMatchObject({ masterEnabled: true, masterStatus: true, clients: 1, noTx: 0, slaveEnabled: true });
    expect(writer.mysql!.semiSync!.yesTx).toBeGreaterThanOrEqual(1);
    expect(writer.mysql!.config).toEqual({ gtidDomainId: 0, gtidStrictMode: true, logSlaveUpdates: true, waitPoint: "AFTER_SYNC", waitNoSlave: true, semiSyncTimeoutMs: 2000 });
    expect(writer.detail).toMatch(/^writable, gtid 0-1-1; .*; semi-sync on, 1 standby$/);
  });

  it("a writer whose standby stops receiving falls back after the timeout: status OFF, commits counted without a standby", async () => {
    await root(dm.b, "STOP SLAVE IO_THREAD");
    const started = performance.now();
    await root(dm.a, "INSERT INTO loaddb.t (seq, at) VALUES (3, 3)"); // waits rpl_semi_sync_master_timeout, then commits alone
    expect(performance.now() - started).toBeGreaterThan(1500);
    await root(dm.a, "INSERT INTO loaddb.t (seq, at) VALUES (4, 4)");
    const w = await probe(dm.a, dm.b);
    expect(w.mysql!.semiSync).toMatchObject({ masterStatus: false, clients: 0 });
    expect(w.mysql!.semiSync!.noTx).toBeGreaterThanOrEqual(2);
    expect(w.detail).toContain("semi-sync OFF, 0 standby");
    const s = await probe(dm.b, dm.a);
    expect(s.mysql).toMatchObject({ ioRunning: false, gtidIoPos: "0-1-1" });
    await root(dm.b, "START SLAVE IO_THREAD");
    const back = await waitFor("semi-sync back on", async () => {
      const x = await probe(dm.a, dm.b);
      return x.mysql!.semiSync!.masterStatus && x.mysql!.semiSync!.clients === 1 ? x : null;
    }, 10_000, 100);
    expect(back.mysql!.gtidBinlogPos).toBe("0-1-3");
  });

  it("a write on the read-only standby that the peer lacks is an errant transaction", async () => {
    // As after a promotion: the writer (db1) does not replicate from the standby.
    await root(dm.a, "STOP SLAVE");
    // root has READ_ONLY ADMIN, so it can write despite read_only (the caveat the fence handles).
    await root(dm.b, "INSERT INTO loaddb.t (seq, at) VALUES (99, 99)");
    const r = await probe(dm.b, dm.a);
    expect(r.mysql!.errantTransactions).toBe(true);
    expect(r.detail).toContain("errant transactions 0-2-4");
    // The writer itself is never judged errant (its GTIDs are simply not replicated yet).
    expect((await probe(dm.a, dm.b)).mysql!.errantTransactions).toBe(false);
  });

  it("an unreachable server is unhealthy with the address in the detail", async () => {
    await dm.b.stop();
    const r = await probe(dm.b, dm.a);
    expect(r.ok).toBe(false);
    expect(r.detail).toBe(`mysql 127.0.0.1:${dm.b.port}: ECONNREFUSED`);
  });
});
