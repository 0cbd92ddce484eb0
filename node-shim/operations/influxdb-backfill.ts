// influxdb-backfill: copy the window an instance missed from the healthy peer, through the v1 API
// only (/query on the peer, /write here), database by database and measurement by measurement,
// keeping tags and field types (SHOW FIELD KEYS), in bounded runs (maxPoints) that say how far
// they got. Rewriting a point that exists is harmless in InfluxDB (same series and time: same
// point), so a retried run writes each point once; the window itself is exact, never padded.
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
/** Time slice per query: bounds memory per query and the overshoot of a bounded run. */
const SLICE_MS = 5000;

export function localInfluxUrl(settings: Record<string, unknown>): string {
  const s = settings.influxdb as { url?: unknown } | undefined;
  return typeof s?.url === "string" ? s.url.replace(/\/$/, "") : "http://127.0.0.1:8086";
}

/**
 * Where to read the peer: the control plane names its manage address and the group's port; the
 * shim config may say otherwise per node (`settings.influxdb.peers: {server2: "http://..."}`) when
 * InfluxDB listens elsewhere.
 */
export function peerInfluxUrl(settings: Record<string, unknown>, node: string, fromControlPlane: string): string {
  const peers = (settings.influxdb as { peers?: unknown } | undefined)?.peers;
  const own = peers && typeof peers === "object" ? (peers as Record<string, unknown>)[node] : undefined;
  return typeof own === "string" ? own : fromControlPlane;
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
    throw new Error(`query ${q.slice(0, 80)} on ${base}: http ${r.status}, not JSON: ${r.text.slice(0, 200) || "(empty)"}`);
  }
  if (r.status < 200 || r.status > 299 || body.error || body.results?.[0]?.error) throw new Error(`query ${q.slice(0, 80)} on ${base}: ${body.error ?? body.results?.[0]?.error ?? `http ${r.status}`}`);
  return body.results?.[0]?.series ?? [];
}

async function write(base: string, db: string, lines: string[], signal: AbortSignal): Promise<void> {
  // Microsecond timestamps stay exact in JSON numbers (nanoseconds would not).
  const r = await httpRequest(`${base}/write?db=${encodeURIComponent(db)}&precision=u`, { method: "POST", body: lines.join("\n"), signal });
  if (r.status !== 204) throw new Error(`write to ${base}: http ${r.status} ${r.text.slice(0, 200)}`);
}

/** Databases to copy: "*" is every database of the peer but _internal; else a comma-separated list. */
async function databases(from: string, spec: string, signal: AbortSignal): Promise<string[]> {
  if (spec !== "*") return spec.split(",").map((d) => d.trim()).filter(Boolean);
  return (await query(from, "", "SHOW DATABASES", signal)).flatMap((s) => s.values.map((v) => String(v[0]))).filter((d) => d !== "_internal");
}

/** Copy `[a, b]` (ms; `b` inclusive only for the window's last slice) of one measurement; points written. */
async function copySlice(from: string, localUrl: string, db: string, m: string, types: Map<string, string>, a: number, b: number, last: boolean, signal: AbortSignal): Promise<number> {
  const where = `time >= ${Math.floor(a)}ms AND time ${last ? "<=" : "<"} ${Math.ceil(b)}ms`;
  const series = await query(from, db, `SELECT * FROM ${quoteIdent(m)} WHERE ${where} GROUP BY *`, signal);
  let batch: string[] = [];
  let points = 0;
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
        await write(localUrl, db, batch, signal);
        points += batch.length;
        batch = [];
      }
    }
  }
  if (batch.length) {
    await write(localUrl, db, batch, signal);
    points += batch.length;
  }
  return points;
}

export interface BackfillRun {
  points: number;
  measurements: number;
  databases: string[];
  /** Copied up to here (ms); the window's end when complete. */
  doneUntilMs: number;
  complete: boolean;
}

/**
 * Copy [startMs, endMs] from the peer into this instance, oldest first, in time slices; stop after
 * the slice that reaches `maxPoints` (a bounded run; the control plane continues from
 * `doneUntilMs`). Rewriting a point that exists changes nothing in InfluxDB (same series and time
 * is the same point), so a retried or overlapping run is harmless; the window is never padded.
 */
export async function backfill(op: Backfill, localUrl: string, signal: AbortSignal = AbortSignal.timeout(300_000)): Promise<BackfillRun> {
  const from = op.fromUrl.replace(/\/$/, "");
  const max = op.maxPoints ?? Number.POSITIVE_INFINITY;
  const dbs = await databases(from, op.database, signal);
  const plan: { db: string; m: string; types: Map<string, string> }[] = [];
  for (const db of dbs) {
    for (const m of (await query(from, db, "SHOW MEASUREMENTS", signal)).flatMap((s) => s.values.map((v) => String(v[0])))) {
      const types = new Map<string, string>();
      for (const s of await query(from, db, `SHOW FIELD KEYS FROM ${quoteIdent(m)}`, signal)) for (const [k, t] of s.values) types.set(String(k), String(t));
      plan.push({ db, m, types });
    }
  }
  let points = 0;
  let at = op.startMs;
  while (at <= op.endMs) {
    const end = Math.min(op.endMs, at + SLICE_MS);
    const last = end >= op.endMs;
    for (const p of plan) points += await copySlice(from, localUrl, p.db, p.m, p.types, at, end, last, signal);
    if (last) return { points, measurements: plan.length, databases: dbs, doneUntilMs: op.endMs, complete: true };
    at = end;
    if (points >= max) break;
  }
  return { points, measurements: plan.length, databases: dbs, doneUntilMs: at, complete: false };
}

export const influxdbBackfill: OperationHandler<"influxdb-backfill"> = async (op, ctx) => {
  const local = localInfluxUrl(ctx.settings);
  const r = await backfill({ ...op, fromUrl: peerInfluxUrl(ctx.settings, op.fromNode, op.fromUrl) }, local);
  const span = `${new Date(op.startMs).toISOString()} .. ${new Date(r.doneUntilMs).toISOString()}`;
  return {
    ok: true,
    detail: `copied ${r.points} points (${r.measurements} measurements in ${r.databases.join(", ") || "no database"}) from ${op.fromNode} for ${span}${r.complete ? "" : ` (bounded at ${op.maxPoints} points; the rest follows)`}`,
    progress: { doneUntilMs: r.doneUntilMs, points: r.points, complete: r.complete },
  };
};

/**
 * The backfill for an `influxdb.outage-window` event ("influxdb on X missed writes from T1 to T2"),
 * exactly that window: it starts at the probe's last success and ends at its first success after.
 */
export function backfillForOutage(event: { kind: string; group?: string | null; node?: string | null; reason: string }, peer: { node: string; url: string }, database: string): Backfill {
  if (event.kind !== "influxdb.outage-window") throw new Error(`not an influxdb outage window: ${event.kind}`);
  const m = /missed writes from (\S+) to (\S+) /.exec(event.reason);
  if (!m || !event.group || !event.node) throw new Error(`cannot read the window from: ${event.reason}`);
  const start = Date.parse(m[1]!);
  const end = Date.parse(m[2]!);
  if (!Number.isFinite(start) || !Number.isFinite(end)) throw new Error(`cannot read the window from: ${event.reason}`);
  return { id: `backfill-${event.group}-${event.node}-${start}`, kind: "influxdb-backfill", group: event.group, fromNode: peer.node, fromUrl: peer.url, database, startMs: start, endMs: end };
}
