// What the mysql probe reads from a server, shared with the appliers: replication threads and
// positions (what the IO thread RECEIVED and what the SQL thread applied), the GTID state,
// semi-sync as the server sees it, the settings the control plane checks, and Galera's state.
import type mysql from "mysql2/promise";
import type { MysqlConfigReport, SemiSyncReport } from "../../protocol/heartbeat.js";
import { gtidCovers } from "../../protocol/gtid.js";
import { rows, variables } from "./client.js";

export interface ReplicaFacts {
  configured: boolean;
  ioRunning: boolean;
  sqlRunning: boolean;
  caughtUp: boolean;
  secondsBehind: number | null;
  /** Gtid_IO_Pos: what the IO thread received (relay log), applied or not. */
  ioPos: string;
  why: string;
}

/**
 * Replication facts, with `caughtUp` proven, never assumed: the SQL thread reached the GTID
 * position the IO thread read (MASTER_GTID_WAIT within `waitMs`) and the relay positions agree.
 * With no GTID read at all, only a connected IO thread with nothing pending counts.
 */
export async function replicaFacts(c: mysql.Connection, waitMs: number): Promise<ReplicaFacts> {
  const st = (await rows(c, "SHOW SLAVE STATUS"))[0];
  if (!st) return { configured: false, ioRunning: false, sqlRunning: false, caughtUp: false, secondsBehind: null, ioPos: "", why: "no replication configured" };
  const ioRunning = st.Slave_IO_Running === "Yes";
  const sqlRunning = st.Slave_SQL_Running === "Yes";
  const ioPos = String(st.Gtid_IO_Pos ?? "");
  const sbm = st.Seconds_Behind_Master === null || st.Seconds_Behind_Master === undefined ? null : Number(st.Seconds_Behind_Master);
  const sameFile = st.Master_Log_File !== "" && st.Master_Log_File === st.Relay_Master_Log_File;
  const filesEqual = sameFile && Number(st.Read_Master_Log_Pos) === Number(st.Exec_Master_Log_Pos);
  const base = { configured: true, ioRunning, sqlRunning, secondsBehind: sbm, ioPos };
  if (Number(st.Last_SQL_Errno ?? 0) !== 0) return { ...base, caughtUp: false, why: `SQL thread error ${String(st.Last_SQL_Errno)}: ${String(st.Last_SQL_Error).slice(0, 200)}` };
  if (ioPos === "") {
    if (ioRunning && filesEqual) return { ...base, caughtUp: true, why: "connected, the master has no GTIDs yet and nothing is pending" };
    return { ...base, caughtUp: false, why: "no GTID position read from the master yet (an empty position is never caught up)" };
  }
  // Gtid_IO_Pos is the last complete event group the IO thread received: reaching it means the
  // SQL thread applied everything read up to this instant (more may arrive under load: fine).
  const w = await rows(c, "SELECT MASTER_GTID_WAIT(?, ?) AS w", [ioPos, waitMs / 1000]);
  if (Number(w[0]!.w) !== 0) return { ...base, caughtUp: false, why: `SQL thread has not applied ${ioPos} yet (read by the IO thread)` };
  return { ...base, caughtUp: true, why: `applied everything read (${ioPos})` };
}

export interface ServerFacts {
  readOnly: boolean;
  serverId: number;
  gtidCurrentPos: string;
  gtidBinlogPos: string;
  gtidSlavePos: string;
  gtidBinlogState: string;
  /** Absent on servers without MariaDB's semi-sync (or Galera nodes, which do not use it). */
  semiSync?: SemiSyncReport;
  config?: MysqlConfigReport;
  /** Galera only: Synced (4) in a Primary component, and the state as text. */
  galera?: { synced: boolean; state: string };
}

const VARS = [
  "read_only",
  "server_id",
  "gtid_current_pos",
  "gtid_binlog_pos",
  "gtid_slave_pos",
  "gtid_binlog_state",
  "gtid_domain_id",
  "gtid_strict_mode",
  "log_slave_updates",
  "rpl_semi_sync_master_enabled",
  "rpl_semi_sync_slave_enabled",
  "rpl_semi_sync_master_wait_point",
  "rpl_semi_sync_master_wait_no_slave",
  "rpl_semi_sync_master_timeout",
  "wsrep_on",
];
const STATUS = [
  "Rpl_semi_sync_master_status",
  "Rpl_semi_sync_master_clients",
  "Rpl_semi_sync_master_no_tx",
  "Rpl_semi_sync_master_yes_tx",
  "Rpl_semi_sync_master_wait_sessions",
  "wsrep_local_state",
  "wsrep_local_state_comment",
  "wsrep_cluster_status",
];

const on = (v: string | undefined) => v === "ON" || v === "1";
const int = (v: string | undefined) => (v === undefined || v === "" ? 0 : Math.max(0, Math.floor(Number(v)) || 0));

/**
 * Positions first, then the semi-sync counters: a fallback after the positions were read shows
 * in the counters of this report, so it is never missed (only possibly seen early).
 */
export async function serverFacts(c: mysql.Connection): Promise<ServerFacts> {
  const v = await variables(c, "VARIABLES", VARS);
  const st = await variables(c, "STATUS", STATUS);
  const out: ServerFacts = {
    readOnly: on(v.get("read_only")),
    serverId: int(v.get("server_id")),
    gtidCurrentPos: (v.get("gtid_current_pos") ?? "").slice(0, 4000),
    gtidBinlogPos: (v.get("gtid_binlog_pos") ?? "").slice(0, 4000),
    gtidSlavePos: (v.get("gtid_slave_pos") ?? "").slice(0, 4000),
    gtidBinlogState: (v.get("gtid_binlog_state") ?? "").slice(0, 4000),
  };
  if (st.has("wsrep_local_state")) {
    out.galera = { synced: st.get("wsrep_local_state") === "4" && st.get("wsrep_cluster_status") === "Primary", state: `${st.get("wsrep_local_state_comment") ?? "?"}, ${st.get("wsrep_cluster_status") ?? "?"}`.slice(0, 64) };
    return out;
  }
  if (v.has("rpl_semi_sync_master_enabled") && st.has("Rpl_semi_sync_master_status".toLowerCase())) {
    out.semiSync = {
      masterEnabled: on(v.get("rpl_semi_sync_master_enabled")),
      masterStatus: on(st.get("rpl_semi_sync_master_status")),
      clients: int(st.get("rpl_semi_sync_master_clients")),
      noTx: int(st.get("rpl_semi_sync_master_no_tx")),
      yesTx: int(st.get("rpl_semi_sync_master_yes_tx")),
      waitSessions: int(st.get("rpl_semi_sync_master_wait_sessions")),
      slaveEnabled: on(v.get("rpl_semi_sync_slave_enabled")),
    };
    out.config = {
      gtidDomainId: int(v.get("gtid_domain_id")),
      gtidStrictMode: on(v.get("gtid_strict_mode")),
      logSlaveUpdates: on(v.get("log_slave_updates")),
      waitPoint: (v.get("rpl_semi_sync_master_wait_point") ?? "").slice(0, 32),
      waitNoSlave: on(v.get("rpl_semi_sync_master_wait_no_slave")),
      semiSyncTimeoutMs: int(v.get("rpl_semi_sync_master_timeout")),
    };
  }
  return out;
}

/**
 * Wait until this server has applied `pos` (per domain, against gtid_current_pos: that also counts
 * its own earlier writes, which MASTER_GTID_WAIT would wait for forever). True when it has.
 */
export async function waitApplied(c: mysql.Connection, pos: string, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const cur = String((await rows(c, "SELECT @@global.gtid_current_pos AS p"))[0]!.p);
    if (gtidCovers(cur, pos)) return true;
    if (performance.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
}
