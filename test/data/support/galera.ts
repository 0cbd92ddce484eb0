// A real Galera cluster for the data suite and the failover benchmark: two MariaDB 10.11 nodes
// with Debian's galera-4 provider, one per network namespace, plus garbd (galera-arbitrator-4) in
// a third, so either node alone with the arbitrator keeps quorum (2 of 3). The first node
// bootstraps the cluster and gets the accounts and the table; the second joins by SST (rsync).
// Failure detection is tuned down (keepalive 0.5 s, suspect 1.5 s) so an evicted node goes quickly.
// Everything is stopped by its PID.
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { killProcess } from "../../support/process.js";
import { waitFor } from "./cluster.js";
import { AGENT, APP, type DualMaster, MariaInstance } from "./mariadb.js";

const PROVIDER = "/usr/lib/galera/libgalera_smm.so";
const GARBD = "/usr/bin/garbd";
const EVS = "evs.keepalive_period=PT0.5S;evs.inactive_check_period=PT0.5S;evs.suspect_timeout=PT1.5S;evs.inactive_timeout=PT3S;evs.install_timeout=PT3S;gmcast.peer_timeout=PT3S;pc.wait_prim_timeout=PT5S";

/** Null when Galera can run here, else what is missing. */
export function galeraMissing(): string | null {
  if (!existsSync(PROVIDER)) return `${PROVIDER} not found (Debian's galera-4 is installed by .ci/run)`;
  if (!existsSync(GARBD)) return `${GARBD} not found (Debian's galera-arbitrator-4 is installed by .ci/run)`;
  if (!existsSync("/usr/bin/rsync")) return "rsync not found (the SST method; installed by .ci/run)";
  return null;
}

export interface GaleraCluster extends DualMaster {
  garbd: ChildProcess;
  /** wsrep_cluster_size as a node sees it (3 with both nodes and the arbitrator). */
  size(m: MariaInstance): Promise<number>;
  /** wsrep_local_state_comment / wsrep_cluster_status of a node ("Synced, Primary"), or null if down. */
  state(m: MariaInstance): Promise<string | null>;
}

function galeraArgs(name: string, ip: string, peers: string[], bootstrap: boolean): string[] {
  return [
    "--wsrep-on=ON",
    `--wsrep-provider=${PROVIDER}`,
    "--wsrep-cluster-name=chd",
    `--wsrep-cluster-address=gcomm://${peers.join(",")}`,
    `--wsrep-node-address=${ip}`,
    `--wsrep-node-name=${name}`,
    "--wsrep-sst-method=rsync",
    `--wsrep-provider-options=${EVS}`,
    "--binlog-format=ROW",
    "--default-storage-engine=InnoDB",
    "--innodb-autoinc-lock-mode=2",
    ...(bootstrap ? ["--wsrep-new-cluster"] : []),
  ];
}

/** Two Galera nodes (in `nsA`/`nsB` at `ipA`/`ipB`) and garbd (in `nsArb` at `ipArb`), all Synced, with accounts and `loaddb.t`. */
export async function startGalera(o: { nsA: string; ipA: string; nsB: string; ipB: string; nsArb: string; ipArb: string }): Promise<GaleraCluster> {
  const dir = mkdtempSync(join(tmpdir(), "chd-galera-"));
  chmodSync(dir, 0o755); // the nodes run as the mysql user
  const peers = [o.ipA, o.ipB, o.ipArb];
  // Galera replaces binlog replication: no log-bin, no semi-sync, no GTID strictness here.
  const base = { semiSync: false };
  const a = new MariaInstance("db1", 1, join(dir, "db1"), { ...base, ns: o.nsA, galera: true, extraArgs: galeraArgs("db1", o.ipA, peers, true) });
  const b = new MariaInstance("db2", 2, join(dir, "db2"), { ...base, ns: o.nsB, galera: true, extraArgs: galeraArgs("db2", o.ipB, peers, false) });
  let garbd: ChildProcess | null = null;
  const cleanup = async () => {
    await Promise.all([a.kill().catch(() => undefined), b.kill().catch(() => undefined), killProcess(garbd).catch(() => undefined)]);
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  };
  const status = async (m: MariaInstance, names: string[]) => {
    const r = await m.sql<{ Variable_name: string; Value: string }>("SHOW GLOBAL STATUS WHERE Variable_name IN (?)", [names]);
    return new Map(r.map((x) => [x.Variable_name, x.Value]));
  };
  const state = async (m: MariaInstance) => {
    try {
      const s = await status(m, ["wsrep_local_state_comment", "wsrep_cluster_status"]);
      return `${s.get("wsrep_local_state_comment")}, ${s.get("wsrep_cluster_status")}`;
    } catch {
      return null;
    }
  };
  const size = async (m: MariaInstance) => Number((await status(m, ["wsrep_cluster_size"])).get("wsrep_cluster_size") ?? 0);
  try {
    await a.install();
    await a.start(false);
    // "ready for connections" comes before the bootstrapped node is Synced; until then every
    // statement fails with "WSREP has not yet prepared node for application use".
    await waitFor("db1 bootstrapped and ready (wsrep_ready ON)", async () => (await status(a, ["wsrep_ready"]).catch(() => null))?.get("wsrep_ready") === "ON", 30_000, 100);
    await a.sql(
      `CREATE USER '${AGENT.user}'@'localhost' IDENTIFIED BY '${AGENT.password}';
       GRANT SUPER, READ_ONLY ADMIN, CONNECTION ADMIN, BINLOG MONITOR, PROCESS, SELECT ON *.* TO '${AGENT.user}'@'localhost';
       CREATE DATABASE loaddb;
       CREATE TABLE loaddb.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, seq BIGINT NOT NULL UNIQUE, at BIGINT NOT NULL) ENGINE=InnoDB;
       CREATE USER '${APP.user}'@'%' IDENTIFIED BY '${APP.password}';
       GRANT SELECT, INSERT, UPDATE, DELETE ON loaddb.* TO '${APP.user}'@'%';`,
    );
    // The joiner's datadir is replaced by the SST from db1.
    await b.install();
    await b.start(false);
    // garbd keeps its state (gvwstate.dat) in its working directory and base_dir: the temp dir.
    garbd = spawn("ip", ["netns", "exec", o.nsArb, GARBD, "--address", `gcomm://${o.ipA},${o.ipB}`, "--group", "chd", "--options", `gmcast.listen_addr=tcp://${o.ipArb}:4567;base_dir=${dir};${EVS}`], { stdio: ["ignore", "pipe", "pipe"], cwd: dir });
    let garbdOut = "";
    garbd.stdout!.on("data", (d: Buffer) => (garbdOut = (garbdOut + String(d)).slice(-3000)));
    garbd.stderr!.on("data", (d: Buffer) => (garbdOut = (garbdOut + String(d)).slice(-3000)));
    await waitFor("db1, db2 and garbd in one Primary component, both nodes Synced", async () => (await size(a)) === 3 && (await size(b)) === 3 && (await state(a)) === "Synced, Primary" && (await state(b)) === "Synced, Primary", 60_000, 200).catch((err: Error) => {
      throw new Error(`${err.message}\ngarbd: ${garbdOut.slice(-1500)}`);
    });
  } catch (err) {
    const logs = `db1: ${a.log().slice(-2000)}\ndb2: ${b.log().slice(-2000)}`;
    if (process.env.CHD_DEBUG) console.log(`db1 full log:\n${a.log()}`);
    await cleanup().catch(() => undefined);
    throw new Error(`${(err as Error).message}\n${logs}`);
  }
  return { a, b, dir, cleanup, garbd: garbd!, size, state };
}
