// mysql probe (MariaDB dual master or Galera), with mysql2 under the agent's own account. It
// reports what the control plane needs to promote without losing acknowledged writes: read_only,
// the replication threads, what the IO thread RECEIVED (Gtid_IO_Pos) and what was applied, the
// GTID positions and binlog state, semi-sync as the server sees it, the settings checked for
// drift, and Galera's state. `caughtUp` is proven (MASTER_GTID_WAIT on Gtid_IO_Pos), never
// assumed from an empty position. Errant transactions are judged here only against a peer that is
// the writer; otherwise the control plane judges them against the last writer's report.
import type mysql from "mysql2/promise";
import type { MysqlReport } from "../../protocol/heartbeat.js";
import { errantGtids } from "../../protocol/gtid.js";
import { connectMysql, rows, where } from "../mysql/client.js";
import { replicaFacts, serverFacts } from "../mysql/facts.js";
import { type MysqlSettings, mysqlSettings, peerSettings } from "../mysql/settings.js";
import type { ProbeFactory } from "./types.js";

export { errantGtids } from "../../protocol/gtid.js";
export { connectMysql, rows, type Target } from "../mysql/client.js";
export { type ReplicaFacts, replicaFacts } from "../mysql/facts.js";
export { MysqlSettings, mysqlSettings, SettingsError } from "../mysql/settings.js";

/** Errant GTIDs of this read-only server against a peer that is writable (the writer); null when the peer cannot judge. */
async function errantAgainstWriter(s: MysqlSettings, ownState: string, ownServerId: number, timeoutMs: number): Promise<{ errant: string[] | null; note: string }> {
  const ps = peerSettings(s);
  if (!ps) return { errant: null, note: "" };
  let p: mysql.Connection;
  try {
    p = await connectMysql(ps, { host: ps.host ?? "127.0.0.1", port: ps.port ?? 3306 }, timeoutMs);
  } catch {
    return { errant: null, note: "; peer unreachable (the control plane checks against the writer's last report)" };
  }
  try {
    const r = (await rows(p, "SELECT @@global.read_only AS ro, @@global.gtid_binlog_state AS st"))[0]!;
    if (Number(r.ro) === 1) return { errant: null, note: "" };
    return { errant: errantGtids(ownState, ownServerId, String(r.st)), note: "" };
  } finally {
    await p.end().catch(() => p.destroy());
  }
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
    const at = where(s, target);
    let c: mysql.Connection;
    try {
      c = await connectMysql(s, target, spec.timeoutMs);
    } catch (err) {
      const e = err as Error & { code?: string };
      return { ok: false, detail: `mysql ${at}: ${e.code ?? e.message}` };
    }
    const abort = () => c.destroy();
    signal.addEventListener("abort", abort);
    try {
      const rep = await replicaFacts(c, Math.min(100, spec.timeoutMs / 4));
      // Read after the catch-up wait, so the positions reported are the ones it reached.
      const f = await serverFacts(c);
      let errant: string[] = [];
      let note = "";
      if (f.readOnly && !f.galera) {
        const e = await errantAgainstWriter(s, f.gtidBinlogState, f.serverId, Math.max(100, spec.timeoutMs / 2));
        errant = e.errant ?? [];
        note = e.note;
      }
      const report: MysqlReport = {
        readOnly: f.readOnly,
        replicaConfigured: rep.configured,
        ioRunning: rep.ioRunning,
        sqlRunning: rep.sqlRunning,
        caughtUp: rep.caughtUp,
        secondsBehind: rep.secondsBehind,
        gtidCurrentPos: f.gtidCurrentPos,
        gtidBinlogPos: f.gtidBinlogPos,
        gtidSlavePos: f.gtidSlavePos,
        errantTransactions: errant.length > 0,
        serverId: f.serverId,
        gtidIoPos: rep.ioPos.slice(0, 4000),
        gtidBinlogState: f.gtidBinlogState,
      };
      if (f.semiSync) report.semiSync = f.semiSync;
      if (f.config) report.config = f.config;
      if (f.galera) {
        report.galeraSynced = f.galera.synced;
        report.galeraState = f.galera.state;
      }
      const role = f.galera ? `galera ${f.galera.state}` : f.readOnly ? "read-only" : "writable";
      const semi = f.semiSync && !f.readOnly ? `; semi-sync ${f.semiSync.masterStatus ? "on" : "OFF"}, ${f.semiSync.clients} standby` : "";
      const detail = `${role}, gtid ${report.gtidCurrentPos || "(none)"}; ${rep.why}${semi}${errant.length ? `; errant transactions ${errant.join(",")}` : ""}${note}`;
      return { ok: true, detail: detail.slice(0, 500), mysql: report };
    } catch (err) {
      const e = err as Error & { code?: string };
      return { ok: false, detail: `mysql ${at}: ${signal.aborted ? `timed out after ${spec.timeoutMs} ms` : (e.code ?? e.message)}`.slice(0, 500) };
    } finally {
      signal.removeEventListener("abort", abort);
      await c.end().catch(() => c.destroy());
    }
  },
});
