// Real InfluxDB 1.x (Debian's influxd, two instances on 127.0.0.1) under the real control plane:
// the read VIP (the group's holder) moves when the holder's influxd dies, the outage window is
// recorded as an event when it comes back, and the backfill operation copies the points it
// missed from the healthy peer (v1 /query -> /write), tags and field types intact.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CommandRunner } from "../../node-shim/command-runner.js";
import { setLogSink } from "../../node-shim/log.js";
import { backfillForOutage, influxdbBackfill } from "../../node-shim/operations/influxdb-backfill.js";
import { createLocalCluster, type LocalControlPlane, startLocalControlPlane } from "../shim/support/control-plane.js";
import { DataCluster, waitFor } from "./support/cluster.js";
import { InfluxInstance, influxdMissing } from "./support/influxdb.js";

const missing = influxdMissing();
if (missing && process.env.CI === "true") throw new Error(`influxdb test cannot run: ${missing}`);

const NET = "10.231.71";
const DB = "chime";

const spec = {
  apiVersion: "chime-ha/v1" as const,
  name: "tsdb",
  policy: { heartbeatIntervalMs: 500, leaseTtlMs: 2000, driftMarginMs: 300, holdDownMs: 0, deadAfterMs: 600_000 },
  nodes: [
    { name: "server1", hostname: "server1.lab", ip: `${NET}.11`, role: "server" as const, priority: 110 },
    { name: "server2", hostname: "server2.lab", ip: `${NET}.12`, role: "server" as const, priority: 100 },
    { name: "node1", hostname: "node1.lab", ip: `${NET}.101`, role: "compute" as const },
  ],
  groups: [{ name: "influxdb", service: "influxdb", mode: "influxdb-read" as const, vip: `${NET}.40`, ports: [{ port: 8086 }], probe: { type: "influxdb" as const, intervalMs: 200, timeoutMs: 500, fall: 2, rise: 1 } }],
};

/** chime clients write every point to both instances (dual writes); a dead one just misses it. */
class DualWriter {
  written = { i1: 0, i2: 0, both: 0 };
  private stopped = false;
  private done: Promise<void> | null = null;
  constructor(private readonly i1: InfluxInstance, private readonly i2: InfluxInstance) {}
  start(): void {
    this.done = (async () => {
      for (let n = 0; !this.stopped && n < 10_000; n++) {
        const t = Date.now();
        // Tags with a space and a comma, and one field of each type, so the copy must escape and type them.
        const line = `vm_cpu,host=node\\ 1,dc=a\\,b value=${(n * 0.37).toFixed(2)},n=${n}i,state="run \\"${n}\\"",ok=${n % 2 === 0} ${t}`;
        const [a, b] = await Promise.all([this.i1.write(DB, [line]), this.i2.write(DB, [line])]);
        if (a) this.written.i1++;
        if (b) this.written.i2++;
        if (a && b) this.written.both++;
        await new Promise((r) => setTimeout(r, 40));
      }
    })();
  }
  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

async function allRows(i: InfluxInstance): Promise<string[]> {
  const r = await i.query(DB, "SELECT * FROM vm_cpu GROUP BY *");
  const out: string[] = [];
  for (const s of r.results[0]?.series ?? []) for (const v of s.values) out.push(JSON.stringify([s.tags, ...v]));
  return out.sort();
}

describe.runIf(missing === null)("influxdb-read: real InfluxDB 1.x under the real control plane", () => {
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

  const shim = (i: InfluxInstance) => ({ probes: { influxdb: { type: "influxdb", port: i.port, intervalMs: 200, timeoutMs: 500, fall: 2, rise: 1 } }, settings: { influxdb: { url: i.url } } });

  it("read VIP moves on failure, the outage window is recorded, the backfill copies the missed points", async () => {
    cl.start("server1", shim(i1));
    await waitFor("server1 to hold the read VIP", async () => (await cl.group("influxdb")).holder === "server1", 20_000, 50);
    cl.start("server2", shim(i2));
    await waitFor("server2 healthy", async () => (await cl.status()).nodes.find((n) => n.name === "server2")?.probes.influxdb?.healthy, 10_000, 50);
    expect((await cl.status()).nodes.find((n) => n.name === "server1")!.probes.influxdb!.detail).toMatch(/^influxdb 1\.6\S* \/ping 204/);

    const writer = new DualWriter(i1, i2);
    writer.start();
    await new Promise((r) => setTimeout(r, 1500));
    const killedAt = Date.now();
    await i1.kill();
    await waitFor("the read VIP to move to server2", async () => (await cl.group("influxdb")).holder === "server2", 10_000, 25);
    const movedMs = Date.now() - killedAt;
    await waitFor("server2's shim to add the VIP", async () => cl.runners.get("server2")!.lines().some((l) => l.startsWith(`ip addr add ${NET}.40/24`)), 5000, 20);
    await new Promise((r) => setTimeout(r, 2500));
    await i1.start();
    const event = await waitFor("the outage-window event", async () => (await cl.events()).find((e) => e.kind === "influxdb.outage-window" && e.node === "server1"), 10_000, 100);
    await new Promise((r) => setTimeout(r, 1000));
    await writer.stop();
    expect(event.reason).toMatch(/^influxdb on server1 missed writes from \S+Z to \S+Z \(\d+\.\d s\); backfill it from the healthy peer$/);
    const from = Date.parse(/from (\S+) to/.exec(event.reason)![1]!);
    expect(from).toBeGreaterThanOrEqual(killedAt);
    expect(from).toBeLessThan(killedAt + 5000);

    const before1 = await allRows(i1);
    const rows2 = await allRows(i2);
    const missed = rows2.length - before1.length;
    expect(missed).toBeGreaterThan(20);
    expect(writer.written.i2 - writer.written.i1).toBe(missed);

    const op = backfillForOutage(event, { node: "server2", url: i2.url }, DB);
    expect(op.startMs).toBe(from - 30_000);
    const r = await influxdbBackfill(op, { runner: new CommandRunner("recording"), settings: { influxdb: { url: i1.url } } });
    expect(r.ok).toBe(true);
    const after1 = await allRows(i1);
    console.log(`influxdb: read VIP moved ${movedMs} ms after the kill; ${event.reason}; ${missed} points missing on influx1, backfill: ${r.detail}`);
    expect(after1).toEqual(rows2);
    const types = async (i: InfluxInstance) => JSON.stringify((await i.query(DB, "SHOW FIELD KEYS FROM vm_cpu")).results[0]!.series);
    expect(await types(i1)).toBe(await types(i2));
    expect(await types(i1)).toContain('["n","integer"]');
  });
});
