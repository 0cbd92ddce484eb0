// The mysql fence on a real MariaDB 10.11 server: read_only=1 stops application accounts and ends
// their sessions, but NOT accounts with READ_ONLY ADMIN (the 10.11 caveat); the strict fence
// revokes that privilege (not binlogged) and promotion gives it back. Settings errors name paths.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DesiredGroup } from "../../protocol/heartbeat.js";
import { mysqlWriterApplier, mysqlWriterFence } from "../../node-shim/apply/mysql.js";
import { CommandRunner } from "../../node-shim/command-runner.js";
import { setLogSink } from "../../node-shim/log.js";
import { AGENT, APP, MariaInstance, mariadbMissing, readOnlyOf } from "./support/mariadb.js";

const missing = mariadbMissing();
if (missing && process.env.CI === "true") throw new Error(`mysql fence test cannot run: ${missing}`);

const POWER = { user: "power", password: "power-pw" };

function group(role: DesiredGroup["role"], strictFence: boolean): DesiredGroup {
  return {
    name: "mysql",
    mode: "mysql-writer",
    vip: "10.231.73.30",
    prefix: 24,
    interface: "eth0",
    ports: [{ port: 3306, protocol: "tcp" }],
    probe: { type: "mysql", port: 3306, maxLagSeconds: 5, intervalMs: 1000, timeoutMs: 800, fall: 2, rise: 2 },
    member: true,
    role,
    epoch: 3,
    holder: role === "standby" ? "server2" : "server1",
    mysql: { topology: "dual-master", strictFence },
  };
}

describe.runIf(missing === null)("mysql fence on real MariaDB 10.11", () => {
  const dir = mkdtempSync(join(tmpdir(), "chd-fence-"));
  const m = new MariaInstance("solo", 7, join(dir, "solo"));
  let ctx: { runner: CommandRunner; settings: Record<string, unknown> };

  beforeAll(async () => {
    setLogSink(null);
    await m.install();
    await m.start(false);
    const c = await m.root();
    await c.query(
      `CREATE USER '${AGENT.user}'@'127.0.0.1' IDENTIFIED BY '${AGENT.password}';
       GRANT SUPER, READ_ONLY ADMIN, CONNECTION ADMIN, REPLICATION SLAVE ADMIN, BINLOG MONITOR, PROCESS, SELECT, CREATE, INSERT, DELETE, GRANT OPTION ON *.* TO '${AGENT.user}'@'127.0.0.1';
       GRANT ALL ON mysql.* TO '${AGENT.user}'@'127.0.0.1';
       CREATE DATABASE loaddb;
       CREATE TABLE loaddb.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, seq BIGINT NOT NULL UNIQUE, at BIGINT NOT NULL);
       CREATE USER '${APP.user}'@'127.0.0.1' IDENTIFIED BY '${APP.password}';
       GRANT SELECT, INSERT ON loaddb.* TO '${APP.user}'@'127.0.0.1';
       CREATE USER '${POWER.user}'@'127.0.0.1' IDENTIFIED BY '${POWER.password}';
       GRANT SELECT, INSERT ON loaddb.* TO '${POWER.user}'@'127.0.0.1';
       GRANT READ_ONLY ADMIN ON *.* TO '${POWER.user}'@'127.0.0.1';`,
    );
    await c.end();
    ctx = { runner: new CommandRunner("recording"), settings: { mysql: { user: AGENT.user, password: AGENT.password, port: m.port } } };
  }, 60_000);

  afterAll(async () => {
    await m.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  });

  let seq = 0;
  const insert = async (who: { user: string; password: string }) => {
    const c = await m.connect(who);
    try {
      await c.query("INSERT INTO loaddb.t (seq, at) VALUES (?, ?)", [seq++, Date.now()]);
      return "ok";
    } catch (err) {
      return `errno ${(err as { errno?: number }).errno}`;
    } finally {
      await c.end().catch(() => undefined);
    }
  };

  it("the plain fence stops application accounts and ends their sessions, but not READ_ONLY ADMIN holders", async () => {
    expect(await insert(APP)).toBe("ok");
    const open = await m.connect(APP);
    await open.query("SELECT 1");
    await mysqlWriterFence(group("release", false), ctx);
    expect(await readOnlyOf(m)).toBe(true);
    await expect(open.query("SELECT 1")).rejects.toThrow();
    open.destroy();
    expect(await insert(APP)).toBe("errno 1290"); // ER_OPTION_PREVENTS_STATEMENT: --read-only
    expect(await insert(POWER)).toBe("ok"); // why the agent must not share an account with applications
  });

  it("the strict fence revokes READ_ONLY ADMIN (not binlogged); promotion gives it back", async () => {
    const binlogBefore = await gtidBinlogPos();
    await mysqlWriterFence(group("release", true), ctx);
    expect(await insert(POWER)).toBe("errno 1290");
    expect(await insert(APP)).toBe("errno 1290");
    expect(await gtidBinlogPos()).toBe(binlogBefore);
    expect(await grantsOf(POWER.user)).not.toContain("READ_ONLY ADMIN");

    // Promotion as the holder (no replication configured here): writable, privilege back.
    await mysqlWriterApplier(group("holder", true), true, ctx);
    expect(await readOnlyOf(m)).toBe(false);
    expect(await grantsOf(POWER.user)).toContain("READ_ONLY ADMIN");
    expect(await insert(APP)).toBe("ok");
    expect(await gtidBinlogPos()).not.toBe(binlogBefore); // the insert, nothing from the fence

    // A standby that finds itself writable (no lease for it) fences itself.
    await mysqlWriterApplier(group("standby", false), false, ctx);
    expect(await readOnlyOf(m)).toBe(true);
  });

  it("bad settings are reported by path", async () => {
    await expect(mysqlWriterFence(group("release", false), { runner: ctx.runner, settings: {} })).rejects.toThrow(/^settings\.mysql is missing from the shim config/);
    await expect(mysqlWriterFence(group("release", false), { runner: ctx.runner, settings: { mysql: { user: 5 } } })).rejects.toThrow(/settings\.mysql\.user: /);
    await expect(mysqlWriterFence(group("release", false), { runner: ctx.runner, settings: { mysql: { user: "x", peer: { host: "h", port: 70000 } } } })).rejects.toThrow(/settings\.mysql\.peer\.port: /);
  });

  async function gtidBinlogPos(): Promise<string> {
    const c = await m.root();
    try {
      const [r] = await c.query("SELECT @@global.gtid_binlog_pos AS p");
      return String((r as { p: string }[])[0]!.p);
    } finally {
      await c.end();
    }
  }

  async function grantsOf(user: string): Promise<string> {
    const c = await m.root();
    try {
      const [r] = await c.query(`SHOW GRANTS FOR '${user}'@'127.0.0.1'`);
      return JSON.stringify(r);
    } finally {
      await c.end();
    }
  }
});
