// Private MariaDB instances for the data suite and the failover benchmark: each one has its own
// datadir (copied from one bootstrapped template per process), socket and port, under one temp
// dir, and is stopped by its PID only. An instance runs on 127.0.0.1, or inside a network
// namespace on the lab's address (`ip netns exec` execs mariadbd, so the PID is mariadbd's own);
// the tests reach every instance as root through its socket, which works across namespaces.
// Two of them replicate both ways (dual master, GTID, semi-sync AFTER_SYNC).
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
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

let template: Promise<string> | null = null;
const templateDirs: string[] = [];
process.once("exit", () => {
  for (const d of templateDirs) rmSync(d, { recursive: true, force: true });
});

/** One bootstrapped datadir per process; every instance starts from a copy (a fraction of a second). */
function templateDatadir(): Promise<string> {
  template ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), "chd-mariadb-template-"));
    templateDirs.push(dir);
    const datadir = join(dir, "data");
    const asRoot = process.getuid?.() === 0 ? ["--user=root"] : [];
    const args = ["--no-defaults", `--datadir=${datadir}`, "--auth-root-authentication-method=normal", "--skip-test-db", ...asRoot];
    try {
      await exec(BIN.install, args, { timeout: 60_000 });
    } catch {
      // A bootstrap that failed half-way leaves a datadir the retry cannot reuse.
      rmSync(datadir, { recursive: true, force: true });
      await exec(BIN.install, args, { timeout: 60_000 });
    }
    return datadir;
  })();
  return template;
}

export interface MariaOptions {
  /** Network namespace to run in (bound to every address there, so the VIP works); default 127.0.0.1. */
  ns?: string;
  /** GTID domain of this server's own writes (default 0). */
  domainId?: number;
  /** Semi-sync both ways (default on). */
  semiSync?: boolean;
  /** rpl_semi_sync_master_timeout (default 2000: the lab's lease TTL). */
  semiSyncTimeoutMs?: number;
  /** rpl_semi_sync_master_wait_no_slave (default ON). */
  waitNoSlave?: boolean;
  /** Galera node: wsrep settings (extraArgs) replace binlog replication (see galera.ts). */
  galera?: boolean;
  extraArgs?: string[];
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
    readonly opts: MariaOptions = {},
  ) {
    this.datadir = join(dir, "data");
    this.socket = join(dir, "mysqld.sock");
  }

  async install(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    cpSync(await templateDatadir(), this.datadir, { recursive: true });
    this.port = this.opts.ns ? 3306 : await freePort();
  }

  /** Start mariadbd; `readOnly` as an old writer rejoins (never writable before the control plane says so). */
  async start(readOnly: boolean): Promise<void> {
    // Galera's rsync SST daemon drops to `nobody` when started by root: a Galera node runs as
    // Debian's mysql user instead, owning its directory.
    const asRoot = process.getuid?.() !== 0 ? [] : this.opts.galera ? ["--user=mysql"] : ["--user=root"];
    if (this.opts.galera && process.getuid?.() === 0) await exec("chown", ["-R", "mysql:mysql", this.dir]);
    const o = this.opts;
    const semi = o.semiSync ?? true;
    const replication = [
      `--gtid-domain-id=${o.domainId ?? 0}`,
      "--gtid-strict-mode=ON",
      "--log-bin=binlog",
      "--log-slave-updates",
      "--binlog-format=ROW",
      "--sync-binlog=1",
      "--innodb-flush-log-at-trx-commit=1",
      // Dual master: the two writers (one at a time) never collide on auto-increment keys.
      "--auto-increment-increment=2",
      `--auto-increment-offset=${this.serverId}`,
      `--rpl-semi-sync-master-enabled=${semi ? "ON" : "OFF"}`,
      `--rpl-semi-sync-slave-enabled=${semi ? "ON" : "OFF"}`,
      "--rpl-semi-sync-master-wait-point=AFTER_SYNC",
      `--rpl-semi-sync-master-timeout=${o.semiSyncTimeoutMs ?? 2000}`,
      `--rpl-semi-sync-master-wait-no-slave=${(o.waitNoSlave ?? true) ? "ON" : "OFF"}`,
      "--slave-net-timeout=5",
      // Apply in parallel what the writer committed in parallel, or the standby's SQL thread falls
      // seconds behind 8 writing connections and every promotion waits for it.
      "--slave-parallel-threads=4",
    ];
    const args = [
      "--no-defaults",
      `--datadir=${this.datadir}`,
      `--socket=${this.socket}`,
      `--pid-file=${join(this.dir, "mysqld.pid")}`,
      `--port=${this.port}`,
      `--bind-address=${o.ns ? "0.0.0.0" : "127.0.0.1"}`,
      "--skip-name-resolve",
      `--server-id=${this.serverId}`,
      ...(o.galera ? [] : replication),
      "--innodb-buffer-pool-size=32M",
      "--innodb-log-file-size=16M",
      "--performance-schema=OFF",
      "--skip-innodb-buffer-pool-load-at-startup",
      "--skip-innodb-buffer-pool-dump-at-shutdown",
      "--max-connections=200",
      ...(o.extraArgs ?? []),
      ...(readOnly ? ["--read-only=ON"] : []),
      ...asRoot,
    ];
    const child = o.ns ? spawn("ip", ["netns", "exec", o.ns, BIN.server, ...args], { stdio: ["ignore", "pipe", "pipe"] }) : spawn(BIN.server, args, { stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    this.output = "";
    const keep = (d: Buffer) => (this.output = (this.output + String(d)).slice(-30_000));
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

  /** One statement (or several) as root; the rows of the last. */
  async sql<T = Record<string, unknown>>(q: string, params: unknown[] = []): Promise<T[]> {
    const c = await this.root();
    try {
      const [r] = await c.query(q, params);
      return r as T[];
    } finally {
      await c.end().catch(() => c.destroy());
    }
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

  /** SIGSTOP / SIGCONT (a hung server). */
  pause(paused: boolean): void {
    if (this.child?.pid !== undefined) process.kill(this.child.pid, paused ? "SIGSTOP" : "SIGCONT");
  }
}

export interface DualMaster {
  a: MariaInstance;
  b: MariaInstance;
  dir: string;
  cleanup(): Promise<void>;
}

/** Where the two servers reach each other and what accounts accept (127.0.0.1, or the lab's addresses). */
export interface DualMasterOptions {
  prefix?: string;
  a?: MariaOptions & { ip?: string };
  b?: MariaOptions & { ip?: string };
}

/**
 * Two instances, both started read-only, with accounts (agent, app, repl), database `loaddb` and
 * replication both ways. Nothing is writable until the control plane grants the writer role.
 */
export async function startDualMaster(prefixOrOpts: string | DualMasterOptions = "chd-mysql-"): Promise<DualMaster> {
  const o: DualMasterOptions = typeof prefixOrOpts === "string" ? { prefix: prefixOrOpts } : prefixOrOpts;
  const dir = mkdtempSync(join(tmpdir(), o.prefix ?? "chd-mysql-"));
  const a = new MariaInstance("db1", 1, join(dir, "db1"), o.a);
  const b = new MariaInstance("db2", 2, join(dir, "db2"), o.b);
  const inLab = Boolean(o.a?.ns);
  // In the lab, clients and the peer connect from lab addresses; on loopback from 127.0.0.1. The
  // agent always uses the socket (localhost) or 127.0.0.1.
  const net = inLab ? "%" : "127.0.0.1";
  const cleanup = async () => {
    await Promise.all([a.stop().catch(() => undefined), b.stop().catch(() => undefined)]);
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  };
  try {
    await a.install();
    await b.install();
    await Promise.all([a.start(true), b.start(true)]);
    for (const m of [a, b]) {
      // Set up identically on both with sql_log_bin=0: no GTIDs from setup on either side.
      await m.sql(
        `SET sql_log_bin=0;
         CREATE USER '${AGENT.user}'@'127.0.0.1' IDENTIFIED BY '${AGENT.password}';
         CREATE USER '${AGENT.user}'@'localhost' IDENTIFIED BY '${AGENT.password}';
         GRANT SUPER, READ_ONLY ADMIN, CONNECTION ADMIN, REPLICATION SLAVE ADMIN, BINLOG MONITOR, REPLICATION MASTER ADMIN, PROCESS, SELECT, CREATE, INSERT, DELETE, GRANT OPTION ON *.* TO '${AGENT.user}'@'127.0.0.1';
         GRANT SUPER, READ_ONLY ADMIN, CONNECTION ADMIN, REPLICATION SLAVE ADMIN, BINLOG MONITOR, REPLICATION MASTER ADMIN, PROCESS, SELECT, CREATE, INSERT, DELETE, GRANT OPTION ON *.* TO '${AGENT.user}'@'localhost';
         GRANT ALL ON mysql.* TO '${AGENT.user}'@'127.0.0.1';
         GRANT ALL ON mysql.* TO '${AGENT.user}'@'localhost';
         CREATE USER '${REPL.user}'@'${net}' IDENTIFIED BY '${REPL.password}';
         GRANT REPLICATION SLAVE ON *.* TO '${REPL.user}'@'${net}';
         CREATE DATABASE loaddb;
         CREATE TABLE loaddb.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, seq BIGINT NOT NULL UNIQUE, at BIGINT NOT NULL) ENGINE=InnoDB;
         CREATE USER '${APP.user}'@'${net}' IDENTIFIED BY '${APP.password}';
         GRANT SELECT, INSERT, UPDATE, DELETE ON loaddb.* TO '${APP.user}'@'${net}';
         SET sql_log_bin=1;`,
      );
    }
    for (const [m, peer, ip] of [
      [a, b, o.b?.ip],
      [b, a, o.a?.ip],
    ] as const) {
      await m.sql(
        `CHANGE MASTER TO MASTER_HOST='${ip ?? "127.0.0.1"}', MASTER_PORT=${peer.port}, MASTER_USER='${REPL.user}', MASTER_PASSWORD='${REPL.password}', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1; START SLAVE;`,
      );
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

/** Every `seq` in loaddb.t of an instance (through its socket). */
export async function seqsOn(m: MariaInstance): Promise<Set<number>> {
  const r = await m.sql<{ seq: number }>("SELECT seq FROM loaddb.t");
  return new Set(r.map((x) => Number(x.seq)));
}
