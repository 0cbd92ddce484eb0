// Private MariaDB instances for the data suite and the failover benchmark: each one has its own
// datadir, socket and free port on 127.0.0.1 under one temp dir, and is stopped by its PID only.
// Two of them replicate both ways (dual master, GTID, semi-sync AFTER_SYNC so an acknowledged
// commit is always on the peer's relay log).
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import mysql from "mysql2/promise";
import { freePort } from "../../shim/support/control-plane.js";
import { killProcess, stopProcess } from "../../support/process.js";

const exec = promisify(execFile);

export const AGENT = { user: "chimeha", password: "agent-pw" };
export const APP = { user: "app", password: "app-pw" };
export const REPL = { user: "repl", password: "repl-pw" };

const BIN = { server: "/usr/sbin/mariadbd", install: "/usr/bin/mariadb-install-db" };

/** Null when MariaDB can be run here, else what is missing. */
export function mariadbMissing(): string | null {
  for (const b of Object.values(BIN)) if (!existsSync(b)) return `${b} not found (Debian's mariadb-server is installed by .ci/run)`;
  return null;
}

export class MariaInstance {
  child: ChildProcess | null = null;
  port = 0;
  readonly datadir: string;
  readonly socket: string;
  private output = "";

  constructor(
    readonly name: string,
    readonly serverId: number,
    readonly dir: string,
  ) {
    this.datadir = join(dir, "data");
    this.socket = join(dir, "mysqld.sock");
  }

  async install(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    const asRoot = process.getuid?.() === 0 ? ["--user=root"] : [];
    const args = ["--no-defaults", `--datadir=${this.datadir}`, "--auth-root-authentication-method=normal", "--skip-test-db", ...asRoot];
    try {
      await exec(BIN.install, args, { timeout: 60_000 });
    } catch {
      // A bootstrap that failed half-way leaves a datadir the retry cannot reuse.
      rmSync(this.datadir, { recursive: true, force: true });
      await exec(BIN.install, args, { timeout: 60_000 });
    }
    this.port = await freePort();
  }

  /** Start mariadbd; `readOnly` as an old writer rejoins (never writable before the control plane says so). */
  async start(readOnly: boolean): Promise<void> {
    const asRoot = process.getuid?.() === 0 ? ["--user=root"] : [];
    const args = [
      "--no-defaults",
      `--datadir=${this.datadir}`,
      `--socket=${this.socket}`,
      `--pid-file=${join(this.dir, "mysqld.pid")}`,
      `--port=${this.port}`,
      "--bind-address=127.0.0.1",
      "--skip-name-resolve",
      `--server-id=${this.serverId}`,
      "--log-bin=binlog",
      "--log-slave-updates",
      "--binlog-format=ROW",
      "--sync-binlog=1",
      "--innodb-flush-log-at-trx-commit=1",
      // Dual master: the two writers (one at a time) never collide on auto-increment keys.
      "--auto-increment-increment=2",
      `--auto-increment-offset=${this.serverId}`,
      "--rpl-semi-sync-master-enabled=ON",
      "--rpl-semi-sync-slave-enabled=ON",
      "--rpl-semi-sync-master-wait-point=AFTER_SYNC",
      "--rpl-semi-sync-master-timeout=2000",
      // A writer whose peer is down must not stall every commit for the timeout.
      "--rpl-semi-sync-master-wait-no-slave=OFF",
      "--slave-net-timeout=5",
      "--innodb-buffer-pool-size=32M",
      "--innodb-log-file-size=16M",
      "--performance-schema=OFF",
      "--skip-innodb-buffer-pool-load-at-startup",
      "--skip-innodb-buffer-pool-dump-at-shutdown",
      ...(readOnly ? ["--read-only=ON"] : []),
      ...asRoot,
    ];
    const child = spawn(BIN.server, args, { stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    this.output = "";
    const keep = (d: Buffer) => (this.output = (this.output + String(d)).slice(-6000));
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    const deadline = performance.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${this.name}: mariadbd exited ${child.exitCode}: ${this.output}`);
      try {
        const c = await this.root();
        await c.end();
        return;
      } catch {
        // not accepting connections yet
      }
      if (performance.now() > deadline) throw new Error(`${this.name}: mariadbd did not start within 30 s: ${this.output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  log(): string {
    return this.output;
  }

  /** root over the private socket (root has every privilege, including READ_ONLY ADMIN). */
  root(): Promise<mysql.Connection> {
    return mysql.createConnection({ socketPath: this.socket, user: "root", password: "", connectTimeout: 2000, multipleStatements: true });
  }

  connect(user: { user: string; password: string }): Promise<mysql.Connection> {
    return mysql.createConnection({ host: "127.0.0.1", port: this.port, user: user.user, password: user.password, connectTimeout: 1000 });
  }

  /** SIGKILL (a crash): no shutdown, no flushing beyond what was synced. */
  async kill(): Promise<void> {
    await killProcess(this.child);
    this.child = null;
  }

  async stop(): Promise<void> {
    await stopProcess(this.child, 15_000);
    this.child = null;
  }
}

export interface DualMaster {
  a: MariaInstance;
  b: MariaInstance;
  dir: string;
  cleanup(): Promise<void>;
}

/**
 * Two instances, both started read-only, with accounts (agent, app, repl), database `loaddb` and
 * replication both ways. Nothing is writable until the control plane grants the writer role.
 */
export async function startDualMaster(prefix = "chd-mysql-"): Promise<DualMaster> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const a = new MariaInstance("db1", 1, join(dir, "db1"));
  const b = new MariaInstance("db2", 2, join(dir, "db2"));
  const cleanup = async () => {
    await Promise.all([a.stop().catch(() => undefined), b.stop().catch(() => undefined)]);
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  };
  try {
    // One at a time: two bootstraps at once occasionally fail ("Unknown table mysql.tmp_user_sys").
    await a.install();
    await b.install();
    await Promise.all([a.start(true), b.start(true)]);
    for (const m of [a, b]) {
      const c = await m.root();
      // Set up identically on both with sql_log_bin=0: no GTIDs from setup on either side.
      await c.query(
        `SET sql_log_bin=0;
         CREATE USER '${AGENT.user}'@'127.0.0.1' IDENTIFIED BY '${AGENT.password}';
         GRANT SUPER, READ_ONLY ADMIN, CONNECTION ADMIN, REPLICATION SLAVE ADMIN, BINLOG MONITOR, REPLICATION MASTER ADMIN, PROCESS, SELECT, CREATE, INSERT, DELETE, GRANT OPTION ON *.* TO '${AGENT.user}'@'127.0.0.1';
         GRANT ALL ON mysql.* TO '${AGENT.user}'@'127.0.0.1';
         CREATE USER '${REPL.user}'@'127.0.0.1' IDENTIFIED BY '${REPL.password}';
         GRANT REPLICATION SLAVE ON *.* TO '${REPL.user}'@'127.0.0.1';
         CREATE DATABASE loaddb;
         CREATE TABLE loaddb.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, seq BIGINT NOT NULL UNIQUE, at BIGINT NOT NULL) ENGINE=InnoDB;
         CREATE USER '${APP.user}'@'127.0.0.1' IDENTIFIED BY '${APP.password}';
         GRANT SELECT, INSERT, UPDATE, DELETE ON loaddb.* TO '${APP.user}'@'127.0.0.1';
         SET sql_log_bin=1;`,
      );
      await c.end();
    }
    for (const [m, peer] of [
      [a, b],
      [b, a],
    ] as const) {
      const c = await m.root();
      await c.query(
        `CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${peer.port}, MASTER_USER='${REPL.user}', MASTER_PASSWORD='${REPL.password}', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1; START SLAVE;`,
      );
      await c.end();
    }
  } catch (err) {
    const logs = `db1: ${a.log().slice(-1500)}\ndb2: ${b.log().slice(-1500)}`;
    await cleanup().catch(() => undefined);
    throw new Error(`${(err as Error).message}\n${logs}`);
  }
  return { a, b, dir, cleanup };
}

/** @@read_only of an instance, or null when it does not answer (down). */
export async function readOnlyOf(m: MariaInstance): Promise<boolean | null> {
  try {
    const c = await mysql.createConnection({ socketPath: m.socket, user: "root", password: "", connectTimeout: 300 });
    try {
      const [rows] = await c.query("SELECT @@global.read_only AS ro");
      return Number((rows as { ro: number }[])[0]!.ro) === 1;
    } finally {
      await c.end().catch(() => undefined);
    }
  } catch {
    return null;
  }
}
