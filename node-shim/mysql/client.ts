// One way to talk to a MySQL server for the probe and the appliers: mysql2 under the agent's own
// account, a short connect timeout, rows as plain records.
import mysql from "mysql2/promise";
import { type MysqlSettings, password } from "./settings.js";

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

/** Where `s` points, for messages. */
export const where = (s: MysqlSettings, t: Target) => s.socketPath ?? `${s.host ?? t.host}:${s.port ?? t.port}`;

export type Row = Record<string, unknown>;

export async function rows(c: mysql.Connection, sql: string, params: unknown[] = []): Promise<Row[]> {
  const [r] = await c.query(sql, params);
  return r as Row[];
}

export async function withConn<T>(s: MysqlSettings, t: Target, timeoutMs: number, fn: (c: mysql.Connection) => Promise<T>): Promise<T> {
  const c = await connectMysql(s, t, timeoutMs);
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => c.destroy());
  }
}

/** SHOW ... WHERE Variable_name IN (...) as a map (absent names are simply missing). */
export async function variables(c: mysql.Connection, kind: "VARIABLES" | "STATUS", names: string[]): Promise<Map<string, string>> {
  const r = await rows(c, `SHOW GLOBAL ${kind} WHERE Variable_name IN (?)`, [names]);
  return new Map(r.map((x) => [String(x.Variable_name).toLowerCase(), String(x.Value)]));
}
