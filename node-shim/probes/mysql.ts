// mysql probe (MariaDB/MySQL, dual master or Galera), with mysql2 under the agent's own account:
// @@read_only, SHOW SLAVE STATUS, the GTID positions, whether the SQL thread applied everything
// the IO thread read (MASTER_GTID_WAIT on Gtid_IO_Pos — never on an empty position), errant
// transactions (this read-only server's own GTIDs that the peer lacks) and Galera's state.
import { readFileSync } from "node:fs";
import mysql from "mysql2/promise";
import type { MysqlReport } from "../../protocol/heartbeat.js";
import { formatPath } from "../../protocol/spec.js";
import { MysqlSettings, SettingsError } from "./mysql-settings.js";
import type { ProbeFactory } from "./types.js";

export { MysqlSettings, SettingsError };

export function mysqlSettings(settings: Record<string, unknown>): MysqlSettings {
  if (settings.mysql === undefined) {
    throw new SettingsError("settings.mysql is missing from the shim config: the mysql probe needs the agent's own account (user and password, passwordEnv or passwordFile; see examples/shim.yaml)");
  }
  const r = MysqlSettings.safeParse(settings.mysql);
  if (!r.success) {
    throw new SettingsError(r.error.issues.map((i) => `settings.mysql${i.path.length ? "." + formatPath(i.path) : ""}: ${i.message}`).join("; "));
  }
  return r.data;
}

function password(s: MysqlSettings): string {
  if (s.password !== undefined) return s.password;
  if (s.passwordEnv) return process.env[s.passwordEnv] ?? "";
  if (s.passwordFile) return readFileSync(s.passwordFile, "utf8").trim();
  return "";
}

export interface Target {
  host: string;
  port: number;
}

export function connectMysql(s: MysqlSettings, t: Target, timeoutMs: number): Promise<mysql.Connection> {
  return mysql.createConnection({
    ...(s.socketPath ? { socketPath: s.socketPath } : { host: s.host ?? t.host, port: s.port ?? t.port }),
    user: s.user,
    password: password(s),
    connectTimeout: Math.max(50, timeoutMs),
  });
}

type Row = Record<string, unknown>;
export async function rows(c: mysql.Connection, sql: string, params: unknown[] = []): Promise<Row[]> {
  const [r] = await c.query(sql, params);
  return r as Row[];
}

/** Last sequence number per (domain, server) in a GTID state/list ("0-1-100,0-2-7"). */
export function gtidEntries(list: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const part of list.split(",").map((p) => p.trim()).filter(Boolean)) {
    const m = /^(\d+)-(\d+)-(\d+)$/.exec(part);
    if (!m) continue;
    const key = `${m[1]}-${m[2]}`;
    out.set(key, Math.max(out.get(key) ?? 0, Number(m[3])));
  }
  return out;
}

/** GTIDs this server originated (server_id) that `peerState` does not contain: errant on a non-writer. */
export function errantGtids(ownState: string, ownServerId: number, peerState: string): string[] {
  const peer = gtidEntries(peerState);
  const out: string[] = [];
  for (const [key, seq] of gtidEntries(ownState)) {
    if (key.split("-")[1] !== String(ownServerId)) continue;
    if ((peer.get(key) ?? 0) < seq) out.push(`${key}-${seq}`);
  }
  return out;
}

export interface ReplicaFacts {
  configured: boolean;
  ioRunning: boolean;
  sqlRunning: boolean;
  caughtUp: boolean;
  secondsBehind: number | null;
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

export const mysqlProbe: ProbeFactory<"mysql"> = (spec, ctx) => ({
  async run(signal) {
    let s: MysqlSettings;
    try {
      s = mysqlSettings(ctx.settings);
    } catch (err) {
      return { ok: false, detail: (err as Error).message };
    }
    const target = { host: ctx.host, port: spec.port };
    const where = s.socketPath ?? `${s.host ?? target.host}:${s.port ?? target.port}`;
    let c: mysql.Connection;
    try {
      c = await connectMysql(s, target, spec.timeoutMs);
    } catch (err) {
      const e = err as Error & { code?: string };
      return { ok: false, detail: `mysql ${where}: ${e.code ?? e.message}` };
    }
    const abort = () => c.destroy();
    signal.addEventListener("abort", abort);
    try {
      const rep = await replicaFacts(c, Math.min(100, spec.timeoutMs / 4));
      // Read after the catch-up wait, so the positions reported are the ones it reached.
      const v = (await rows(c, "SELECT @@global.read_only AS ro, @@server_id AS sid, @@global.gtid_current_pos AS cur, @@global.gtid_binlog_pos AS bin, @@global.gtid_slave_pos AS sl, @@global.gtid_binlog_state AS st"))[0]!;
      const readOnly = Number(v.ro) === 1;
      let errant: string[] = [];
      let errantNote = "";
      // Only a read-only server can hold errant transactions: the writer's own GTIDs are simply
      // not replicated yet. The peer is the one that would miss them.
      if (readOnly && s.peer) {
        try {
          const p = await connectMysql({ ...s, host: s.peer.host, port: s.peer.port, socketPath: undefined }, s.peer, Math.max(100, spec.timeoutMs / 2));
          try {
            const ps = (await rows(p, "SELECT @@global.gtid_binlog_state AS st"))[0]!;
            errant = errantGtids(String(v.st), Number(v.sid), String(ps.st));
          } finally {
            await p.end().catch(() => undefined);
          }
        } catch {
          errantNote = "; peer unreachable, errant check skipped";
        }
      }
      const status = await rows(c, "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_local_state', 'wsrep_cluster_status')");
      const wsrep = new Map(status.map((r) => [String(r.Variable_name), String(r.Value)]));
      const report: MysqlReport = {
        readOnly,
        replicaConfigured: rep.configured,
        ioRunning: rep.ioRunning,
        sqlRunning: rep.sqlRunning,
        caughtUp: rep.caughtUp,
        secondsBehind: rep.secondsBehind,
        gtidCurrentPos: String(v.cur).slice(0, 4000),
        gtidBinlogPos: String(v.bin).slice(0, 4000),
        gtidSlavePos: String(v.sl).slice(0, 4000),
        errantTransactions: errant.length > 0,
      };
      if (wsrep.has("wsrep_local_state")) report.galeraSynced = wsrep.get("wsrep_local_state") === "4" && wsrep.get("wsrep_cluster_status") === "Primary";
      const role = readOnly ? "read-only" : "writable";
      const detail = `${role}, gtid ${report.gtidCurrentPos || "(none)"}; ${rep.why}${errant.length ? `; errant transactions ${errant.join(",")}` : ""}${errantNote}`;
      return { ok: true, detail: detail.slice(0, 500), mysql: report };
    } catch (err) {
      const e = err as Error & { code?: string };
      return { ok: false, detail: `mysql ${where}: ${signal.aborted ? `timed out after ${spec.timeoutMs} ms` : (e.code ?? e.message)}`.slice(0, 500) };
    } finally {
      signal.removeEventListener("abort", abort);
      await c.end().catch(() => c.destroy());
    }
  },
});
