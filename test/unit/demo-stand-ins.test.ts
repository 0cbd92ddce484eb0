// The demo's stand-in services answer the shim's real probes, and two MySQL stand-ins follow the
// writer as MariaDB would under the real applier (peer fenced, holder promoted). Loopback only.
import { afterEach, describe, expect, it } from "vitest";
import type { DesiredGroup } from "../../protocol/heartbeat.js";
import { ProbeSpec } from "../../protocol/spec.js";
import { mysqlWriterApplier } from "../../node-shim/apply/mysql.js";
import { CommandRunner } from "../../node-shim/command-runner.js";
import { setLogSink } from "../../node-shim/log.js";
import { createProbe } from "../../node-shim/probes/index.js";
import { MysqlStandIn, newStandIn, type StandIn } from "../../scripts/lib/stand-ins.js";

const started: StandIn[] = [];
afterEach(async () => {
  for (const s of started.splice(0)) await s.stop();
});
async function up<T extends StandIn>(s: T): Promise<T> {
  await s.start();
  started.push(s);
  return s;
}
const runner = new CommandRunner("dry-run");
const probe = (spec: unknown, settings: Record<string, unknown> = {}) => createProbe(ProbeSpec.parse(spec), { host: "127.0.0.1", runner, settings });
const run = (p: ReturnType<typeof probe>) => p.run(AbortSignal.timeout(2000));

describe("demo stand-ins", () => {
  it("http, influxdb and minio stand-ins pass their probes, fail on demand and refuse when down", async () => {
    setLogSink(null);
    for (const [kind, spec] of [
      ["http", { type: "http", path: "/health" }],
      ["influxdb", { type: "influxdb" }],
      ["minio", { type: "minio" }],
    ] as const) {
      const s = await up(await newStandIn(kind, `${kind} stand-in`));
      const p = probe({ ...spec, port: s.port });
      expect((await run(p)).ok, kind).toBe(true);
      s.healthy = false;
      expect((await run(p)).ok, `${kind} failing`).toBe(false);
      await s.stop();
      // Stopped (a crashed host): connections refused or cut.
      expect((await run(p)).ok, `${kind} down`).toBe(false);
    }
  });

  it("two MySQL stand-ins are a dual master the real probe reads and the real applier promotes and fences", async () => {
    setLogSink(null);
    const a = await up(new MysqlStandIn((await newStandIn("mysql", "a")).port, 1));
    const b = await up(new MysqlStandIn((await newStandIn("mysql", "b")).port, 2));
    const settings = { mysql: { user: "chime", password: "demo", port: a.port, peer: { host: "127.0.0.1", port: b.port } } };
    const p = probe({ type: "mysql", port: a.port }, settings);
    const r = await run(p);
    expect(r.ok).toBe(true);
    expect(r.mysql).toMatchObject({ readOnly: true, replicaConfigured: false, errantTransactions: false, gtidCurrentPos: "0-1-100" });
    // b is the writer; a gets the writer lease: b is fenced first, then a promoted.
    b.readOnly = false;
    const g = { name: "mysql", member: true, role: "holder", epoch: 2, probe: { type: "mysql", port: a.port }, mysql: { topology: "dual-master", strictFence: false } } as unknown as DesiredGroup;
    await mysqlWriterApplier(g, true, { runner, settings });
    expect([a.readOnly, b.readOnly]).toEqual([false, true]);
    expect((await run(p)).detail).toMatch(/^writable/);
    a.healthy = false;
    expect((await run(p)).ok).toBe(false);
  });
});
