// Failover drills asked for by an operator (worker/engine/drills.ts), on a two-server cluster with
// heartbeats driven by hand: why a drill cannot start (exact reasons), the moves out and back with
// their times, the return after `returnAfterMs` and not a millisecond earlier, the instants the
// engine must look again (a move's timeout: 15 s at least, 3 (T + margin) when longer), and how a
// drill fails or passes when something else happens meanwhile.
import { describe, expect, it } from "vitest";
import type { ProbeReport } from "../../protocol/heartbeat.js";
import { drillDeadlines, drillObstacle } from "../../worker/engine/drills.js";
import { API_GROUP, Shell, smallSpec } from "./support/small-spec.js";

const OK: ProbeReport = { healthy: true, detail: "ok" };
const DOWN: ProbeReport = { healthy: false, detail: "http 503" };

/** Both servers heartbeat every second from `from` to `to`, each reporting what it holds. */
function beats(sh: Shell, from: number, to: number, probes: Record<string, Record<string, ProbeReport>> = {}): void {
  for (let t = from; t <= to; t += 1000) {
    for (const n of ["server1", "server2"]) {
      const g = sh.state.groups.api!;
      const holding = g.holder === n ? [{ group: "api", epoch: g.epoch }] : [];
      const released = g.holder === n && g.phase === "revoking" ? [{ group: "api", epoch: g.epoch }] : [];
      sh.beat(n, t, { probes: probes[n] ?? { api: OK }, holding: released.length ? [] : holding, released });
    }
  }
}

function cluster(spec = smallSpec()): Shell {
  const sh = new Shell(spec);
  beats(sh, 0, 2000);
  expect(sh.holder("api")).toBe("server1");
  expect(sh.state.groups.api!.confirmedEpoch).toBe(1);
  return sh;
}

const drill = (sh: Shell, at: number, returnAfterMs?: number) => sh.run({ type: "drill", group: "api", actor: "bob", ...(returnAfterMs === undefined ? {} : { returnAfterMs }) }, at);
const api = (sh: Shell) => sh.state.persisted.spec.groups[0]!;

describe("drills asked for by an operator", () => {
  it("moves out, holds for returnAfterMs from the moment the target serves, moves back, and says how long each move took", () => {
    const sh = cluster();
    const r = drill(sh, 2500, 5000);
    expect(r.rejected).toBeUndefined();
    expect(sh.state.groups.api).toMatchObject({ phase: "revoking", revokeTo: "server2" });
    expect(sh.events("group.revoking").at(-1)!.reason).toBe("failover drill (asked by bob): api moves to server2 and back to server1 after 5.0 s; revoking api epoch 1 from server1 for server2");
    // The move out: its timeout is the next instant to look at (15 s: 3 x 3.5 s is less).
    expect(drillDeadlines(sh.state, 2500)).toEqual([{ at: 17_500, movedBy: null }]);
    expect(drillObstacle(sh.state, api(sh), 2600)).toBe("a drill of api is already running");
    expect(drill(sh, 2600).rejected).toBe("drill of api refused: a drill of api is already running");
    beats(sh, 3000, 4000);
    expect(sh.holder("api")).toBe("server2");
    const run = sh.state.persisted.drills.api!.run!;
    expect(run).toMatchObject({ phase: "hold", from: "server1", to: "server2", startedAt: 2500, trigger: "bob" });
    const outAt = run.outAt!;
    expect(drillDeadlines(sh.state, outAt)).toEqual([{ at: outAt + 5000, movedBy: "server2" }]);
    // Not back a millisecond early (heartbeats go on meanwhile).
    beats(sh, 5000, outAt + 4000);
    const hb = (n: string, t: number) => sh.beat(n, t, { probes: { api: OK }, holding: sh.holder("api") === n ? [{ group: "api", epoch: sh.state.groups.api!.epoch }] : [] });
    hb("server2", outAt + 4999);
    expect(sh.state.groups.api!.phase).toBe("held");
    hb("server1", outAt + 5000);
    expect(sh.state.groups.api).toMatchObject({ phase: "revoking", revokeTo: "server1" });
    expect(sh.events("group.revoking").at(-1)!.reason).toBe(`failover drill: api moves back to server1 after 5.0 s on server2; revoking api epoch 2 from server2 for server1`);
    expect(sh.state.persisted.drills.api!.run).toMatchObject({ phase: "back", backAt: outAt + 5000 });
    expect(drillDeadlines(sh.state, outAt + 5000)).toEqual([{ at: outAt + 5000 + 15_000, movedBy: null }]);
    beats(sh, outAt + 5500, outAt + 7500);
    expect(sh.holder("api")).toBe("server1");
    const passed = sh.events("drill.passed");
    expect(passed).toHaveLength(1);
    expect(passed[0]).toMatchObject({ severity: "info", group: "api", actor: "drill", incident: "drill:api", resolves: true });
    // Out: revoked at 2500, released and served by server2 at 3000 (no gap). Back: revoked at 8000,
    // released at 8500, reported up by server1 at 9500 (1 s without service).
    expect(outAt).toBe(3000);
    expect(passed[0]!.reason).toBe("drill of api passed: moved server1 -> server2 in 500 ms (0 ms without service); back server2 -> server1 in 1500 ms (1000 ms without service) after 5.0 s");
    expect(sh.state.persisted.drills.api).toMatchObject({ lastAt: 2500, lastOk: true, run: null, lastResult: passed[0]!.reason });
    expect(drillDeadlines(sh.state, outAt + 8000)).toEqual([]);
  });

  it("a move's timeout is 3 x (T + margin) when that is longer than 15 s", () => {
    const sh = cluster(smallSpec({ policy: { leaseTtlMs: 5000, driftMarginMs: 1000, heartbeatIntervalMs: 1000 } }));
    drill(sh, 2500, 5000);
    expect(drillDeadlines(sh.state, 2500)).toEqual([{ at: 2500 + 18_000, movedBy: null }]);
  });

  it("a move that never completes fails at its timeout, and says where it got stuck", () => {
    const sh = cluster();
    drill(sh, 2500, 5000);
    // server1 never releases (it keeps serving until its lease runs out at 5.5 s, api goes to
    // server2), server2 never reports it up.
    for (let t = 3000; t <= 17_000; t += 1000) {
      sh.beat("server1", t, { probes: { api: OK }, holding: t <= 5000 ? [{ group: "api", epoch: 1 }] : [] });
      sh.beat("server2", t, { probes: { api: OK } });
    }
    expect(sh.events("drill.failed")).toEqual([]);
    sh.tick(17_499);
    expect(sh.events("drill.failed")).toEqual([]);
    sh.tick(17_500);
    expect(sh.events("drill.failed").map((e) => [e.severity, e.incident, e.reason])).toEqual([["critical", "drill:api", "drill of api failed: the move server1 -> server2 did not complete in 15.0 s (api granted to server2 at epoch 2; not yet reported up)"]]);
    expect(sh.state.persisted.drills.api).toMatchObject({ lastOk: false, run: null, lastAt: 2500 });
  });

  it("the target going silent before it reports the group up fails the drill, naming why", () => {
    const sh = cluster();
    drill(sh, 2500, 5000);
    sh.beat("server1", 3000, { probes: { api: OK }, released: [{ group: "api", epoch: 1 }] });
    expect(sh.holder("api")).toBe("server2");
    // server2 never beats again; server1 goes on.
    for (let t = 3000; t <= 12_000; t += 1000) sh.beat("server1", t, { probes: { api: OK } });
    expect(sh.events("drill.failed").map((e) => e.reason)).toEqual(["drill of api failed while moving server1 -> server2: server2 (holder of api) went silent after its heartbeat at 1970-01-01T00:00:02.000Z"]);
  });

  it("a drill whose spec names the holder as target is refused: it already holds the group", () => {
    const sh = cluster(smallSpec({ edit: (s) => void (s.drills = [{ group: "api", every: "7d", window: "Sun 02:00-04:00 UTC", to: "server1" }]) }));
    expect(drill(sh, 2500).rejected).toBe("drill of api refused: server1 already holds api");
  });

  it("the target turning unhealthy during the hold ends the drill as failed", () => {
    const sh = cluster();
    drill(sh, 2500, 30_000);
    beats(sh, 3000, 4000);
    expect(sh.state.persisted.drills.api!.run!.phase).toBe("hold");
    beats(sh, 5000, 9000, { server2: { api: DOWN } });
    const failed = sh.events("drill.failed");
    expect(failed).toHaveLength(1);
    // (server2 still holds it while the group is being moved away, hence "now server2".)
    expect(failed[0]!.reason).toMatch(/^drill of api failed: it left server2 during the drill \(now server2, .+\); moved server1 -> server2 in 500 ms \(0 ms without service\)$/);
    expect(failed[0]).toMatchObject({ severity: "critical", incident: "drill:api", actor: "drill" });
    expect(sh.state.persisted.drills.api).toMatchObject({ lastAt: 2500, lastOk: false, run: null });
  });

  it("at the return, a holder that is no longer fit to take it back: the group stays and the drill passed", () => {
    const sh = cluster();
    drill(sh, 2500, 5000);
    beats(sh, 3000, 4000);
    const outAt = sh.state.persisted.drills.api!.run!.outAt!;
    beats(sh, 5000, outAt + 5000, { server1: { api: DOWN } });
    expect(sh.holder("api")).toBe("server2");
    expect(sh.events("drill.passed").map((e) => e.reason)).toEqual([expect.stringMatching(/; stays on server2 \(server1's probe for api is failing \(http 503\)\)$/)]);
  });
});

describe("why a drill cannot start", () => {
  it("no such group is a plain refusal, no event", () => {
    const sh = cluster();
    expect(sh.run({ type: "drill", group: "nope", actor: "bob" }, 2500).rejected).toBe("no group 'nope'");
    expect(sh.events("drill.refused")).toEqual([]);
  });

  it("a refused drill is a warning event about the group, by the operator who asked", () => {
    const sh = cluster();
    sh.run({ type: "maintenance", node: null, on: true, actor: "op" }, 2400);
    drill(sh, 2500);
    expect(sh.events("drill.refused")).toStrictEqual([{ type: "event", kind: "drill.refused", severity: "warning", actor: "bob", group: "api", incident: "drill:api", reason: "drill of api refused: the cluster is in maintenance" }]);
  });

  it("a group without a holder, or with a move under way", () => {
    const sh = new Shell(smallSpec());
    expect(drillObstacle(sh.state, api(sh), 0)).toBe("api has no holder");
    const c = cluster();
    c.run({ type: "switchover", group: "api", to: "server2", actor: "op" }, 2500);
    expect(drillObstacle(c.state, api(c), 2500)).toBe("a move of api from server1 is already under way");
  });

  it("a shadow group is never drilled", () => {
    const sh = new Shell(smallSpec({ groups: [{ ...API_GROUP, shadow: true }] }));
    expect(drillObstacle(sh.state, api(sh), 0)).toBe("api is in shadow mode (the HA system in place serves it)");
  });

  it("a holder that has not reported the group up yet", () => {
    const sh = new Shell(smallSpec());
    for (let t = 0; t <= 2000; t += 1000) {
      sh.beat("server1", t, { probes: { api: OK } });
      sh.beat("server2", t, { probes: { api: OK } });
    }
    expect(sh.holder("api")).toBe("server1");
    expect(drillObstacle(sh.state, api(sh), 2000)).toBe("server1 has not reported api up yet");
  });

  it("a member failing to apply something for 3 s", () => {
    const sh = cluster();
    const lb = { target: "lb", command: "ipvsadm -R", exitCode: 1, stderrTail: "", since: 0 };
    sh.beat("server2", 2100, { probes: { api: OK }, applyErrors: [lb] });
    sh.beat("server2", 5100, { probes: { api: OK }, applyErrors: [lb] });
    sh.beat("server1", 5100, { probes: { api: OK }, holding: [{ group: "api", epoch: 1 }] });
    expect(drillObstacle(sh.state, api(sh), 5100)).toBe("server2 cannot apply lb");
    sh.beat("server2", 5200, { probes: { api: OK }, applyErrors: [{ ...lb, group: "api" }] });
    sh.beat("server2", 8200, { probes: { api: OK }, applyErrors: [{ ...lb, group: "api" }] });
    sh.beat("server1", 8200, { probes: { api: OK }, holding: [{ group: "api", epoch: 1 }] });
    expect(drillObstacle(sh.state, api(sh), 8200)).toBe("server2 cannot apply lb for api");
  });

  it("during hold-down after an automatic failover, saying how long ago and for how much longer", () => {
    const sh = cluster();
    beats(sh, 3000, 5000, { server1: { api: DOWN } });
    expect(sh.holder("api")).toBe("server2");
    const at = sh.state.groups.api!.lastAutoFailoverAt!;
    beats(sh, 6000, 7000);
    expect(drillObstacle(sh.state, api(sh), at + 9999)).toBe("api failed over 10.0 s ago and is in hold-down for 0.0 s more");
    expect(drillObstacle(sh.state, api(sh), at + 10_000)).not.toMatch(/hold-down/);
  });
});
