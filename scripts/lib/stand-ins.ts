// Small stand-in services on 127.0.0.1 for `npm start`'s demo: each answers the probe chime-ha
// runs against the real service (chime-server and chime-portal over HTTP, InfluxDB /health, MinIO
// /minio/health/*, MariaDB over the MySQL protocol, chime-agent), and can be made to fail (answer
// 503 / refuse connections) or to vanish (stop listening) so a failover can be watched.
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import type { Server as NetServer, Socket } from "node:net";
import mysql from "mysql2";
import { freePort } from "./control-plane.js";

export type StandInKind = "http" | "influxdb" | "minio" | "mysql";

export interface StandIn {
  readonly kind: StandInKind;
  readonly port: number;
  /** false: it answers as a failed service would (503, or a refused MySQL login). */
  healthy: boolean;
  /** Listening (a crashed host: not). */
  readonly running: boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** HTTP stand-in: chime-server (/health), chime-portal (/), chime-agent, InfluxDB and MinIO health. */
export class HttpStandIn implements StandIn {
  healthy = true;
  private server: HttpServer | null = null;
  private sockets = new Set<Socket>();

  constructor(
    readonly kind: Exclude<StandInKind, "mysql">,
    readonly port: number,
    private readonly name: string,
  ) {}

  get running(): boolean {
    return this.server !== null;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = createHttpServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0]!;
      const ok = this.healthy;
      if (this.kind === "influxdb") {
        // InfluxDB 1.8+/2.x /health; a failing one answers 503 with status "fail".
        if (path === "/health") return void res.writeHead(ok ? 200 : 503, { "content-type": "application/json", "x-influxdb-version": "stand-in" }).end(JSON.stringify({ status: ok ? "pass" : "fail" }));
        if (path === "/ping") return void res.writeHead(ok ? 204 : 503).end();
      } else if (this.kind === "minio") {
        if (path.startsWith("/minio/health/")) return void res.writeHead(ok ? 200 : 503).end();
      } else {
        return void res.writeHead(ok ? 200 : 503, { "content-type": "text/plain" }).end(ok ? `${this.name}: ok (stand-in)\n` : `${this.name}: failing (stand-in)\n`);
      }
      res.writeHead(404).end();
    });
    server.on("connection", (s) => {
      this.sockets.add(s);
      s.once("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => server.close(r));
  }
}

/** The server side of mysql2 (its typings cover only the client). */
interface ServerConnection {
  stream: Socket;
  serverHandshake(args: Record<string, unknown>): void;
  on(event: "query" | "stmt_prepare", fn: (sql: string) => void): void;
  on(event: "error", fn: (err: Error) => void): void;
  writeOk(): void;
  writeError(args: { message: string; code: number }): void;
  writeColumns(columns: Record<string, unknown>[]): void;
  writeTextRow(values: (string | null)[]): void;
  writeEof(): void;
  destroy(): void;
  /** Packet sequence number: 0 at the start of each command (the server side never resets it itself). */
  sequenceId: number;
}
interface RawServer {
  _server: NetServer;
  listen(port: number, host: string, cb: () => void): void;
  close(cb: () => void): void;
}
const createMysqlServer = mysql.createServer as unknown as (handler: (conn: ServerConnection) => void) => RawServer;

const COLUMN = { catalog: "def", schema: "", table: "", orgTable: "", orgName: "", characterSet: 33, columnLength: 1024, columnType: 253, flags: 0, decimals: 0 };

/**
 * A MariaDB stand-in that speaks enough of the MySQL protocol for the shim's mysql probe and
 * applier: @@read_only (which `SET GLOBAL read_only` changes), @@server_id, GTID positions, no
 * replication channel, no Galera. Any account may log in. Two of them make a dual master whose
 * writer follows the control plane's grants, fenced and promoted by the real applier code.
 */
export class MysqlStandIn implements StandIn {
  readonly kind = "mysql" as const;
  healthy = true;
  readOnly = true;
  private server: RawServer | null = null;
  private conns = new Set<{ destroy(): void }>();
  private nextConnId = 1;

  constructor(
    readonly port: number,
    private readonly serverId: number,
  ) {}

  get running(): boolean {
    return this.server !== null;
  }

  /** Dual-master replicas that are in sync: the same GTID everywhere. */
  private readonly gtid = "0-1-100";

  private answer(sql: string): { columns: string[]; rows: Record<string, string | null>[] } | { ok: true } | { error: string } {
    const q = sql.trim().replace(/\s+/g, " ");
    const set = /^SET GLOBAL read_only ?= ?(\d)/i.exec(q);
    if (set) {
      this.readOnly = set[1] === "1";
      return { ok: true };
    }
    if (/^(SET|STOP|START|KILL|CREATE|INSERT|DELETE|GRANT|REVOKE)\b/i.test(q)) return { ok: true };
    // No replication channel, no Galera, no other sessions, no strict-fence table.
    if (/^SHOW (SLAVE|REPLICA) STATUS/i.test(q)) return { columns: ["Slave_IO_Running", "Slave_SQL_Running"], rows: [] };
    // A healthy semi-sync dual master with the recommended settings, so the engine's durability
    // rule lets the demo fail over (the probe asks for these by name; extra rows are ignored).
    if (/^SHOW GLOBAL STATUS/i.test(q)) {
      const status = { Rpl_semi_sync_master_status: "ON", Rpl_semi_sync_master_clients: "1", Rpl_semi_sync_master_no_tx: "0", Rpl_semi_sync_master_yes_tx: "0", Rpl_semi_sync_master_wait_sessions: "0" };
      return { columns: ["Variable_name", "Value"], rows: Object.entries(status).map(([Variable_name, Value]) => ({ Variable_name, Value })) };
    }
    if (/^SHOW GLOBAL VARIABLES/i.test(q)) {
      const vars: Record<string, string | null> = {
        read_only: this.readOnly ? "ON" : "OFF",
        server_id: String(this.serverId),
        gtid_current_pos: this.gtid,
        gtid_binlog_pos: this.gtid,
        gtid_slave_pos: this.gtid,
        gtid_binlog_state: this.gtid,
        gtid_domain_id: String(this.serverId),
        gtid_strict_mode: "ON",
        log_slave_updates: "ON",
        rpl_semi_sync_master_enabled: "ON",
        rpl_semi_sync_slave_enabled: "ON",
        rpl_semi_sync_master_wait_point: "AFTER_SYNC",
        rpl_semi_sync_master_wait_no_slave: "ON",
        rpl_semi_sync_master_timeout: "10000",
      };
      return { columns: ["Variable_name", "Value"], rows: Object.entries(vars).map(([Variable_name, Value]) => ({ Variable_name, Value })) };
    }
    if (/information_schema\./i.test(q)) return { columns: ["id"], rows: [] };
    if (/^SELECT MASTER_GTID_WAIT/i.test(q)) return { columns: ["w"], rows: [{ w: "0" }] };
    if (/^SELECT CURRENT_USER\(\)/i.test(q)) return { columns: ["u"], rows: [{ u: "chime@localhost" }] };
    const select = /^SELECT (.+)$/i.exec(q);
    if (select) {
      // "SELECT @@global.read_only AS ro, @@server_id AS sid, ..." -> one row of those values.
      const row: Record<string, string | null> = {};
      for (const part of select[1]!.split(",")) {
        const m = /^\s*(@@[\w.]+|\d+)(?:\s+AS\s+(\w+))?\s*$/i.exec(part);
        if (!m) return { error: `stand-in MySQL does not understand '${part.trim()}'` };
        row[m[2] ?? m[1]!] = this.variable(m[1]!);
      }
      return { columns: Object.keys(row), rows: [row] };
    }
    return { error: `stand-in MySQL does not understand: ${q.slice(0, 80)}` };
  }

  private variable(name: string): string | null {
    switch (name.toLowerCase().replace("@@global.", "@@")) {
      case "@@read_only":
        return this.readOnly ? "1" : "0";
      case "@@server_id":
        return String(this.serverId);
      case "@@gtid_current_pos":
      case "@@gtid_binlog_pos":
      case "@@gtid_binlog_state":
      case "@@gtid_slave_pos":
        return this.gtid;
      default:
        return /^\d+$/.test(name) ? name : null;
    }
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = createMysqlServer((conn) => {
      this.conns.add(conn);
      conn.on("error", () => undefined);
      conn.stream.once("close", () => this.conns.delete(conn));
      conn.serverHandshake({
        protocolVersion: 10,
        serverVersion: "10.11.0-MariaDB-stand-in",
        connectionId: this.nextConnId++,
        statusFlags: 2,
        characterSet: 8,
        capabilityFlags: 0xffffff,
        // A failing server refuses logins (the probe reports the error).
        authCallback: (_params: unknown, cb: (err: Error | null, mysqlError?: { message: string; code: number }) => void) => {
          if (this.healthy) cb(null);
          else cb(null, { message: "stand-in MySQL is failing (demo)", code: 1040 });
          conn.sequenceId = 0;
        },
      });
      const reply = (sql: string) => {
        const a = this.answer(sql);
        if ("error" in a) conn.writeError({ message: a.error, code: 1064 });
        else if ("ok" in a) conn.writeOk();
        else {
          // mysql2's writeTextResult pads each row; write the columns and rows ourselves.
          conn.writeColumns(a.columns.map((name) => ({ ...COLUMN, name })));
          for (const r of a.rows) conn.writeTextRow(a.columns.map((n) => r[n] ?? null));
          conn.writeEof();
        }
        conn.sequenceId = 0;
      };
      conn.on("query", reply);
      // mysql2's server hands SET statements to this event instead of "query".
      conn.on("stmt_prepare", reply);
    });
    await new Promise<void>((resolve, reject) => {
      server._server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    for (const c of this.conns) c.destroy();
    this.conns.clear();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

/** A stand-in for `kind` on a free loopback port (not started). */
export async function newStandIn(kind: StandInKind, name: string, serverId = 1): Promise<StandIn> {
  const port = await freePort();
  return kind === "mysql" ? new MysqlStandIn(port, serverId) : new HttpStandIn(kind, port, name);
}
