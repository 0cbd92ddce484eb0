// What the engine says about operations (worker/engine/operations.ts), exactly: a heal requested,
// a backfill that cannot start or continue for want of a live, healthy peer (critical, with the
// window and what to do), the databases copied, a multi-run operator backfill's summary, and which
// members count as a source (alive AND healthy).
import { describe, expect, it } from "vitest";
import { isoTime } from "../../worker/engine/liveness.js";
import { backfillPending } from "../../worker/engine/operations.js";
import { dataSpec, down, Driver, healthy, minioReport } from "./support/data-spec.js";

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);
const W = `${isoTime(T0 + 1000)} .. ${isoTime(T0 + 31_100)}`;
const INCIDENT = `influxdb-gap:influxdb:server1:${T0 + 1000}`;

function spec(influxdb: Record<string, unknown> = {}) {
  const base = dataSpec();
  return dataSpec({ ...base, groups: base.groups.filter((g) => g.name === "influxdb").map((g) => ({ ...g, influxdb: { autoBackfill: true, databases: [], holdReadVipUntilBackfilled: true, backfillMaxPoints: 10_000, ...influxdb } })) });
}

/** server1's influxd down from T0+1000, back at T0+31100; server2 (`peer`) reports as told meanwhile. */
function outage(influxdb: Record<string, unknown> = {}, peer = healthy): Driver {
  const d = new Driver(spec(influxdb), T0);
  d.beat("server1", T0, { probes: { influxdb: healthy } });
  d.beat("server2", T0, { probes: { influxdb: healthy } });
  d.beat("server1", T0 + 1300, { probes: { influxdb: { ...down, downForMs: 300 } } });
  d.beat("server1", T0 + 1400, { probes: { influxdb: down }, released: [{ group: "influxdb", epoch: 1 }] });
  for (let t = T0 + 2000; t <= T0 + 31_000; t += 1000) {
    d.beat("server1", t, { probes: { influxdb: down } });
    d.beat("server2", t, { probes: { influxdb: t < T0 + 30_000 ? healthy : peer } });
  }
  d.beat("server1", T0 + 31_100, { probes: { influxdb: healthy } });
  return d;
}

describe("operations: what the engine says", () => {
  it("a heal asked for is said with who asked, which node runs it and the alias; its failure names the node and no group", () => {
    const d = new Driver();
    const probes = { influxdb: healthy, minio: minioReport(true, true) };
    d.beat("server1", 0, { probes });
    d.beat("server2", 10, { probes });
    d.run({ type: "run-operation", request: { kind: "minio-heal", group: "minio", alias: "chime" }, actor: "token:ops" }, 100);
    expect(d.events("operation.requested")).toStrictEqual([{ type: "event", kind: "operation.requested", severity: "info", actor: "token:ops", group: "minio", node: "server1", reason: "token:ops asked server1 to run mc admin heal on alias chime (operation op-1-minio-heal)" }]);
    d.beat("server1", 200, { probes, operations: [{ id: "op-1-minio-heal", ok: false, detail: "exit 1" }] });
    expect(d.events("operation.failed")).toStrictEqual([{ type: "event", kind: "operation.failed", severity: "warning", actor: "engine", node: "server1", reason: "minio-heal on server1 failed: exit 1 (operation op-1-minio-heal)" }]);
  });

  it("the databases configured are the ones copied back", () => {
    const d = outage({ databases: ["chime", "telegraf"] });
    expect(d.events("influxdb.backfill-started")[0]!.reason).toBe(`server1 copies what it missed (${W}, database chime,telegraf) from server2, at most 10000 points per run (operation op-1-influxdb-backfill)`);
    expect(d.desired("server1", T0 + 31_100).operations.find((o) => o.kind === "influxdb-backfill")).toMatchObject({ database: "chime,telegraf", fromNode: "server2" });
  });

  it("no live, healthy peer to copy from: a critical event with the window and the incident, and nothing to run", () => {
    const d = outage({}, down);
    expect(d.events("influxdb.backfill-started")).toEqual([]);
    expect(d.events("influxdb.backfill-failed")).toStrictEqual([
      { type: "event", kind: "influxdb.backfill-failed", severity: "critical", actor: "engine", group: "influxdb", node: "server1", incident: INCIDENT, reason: `server1 missed ${W} but no live, healthy peer in influxdb can give it back; copy it by hand once one is up` },
    ]);
    expect(backfillPending(d.state, "influxdb", "server1")).toBeNull();
  });

  it("a peer that is healthy by its last report but no longer alive is no source", () => {
    const d = outage();
    // server2's last heartbeat at T0+31000: past T0+34000 it is not alive.
    const [op] = d.desired("server1", T0 + 31_100).operations.filter((o) => o.kind === "influxdb-backfill");
    d.beat("server1", T0 + 34_001, { probes: { influxdb: healthy }, operations: [{ id: op!.id, ok: true, detail: "part", progress: { doneUntilMs: T0 + 11_000, points: 10, complete: false } }] });
    expect(d.events("influxdb.backfill-failed").map((e) => [e.severity, e.incident, e.reason])).toEqual([["critical", INCIDENT, `continue; no live, healthy peer to continue from: server1 misses part of ${W}, copy it by hand (operation op-1-influxdb-backfill)`]]);
    expect(backfillPending(d.state, "influxdb", "server1")).toBeNull();
  });

  it("a failed run with the peer gone unhealthy cannot be retried: said so, critically", () => {
    const d = outage();
    const [op] = d.desired("server1", T0 + 31_100).operations.filter((o) => o.kind === "influxdb-backfill");
    d.beat("server2", T0 + 31_200, { probes: { influxdb: down } });
    d.beat("server1", T0 + 31_300, { probes: { influxdb: healthy }, operations: [{ id: op!.id, ok: false, detail: "ECONNRESET" }] });
    expect(d.events("influxdb.backfill-progress").map((e) => [e.severity, e.reason])).toEqual([["warning", `server1's backfill run 1 of ${W} failed (ECONNRESET); trying again (attempt 2 of 3)`]]);
    expect(d.events("influxdb.backfill-failed").map((e) => e.reason)).toEqual([`retry; no live, healthy peer to continue from: server1 misses part of ${W}, copy it by hand (operation op-1-influxdb-backfill)`]);
  });

  it("an automatic backfill finished in one run says 'run', in two 'runs'", () => {
    const d = outage();
    const [op] = d.desired("server1", T0 + 31_100).operations.filter((o) => o.kind === "influxdb-backfill");
    d.beat("server1", T0 + 31_200, { probes: { influxdb: healthy }, operations: [{ id: op!.id, ok: true, detail: "copied 5 points", progress: { doneUntilMs: T0 + 31_100, points: 5, complete: true } }] });
    expect(d.events("influxdb.backfill-finished").map((e) => e.reason)).toEqual([`server1 has what it missed (${W}) again: 5 points copied in 1 run (copied 5 points)`]);
    expect(backfillPending(d.state, "influxdb", "server1")).toBeNull();
  });

  it("an operator's backfill in several runs is answered under its first id with the points and runs", () => {
    const d = new Driver(spec({ backfillMaxPoints: 1000 }));
    d.beat("server1", 0, { probes: { influxdb: healthy } });
    d.beat("server2", 10, { probes: { influxdb: healthy } });
    d.run({ type: "run-operation", request: { kind: "influxdb-backfill", group: "influxdb", node: "server2", database: "chime", startMs: 1_000, endMs: 61_000 }, actor: "token:ops" }, 100);
    expect(backfillPending(d.state, "influxdb", "server2")).toMatchObject({ phase: "pending", node: "server2" });
    expect(backfillPending(d.state, "influxdb", "server1")).toBeNull();
    expect(backfillPending(d.state, "minio", "server2")).toBeNull();
    d.beat("server2", 200, { probes: { influxdb: healthy }, operations: [{ id: "op-1-influxdb-backfill", ok: true, detail: "10", progress: { doneUntilMs: 31_000, points: 10, complete: false } }] });
    expect(d.events("influxdb.backfill-progress").map((e) => e.reason)).toEqual([`server2 copied 10 points of ${isoTime(1000)} .. ${isoTime(61_000)}, up to ${isoTime(31_000)} (50 %); run 2 continues`]);
    const [op2] = d.desired("server2", 200).operations.filter((o) => o.kind === "influxdb-backfill");
    expect(op2).toMatchObject({ id: "op-2-influxdb-backfill", startMs: 31_000, endMs: 61_000, fromNode: "server1", database: "chime", maxPoints: 1000 });
    d.beat("server2", 300, { probes: { influxdb: healthy }, operations: [{ id: op2!.id, ok: true, detail: "7 more", progress: { doneUntilMs: 61_000, points: 7, complete: true } }] });
    expect(d.events("operation.finished").map((e) => e.reason)).toEqual(["influxdb-backfill on server2 finished: 17 points in 2 runs; 7 more (operation op-1-influxdb-backfill)"]);
    expect(backfillPending(d.state, "influxdb", "server2")).toBeNull();
  });

  it("the next run of a backfill continues from a healthy member of the backfilled group, in a cluster with other groups", () => {
    const d = new Driver();
    const probes = { influxdb: healthy, minio: minioReport(true, true) };
    d.beat("server1", 0, { probes });
    d.beat("server2", 10, { probes });
    d.run({ type: "run-operation", request: { kind: "influxdb-backfill", group: "influxdb", node: "server2", database: "chime", startMs: 1_000, endMs: 61_000 }, actor: "token:ops" }, 100);
    d.beat("server2", 200, { probes, operations: [{ id: "op-1-influxdb-backfill", ok: true, detail: "part", progress: { doneUntilMs: 31_000, points: 5, complete: false } }] });
    expect(d.events("influxdb.backfill-progress").map((e) => [e.severity, e.group, e.node])).toEqual([["info", "influxdb", "server2"]]);
    expect(d.events("influxdb.backfill-failed")).toEqual([]);
    expect(d.desired("server2", 200).operations.filter((o) => o.kind === "influxdb-backfill")).toEqual([expect.objectContaining({ id: "op-2-influxdb-backfill", fromNode: "server1", startMs: 31_000 })]);
  });

  it("an automatic backfill's start is an info event of the outage's incident", () => {
    const d = outage();
    expect(d.events("influxdb.backfill-started").map((e) => [e.severity, e.group, e.node, e.incident])).toEqual([["info", "influxdb", "server1", INCIDENT]]);
  });
});
