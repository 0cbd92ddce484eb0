// The availability ledger's rules one at a time (worker/engine/ledger.ts, recordLedger and
// noteHolding), on a state set up by hand: what dates an outage (a failing probe from its last
// success, an apply error once it has persisted 3 s, from when it was first seen), reasons clipped
// at 240 characters, a month record capped by dropping its oldest intervals (no more than needed),
// an open interval split at a month start, groups removed or put in shadow mode closed with the
// reason, the end of the newest outage kept for burn checks, a grant during an outage noted once,
// and a silent holder that kept its group under failsafe counted as up.
import { describe, expect, it } from "vitest";
import { StepCtx } from "../../worker/engine/context.js";
import type { EngineEffect, EngineState } from "../../worker/engine/index.js";
import { boot, newPersistedState } from "../../worker/engine/index.js";
import { addInterval, emptyMonth, type LedgerInterval, MONTH_BYTES, noteHolding, recordLedger } from "../../worker/engine/ledger.js";
import { emptyNode } from "../../worker/engine/state.js";
import { API_GROUP, smallSpec } from "./support/small-spec.js";

const T0 = Date.UTC(2026, 10, 20, 12);
const OK = { healthy: true, detail: "ok" };

/** server1 holds api at epoch 1, confirmed, heard at `T0 - 100`; the ledger has api up since T0 - 1 h. */
function state(spec = smallSpec()): EngineState {
  const s = boot(newPersistedState("dc1.small", spec, 1), T0 - 86_400_000);
  s.nodes.server1 = { ...emptyNode(), lastBeatAt: T0 - 100, bootId: "b1", probes: { api: OK } };
  s.nodes.server2 = { ...emptyNode(), lastBeatAt: T0 - 100, bootId: "c1", probes: { api: OK } };
  s.groups.api = { ...s.groups.api!, holder: "server1", epoch: 1, phase: "held", confirmedEpoch: 1 };
  s.persisted.groups.api = { holder: "server1", epoch: 1, lastAutoFailoverAt: null };
  const start = T0 - 3_600_000;
  s.persisted.ledger = { api: { since: start, open: { kind: "up", start, origin: start, reason: "server1 serves api at epoch 1", cause: "held", holder: "server1", epoch: 1 } } };
  return s;
}

function record(s: EngineState, now = T0): { ctx: StepCtx; months: Extract<EngineEffect, { type: "ledger" }>["months"] } {
  const ctx = new StepCtx(s, now);
  recordLedger(ctx);
  return { ctx, months: ctx.effects.flatMap((e) => (e.type === "ledger" ? e.months : [])) };
}

const applyError = (group: string | undefined, exitCode: number | null, firstSeenAt: number) => ({
  error: { ...(group ? { group } : {}), target: "vip", command: "ip addr add 192.168.231.10/24 dev eth0", exitCode, stderrTail: "", since: firstSeenAt },
  firstSeenAt,
});

describe("ledger rules", () => {
  it("a failing probe: down from its last success (downSince), with its detail in the reason; the closed up interval goes into its month", () => {
    const s = state();
    s.nodes.server1!.probes.api = { healthy: false, detail: "connect ECONNREFUSED" };
    s.nodes.server1!.downSince.api = T0 - 700;
    const { ctx, months } = record(s);
    expect(ctx.state.persisted.ledger.api!.open).toEqual({ kind: "down", start: T0 - 700, origin: T0 - 700, reason: "server1's probe for api is failing (connect ECONNREFUSED)", cause: "probe", holder: "server1", epoch: 1 });
    expect(months.map((m) => m.intervals)).toEqual([[{ group: "api", kind: "up", start: T0 - 3_600_000, end: T0 - 700, origin: T0 - 3_600_000, startReason: "server1 serves api at epoch 1", endReason: "server1's probe for api is failing (connect ECONNREFUSED)", holder: "server1", epoch: 1 }]]);
    expect(ctx.state.ledger.lastDownEnd).toEqual({});
    // Without a known start it is down from now; without a detail the reason says only that.
    const s2 = state();
    s2.nodes.server1!.probes.api = { healthy: false, detail: "" };
    expect(record(s2).ctx.state.persisted.ledger.api!.open).toMatchObject({ start: T0, reason: "server1's probe for api is failing" });
  });

  it("reasons longer than 240 characters are cut to 239 and an ellipsis; 240 stay whole", () => {
    const reasonFor = (detailLength: number) => {
      const s = state();
      s.nodes.server1!.probes.api = { healthy: false, detail: "x".repeat(detailLength) };
      return record(s).ctx.state.persisted.ledger.api!.open.reason;
    };
    // "server1's probe for api is failing (" is 36 characters, ")" one more.
    expect(reasonFor(203)).toBe(`server1's probe for api is failing (${"x".repeat(203)})`);
    expect(reasonFor(203)).toHaveLength(240);
    expect(reasonFor(204)).toBe(`server1's probe for api is failing (${"x".repeat(203)}…`);
    expect(reasonFor(204)).toHaveLength(240);
  });

  it("an apply error for the group counts once it has persisted 3 s, dated from when it was first seen; others do not", () => {
    for (const [seen, down] of [[T0 - 3000, true], [T0 - 2999, false]] as const) {
      const s = state();
      s.nodes.server1!.applyErrors = { other: applyError(undefined, 1, T0 - 60_000), web: applyError("web", 1, T0 - 60_000), vip: applyError("api", 2, seen) };
      const open = record(s).ctx.state.persisted.ledger.api!.open;
      if (down) expect(open).toEqual({ kind: "down", start: T0 - 3000, origin: T0 - 3000, reason: "server1 cannot apply vip for api: `ip addr add 192.168.231.10/24 dev eth0` exited 2", cause: "apply", holder: "server1", epoch: 1 });
      else expect(open.kind).toBe("up");
    }
    const s = state();
    s.nodes.server1!.applyErrors = { vip: applyError("api", null, T0 - 5000) };
    expect(record(s).ctx.state.persisted.ledger.api!.open.reason).toBe("server1 cannot apply vip for api: `ip addr add 192.168.231.10/24 dev eth0` could not run");
  });

  it("an outage closed keeps the latest outage end per group for the burn checks; a zero-length interval is not recorded", () => {
    const s = state();
    s.persisted.ledger.api!.open = { kind: "down", start: T0 - 5000, origin: T0 - 5000, reason: "r", cause: "probe", holder: "server1", epoch: 1 };
    s.ledger.lastDownEnd = { api: T0 - 10_000, web: T0 + 999 };
    const { ctx, months } = record(s);
    expect(ctx.state.ledger.lastDownEnd).toEqual({ api: T0, web: T0 + 999 });
    expect(months[0]!.intervals.map((i) => [i.kind, i.start, i.end])).toEqual([["down", T0 - 5000, T0]]);
    // Up again at the very instant it began: nothing to close, nothing written to a month.
    const s2 = state();
    s2.persisted.ledger.api!.open = { kind: "down", start: T0, origin: T0, reason: "r", cause: "probe", holder: "server1", epoch: 1 };
    const r2 = record(s2);
    expect(r2.months).toEqual([]);
    expect(r2.ctx.state.persisted.ledger.api!.open).toMatchObject({ kind: "up", start: T0 });
  });

  it("a group removed, or put in shadow mode, ends its ledger with the reason", () => {
    const removed = state();
    removed.persisted.spec = smallSpec({ groups: [{ ...API_GROUP, name: "web", vip: "192.168.231.20" }] });
    delete removed.groups.api;
    const r = record(removed);
    expect(r.ctx.state.persisted.ledger).toEqual({});
    expect(r.months[0]!.intervals.map((i) => [i.end, i.endReason])).toEqual([[T0, "api was removed from the spec"]]);
    const shadow = state();
    shadow.persisted.spec = smallSpec({ groups: [{ ...API_GROUP, shadow: true }] });
    const r2 = record(shadow);
    expect(r2.ctx.state.persisted.ledger).toEqual({});
    expect(r2.months[0]!.intervals.map((i) => [i.end, i.endReason])).toEqual([[T0, "api was put in shadow mode"]]);
  });

  it("an interval open across month starts is split at each into its month, continuing as one outage", () => {
    const s = state();
    const start = Date.UTC(2026, 8, 30, 22);
    s.persisted.ledger.api = { since: start, open: { kind: "up", start, origin: start, reason: "server1 serves api at epoch 1", cause: "held", holder: "server1", epoch: 1 } };
    const { ctx, months } = record(s);
    expect(months.map((m) => [m.month, m.intervals.map((i) => [i.start, i.end, i.origin, i.endReason])])).toEqual([
      ["2026-09", [[start, Date.UTC(2026, 9, 1), start, "continues in 2026-10"]]],
      ["2026-10", [[Date.UTC(2026, 9, 1), Date.UTC(2026, 10, 1), start, "continues in 2026-11"]]],
    ]);
    expect(ctx.state.persisted.ledger.api!.open).toMatchObject({ kind: "up", start: Date.UTC(2026, 10, 1), origin: start });
    // Memory keeps only the months of the last 32 days.
    expect(Object.keys(ctx.state.ledger.months)).toEqual(["2026-10"]);
  });

  it("a grant during an outage is noted once, with when and to whom; a planned gap keeps who planned it", () => {
    const s = state();
    s.persisted.ledger.api!.open = { kind: "down", start: T0 - 5000, origin: T0 - 5000, reason: "r", cause: "silent", holder: "server1", epoch: 1 };
    s.groups.api = { ...s.groups.api!, holder: "server2", epoch: 2, confirmedEpoch: 1 };
    const first = record(s, T0).ctx.state;
    expect(first.persisted.ledger.api!.open).toMatchObject({ kind: "down", start: T0 - 5000, grantedAt: T0, grantedTo: "server2" });
    const second = record(first, T0 + 500).ctx.state;
    expect(second.persisted.ledger.api!.open).toMatchObject({ grantedAt: T0, grantedTo: "server2" });
    // A planned move: the gap is planned time and says by whom; it ends when the new holder serves.
    const p = state();
    p.groups.api = { ...p.groups.api!, holder: "server2", epoch: 2, confirmedEpoch: 1, plannedBy: "switchover by token:ops" };
    const planned = record(p).ctx.state;
    expect(planned.persisted.ledger.api!.open).toMatchObject({ kind: "planned", cause: "unconfirmed", plannedBy: "switchover by token:ops", grantedAt: T0, grantedTo: "server2", reason: "api granted to server2 at epoch 2; not yet reported up" });
    planned.groups.api!.confirmedEpoch = 2;
    const up = record(planned, T0 + 300);
    expect(up.months[0]!.intervals.at(-1)).toMatchObject({ kind: "planned", start: T0, end: T0 + 300, plannedBy: "switchover by token:ops", grantedAt: T0, grantedTo: "server2" });
    expect(up.ctx.state.groups.api!.plannedBy).toBeNull();
  });

  it("a holder counted silent that reports holding the same epoch kept it under failsafe: up since the silence, said so", () => {
    const s = state();
    s.persisted.ledger.api!.open = { kind: "down", start: T0 - 5000, origin: T0 - 5000, reason: "server1 (holder of api) went silent after its heartbeat at 2026-11-20T11:59:55.000Z", cause: "silent", holder: "server1", epoch: 1 };
    const ctx = new StepCtx(s, T0);
    noteHolding(ctx, "server2", [{ group: "api", epoch: 1 }]);
    expect(ctx.state.persisted.ledger.api!.open.kind).toBe("down");
    noteHolding(ctx, "server1", [{ group: "api", epoch: 2 }]);
    expect(ctx.state.persisted.ledger.api!.open.kind).toBe("down");
    expect(ctx.persistNeeded).toBe(false);
    noteHolding(ctx, "server1", [{ group: "api", epoch: 1 }]);
    expect(ctx.state.persisted.ledger.api!.open).toEqual({ kind: "up", start: T0 - 5000, origin: T0 - 5000, cause: "failsafe", holder: "server1", epoch: 1, reason: "server1 (holder of api) went silent after its heartbeat at 2026-11-20T11:59:55.000Z, but kept api at epoch 1 under failsafe (its peers' promises)" });
    expect(ctx.persistNeeded).toBe(true);
  });

  it("a holder that stops listing its confirmed group has let go from then (once); listing it again ends that; a new grant is confirmed only by its holder at its epoch", () => {
    const s = state();
    const ctx = new StepCtx(s, T0);
    noteHolding(ctx, "server1", [{ group: "web", epoch: 1 }]);
    expect(s.groups.api!.letGoAt).toBe(T0);
    noteHolding(new StepCtx(s, T0 + 100), "server1", [{ group: "api", epoch: 7 }]);
    expect(s.groups.api!.letGoAt).toBe(T0);
    noteHolding(new StepCtx(s, T0 + 200), "server1", [{ group: "api", epoch: 1 }]);
    expect(s.groups.api!.letGoAt).toBeNull();
    // A grant not yet confirmed: not let go, and only server1 at epoch 2 confirms it.
    s.groups.api = { ...s.groups.api!, epoch: 2, confirmedEpoch: 1 };
    noteHolding(new StepCtx(s, T0 + 300), "server1", []);
    expect(s.groups.api!.letGoAt).toBeNull();
    noteHolding(new StepCtx(s, T0 + 400), "server2", [{ group: "api", epoch: 2 }]);
    noteHolding(new StepCtx(s, T0 + 400), "server1", [{ group: "api", epoch: 1 }]);
    expect(s.groups.api!.confirmedEpoch).toBe(1);
    noteHolding(new StepCtx(s, T0 + 500), "server1", [{ group: "api", epoch: 2 }]);
    expect(s.groups.api!.confirmedEpoch).toBe(2);
  });
});

describe("month records", () => {
  const iv = (i: number): LedgerInterval => ({ group: "api", kind: i % 2 ? "down" : "up", start: T0 + i * 1000, end: T0 + i * 1000 + 1000, origin: T0 + i * 1000, startReason: `reason ${i} `.padEnd(200, "r"), endReason: "e", holder: "server1", epoch: 1 });

  it("stay under MONTH_BYTES by dropping the oldest intervals, no more than needed; the buckets keep everything", () => {
    let m = emptyMonth("2026-11");
    let sawDrop = false;
    for (let i = 0; i < 500; i++) {
      m = addInterval(m, iv(i));
      expect(JSON.stringify(m).length).toBeLessThanOrEqual(MONTH_BYTES);
      expect(m.dropped + m.intervals.length).toBe(i + 1);
      if (m.dropped > 0) {
        sawDrop = true;
        // Keeping the newest interval dropped would not have fitted.
        const more = { ...m, intervals: [iv(m.dropped - 1), ...m.intervals], dropped: m.dropped - 1 };
        expect(JSON.stringify(more).length).toBeGreaterThan(MONTH_BYTES);
      }
    }
    expect(sawDrop).toBe(true);
    const day = m.days.api!["20"]!;
    expect(day[0] + day[1]).toBe(500 * 1000);
    expect(day[3]).toBe(250);
  });
});
