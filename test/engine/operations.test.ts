// Operations an operator asks for (influxdb-backfill, minio-heal): who runs them, what they carry,
// refusals with reasons, and that a result is taken once and only from the node that ran it.
import { describe, expect, it } from "vitest";
import type { RunOperation } from "../../protocol/api.js";
import { Driver, healthy, minioReport } from "./support/data-spec.js";

const ops = (d: Driver, node: string, now: number) => d.desired(node, now).operations.filter((o) => o.kind === "influxdb-backfill" || o.kind === "minio-heal");

function cluster(): Driver {
  const d = new Driver();
  const probes = { influxdb: healthy, minio: minioReport(true, true) };
  d.beat("server1", 0, { probes });
  d.beat("server2", 10, { probes });
  return d;
}

describe("operator-requested operations", () => {
  it("a backfill runs on the node that missed writes and copies from the healthy holder", () => {
    const d = cluster();
    expect(d.holder("influxdb")).toBe("server1");
    const r = d.run({ type: "run-operation", request: { kind: "influxdb-backfill", group: "influxdb", node: "server2", database: "chime", startMs: 1_000, endMs: 61_000 }, actor: "token:ops" }, 100);
    expect(r.rejected).toBeUndefined();
    expect(r.effects.some((e) => e.type === "persist")).toBe(true);
    expect(r.effects.some((e) => e.type === "push" && e.node === "server2")).toBe(true);
    expect(d.events("operation.requested").map((e) => e.reason)).toEqual(["token:ops asked server2 to copy database chime from server1 for 60 s of missed writes (operation op-1-influxdb-backfill)"]);
    expect(ops(d, "server2", 100)).toEqual([
      { id: "op-1-influxdb-backfill", requestedBy: "token:ops", kind: "influxdb-backfill", group: "influxdb", fromNode: "server1", fromUrl: "http://192.168.231.11:8086", database: "chime", startMs: 1_000, endMs: 61_000, maxPoints: 200_000 },
    ]);
    expect(ops(d, "server1", 100)).toEqual([]);
    // A result from another node is ignored; the runner's result ends it, once.
    d.beat("server1", 200, { probes: { influxdb: healthy }, operations: [{ id: "op-1-influxdb-backfill", ok: true, detail: "forged" }] });
    expect(ops(d, "server2", 200)).toHaveLength(1);
    d.beat("server2", 300, { probes: { influxdb: healthy }, operations: [{ id: "op-1-influxdb-backfill", ok: true, detail: "copied 110 points" }] });
    d.beat("server2", 400, { probes: { influxdb: healthy }, operations: [{ id: "op-1-influxdb-backfill", ok: false, detail: "late duplicate" }] });
    expect(ops(d, "server2", 400)).toEqual([]);
    expect(d.events("operation.finished").map((e) => e.reason)).toEqual(["influxdb-backfill on server2 finished: copied 110 points (operation op-1-influxdb-backfill)"]);
    expect(d.events("operation.failed")).toEqual([]);
  });

  it("a heal runs on the minio holder; a failure is reported with the node's detail", () => {
    const d = cluster();
    d.run({ type: "run-operation", request: { kind: "minio-heal", group: "minio", alias: "chime" }, actor: "token:ops" }, 100);
    expect(ops(d, "server1", 100)).toEqual([{ id: "op-1-minio-heal", requestedBy: "token:ops", kind: "minio-heal", alias: "chime" }]);
    d.beat("server1", 200, { operations: [{ id: "op-1-minio-heal", ok: false, detail: "mc admin heal chime exited 1: no such alias" }] });
    expect(d.events("operation.failed").map((e) => e.reason)).toEqual(["minio-heal on server1 failed: mc admin heal chime exited 1: no such alias (operation op-1-minio-heal)"]);
  });

  it("refuses what cannot run, with the reason, and changes nothing", () => {
    const d = cluster();
    const refuse = (request: RunOperation, now = 100) => {
      const before = JSON.stringify(d.state.persisted);
      const r = d.run({ type: "run-operation", request, actor: "token:ops" }, now);
      expect(JSON.stringify(d.state.persisted)).toBe(before);
      return r.rejected;
    };
    expect(refuse({ kind: "minio-heal", group: "influxdb", alias: "chime" })).toBe("minio-heal needs a minio group; influxdb is influxdb-read");
    expect(refuse({ kind: "influxdb-backfill", group: "influxdb", node: "node1", database: "chime", startMs: 1, endMs: 2 })).toBe("node1 is not a member of influxdb");
    expect(refuse({ kind: "influxdb-backfill", group: "influxdb", node: "server2", database: "chime", startMs: 1, endMs: 2, from: "server2" })).toBe("server2 is not a live, healthy member of influxdb to copy from");
    // server1 goes silent: it can neither run a heal nor be copied from.
    d.beat("server2", 5_000, { probes: { influxdb: healthy, minio: minioReport(true, true) } });
    expect(refuse({ kind: "minio-heal", group: "minio", alias: "chime", node: "server1" }, 5_000)).toBe("server1 is not alive: it cannot run the heal");
    expect(refuse({ kind: "influxdb-backfill", group: "influxdb", node: "server2", database: "chime", startMs: 1, endMs: 2 }, 5_000)).toBe("no live, healthy member of influxdb other than server2 to copy from");
  });
});
