// Real InfluxDB 1.x (Debian's influxd, two instances on 127.0.0.1) under the real control plane,
// with a dual-write load of 1,000+ points/s (clients write every point to both instances). The
// read VIP's holder's influxd is killed for 30 s, then restarted:
// - the read VIP moves to the healthy instance;
// - the outage window the control plane records starts within one heartbeat before the kill and
//   ends within one heartbeat after the restart (checked against both instants, not padded);
// - the returning instance copies the window back by itself (influxdb.autoBackfill) in bounded
//   runs with progress events; every point it missed is restored (0 missing), tags and field
//   types intact; it gets the read VIP back (preemption) only once the backfill finished;
// - running the same window again writes each point once (InfluxDB overwrites identical
//   series + timestamp): the point count does not change.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setLogSink } from "../../node-shim/log.js";
import { createLocalCluster, type LocalControlPlane, startLocalControlPlane } from "../shim/support/control-plane.js";
import { DataCluster, waitFor } from "./support/cluster.js";
import { InfluxInstance, influxdMissing } from "./support/influxdb.js";

const missing = influxdMissing();
if (missing && process.env.CI === "true") throw new Error(`influxdb test cannot run: ${missing}`);

const NET = "10.231.71";
const DB = "chime";
const HEARTBEAT_MS = 500;
const OUTAGE_MS = 30_000;
const SERIES = 150;

const spec = {
  apiVersion: "chime-ha/v1" as const,
  name: "tsdb",
  policy: { heartbeatIntervalMs: HEARTBEAT_MS, leaseTtlMs: 2000, driftMarginMs: 300, holdDownMs: 0, deadAfterMs: 600_000, preempt: { enabled: true, delayMs: 0 } },
  nodes: [
    { name: "server1", hostname: "server1.lab", ip: `${NET}.11`, role: "server" as const, priority: 110 },
    { name: "server2", hostname: "server2.lab", ip: `${NET}.12`, role: "server" as const, priority: 100 },
    { name: "node1", hostname: "node1.lab", ip: `${NET}.101`, role: "compute" as const },
  ],
  groups: [
    {
      name: "influxdb",
      service: "influxdb",
      mode: "influxdb-read" as const,
      vip: `${NET}.40`,
      ports: [{ port: 8086 }],
      probe: { type: "influxdb" as const, intervalMs: 200, timeoutMs: 500, fall: 2, rise: 1 },
      // Bounded runs of 10,000 points: a 30 s outage at 1,000 points/s takes several, with progress.
      influxdb: { autoBackfill: true, backfillMaxPoints: 10_000 },
    },
  ],
};

/** chime clients write every point to both instances: 150 series, a batch of 150 points every 100 ms (1,500/s). */
class DualWriter {
  /** Points each instance acknowledged, and the batches only the second one took (missed by the first). */
  written = { i1: 0, i2: 0 };
  startedAt = 0;
  missedByI1 = new Set<string>();
  private stopped = false;
  private done: Promise<void> | null = null;
  constructor(
    private readonly i1: InfluxInstance,
    private readonly i2: InfluxInstance,
  ) {}
  start(): void {
    this.startedAt = performance.now();
    this.done = (async () => {
      for (let n = 0; !this.stopped && n < 100_000; n++) {
        const started = performance.now();
        const t = Date.now();
        // Tags with a space and a comma, and one field of each type, so the copy must escape and type them.
        const lines = Array.from({ length: SERIES }, (_, i) => `vm_cpu,host=vm\\ ${i},dc=a\\,b value=${((n * 100 + i) * 0.37).toFixed(2)},n=${n}i,state="run \\"${n}\\"",ok=${n % 2 === 0} ${t}`);
        const [a, b] = await Promise.all([this.i1.write(DB, lines), this.i2.write(DB, lines)]);
        if (a) this.written.i1 += SERIES;
        if (b) this.written.i2 += SERIES;
        if (b && !a) for (let i = 0; i < SERIES; i++) this.missedByI1.add(`vm ${i}|${t}`);
        await new Promise((r) => setTimeout(r, Math.max(0, 100 - (performance.now() - started))));
      }
    })();
  }
  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

/** Every point of vm_cpu as "host|ms" -> its row (tags and fields), from one instance. */
async function points(i: InfluxInstance): Promise<Map<string, string>> {
  const r = await i.query(DB, "SELECT * FROM vm_cpu GROUP BY *");
  const out = new Map<string, string>();
  for (const s of r.results[0]?.series ?? []) for (const v of s.values) out.set(`${s.tags?.host}|${String(v[0])}`, JSON.stringify([s.tags, ...v]));
  return out;
}

const count = async (i: InfluxInstance) => Number((await i.query(DB, "SELECT count(value) FROM vm_cpu")).results[0]?.series?.[0]?.values[0]?.[1] ?? 0);

describe.runIf(missing === null)("influxdb-read: real InfluxDB, 30 s outage under 1,000 points/s dual writes, automatic backfill", () => {
  const dir = mkdtempSync(join(tmpdir(), "chd-influx-"));
  const i1 = new InfluxInstance("influx1", join(dir, "i1"));
  const i2 = new InfluxInstance("influx2", join(dir, "i2"));
  let cp: LocalControlPlane;
  let cl: DataCluster;

  beforeAll(async () => {
    setLogSink(null);
    [cp] = await Promise.all([startLocalControlPlane(), i1.start(), i2.start()]);
    for (const i of [i1, i2]) expect((await i.query(DB, `CREATE DATABASE ${DB}`)).results[0]?.error).toBeUndefined();
    const { id, tokens } = await createLocalCluster(cp, "tsdbsite", spec);
    cl = new DataCluster(cp, id, tokens);
  }, 150_000);

  afterAll(async () => {
    await cl?.stopAll();
    await cp?.stop();
    await Promise.all([i1.stop().catch(() => undefined), i2.stop().catch(() => undefined)]);
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  });

  // Both instances listen on 127.0.0.1 here, not on the nodes' manage addresses: each shim is told where its peer is.
  const shim = (i: InfluxInstance) => ({ probes: { influxdb: { type: "influxdb", port: i.port, intervalMs: 200, timeoutMs: 500, fall: 2, rise: 1 } }, settings: { influxdb: { url: i.url, peers: { server1: i1.url, server2: i2.url } } } });

  it("every missed point is restored by the automatic backfill; the window matches the kill and the restart; the VIP waits for it", async () => {
    cl.start("server1", shim(i1));
    await waitFor("server1 to hold the read VIP", async () => (await cl.group("influxdb")).holder === "server1", 20_000, 50);
    cl.start("server2", shim(i2));
    await waitFor("server2 healthy", async () => (await cl.status()).nodes.find((n) => n.name === "server2")?.probes.influxdb?.healthy, 10_000, 50);
    expect((await cl.status()).nodes.find((n) => n.name === "server1")!.probes.influxdb!.detail).toMatch(/^influxdb 1\.6\S* \/ping 204/);

    const writer = new DualWriter(i1, i2);
    writer.start();
    await new Promise((r) => setTimeout(r, 3000));
    const killedAt = Date.now();
    await i1.kill();
    await waitFor("the read VIP to move to server2", async () => (await cl.group("influxdb")).holder === "server2", 10_000, 25);
    const movedMs = Date.now() - killedAt;
    await new Promise((r) => setTimeout(r, OUTAGE_MS - movedMs));
    const restartAt = Date.now();
    await i1.start();
    const readyAt = Date.now(); // /ping answers by now (polled every 100 ms)
    const event = await waitFor("the outage-window event", async () => (await cl.events()).find((e) => e.kind === "influxdb.outage-window" && e.node === "server1"), 10_000, 50);
    const finished = await waitFor("the backfill to finish", async () => (await cl.events()).find((e) => e.kind === "influxdb.backfill-finished" && e.node === "server1"), 60_000, 100).catch(async (err: Error) => {
      const recent = (await cl.events()).filter((e) => e.at >= killedAt).map((e) => `${e.kind} ${e.node ?? ""}: ${e.reason}`);
      throw new Error(`${err.message}; events since the kill:\n${recent.join("\n")}`);
    });
    await waitFor("server1 to get the read VIP back", async () => (await cl.group("influxdb")).holder === "server1", 10_000, 50);
    await new Promise((r) => setTimeout(r, 1000));
    await writer.stop();
    const rate = writer.written.i2 / ((performance.now() - writer.startedAt) / 1000);

    // The window, against the kill and the restart: within one heartbeat, no padding.
    const m = /missed writes from (\S+) to (\S+) \(/.exec(event.reason)!;
    const from = Date.parse(m[1]!);
    const to = Date.parse(m[2]!);
    console.log(`influxdb window: starts ${killedAt - from} ms before the kill, ends ${to - readyAt} ms after the restart answered (spawned ${readyAt - restartAt} ms before that; heartbeat ${HEARTBEAT_MS} ms)`);
    // Start: the probe's last success before the kill (a heartbeat's transit, a few ms, may put it just after).
    expect(killedAt - from).toBeGreaterThanOrEqual(-20);
    expect(killedAt - from).toBeLessThanOrEqual(HEARTBEAT_MS);
    // End: the first success after the restart; influxd cannot take writes before it was started.
    expect(to).toBeGreaterThan(restartAt);
    expect(Math.abs(to - readyAt)).toBeLessThanOrEqual(HEARTBEAT_MS);

    const events = await cl.events();
    const progress = events.filter((e) => e.kind === "influxdb.backfill-progress" && e.node === "server1");
    const regrant = events.find((e) => e.kind === "group.granted" && e.node === "server1" && e.at > killedAt)!;

    // Missed vs restored: every point server1 missed is there now, exactly as on server2.
    const [p1, p2] = await Promise.all([points(i1), points(i2)]);
    const missed = [...writer.missedByI1];
    const restored = missed.filter((k) => p1.get(k) !== undefined && p1.get(k) === p2.get(k));
    const stillMissing = [...p2.keys()].filter((k) => !p1.has(k));
    console.log(
      `influxdb backfill: ${Math.round(rate)} points/s dual writes; read VIP moved ${movedMs} ms after the kill; ${missed.length} points missed during ${((readyAt - killedAt) / 1000).toFixed(1)} s, ${restored.length} restored, ${stillMissing.length} missing; ` +
        `${progress.length} progress events; ${finished.reason}`,
    );
    for (const e of progress) console.log(`  ${e.kind}: ${e.reason}`);
    // Bounded runs with progress, then finished; the VIP came back only after that.
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(regrant.at).toBeGreaterThanOrEqual(finished.at);
    expect(rate).toBeGreaterThanOrEqual(1000);
    expect(missed.length).toBeGreaterThan(30_000);
    expect(restored.length).toBe(missed.length);
    expect(stillMissing).toEqual([]);
    const types = async (i: InfluxInstance) => JSON.stringify((await i.query(DB, "SHOW FIELD KEYS FROM vm_cpu")).results[0]!.series);
    expect(await types(i1)).toBe(await types(i2));
    expect(await types(i1)).toContain('["n","integer"]');

    // The same window again (an operator's retry): each point is written once, nothing doubles.
    const before = await count(i1);
    const again = await cl.call("POST", `/v1/clusters/${cl.id}/operations`, { kind: "influxdb-backfill", group: "influxdb", node: "server1", database: DB, startMs: from, endMs: to });
    expect(again.status).toBe(200);
    const id = /\(operation ([^)]+)\)/.exec(JSON.stringify(again.json))![1]!;
    const done = await waitFor("the repeated backfill", async () => (await cl.events()).find((e) => e.kind === "operation.finished" && e.reason.includes(`(operation ${id})`)), 60_000, 100);
    const after = await count(i1);
    console.log(`repeated backfill: ${done.reason}; point count ${before} before, ${after} after (server2: ${await count(i2)})`);
    expect(done.reason).toMatch(/finished: .*copied [1-9]\d* points/);
    expect(after).toBe(before);
    expect(after).toBe(await count(i2));
  });
});
