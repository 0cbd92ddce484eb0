// mysql-writer appliers (dual master): promote the holder, keep everyone else read-only and
// replicating, and fence on lease loss. All SQL runs under the agent's own account: in MariaDB
// 10.11 read_only does not stop accounts with READ_ONLY ADMIN, so application accounts must not
// have it; the strict fence (spec: mysql.strictFence) also revokes it from every other account.
//
// Promotion (role holder, lease valid — the control plane granted it only after the old writer's
// lease was surely over, and only if this server had received everything the last writer
// reported as committed): the SQL thread must have applied everything the IO thread read, and
// everything in the position the control plane names (requiredGtid: the last writer's last
// report), and, when the old writer still answers, everything in its binlog; then the channel
// from the old writer stops (so a tail it wrote but never had acknowledged cannot come in
// later: the SQL thread at once, the IO thread just after), then read_only=0. A server not there yet is not promoted now; the next reconcile tries
// again. An operator's acceptDataLoss skips the requiredGtid and errant checks only.
import type mysql from "mysql2/promise";
import type { DesiredGroup } from "../../protocol/heartbeat.js";
import { errantGtids } from "../../protocol/gtid.js";
import { log } from "../log.js";
import { rows, type Target, withConn as withConnection } from "../mysql/client.js";
import { replicaFacts, waitApplied } from "../mysql/facts.js";
import { type MysqlSettings, mysqlSettings, peerSettings } from "../mysql/settings.js";
import type { ApplyContext } from "./types.js";

const CONNECT_MS = 1000;
const FENCE_TABLE = "mysql.chime_ha_strict_fence";

function target(g: DesiredGroup, s: MysqlSettings): Target {
  return { host: s.host ?? "127.0.0.1", port: s.port ?? (g.probe.type === "mysql" ? g.probe.port : 3306) };
}

const withConn = <T>(s: MysqlSettings, t: Target, fn: (c: mysql.Connection) => Promise<T>): Promise<T> => withConnection(s, t, CONNECT_MS, fn);

async function readOnly(c: mysql.Connection): Promise<boolean> {
  return Number((await rows(c, "SELECT @@global.read_only AS ro"))[0]!.ro) === 1;
}

/** Kill every session except ours, the agent's, kept users' and server/replication threads. */
export async function killApplicationSessions(c: mysql.Connection, s: MysqlSettings): Promise<number> {
  const keep = [s.user, ...s.keepUsers, "system user", "event_scheduler", "unauthenticated user"];
  const sessions = await rows(
    c,
    `SELECT ID AS id, USER AS user FROM information_schema.PROCESSLIST
      WHERE ID <> CONNECTION_ID() AND USER NOT IN (?)
        AND COMMAND NOT IN ('Binlog Dump', 'Daemon', 'Slave_IO', 'Slave_SQL', 'Slave_worker')`,
    [keep],
  );
  let killed = 0;
  for (const r of sessions) {
    try {
      await c.query(`KILL CONNECTION ${Number(r.id)}`);
      killed++;
    } catch (err) {
      // 1094: the session ended by itself in the meantime.
      if ((err as { errno?: number }).errno !== 1094) throw err;
    }
  }
  return killed;
}

/** Strict fence: revoke READ_ONLY ADMIN (not binlogged) from every other account, remembered for promotion. */
async function revokeReadOnlyAdmin(c: mysql.Connection, s: MysqlSettings): Promise<string[]> {
  const me = await rows(c, "SELECT CURRENT_USER() AS u");
  const own = String(me[0]!.u); // user@host, unquoted
  const holders = await rows(c, "SELECT DISTINCT GRANTEE AS g FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE = 'READ_ONLY ADMIN'");
  const revoked: string[] = [];
  await c.query("SET SESSION sql_log_bin = 0");
  try {
    await c.query(`CREATE TABLE IF NOT EXISTS ${FENCE_TABLE} (grantee VARCHAR(400) PRIMARY KEY) ENGINE=Aria`);
    for (const h of holders) {
      const grantee = String(h.g); // 'user'@'host'
      const user = /^'(.*)'@'(.*)'$/.exec(grantee);
      if (!user || `${user[1]}@${user[2]}` === own || s.keepUsers.includes(user[1]!)) continue;
      await c.query(`INSERT IGNORE INTO ${FENCE_TABLE} VALUES (?)`, [grantee]);
      await c.query(`REVOKE READ_ONLY ADMIN ON *.* FROM ${grantee}`);
      revoked.push(grantee);
    }
  } finally {
    await c.query("SET SESSION sql_log_bin = 1");
  }
  return revoked;
}

/** Give back what the strict fence revoked on this server (on promotion). */
async function regrantReadOnlyAdmin(c: mysql.Connection): Promise<string[]> {
  const exists = await rows(c, "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'mysql' AND TABLE_NAME = 'chime_ha_strict_fence'");
  if (exists.length === 0) return [];
  const list = (await rows(c, `SELECT grantee AS g FROM ${FENCE_TABLE}`)).map((r) => String(r.g));
  if (list.length === 0) return [];
  await c.query("SET SESSION sql_log_bin = 0");
  try {
    for (const g of list) {
      if (!/^'.*'@'.*'$/.test(g)) continue;
      await c.query(`GRANT READ_ONLY ADMIN ON *.* TO ${g}`);
      await c.query(`DELETE FROM ${FENCE_TABLE} WHERE grantee = ?`, [g]);
    }
  } finally {
    await c.query("SET SESSION sql_log_bin = 1");
  }
  return list;
}

/** read_only=1 (and in strict mode revoke READ_ONLY ADMIN first), then end application sessions. */
export async function fenceServer(c: mysql.Connection, s: MysqlSettings, strict: boolean): Promise<{ revoked: string[]; killed: number }> {
  const revoked = strict ? await revokeReadOnlyAdmin(c, s) : [];
  await c.query("SET GLOBAL read_only = 1");
  const killed = await killApplicationSessions(c, s);
  return { revoked, killed };
}

async function promote(g: DesiredGroup, s: MysqlSettings, t: Target, holds: (group: string) => boolean): Promise<void> {
  const strict = g.mysql?.strictFence ?? false;
  const forced = g.mysql?.acceptDataLoss === true;
  const required = forced ? undefined : g.mysql?.requiredGtid;
  await withConn(s, t, async (c) => {
    if (!(await readOnly(c))) {
      if (strict) await regrantReadOnlyAdmin(c);
      return;
    }
    // The old writer may still answer (planned switchover, or its shim died while mysqld runs):
    // make sure it is fenced, and wait for everything in its binlog.
    let peerPos = "";
    let peerState: string | null = null;
    const ps = peerSettings(s);
    if (ps) {
      const peer = { host: ps.host ?? "127.0.0.1", port: ps.port ?? 3306 };
      const at = ps.socketPath ?? `${peer.host}:${peer.port}`;
      try {
        await withConn(ps, peer, async (p) => {
          if (!(await readOnly(p))) {
            const f = await fenceServer(p, s, strict);
            log("mysql peer fenced before promotion", { group: g.name, peer: at, ...f });
          }
          const r = (await rows(p, "SELECT @@global.gtid_binlog_pos AS p, @@global.gtid_binlog_state AS st"))[0]!;
          peerPos = String(r.p);
          peerState = String(r.st);
        });
      } catch (err) {
        // Unreachable (crashed): its lease is over; what it acknowledged is in requiredGtid's check.
        log("mysql peer not reachable before promotion", { group: g.name, error: (err as Error).message });
      }
    }
    const rep = await replicaFacts(c, s.catchUpWaitMs);
    if (rep.configured && !rep.caughtUp) throw new Error(`${g.name}: not promoting yet: ${rep.why}`);
    if (required && !(await waitApplied(c, required, s.catchUpWaitMs))) {
      throw new Error(`${g.name}: not promoting yet: the last writer's reported position ${required} is not applied here`);
    }
    if (peerPos !== "" && !(await waitApplied(c, peerPos, s.catchUpWaitMs))) {
      throw new Error(`${g.name}: not promoting yet: the old writer's binlog (${peerPos}) is not applied here`);
    }
    if (peerState !== null && required !== undefined) {
      // Another server was the last writer: a tail only this server has (e.g. written before a
      // crash, never acknowledged) must not become the truth. Same rule as the control plane's.
      const own = (await rows(c, "SELECT @@server_id AS sid, @@global.gtid_binlog_state AS st"))[0]!;
      const errant = errantGtids(String(own.st), Number(own.sid), peerState);
      if (errant.length) throw new Error(`${g.name}: not promoting: errant transactions ${errant.join(",")} (the peer never had them)`);
    }
    // Nothing more from the old writer is applied from here on. Only the SQL thread: an IO thread
    // blocked on a peer that vanished (no RST) stops only at slave_net_timeout, so it is stopped
    // after the promotion, on its own connection.
    if (rep.configured) await c.query("STOP SLAVE SQL_THREAD");
    // Catching up can take seconds: the lease is checked again right before the irreversible step.
    if (!holds(g.name)) throw new Error(`${g.name}: not promoting: the lease ended while catching up`);
    const regranted = strict ? await regrantReadOnlyAdmin(c) : [];
    await c.query("SET GLOBAL read_only = 0");
    log("mysql promoted", { group: g.name, epoch: g.epoch, at: `${t.host}:${t.port}`, replication: rep.why, requiredGtid: required ?? null, acceptDataLoss: forced, regranted });
    if (rep.configured) {
      void withConnection(s, t, CONNECT_MS, (x) => x.query("STOP SLAVE IO_THREAD")).catch((err: Error) => log("mysql: stopping the IO thread after promotion failed", { group: g.name, error: err.message }));
    }
  });
}

/** Not the writer: read-only, and replicating from the writer (restart a channel stopped without an SQL error). */
async function standby(g: DesiredGroup, s: MysqlSettings, t: Target): Promise<void> {
  await withConn(s, t, async (c) => {
    if (!(await readOnly(c))) {
      const f = await fenceServer(c, s, g.mysql?.strictFence ?? false);
      log("mysql fenced (writable without the writer lease)", { group: g.name, ...f });
    }
    const st = (await rows(c, "SHOW SLAVE STATUS"))[0];
    // Stopped on purpose at promotion (an IO error from then — the old writer was down — is stale);
    // an SQL error (a conflict) needs an operator, so that channel stays as it is.
    if (st && st.Slave_IO_Running === "No" && st.Slave_SQL_Running === "No" && Number(st.Last_SQL_Errno) === 0) {
      await c.query("START SLAVE");
      log("mysql replication started", { group: g.name, at: `${t.host}:${t.port}` });
    }
  });
}

export async function mysqlWriterApplier(g: DesiredGroup, holding: boolean, ctx: ApplyContext): Promise<void> {
  if (!g.member || g.mysql?.topology === "galera") return; // Galera: every Synced node is writable; only the VIP moves.
  const s = mysqlSettings(ctx.settings);
  const t = target(g, s);
  if (holding && g.role === "holder") await promote(g, s, t, ctx.holds ?? (() => true));
  else await standby(g, s, t);
}

/** Lease lost / release / shutdown: stop writes here now. */
export async function mysqlWriterFence(g: DesiredGroup, ctx: ApplyContext): Promise<void> {
  if (!g.member || g.mysql?.topology === "galera") return;
  const s = mysqlSettings(ctx.settings);
  const t = target(g, s);
  try {
    await withConn(s, t, async (c) => {
      const f = await fenceServer(c, s, g.mysql?.strictFence ?? false);
      log("mysql fenced", { group: g.name, epoch: g.epoch, ...f });
    });
  } catch (err) {
    // mysqld is not running (refused, or no socket): nothing can commit there, which is what a
    // fence is for. It must come back read-only (--read-only), as README asks. Anything else
    // (a hung server, bad credentials) is a failed fence.
    const code = (err as { code?: string }).code;
    if (code !== "ECONNREFUSED" && code !== "ENOENT") throw err;
    log("mysql fence: server not running, nothing to fence", { group: g.name, epoch: g.epoch, error: code });
  }
}
