// How a running drill advances (worker/engine/drills.ts, evaluateDrills), one rule at a time on a
// real two-server cluster whose group state is then set by hand: the move out ends when the
// target serves (its time and the time without service measured), fails at once when another node
// holds the group, the old holder keeps it, or an outage begins, and fails after 15 s otherwise;
// the hold fails when the group leaves the target; the return is skipped (and the drill passes)
// when the old holder is no longer fit; the move back passes with both moves in the text.
import { describe, expect, it } from "vitest";
import type { ProbeReport } from "../../protocol/heartbeat.js";
import { StepCtx } from "../../worker/engine/context.js";
import { type DrillRun, drillDeadlines, evaluateDrills } from "../../worker/engine/drills.js";
import type { EngineEffect, EngineState } from "../../worker/engine/index.js";
import type { OpenInterval } from "../../worker/engine/ledger.js";
import { Shell, smallSpec } from "./support/small-spec.js";

const OK: ProbeReport = { healthy: true, detail: "ok" };
const T0 = 10_000;

/** Both servers alive and healthy at T0 (server1 holds api at epoch 1), the run given under way. */
function base(run: DrillRun): EngineState {
  const sh = new Shell(smallSpec());
  for (let t = 0; t <= T0; t += 1000) for (const n of ["server1", "server2"]) sh.beat(n, t, { probes: { api: OK }, holding: sh.holder("api") === n ? [{ group: "api", epoch: 1 }] : [] });
  const s = structuredClone(sh.state);
  s.persisted.drills = { api: { lastAt: null, lastResult: null, lastOk: null, run } };
  return s;
}

function at(s: EngineState, group: Partial<EngineState["groups"][string]>, open: Partial<OpenInterval> | null, now: number) {
  s.groups.api = { ...s.groups.api!, ...group };
  // Both still heartbeating.
  for (const n of ["server1", "server2"]) s.nodes[n]!.lastBeatAt = now - 100;
  if (open) s.persisted.ledger.api = { since: 0, open: { kind: "planned", start: T0, origin: T0, reason: "planned gap", cause: "unconfirmed", holder: "server2", epoch: 2, ...open } };
  const ctx = new StepCtx(s, now);
  evaluateDrills(ctx);
  const results = ctx.effects.filter((e): e is Extract<EngineEffect, { type: "event" }> => e.type === "event" && e.kind.startsWith("drill."));
  return { state: ctx.state, results: results.map((e) => [e.kind, e.reason]) };
}

const out: DrillRun = { trigger: "bob", from: "server1", to: "server2", startedAt: T0, phase: "out", returnAfterMs: 60_000 };
const hold: DrillRun = { ...out, phase: "hold", outAt: T0 + 400, outMs: 400, outGapMs: 300 };
const serving = { holder: "server2", epoch: 2, phase: "held" as const, confirmedEpoch: 2 };

describe("a drill's move out", () => {
  it("ends when the target serves: measured from the start, and without service from the gap's start", () => {
    const { state, results } = at(base(out), serving, { start: T0 + 100 }, T0 + 400);
    expect(results).toEqual([]);
    expect(state.persisted.drills.api!.run).toEqual({ ...out, phase: "hold", outAt: T0 + 400, outMs: 400, outGapMs: 300 });
    // Up already (the gap closed): no time without service is counted.
    expect(at(base(out), serving, { kind: "up" }, T0 + 400).state.persisted.drills.api!.run).toMatchObject({ phase: "hold", outGapMs: 0 });
  });

  it("is not over while the target has not reported the group up, or the group is down", () => {
    expect(at(base(out), { ...serving, confirmedEpoch: 1 }, {}, T0 + 400).state.persisted.drills.api!.run).toEqual(out);
    expect(at(base(out), { ...serving, phase: "revoking" }, {}, T0 + 400).state.persisted.drills.api!.run).toEqual(out);
    expect(at(base(out), { holder: null, phase: "free" }, {}, T0 + 400).state.persisted.drills.api!.run).toEqual(out);
  });

  it("fails at once when another node holds the group, or the old holder still holds it", () => {
    expect(at(base(out), { holder: "server3", epoch: 2, phase: "held" }, {}, T0 + 400).results).toEqual([["drill.failed", "drill of api failed while moving server1 -> server2: server3 holds it"]]);
    expect(at(base(out), { holder: "server1", phase: "held" }, {}, T0 + 400).results).toEqual([["drill.failed", "drill of api failed while moving server1 -> server2: server1 holds it"]]);
    // Still being revoked from server1: under way.
    expect(at(base(out), { holder: "server1", phase: "revoking" }, {}, T0 + 400).results).toEqual([]);
  });

  it("fails at once on an outage that began during the move, naming it; not on one from before", () => {
    const down = { kind: "down" as const, reason: "server2's probe for api is failing (http 503)" };
    const failed = at(base(out), { holder: null, phase: "free" }, { ...down, start: T0 }, T0 + 400);
    expect(failed.results).toEqual([["drill.failed", "drill of api failed while moving server1 -> server2: server2's probe for api is failing (http 503)"]]);
    expect(failed.state.persisted.drills.api).toEqual({ lastAt: T0, lastResult: "drill of api failed while moving server1 -> server2: server2's probe for api is failing (http 503)", lastOk: false, run: null });
    expect(at(base(out), { holder: null, phase: "free" }, { ...down, start: T0 - 1 }, T0 + 400).results).toEqual([]);
  });

  it("fails when it has not completed in 15 s, saying what the group was waiting for", () => {
    expect(at(base(out), { holder: null, phase: "free" }, {}, T0 + 14_999).results).toEqual([]);
    expect(at(base(out), { holder: null, phase: "free" }, {}, T0 + 15_000).results).toEqual([["drill.failed", "drill of api failed: the move server1 -> server2 did not complete in 15.0 s (planned gap)"]]);
    const s = base(out);
    delete s.persisted.ledger.api;
    expect(at(s, { holder: null, phase: "free" }, null, T0 + 15_000).results).toEqual([["drill.failed", "drill of api failed: the move server1 -> server2 did not complete in 15.0 s (free)"]]);
  });
});

describe("a drill's hold and return", () => {
  it("fails when the group left the target, saying where it is", () => {
    const up = { kind: "up" as const, reason: "server1 serves api at epoch 3" };
    expect(at(base(hold), { holder: "server1", epoch: 3, phase: "held", confirmedEpoch: 3 }, up, T0 + 1000).results).toEqual([
      ["drill.failed", "drill of api failed: it left server2 during the drill (now server1, server1 serves api at epoch 3); moved server1 -> server2 in 400 ms (300 ms without service)"],
    ]);
    expect(at(base(hold), { holder: null, phase: "free" }, up, T0 + 1000).results).toEqual([["drill.failed", "drill of api failed: it left server2 during the drill (no holder); moved server1 -> server2 in 400 ms (300 ms without service)"]]);
    const s = base(hold);
    delete s.persisted.ledger.api;
    expect(at(s, { holder: "server1", epoch: 3, phase: "revoking", confirmedEpoch: 3 }, null, T0 + 1000).results[0]![1]).toBe(
      "drill of api failed: it left server2 during the drill (now server1, revoking); moved server1 -> server2 in 400 ms (300 ms without service)",
    );
  });

  it("moves back 60 s after the target served, not earlier; stays (and passes) when the cluster went into maintenance", () => {
    const up = { kind: "up" as const };
    expect(at(base(hold), serving, up, T0 + 60_399).state.persisted.drills.api!.run).toEqual(hold);
    const back = at(base(hold), serving, up, T0 + 60_400).state;
    expect(back.persisted.drills.api!.run).toEqual({ ...hold, phase: "back", backAt: T0 + 60_400 });
    expect(back.groups.api).toMatchObject({ phase: "revoking", revokeTo: "server1" });
    const m = base(hold);
    m.persisted.maintenance = true;
    expect(at(m, serving, up, T0 + 60_400).results).toEqual([["drill.passed", "drill of api passed: moved server1 -> server2 in 400 ms (300 ms without service); stays on server2 (the cluster is in maintenance)"]]);
    const unfit = base(hold);
    unfit.nodes.server1!.probes.api = { healthy: false, detail: "http 503" };
    expect(at(unfit, serving, up, T0 + 60_400).results).toEqual([["drill.passed", "drill of api passed: moved server1 -> server2 in 400 ms (300 ms without service); stays on server2 (server1's probe for api is failing (http 503))"]]);
  });

  it("passes when the old holder serves again, with both moves and the time on the target", () => {
    const back: DrillRun = { ...hold, phase: "back", backAt: T0 + 60_400 };
    const r = at(base(back), { holder: "server1", epoch: 3, phase: "held", confirmedEpoch: 3 }, { start: T0 + 60_450, holder: "server1", epoch: 3 }, T0 + 60_700);
    expect(r.results).toEqual([["drill.passed", "drill of api passed: moved server1 -> server2 in 400 ms (300 ms without service); back server2 -> server1 in 300 ms (250 ms without service) after 60.0 s"]]);
    expect(r.state.persisted.drills.api).toMatchObject({ lastAt: T0, lastOk: true, run: null });
  });
});

describe("a running drill's deadlines", () => {
  it("the hold's end (the holder's heartbeats reach it), a move's timeout from its own start (nobody's)", () => {
    expect(drillDeadlines(at(base(hold), serving, null, T0 + 500).state, T0 + 500)).toEqual([{ at: T0 + 60_400, movedBy: "server2" }]);
    const back: DrillRun = { ...hold, phase: "back", backAt: T0 + 60_400 };
    expect(drillDeadlines(base(back), T0 + 60_500)).toEqual([{ at: T0 + 75_400, movedBy: null }]);
    expect(drillDeadlines(base(out), T0 + 500)).toEqual([{ at: T0 + 15_000, movedBy: null }]);
  });
});
