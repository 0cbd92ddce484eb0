// The fleet roll-up: one word per cluster from its status, worst first, with reasons that do not
// change from poll to poll while nothing happens (so the fleet's ETag holds).
import { describe, expect, it } from "vitest";
import { compareRollups, rollUp } from "../../protocol/rollup.js";
import type { ClusterStatus } from "../../protocol/status.js";

function status(over: (s: ClusterStatus) => void = () => {}): ClusterStatus {
  const probes = { api: { healthy: true, detail: "http 200 in 3 ms" }, db: { healthy: true, detail: "ok" } };
  const s: ClusterStatus = {
    specVersion: 1,
    maintenance: false,
    restartGraceLeftMs: 0,
    groups: [
      { name: "api", mode: "active-standby", vip: "10.0.0.10", holder: "s1", epoch: 1, phase: "held", leaseLeftMs: 2000, revokeTo: null, members: [] },
      { name: "db", mode: "mysql-writer", vip: "10.0.0.30", holder: "s1", epoch: 3, phase: "held", leaseLeftMs: 2000, revokeTo: null, members: [] },
    ],
    nodes: [
      { name: "s1", role: "server", alive: true, lastHeartbeatAgoMs: 100, maintenance: false, probes: structuredClone(probes) },
      { name: "s2", role: "server", alive: true, lastHeartbeatAgoMs: 400, maintenance: false, probes: structuredClone(probes) },
      { name: "c1", role: "compute", alive: true, lastHeartbeatAgoMs: 300, maintenance: false, probes: {}, computePhase: "alive" },
    ],
    decisions: [],
  };
  over(s);
  return s;
}

describe("rollUp", () => {
  it("is healthy when every group is held by a live node whose probe passes", () => {
    expect(rollUp(status())).toEqual({ state: "healthy", reasons: [], groups: { total: 2, held: 2, healthy: 2 }, nodes: { total: 3, alive: 3 }, maintenance: false });
  });

  it("is no-holder when any group lacks a holder, and says which first", () => {
    const r = rollUp(status((s) => ((s.groups[1]!.holder = null), (s.groups[1]!.phase = "free"), (s.nodes[1]!.alive = false))));
    expect(r.state).toBe("no-holder");
    expect(r.reasons).toEqual(["db: no holder", "s2: not alive"]);
  });

  it("is degraded for a failing holder probe, a move in progress, a dead standby, maintenance or a fenced compute", () => {
    const cases: [(s: ClusterStatus) => void, string][] = [
      [(s) => (s.nodes[0]!.probes.api = { healthy: false, detail: "http 503" }), "api: holder s1's probe is failing (http 503)"],
      [(s) => ((s.groups[0]!.phase = "revoking"), (s.groups[0]!.revokeTo = "s2")), "api: moving from s1 to s2"],
      [(s) => ((s.nodes[1]!.alive = false), (s.nodes[1]!.lastHeartbeatAgoMs = null)), "s2: no heartbeat yet"],
      [(s) => (s.nodes[1]!.maintenance = true), "s2: in maintenance"],
      [(s) => (s.maintenance = true), "cluster maintenance: decisions frozen"],
      [(s) => ((s.nodes[2]!.alive = false), (s.nodes[2]!.computePhase = "fence-failed (no fence configured)")), "c1: fence-failed (no fence configured)"],
      [(s) => ((s.groups[0]!.health = "degraded"), (s.groups[0]!.reason = "s1 cannot apply ipvs for api")), "api: s1 cannot apply ipvs for api"],
    ];
    for (const [change, reason] of cases) {
      const r = rollUp(status(change));
      expect(r.state, reason).toBe("degraded");
      expect(r.reasons, reason).toContain(reason);
    }
  });

  it("does not change with the clock: heartbeat ages and lease left are not in it", () => {
    const a = rollUp(status((s) => (s.nodes[1]!.alive = false)));
    const b = rollUp(status((s) => ((s.nodes[1]!.alive = false), (s.nodes[1]!.lastHeartbeatAgoMs = 99_000), (s.groups[0]!.leaseLeftMs = 5))));
    expect(b).toEqual(a);
  });

  it("is unknown without live state, and sorts worst first", () => {
    expect(rollUp(null).state).toBe("unknown");
    const items = [
      { id: "b", rollup: rollUp(status()) },
      { id: "a", rollup: rollUp(status()) },
      { id: "z", rollup: rollUp(status((s) => (s.maintenance = true))) },
      { id: "u", rollup: rollUp(null) },
      { id: "n", rollup: rollUp(status((s) => (s.groups[0]!.holder = null))) },
    ];
    expect(items.sort(compareRollups).map((i) => i.id)).toEqual(["n", "u", "z", "a", "b"]);
  });
});
