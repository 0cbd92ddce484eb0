// The availability ledger, error budgets, burn-rate alerts and failover drills, on the pure engine
// with scripted outages at exact times: every figure here is computed by hand. Whole months:
// availability-month.long.test.ts.
import { describe, expect, it } from "vitest";
import { validateSpec } from "../../protocol/spec.js";
import { drillDeadlines } from "../../worker/engine/drills.js";
import { AvailSim, availSpec, DOWN, OK, utc } from "./support/avail-sim.js";

const MIN = 60_000;

describe("availability ledger", () => {
  it("a crashed holder: the outage runs from its last heartbeat; time to grant T + margin, time to recover until the new holder reports it up", () => {
    const spec = availSpec();
    const t0 = utc(2026, 11, 2, 9);
    const sim = new AvailSim(spec, t0);
    sim.up = new Set(["server1", "server2"]);
    sim.beatsEvery("server1", t0, t0 + 20_000, 1000);
    sim.beatsEvery("server2", t0, t0 + 60_000, 1000, 100);
    sim.at(t0 + 20_000, () => sim.up.delete("server1")); // last heartbeat at t0 + 19 000
    sim.runUntil(t0 + 60_000);
    const r = sim.report(t0, t0 + 60_000).groups[0]!;
    const outage = r.intervals.find((i) => i.kind === "down")!;
    // Lease ends at 19 000 + 3 000 (+ 500 margin): the alarm fires at 22 500 exactly and grants to
    // server2, which is pushed and heartbeats 5 ms later (gets the grant), then 30 ms later reports it up.
    expect(outage).toMatchObject({
      start: t0 + 19_000,
      end: t0 + 22_535,
      grantedAt: t0 + 22_500,
      grantedTo: "server2",
      timeToGrantMs: 3500,
      timeToRecoverMs: 3535,
      startReason: "server1 (holder of server-api) went silent after its heartbeat at 2026-11-02T09:00:19.000Z",
      endReason: "server2 serves server-api at epoch 2",
    });
    expect(r.downMs).toBe(3535);
    expect(r.mttgMs).toBe(3500);
  });

  it("a planned switchover is planned time, not downtime; an operator's move is named", () => {
    const sim = new AvailSim(availSpec(), utc(2026, 11, 3));
    const t0 = utc(2026, 11, 3);
    sim.up = new Set(["server1", "server2"]);
    sim.beatsEvery("server1", t0, t0 + 30_000, 1000);
    sim.beatsEvery("server2", t0, t0 + 30_000, 1000, 100);
    sim.at(t0 + 10_500, () => sim.input({ type: "switchover", group: "server-api", to: "server2", actor: "alice" }));
    sim.runUntil(t0 + 30_000);
    const r = sim.report(t0, t0 + 30_000).groups[0]!;
    expect(r.downMs).toBe(0);
    expect(r.availability).toBe(100);
    // The revoke is pushed to server1 (it heartbeats 5 ms later and is told to release), it drops
    // the VIP and reports it 50 ms later (10 555: server2 granted, pushed), server2 heartbeats 5 ms
    // later, takes the VIP and reports it up 30 ms after that.
    expect(r.plannedMs).toBe(35);
    expect(r.intervals.find((i) => i.kind === "planned")).toMatchObject({ start: t0 + 10_555, end: t0 + 10_590, plannedBy: "switchover by alice", grantedTo: "server2" });
  });

  it("a holder cut off from the control plane that kept the group under failsafe: the silence is counted as served", () => {
    const spec = availSpec((s) => void (s.policy = { ...s.policy, failsafe: true }));
    const t0 = utc(2026, 11, 4);
    const sim = new AvailSim(spec, t0);
    sim.up = new Set(["server1", "server2"]);
    // server1 is cut off from the control plane from 5 000 to 9 000: its last heartbeat is at 4 000;
    // server2 promised not to take server-api, so it refuses the grant the lease expiry brings.
    sim.beatsEvery("server1", t0, t0 + 5000, 1000);
    sim.beatsEvery("server1", t0 + 9000, t0 + 20_000, 1000);
    sim.beatsEvery("server2", t0, t0 + 20_000, 1000, 100);
    sim.at(t0 + 4500, () => {
      sim.up.delete("server1"); // nothing from it reaches the control plane
      sim.keep.add("server1"); // its peer's promises keep its lease going
      sim.refuse.server2 = new Set(["server-api"]);
    });
    sim.at(t0 + 8999, () => sim.up.add("server1"));
    // The cut heals: server1 learns the group moved, releases it and its promise (50 ms later).
    sim.at(t0 + 9050, () => (sim.refuse.server2 = new Set()));
    sim.runUntil(t0 + 20_000);
    const r = sim.report(t0, t0 + 20_000).groups[0]!;
    expect(r.intervals.map((i) => [i.kind, i.start - t0, i.end === null ? null : i.end - t0])).toEqual([
      ["up", 30, 4000],
      ["up", 4000, 9000],
      ["down", 9000, 9130],
      ["up", 9130, null],
    ]);
    expect(r.intervals[1]!.startReason).toBe("server1 (holder of server-api) went silent after its heartbeat at 2026-11-04T00:00:04.000Z, but kept server-api at epoch 1 under failsafe (its peers' promises)");
    expect(r.intervals[2]).toMatchObject({ startReason: "server-api granted to server2 at epoch 2; not yet reported up", endReason: "server2 serves server-api at epoch 2" });
    expect(r.downMs).toBe(130);
  });

  it("a Durable Object restart: no interval, no write while the holder reports within the grace; a holder never heard again is down from the restart", () => {
    const t0 = utc(2026, 11, 5);
    const sim = new AvailSim(availSpec(), t0);
    sim.up = new Set(["server1", "server2"]);
    sim.beatsEvery("server1", t0, t0 + 10_000, 1000);
    sim.beatsEvery("server2", t0, t0 + 10_000, 1000, 100);
    sim.runUntil(t0 + 9500);
    const writes = sim.persists;
    sim.restart(t0 + 9600);
    sim.runUntil(t0 + 10_000);
    sim.beatsEvery("server1", t0 + 10_000, t0 + 20_000, 1000);
    sim.beatsEvery("server2", t0 + 10_000, t0 + 20_000, 1000, 100);
    sim.runUntil(t0 + 20_000);
    expect(sim.persists).toBe(writes);
    expect(sim.report(t0, t0 + 20_000).groups[0]!.intervals.map((i) => i.kind)).toEqual(["up"]);
    // Restart again; now server1 never comes back (server2 does).
    sim.restart(t0 + 20_500);
    sim.up.delete("server1");
    sim.beatsEvery("server2", t0 + 21_000, t0 + 40_000, 1000, 100);
    sim.runUntil(t0 + 40_000);
    const down = sim.report(t0, t0 + 40_000).groups[0]!.intervals.find((i) => i.kind === "down")!;
    // Grace: boot + T + M = 24 000; the outage is dated from the restart (nothing later is known).
    expect(down).toMatchObject({ start: t0 + 20_500, grantedAt: t0 + 24_000, startReason: "server1 (holder of server-api) has not sent a heartbeat since the control plane started at 2026-11-05T00:00:20.500Z" });
  });
});

describe("error budget burn alerts", () => {
  it("a 5-minute outage at 99.5 %: the fast page fires once 259.2 s are down in the hour, resolves when the 5-minute burn falls under 14.4x", () => {
    const t0 = utc(2026, 11, 6, 8);
    const sim = new AvailSim(availSpec(), t0);
    sim.up = new Set(["server1", "server2"]);
    sim.beatsEvery("server1", t0, t0 + 20 * MIN, 1000);
    sim.beatsEvery("server2", t0, t0 + 20 * MIN, 1000, 100);
    const start = t0 + 60_000;
    sim.at(start - 1, () => {
      sim.probes.server1!["server-api"] = DOWN();
      sim.probes.server2!["server-api"] = DOWN();
    });
    sim.at(start + 300_000 - 1, () => {
      sim.probes.server1!["server-api"] = OK;
      sim.probes.server2!["server-api"] = OK;
    });
    sim.runUntil(t0 + 20 * MIN);
    const burns = sim.events.filter((e) => e.kind.startsWith("sla."));
    expect(burns.map((e) => [e.kind, e.severity])).toEqual([
      ["sla.burn", "critical"],
      ["sla.burn-stopped", "info"],
    ]);
    // 14.4 x 0.5 % of an hour = 259.2 s: the first heartbeat at or after start + 259.2 s.
    const fired = sim.state.decisions.find((d) => d.kind === "sla.burn")!;
    expect(fired.at).toBe(start + 260_000);
    expect(burns[0]!.reason).toBe(
      "server-api burns its error budget 14.4x as fast as its 99.5 % target allows: 4.3 min down in the last 1 h, 173.3x over the last 5 min (alert at 14.4x on both); the 30-day budget is 3.6 h",
    );
    expect(burns[0]!.incident).toBe("sla-page:server-api");
    // After the end (start + 300 s): the 5-minute window holds less than 21.6 s of it from start + 578.4 s.
    expect(sim.state.decisions.find((d) => d.kind === "sla.burn-stopped")!.at).toBe(start + 579_000);
    expect(burns[1]).toMatchObject({ resolves: true, incident: "sla-page:server-api" });
  });
});

describe("failover drills", () => {
  const drillSpec = (window = "Sun 02:00-04:00 UTC") => availSpec((s) => void (s.drills = [{ group: "server-api", every: "7d", window, returnAfter: "60s" }]));

  it("runs in its window (Sun 02:00 UTC): to the best candidate and back after 60 s, measured; planned time apart from downtime; once per period", () => {
    // 2026-11-01 is a Sunday.
    const t0 = utc(2026, 11, 1, 1, 58);
    const sim = new AvailSim(drillSpec(), t0);
    sim.up = new Set(["server1", "server2"]);
    sim.beatsEvery("server1", t0, utc(2026, 11, 1, 4, 30), 1000);
    sim.beatsEvery("server2", t0, utc(2026, 11, 1, 4, 30), 1000, 100);
    sim.runUntil(utc(2026, 11, 1, 1, 59, 59));
    // The next opening is a deadline the holder's heartbeats reach (an alarm only if it is late).
    expect(drillDeadlines(sim.state, sim.now)).toEqual([{ at: utc(2026, 11, 1, 2), movedBy: "server1" }]);
    expect(sim.kinds("group.revoking")).toEqual([]);
    sim.runUntil(utc(2026, 11, 1, 4, 30));
    const passed = sim.kinds("drill.passed");
    expect(passed.map((e) => e.reason)).toEqual([
      "drill of server-api passed: moved server1 -> server2 in 85 ms (35 ms without service); back server2 -> server1 in 85 ms (35 ms without service) after 60.0 s",
    ]);
    expect(sim.kinds("group.revoking").map((e) => [e.reason, e.actor])).toEqual([
      ["failover drill (scheduled): server-api moves to server2 and back to server1 after 60.0 s; revoking server-api epoch 1 from server1 for server2", "drill"],
      ["failover drill: server-api moves back to server1 after 60.0 s on server2; revoking server-api epoch 2 from server2 for server1", "drill"],
    ]);
    expect(sim.group()).toEqual({ holder: "server1", epoch: 3, phase: "held" });
    const r = sim.report(utc(2026, 11, 1), utc(2026, 11, 1, 4, 30)).groups[0]!;
    expect([r.downMs, r.plannedMs, r.availability]).toEqual([0, 70, 100]);
    expect(r.intervals.filter((i) => i.kind === "planned").map((i) => [i.start - utc(2026, 11, 1, 2), i.end! - utc(2026, 11, 1, 2), i.plannedBy])).toEqual([
      [50, 85, "drill"],
      [60_150, 60_185, "drill"],
    ]);
    expect(r.drill).toMatchObject({ every: "7d", window: "Sun 02:00-04:00 UTC", lastAt: utc(2026, 11, 1, 2), lastOk: true, running: null });
    // Once per period: the next is next Sunday's window.
    expect(drillDeadlines(sim.state, sim.now)).toEqual([{ at: utc(2026, 11, 8, 2), movedBy: "server1" }]);
  });

  it("refused while a member is unhealthy (said once per window), run once it is healthy again within the window", () => {
    const t0 = utc(2026, 11, 8, 1, 59);
    const sim = new AvailSim(drillSpec(), t0);
    sim.up = new Set(["server1", "server2"]);
    sim.beatsEvery("server1", t0, utc(2026, 11, 8, 2, 45), 1000);
    sim.beatsEvery("server2", t0, utc(2026, 11, 8, 2, 45), 1000, 100);
    sim.at(utc(2026, 11, 8, 1, 59, 30), () => (sim.probes.server2!["server-api"] = DOWN()));
    sim.at(utc(2026, 11, 8, 2, 30, 0, 50), () => (sim.probes.server2!["server-api"] = OK));
    sim.runUntil(utc(2026, 11, 8, 2, 45));
    expect(sim.kinds("drill.refused").map((e) => [e.reason, e.severity, e.incident])).toEqual([
      [
        "scheduled drill of server-api refused: server2's probe for server-api is failing (connect ECONNREFUSED 127.0.0.1:8801) (window until 2026-11-08T04:00:00.000Z)",
        "warning",
        "drill:server-api",
      ],
    ]);
    const passed = sim.kinds("drill.passed");
    expect(passed).toHaveLength(1);
    expect(passed[0]).toMatchObject({ resolves: true, incident: "drill:server-api" });
    // It started at the first step after server2 was healthy again: its own heartbeat at 02:30:00.100.
    expect(sim.state.persisted.drills["server-api"]!.lastAt).toBe(utc(2026, 11, 8, 2, 30, 0, 100));
  });

  it("asked through the API: never in maintenance or hold-down, never with an unhealthy member; refusals are events with the reason", () => {
    const t0 = utc(2026, 11, 10);
    const sim = new AvailSim(availSpec(), t0);
    sim.up = new Set(["server1", "server2"]);
    sim.beatsEvery("server1", t0, t0 + 120_000, 1000);
    sim.beatsEvery("server2", t0, t0 + 120_000, 1000, 100);
    sim.runUntil(t0 + 5000);
    const drill = () => sim.input({ type: "drill", group: "server-api", actor: "bob", returnAfterMs: 5000 });
    sim.input({ type: "maintenance", node: null, on: true, actor: "bob" });
    drill();
    expect(sim.rejected).toBe("drill of server-api refused: the cluster is in maintenance");
    sim.input({ type: "maintenance", node: null, on: false, actor: "bob" });
    sim.input({ type: "maintenance", node: "server2", on: true, actor: "bob" });
    drill();
    expect(sim.rejected).toBe("drill of server-api refused: server2 is in maintenance");
    sim.input({ type: "maintenance", node: "server2", on: false, actor: "bob" });
    sim.probes.server2!["server-api"] = DOWN();
    sim.runUntil(t0 + 6500);
    drill();
    expect(sim.rejected).toBe("drill of server-api refused: server2's probe for server-api is failing (connect ECONNREFUSED 127.0.0.1:8801)");
    sim.probes.server2!["server-api"] = OK;
    // An automatic failover (server1's service fails) puts the group in hold-down for 10 s.
    sim.at(t0 + 10_000, () => (sim.probes.server1!["server-api"] = DOWN()));
    sim.runUntil(t0 + 12_000);
    expect(sim.group().holder).toBe("server2");
    sim.probes.server1!["server-api"] = OK;
    sim.runUntil(t0 + 14_000);
    drill();
    expect(sim.rejected).toBe("drill of server-api refused: server-api failed over 4.0 s ago and is in hold-down for 6.0 s more");
    expect(sim.kinds("drill.refused").map((e) => e.actor)).toEqual(["bob", "bob", "bob", "bob"]);
    sim.runUntil(t0 + 21_000);
    drill();
    expect(sim.rejected).toBeUndefined();
    sim.runUntil(t0 + 40_000);
    // Asked between heartbeats: the revoke is pushed, server2 heartbeats 5 ms later and is told to
    // release; 50 + 5 + 30 ms more and server1 reports it up.
    expect(sim.kinds("drill.passed").map((e) => e.reason)).toEqual([
      "drill of server-api passed: moved server2 -> server1 in 90 ms (35 ms without service); back server1 -> server2 in 90 ms (35 ms without service) after 5.0 s",
    ]);
  });
});

describe("spec: sla and drills", () => {
  it("path-precise problems", () => {
    const r = validateSpec(
      Object.assign(structuredClone(availSpec()), {
        sla: { target: 100 },
        drills: [
          { group: "nope", every: "7d", window: "Sun 02:00-04:00 UTC" },
          { group: "server-api", every: "30m", window: "Sun 02:00-04:00 CET", returnAfter: "2s" },
          { group: "server-api", every: "1w", window: "Funday 02:00-04:00 UTC" },
        ],
      }),
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      "sla.target: target must be below 100 % (100 % leaves no error budget)",
      "drills[0].group: unknown group 'nope'",
      "drills[1].window: windows are in UTC: write 'CET' times as UTC and end the window with 'UTC'",
      "drills[1].every: drills run at most once an hour (got 30m)",
      "drills[1].returnAfter: returnAfter must be 5s to 1h (got 2s)",
      "drills[2].group: group 'server-api' already has a drill (drills[1])",
      "drills[2].window: 'funday' is not a weekday or a range of them (Sun, Mon, ..., Sat; Mon-Fri)",
    ]);
    const g = validateSpec(Object.assign(structuredClone(availSpec()), { groups: [{ ...availSpec().groups[0]!, sla: { target: 50 } }] }));
    expect(g.ok ? [] : g.problems.map((p) => p.path)).toEqual(["groups[0].sla.target"]);
  });
});
