// influxdb-backfill: copy the window an instance missed from the healthy peer, through the v1 API
// only (/query on the peer, /write here), measurement by measurement, keeping tags and field
// types (SHOW FIELD KEYS). Rewriting a point that exists is harmless in InfluxDB (same series and
// time: same point), so the window may be padded generously.
import type { Operation } from "../../protocol/heartbeat.js";
import type { OperationHandler } from "../apply/types.js";
import { httpRequest } from "../http-client.js";

type Backfill = Extract<Operation, { kind: "influxdb-backfill" }>;

interface Series {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}
interface QueryResult {
  results?: { error?: string; series?: Series[] }[];
  error?: string;
}

const BATCH = 5000;

export function localInfluxUrl(settings: Record<string, unknown>): string {
  const s = settings.influxdb as { url?: unknown } | undefined;
  return typeof s?.url === "string" ? s.url.replace(/\/$/, "") : "http://127.0.0.1:8086";
}

const escMeasurement = (s: string) => s.replace(/[,\s]/g, (c) => `\\${c}`);
const escKey = (s: string) => s.replace(/[,=\s]/g, (c) => `\\${c}`);
const quoteIdent = (s: string) => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;

function fieldValue(v: unknown, type: string): string | null {
  if (v === null || v === undefined) return null;
  switch (type) {
    case "integer":
      return `${String(v)}i`;
    case "unsigned":
      return `${String(v)}u`;
    case "boolean":
      return v ? "true" : "false";
    case "string":
      return `"${String(v).replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
    default:
      return typeof v === "number" ? String(v) : null;
  }
}

async function query(base: string, db: string, q: string, signal: AbortSignal): Promise<Series[]> {
  const url = `${base}/query?db=${encodeURIComponent(db)}&epoch=u&q=${encodeURIComponent(q)}`;
  const r = await httpRequest(url, { signal, maxBodyBytes: 256 * 1024 * 1024 });
  let body: QueryResult;
  try {
    body = JSON.parse(r.text) as QueryResult;
  } catch {
    throw new Error(`query ${q.slice(0, 80)} on ${base}: http ${r.status}, not JSON: ${r.text.slice(0, 200)}`);
  }
  if (r.status < 200 || r.status > 299 || body.error || body.results?.[0]?.error) throw new Error(`query ${q.slice(0, 80)} on ${base}: ${body.error ?? body.results?.[0]?.error ?? `http ${r.status}`}`);
  return body.results?.[0]?.series ?? [];
}

async function write(base: string, db: string, lines: string[], signal: AbortSignal): Promise<void> {
  // Microsecond timestamps stay exact in JSON numbers (nanoseconds would not).
  const r = await httpRequest(`${base}/write?db=${encodeURIComponent(db)}&precision=u`, { method: "POST", body: lines.join("\n"), signal });
  if (r.status !== 204) throw new Error(`write to ${base}: http ${r.status} ${r.text.slice(0, 200)}`);
}

/** Copy [startMs, endMs] of `database` from the peer into this instance; returns points written. */
export async function backfill(op: Backfill, localUrl: string, signal: AbortSignal = AbortSignal.timeout(300_000)): Promise<{ points: number; measurements: number }> {
  const from = op.fromUrl.replace(/\/$/, "");
  const window = `time >= ${Math.floor(op.startMs)}ms AND time <= ${Math.ceil(op.endMs)}ms`;
  const measurements = (await query(from, op.database, "SHOW MEASUREMENTS", signal)).flatMap((s) => s.values.map((v) => String(v[0])));
  let points = 0;
  for (const m of measurements) {
    const types = new Map<string, string>();
    for (const s of await query(from, op.database, `SHOW FIELD KEYS FROM ${quoteIdent(m)}`, signal)) for (const [k, t] of s.values) types.set(String(k), String(t));
    const series = await query(from, op.database, `SELECT * FROM ${quoteIdent(m)} WHERE ${window} GROUP BY *`, signal);
    let batch: string[] = [];
    for (const s of series) {
      const tagPart = Object.entries(s.tags ?? {})
        .filter(([, v]) => v !== "")
        .map(([k, v]) => `,${escKey(k)}=${escKey(v)}`)
        .join("");
      const head = `${escMeasurement(m)}${tagPart}`;
      for (const row of s.values) {
        const fields: string[] = [];
        s.columns.forEach((col, i) => {
          if (i === 0 || !types.has(col)) return; // time, or a tag column
          const v = fieldValue(row[i], types.get(col)!);
          if (v !== null) fields.push(`${escKey(col)}=${v}`);
        });
        if (fields.length === 0) continue;
        batch.push(`${head} ${fields.join(",")} ${String(row[0])}`);
        if (batch.length >= BATCH) {
          await write(localUrl, op.database, batch, signal);
          points += batch.length;
          batch = [];
        }
      }
    }
    if (batch.length) {
      await write(localUrl, op.database, batch, signal);
      points += batch.length;
    }
  }
  return { points, measurements: measurements.length };
}

export const influxdbBackfill: OperationHandler<"influxdb-backfill"> = async (op, ctx) => {
  const local = localInfluxUrl(ctx.settings);
  const r = await backfill(op, local);
  return { ok: true, detail: `copied ${r.points} points (${r.measurements} measurements) of ${op.database} from ${op.fromNode} for ${new Date(op.startMs).toISOString()} .. ${new Date(op.endMs).toISOString()}` };
};

/**
 * The backfill for an `influxdb.outage-window` event ("influxdb on X missed writes from T1 to T2"),
 * padded on both sides: the outage began before the probe noticed it (fall x interval).
 */
export function backfillForOutage(
  event: { kind: string; group?: string | null; node?: string | null; reason: string },
  peer: { node: string; url: string },
  database: string,
  padMs = 30_000,
): Backfill {
  if (event.kind !== "influxdb.outage-window") throw new Error(`not an influxdb outage window: ${event.kind}`);
  const m = /missed writes from (\S+) to (\S+) /.exec(event.reason);
  if (!m || !event.group || !event.node) throw new Error(`cannot read the window from: ${event.reason}`);
  const start = Date.parse(m[1]!);
  const end = Date.parse(m[2]!);
  if (!Number.isFinite(start) || !Number.isFinite(end)) throw new Error(`cannot read the window from: ${event.reason}`);
  return { id: `backfill-${event.group}-${event.node}-${start}`, kind: "influxdb-backfill", group: event.group, fromNode: peer.node, fromUrl: peer.url, database, startMs: start - padMs, endMs: end + padMs };
}
