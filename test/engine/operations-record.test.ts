// Operator-requested operations (worker/engine/operations.ts), beyond operations.test.ts: which
// peer a backfill copies from and at which port, every refusal's reason, the events' fields, and
// how many finished operations are kept (pending ones always are).
import { describe, expect, it } from "vitest";
import type { ProbeReport } from "../../protocol/heartbeat.js";
import type { RunOperation } from "../../protocol/api.js";
import { Shell, smallSpec } from "./support/small-spec.js";

const OK: ProbeReport = { healthy: true, detail: "ok" };
const MINIO: ProbeReport = { healthy: true, detail: "ok", minio: { live: true, writeQuorum: true, readQuorum: true } };

// autoBackfill off: server1's late start would otherwise start a backfill of its own (see influxdb-backfill.test.ts).
const influx = { name: "influxdb", service: "influxdb", mode: "influxdb-read" as const, vip: "192.168.231.40", ports: [{ port: 8087 }], probe: { type: "influxdb" as const }, influxdb: { autoBackfill: false } };
const minio = { name: "minio", service: "minio", mode: "minio" as const, vip: "192.168.231.50", ports: [{ port: 9000 }], probe: { type: "minio" as const } };

/** Three servers; server2 holds both groups (server1 came up unhealthy), server3 is a healthy standby. */
function cluster(): Shell {
  const sh = new Shell(smallSpec({ priorities: [110, 100, 100], groups: [influx, minio] }));
  sh.beat("server1", 0, { probes: { influxdb: { healthy: false, detail: "down" }, minio: { ...MINIO, healthy: false } } });
  sh.beat("server2", 0, { probes: { influxdb: OK, minio: MINIO } });
  sh.beat("server3", 0, { probes: { influxdb: OK, minio: MINIO } });
  sh.beat("server1", 100, { probes: { influxdb: OK, minio: MINIO } });
  expect(sh.holder("influxdb")).toBe("server2");
  expect(sh.holder("minio")).toBe("server2");
  return sh;
}

const backfill = (node: string, extra: Partial<Extract<RunOperation, { kind: "influxdb-backfill" }>> = {}): RunOperation => ({ kind: "influxdb-backfill", group: "influxdb", node, database: "chime", startMs: 1000, endMs: 31_400, ...extra });

describe("requested operations", () => {
  it("a backfill copies from the holder first (not the first member), at the group's port", () => {
    const sh = cluster();
    const r = sh.run({ type: "run-operation", request: backfill("server1"), actor: "token:ops" }, 200);
    expect(r.rejected).toBeUndefined();
    expect(sh.desired("server1", 200).operations).toEqual([
      { id: "op-1-influxdb-backfill", requestedBy: "token:ops", kind: "influxdb-backfill", group: "influxdb", fromNode: "server2", fromUrl: "http://192.168.231.12:8087", database: "chime", startMs: 1000, endMs: 31_400, maxPoints: 200_000 },
    ]);
    expect(sh.events("operation.requested").map((e) => [e.severity, e.group, e.node, e.actor, e.reason])).toEqual([
      ["info", "influxdb", "server1", "token:ops", "token:ops asked server1 to copy database chime from server2 for 30 s of missed writes (operation op-1-influxdb-backfill)"],
    ]);
    // Nobody else is asked to run it.
    expect(sh.desired("server2", 200).operations).toEqual([]);
    expect(sh.desired("server3", 200).operations).toEqual([]);
  });

  it("a backfill of the holder itself copies from another healthy member; a named peer is used as named", () => {
    const sh = cluster();
    sh.run({ type: "run-operation", request: backfill("server2"), actor: "token:ops" }, 200);
    expect(sh.desired("server2", 200).operations[0]).toMatchObject({ fromNode: "server1", fromUrl: "http://192.168.231.11:8087" });
    sh.run({ type: "run-operation", request: backfill("server2", { from: "server3" }), actor: "token:ops" }, 300);
    expect(sh.desired("server2", 300).operations.map((o) => ("fromNode" in o ? `${o.id} ${o.fromNode}` : o.id))).toEqual(["op-1-influxdb-backfill server1", "op-2-influxdb-backfill server3"]);
  });

  it("refusals: no such group, a node that is not alive, a peer that is not a healthy member, a heal nobody can run", () => {
    const sh = cluster();
    const refuse = (request: RunOperation, now: number) => sh.run({ type: "run-operation", request, actor: "token:ops" }, now).rejected;
    expect(refuse({ kind: "minio-heal", group: "nosuch", alias: "chime" }, 200)).toBe("no group 'nosuch'");
    expect(refuse(backfill("server1", { group: "minio" }), 200)).toBe("influxdb-backfill needs a influxdb-read group; minio is minio");
    expect(refuse(backfill("server1", { from: "node1" }), 200)).toBe("node1 is not a live, healthy member of influxdb to copy from");
    expect(refuse({ kind: "minio-heal", group: "minio", alias: "chime", node: "node1" }, 200)).toBe("node1 is not a member of minio");
    // server3 goes silent: it cannot run a backfill into itself, nor be copied from.
    for (let t = 1000; t <= 4000; t += 1000) {
      sh.beat("server1", t, { probes: { influxdb: OK, minio: MINIO } });
      sh.beat("server2", t, { probes: { influxdb: OK, minio: MINIO } });
    }
    expect(refuse(backfill("server3"), 4000)).toBe("server3 is not alive: it cannot copy the window into its influxdb");
    expect(refuse(backfill("server1", { from: "server3" }), 4000)).toBe("server3 is not a live, healthy member of influxdb to copy from");
    // Nothing was recorded by any refusal.
    expect(sh.state.persisted.operations).toEqual({});
    expect(sh.state.persisted.nextOperation).toBe(1);
  });

  it("a heal with no holder and no node named is refused", () => {
    const sh = new Shell(smallSpec({ groups: [minio] }));
    sh.beat("server1", 0, { probes: { minio: { ...MINIO, healthy: false } } });
    expect(sh.run({ type: "run-operation", request: { kind: "minio-heal", group: "minio", alias: "chime" }, actor: "op" }, 100).rejected).toBe("minio has no holder to run the heal; name a node");
    // Named, it runs on that node (alive, a member) although the group has no holder.
    const r = sh.run({ type: "run-operation", request: { kind: "minio-heal", group: "minio", alias: "chime", node: "server1" }, actor: "op" }, 200);
    expect(r.rejected).toBeUndefined();
    expect(sh.desired("server1", 200).operations).toEqual([{ id: "op-1-minio-heal", requestedBy: "op", kind: "minio-heal", alias: "chime" }]);
  });

  it("results: the events carry the group for a backfill and none for a heal; an empty detail reads 'ok'", () => {
    const sh = cluster();
    sh.run({ type: "run-operation", request: backfill("server1"), actor: "op" }, 200);
    sh.run({ type: "run-operation", request: { kind: "minio-heal", group: "minio", alias: "chime" }, actor: "op" }, 300);
    sh.beat("server1", 400, { probes: { influxdb: OK, minio: MINIO }, operations: [{ id: "op-1-influxdb-backfill", ok: true, detail: "" }] });
    sh.beat("server2", 500, { probes: { influxdb: OK, minio: MINIO }, operations: [{ id: "op-2-minio-heal", ok: true, detail: "" }] });
    expect(sh.events("operation.finished").map((e) => [e.severity, e.node, e.group, e.reason])).toEqual([
      ["info", "server1", "influxdb", "influxdb-backfill on server1 finished: ok (operation op-1-influxdb-backfill)"],
      ["info", "server2", undefined, "minio-heal on server2 finished: ok (operation op-2-minio-heal)"],
    ]);
    expect(sh.events("operation.finished").map((e) => "group" in e)).toEqual([true, false]);
    expect(sh.state.persisted.operations!["op-1-influxdb-backfill"]).toMatchObject({ phase: "done", detail: "", node: "server1", actor: "op", requestedAt: 200 });
    sh.run({ type: "run-operation", request: backfill("server1"), actor: "op" }, 600);
    sh.beat("server1", 700, { probes: { influxdb: OK, minio: MINIO }, operations: [{ id: "op-3-influxdb-backfill", ok: false, detail: "influx exited 1" }] });
    expect(sh.events("operation.failed").map((e) => [e.severity, e.node, e.group, e.reason])).toEqual([["warning", "server1", "influxdb", "influxdb-backfill on server1 failed: influx exited 1 (operation op-3-influxdb-backfill)"]]);
    expect(sh.state.persisted.operations!["op-3-influxdb-backfill"]!.phase).toBe("failed");
    // A result is persisted.
    const r = sh.run({ type: "run-operation", request: backfill("server1"), actor: "op" }, 800);
    const r2 = sh.beat("server1", 900, { probes: { influxdb: OK, minio: MINIO }, operations: [{ id: "op-4-influxdb-backfill", ok: true, detail: "" }] });
    expect(sh.persistsOf(r)).toHaveLength(1);
    expect(sh.persistsOf(r2).map((p) => p.operations!["op-4-influxdb-backfill"]!.phase)).toEqual(["done"]);
  });

  it("the 20 most recent operations are kept: finished ones are dropped oldest first, pending ones never", () => {
    const sh = cluster();
    const heal = (t: number) => sh.run({ type: "run-operation", request: { kind: "minio-heal", group: "minio", alias: "chime" }, actor: "op" }, t);
    // op-1 stays pending throughout.
    heal(200);
    for (let i = 2; i <= 25; i++) {
      heal(200 + i);
      sh.beat("server2", 200 + i, { probes: { influxdb: OK, minio: MINIO }, operations: [{ id: `op-${i}-minio-heal`, ok: true, detail: "" }] });
    }
    const ids = Object.keys(sh.state.persisted.operations!);
    // 25 requested: op-1 (pending) and the 20 most recent finished ones (op-6 .. op-25).
    expect(ids).toEqual(["op-1-minio-heal", ...Array.from({ length: 20 }, (_, i) => `op-${i + 6}-minio-heal`)]);
    expect(sh.state.persisted.operations!["op-1-minio-heal"]!.phase).toBe("pending");
  });
});
