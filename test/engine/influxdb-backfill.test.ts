// influxdb-read: the outage window starts at the probe's last success (the report says how long
// ago), the returning instance copies it back by itself (influxdb.autoBackfill, default on) in
// bounded runs with progress events, is retried a few times when a run fails, and stays out of
// the read VIP until it has everything, while a complete peer can serve. Pure.
import { describe, expect, it } from "vitest";
import type { Operation } from "../../protocol/heartbeat.js";
import { isoTime } from "../../worker/engine/liveness.js";
import { dataSpec, down, Driver, healthy } from "./support/data-spec.js";

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);
type Backfill = Extract<Operation, { kind: "influxdb-backfill" }>;
const backfills = (d: Driver, node: string, t: number) => d.desired(node, t).operations.filter((o): o is Backfill => o.kind === "influxdb-backfill");

/** influxdb only; server1 (priority 110) with preemption so a held-back return is visible. */
function spec(influxdb: Record<string, unknown> = {}) {
  const base = dataSpec();
  return dataSpec({
    ...base,
    policy: { ...base.policy, preempt: { enabled: true, delayMs: 0 } },
    groups: base.groups.filter((g) => g.name === "influxdb").map((g) => ({ ...g, influxdb: { autoBackfill: true, databases: [], holdReadVipUntilBackfilled: true, backfillMaxPoints: 10_000, ...influxdb } })),
  });
}

/** server1 holds the read VIP; its influxd dies at T0+1000 (last good probe 300 ms before the report) and is back at T0+31000. */
function outage(s = spec()): Driver {
  const d = new Driver(s, T0);
  d.beat("server1", T0, { probes: { influxdb: healthy } });
  d.beat("server2", T0, { probes: { influxdb: healthy } });
  expect(d.holder("influxdb")).toBe("server1");
  d.beat("server1", T0 + 1300, { probes: { influxdb: { ...down, downForMs: 300 } } });
  d.beat("server1", T0 + 1400, { probes: { influxdb: down }, released: [{ group: "influxdb", epoch: 1 }] });
  expect(d.holder("influxdb")).toBe("server2");
  for (let t = T0 + 2000; t <= T0 + 31_000; t += 1000) {
    d.beat("server1", t, { probes: { influxdb: down } });
    d.beat("server2", t, { probes: { influxdb: healthy } });
  }
  d.beat("server1", T0 + 31_100, { probes: { influxdb: healthy } });
  return d;
}

describe("influxdb-read: automatic backfill", () => {
  it("the window starts at the last successful probe and ends with the first healthy report", () => {
    const d = outage();
    const w = d.events("influxdb.outage-window");
    expect(w).toHaveLength(1);
    expect(w[0]!.reason).toBe(`influxdb on server1 missed writes from ${isoTime(T0 + 1000)} to ${isoTime(T0 + 31_100)} (30.1 s); copying it back from a healthy peer`);
  });

  it("copies the window from the healthy peer in bounded runs, with progress, then the instance may serve reads again", () => {
    const d = outage();
    const started = d.events("influxdb.backfill-started");
    expect(started.map((e) => e.reason)).toEqual([`server1 copies what it missed (${isoTime(T0 + 1000)} .. ${isoTime(T0 + 31_100)}, every database) from server2, at most 10000 points per run (operation op-1-influxdb-backfill)`]);
    const [op1] = backfills(d, "server1", T0 + 31_100);
    expect(op1).toEqual({ id: "op-1-influxdb-backfill", requestedBy: "engine", kind: "influxdb-backfill", group: "influxdb", fromNode: "server2", fromUrl: "http://192.168.231.12:8086", database: "*", startMs: T0 + 1000, endMs: T0 + 31_100, maxPoints: 10_000 });
    expect(backfills(d, "server2", T0 + 31_100)).toEqual([]);
    // Higher priority and healthy, but still backfilling: not preempting, not a candidate.
    d.beat("server2", T0 + 31_400, { probes: { influxdb: healthy } });
    d.beat("server1", T0 + 31_500, { probes: { influxdb: healthy } });
    expect(d.holder("influxdb")).toBe("server2");
    // Run 1 stops at its bound a third of the way in; run 2 continues from there.
    d.beat("server1", T0 + 32_000, { probes: { influxdb: healthy }, operations: [{ id: op1!.id, ok: true, detail: "copied 10000 points", progress: { doneUntilMs: T0 + 11_000, points: 10_000, complete: false } }] });
    expect(d.events("influxdb.backfill-progress").map((e) => e.reason)).toEqual([`server1 copied 10000 points of ${isoTime(T0 + 1000)} .. ${isoTime(T0 + 31_100)}, up to ${isoTime(T0 + 11_000)} (33 %); run 2 continues`]);
    const [op2] = backfills(d, "server1", T0 + 32_000);
    expect(op2).toMatchObject({ startMs: T0 + 11_000, endMs: T0 + 31_100, fromNode: "server2" });
    expect(op2!.id).not.toBe(op1!.id);
    expect(d.holder("influxdb")).toBe("server2");
    // A failed run is retried from where it started.
    d.beat("server2", T0 + 33_000, { probes: { influxdb: healthy } });
    d.beat("server1", T0 + 33_000, { probes: { influxdb: healthy }, operations: [{ id: op2!.id, ok: false, detail: "write to http://127.0.0.1:8086: http 500" }] });
    const [op3] = backfills(d, "server1", T0 + 33_000);
    expect(op3).toMatchObject({ startMs: T0 + 11_000 });
    expect(d.events("influxdb.backfill-progress").at(-1)!.reason).toContain("run 2 of");
    expect(d.events("influxdb.backfill-progress").at(-1)!.reason).toContain("failed (write to http://127.0.0.1:8086: http 500); trying again (attempt 2 of 3)");
    d.beat("server1", T0 + 34_000, { probes: { influxdb: healthy }, operations: [{ id: op3!.id, ok: true, detail: "copied 20100 points", progress: { doneUntilMs: T0 + 31_100, points: 20_100, complete: true } }] });
    const fin = d.events("influxdb.backfill-finished");
    expect(fin).toHaveLength(1);
    expect(fin[0]).toMatchObject({ severity: "info", resolves: true, incident: `influxdb-gap:influxdb:server1:${T0 + 1000}` });
    expect(fin[0]!.reason).toBe(`server1 has what it missed (${isoTime(T0 + 1000)} .. ${isoTime(T0 + 31_100)}) again: 30100 points copied in 2 runs (copied 20100 points)`);
    expect(backfills(d, "server1", T0 + 34_000)).toEqual([]);
    // Complete again: the higher-priority instance takes the read VIP back (preemption).
    d.beat("server2", T0 + 34_400, { probes: { influxdb: healthy } });
    d.beat("server1", T0 + 34_500, { probes: { influxdb: healthy } });
    expect(d.state.groups.influxdb!.revokeTo).toBe("server1");
  });

  it("a backfill that keeps failing is given up after 3 attempts, critically, and the hold ends", () => {
    const d = outage();
    for (let attempt = 1; attempt <= 3; attempt++) {
      const [op] = backfills(d, "server1", T0 + 32_000 + attempt * 1000);
      d.beat("server2", T0 + 32_000 + attempt * 1000, { probes: { influxdb: healthy } });
      d.beat("server1", T0 + 32_000 + attempt * 1000, { probes: { influxdb: healthy }, operations: [{ id: op!.id, ok: false, detail: "query on http://192.168.231.12:8086: ECONNRESET" }] });
    }
    expect(backfills(d, "server1", T0 + 36_000)).toEqual([]);
    const failed = d.events("influxdb.backfill-failed");
    expect(failed).toHaveLength(1);
    expect(failed[0]!.severity).toBe("critical");
    expect(failed[0]!.reason).toContain("failed 3 times (query on http://192.168.231.12:8086: ECONNRESET); it serves reads again with a gap from");
    d.beat("server2", T0 + 36_400, { probes: { influxdb: healthy } });
    d.beat("server1", T0 + 36_500, { probes: { influxdb: healthy } });
    expect(d.state.groups.influxdb!.revokeTo).toBe("server1");
  });

  it("with no other complete instance, the backfilling one serves reads (incomplete beats none)", () => {
    const d = outage();
    expect(backfills(d, "server1", T0 + 31_100)).toHaveLength(1);
    for (let t = T0 + 32_000; t <= T0 + 40_000; t += 1000) d.beat("server1", t, { probes: { influxdb: healthy } });
    expect(d.holder("influxdb")).toBe("server1");
  });

  it("autoBackfill off: only the event, as before", () => {
    const d = outage(spec({ autoBackfill: false }));
    expect(d.events("influxdb.outage-window")[0]!.reason).toMatch(/; backfill it from the healthy peer$/);
    expect(backfills(d, "server1", T0 + 31_100)).toEqual([]);
  });
});
