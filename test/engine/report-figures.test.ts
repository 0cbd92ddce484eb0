// Availability figures from month records (worker/engine/report.ts), on a ledger written by hand:
// availability counts up and unplanned down only; an interval split at a month start is one
// interval again, starting where it began; outages, MTTR and time to grant; budgets of the month
// and of the last 30 days counted from the group's start; a month that dropped intervals is read
// from its day buckets, pro rata, and says it is not exact; a running drill in words.
import { describe, expect, it } from "vitest";
import { addInterval, emptyMonth, type GroupLedger, type LedgerInterval, type LedgerMonth } from "../../worker/engine/ledger.js";
import { clusterReport, clusterSummary, groupReport, type LedgerView, monthsNeeded } from "../../worker/engine/report.js";
import { smallSpec } from "./support/small-spec.js";

const MIN = 60_000;
const H = 3_600_000;
const DAY = 86_400_000;
const utc = (mo: number, d: number, h = 0, mi = 0) => Date.UTC(2026, mo - 1, d, h, mi);
const spec = smallSpec();
const api = spec.groups[0]!;

const iv = (kind: LedgerInterval["kind"], start: number, end: number, over: Partial<LedgerInterval> = {}): LedgerInterval => ({
  group: "api",
  kind,
  start,
  end,
  origin: start,
  startReason: `${kind} from ${start}`,
  endReason: `${kind} until ${end}`,
  holder: "server1",
  epoch: 1,
  ...over,
});

function month(name: string, ivs: LedgerInterval[]): LedgerMonth {
  return ivs.reduce((m, i) => addInterval(m, i), emptyMonth(name));
}

function view(months: LedgerMonth[], ledger: GroupLedger | null, now: number, drills: LedgerView["drills"] = {}): LedgerView {
  return { spec, ledger: ledger ? { api: ledger } : {}, drills, months: Object.fromEntries(months.map((m) => [m.month, m])), now };
}

describe("availability report", () => {
  // November: up from the 1st, a 30 min outage on the 10th (granted to server2 after 4 min), a
  // 10 min planned switchover on the 20th; an outage that began on Nov 30 at 23:50 and continues
  // into December (split at the month start), ending Dec 1 00:20; up since.
  const since = utc(11, 1);
  const nov = month("2026-11", [
    iv("up", since, utc(11, 10, 12)),
    iv("down", utc(11, 10, 12), utc(11, 10, 12, 30), { grantedAt: utc(11, 10, 12, 4), grantedTo: "server2" }),
    iv("up", utc(11, 10, 12, 30), utc(11, 20, 8), { holder: "server2", epoch: 2 }),
    iv("planned", utc(11, 20, 8), utc(11, 20, 8, 10), { plannedBy: "switchover by token:ops", holder: "server2", epoch: 2 }),
    iv("up", utc(11, 20, 8, 10), utc(11, 30, 23, 50), { epoch: 3 }),
    iv("down", utc(11, 30, 23, 50), utc(12, 1), { epoch: 3 }),
  ]);
  const dec = month("2026-12", [iv("down", utc(12, 1), utc(12, 1, 0, 20), { origin: utc(11, 30, 23, 50), epoch: 3, grantedAt: utc(12, 1, 0, 5), grantedTo: "server2" })]);
  const led: GroupLedger = { since, open: { kind: "up", start: utc(12, 1, 0, 20), origin: utc(12, 1, 0, 20), reason: "server2 serves api at epoch 4", cause: "held", holder: "server2", epoch: 4 } };

  it("November: up, unplanned and planned time; availability ignores planned time; outages and MTTR", () => {
    const v = view([nov, dec], led, utc(12, 2));
    const r = groupReport(v, api, utc(11, 1), utc(12, 1));
    expect(r.observedMs).toBe(30 * DAY);
    expect(r.downMs).toBe(40 * MIN);
    expect(r.plannedMs).toBe(10 * MIN);
    expect(r.upMs).toBe(30 * DAY - 50 * MIN);
    expect(r.availability).toBeCloseTo((100 * (30 * DAY - 50 * MIN)) / (30 * DAY - 10 * MIN), 12);
    expect(r.exact).toBe(true);
    expect(r.since).toBe(since);
    // Both outages began in November; only the first ended in it.
    expect(r.outages).toBe(2);
    expect(r.mttrMs).toBe(30 * MIN);
    expect(r.mttgMs).toBe(4 * MIN);
    expect(r.target).toBe(99.5);
  });

  it("an interval split at a month start is reported once, from where it began, with both halves' grant and end", () => {
    const v = view([nov, dec], led, utc(12, 2));
    const r = groupReport(v, api, utc(12, 1), utc(12, 2));
    const [outage, up] = r.intervals;
    expect(r.intervals).toHaveLength(2);
    expect(outage).toEqual({
      kind: "down",
      start: utc(11, 30, 23, 50),
      end: utc(12, 1, 0, 20),
      startReason: `down from ${utc(11, 30, 23, 50)}`,
      endReason: `down until ${utc(12, 1, 0, 20)}`,
      holder: "server1",
      epoch: 3,
      plannedBy: null,
      grantedAt: utc(12, 1, 0, 5),
      grantedTo: "server2",
      timeToGrantMs: 15 * MIN,
      timeToRecoverMs: 30 * MIN,
    });
    expect(up).toMatchObject({ kind: "up", start: utc(12, 1, 0, 20), end: null, endReason: null, timeToGrantMs: null, timeToRecoverMs: null });
    // December's figures count only December's 20 minutes; the outage began in November.
    expect(r.downMs).toBe(20 * MIN);
    expect(r.upMs).toBe(DAY - 20 * MIN);
    expect(r.outages).toBe(0);
    expect(r.mttrMs).toBe(30 * MIN);
    expect(r.mttgMs).toBe(15 * MIN);
  });

  it("budgets: the calendar month and the last 30 days, each counted from the group's start when later", () => {
    const v = view([nov, dec], led, utc(12, 2));
    const r = groupReport(v, api, utc(12, 1), utc(12, 2));
    // December at 99.5 %: 0.5 % of 31 days; 20 min used.
    expect(r.budget.month).toMatchObject({ from: utc(12, 1), to: utc(13, 1), usedMs: 20 * MIN });
    expect(r.budget.month.budgetMs).toBeCloseTo(0.005 * 31 * DAY, 6);
    expect(r.budget.month.leftMs).toBeCloseTo(0.005 * 31 * DAY - 20 * MIN, 6);
    expect(r.budget.month.leftRatio).toBeCloseTo(1 - (20 * MIN) / (0.005 * 31 * DAY), 12);
    // The 30 days before Dec 2 began Nov 2 (after the group's start): all 60 min of downtime (30 + 10 + 20), no planned time.
    expect(r.budget.rolling30d).toMatchObject({ from: utc(12, 2) - 30 * DAY, to: utc(12, 2), usedMs: 60 * MIN });
    expect(r.budget.rolling30d.budgetMs).toBeCloseTo(0.005 * 30 * DAY, 6);
    // A group that started on Nov 20: its 30-day budget covers 12 days only.
    const late: GroupLedger = { ...led, since: utc(11, 20) };
    const r2 = groupReport(view([dec], late, utc(12, 2)), api, utc(12, 1), utc(12, 2));
    expect(r2.budget.rolling30d.budgetMs).toBeCloseTo(0.005 * 12 * DAY, 6);
    // No ledger at all: the whole period, nothing used, nothing known.
    const none = groupReport(view([], null, utc(12, 2)), api, utc(12, 1), utc(12, 2));
    expect(none.budget.month.budgetMs).toBeCloseTo(0.005 * 31 * DAY, 6);
    expect(none.budget.month.leftRatio).toBe(1);
    expect(none.availability).toBeNull();
    expect(none.since).toBeNull();
    expect(none.mttrMs).toBeNull();
    expect(none.intervals).toEqual([]);
  });

  it("a budget already spent has a negative share left; no budget at all (the ledger starts at the period's end) is -1 with downtime, else 1", () => {
    const bad = month("2026-11", [iv("up", utc(11, 1), utc(11, 2)), iv("down", utc(11, 2), utc(11, 6))]);
    const r = groupReport(view([bad], { since: utc(11, 1), open: { kind: "up", start: utc(11, 6), origin: utc(11, 6), reason: "r", cause: "held", holder: "server1", epoch: 1 } }, utc(11, 30)), api, utc(11, 1), utc(12, 1));
    expect(r.budget.month.usedMs).toBe(4 * DAY);
    expect(r.budget.month.leftRatio).toBeCloseTo((0.005 * 30 * DAY - 4 * DAY) / (0.005 * 30 * DAY), 12);
    const fromDec: GroupLedger = { since: utc(12, 1), open: { kind: "up", start: utc(12, 1), origin: utc(12, 1), reason: "r", cause: "held", holder: "server1", epoch: 1 } };
    expect(groupReport(view([bad], fromDec, utc(12, 1)), api, utc(11, 1), utc(12, 1)).budget.month).toMatchObject({ budgetMs: 0, usedMs: 4 * DAY, leftRatio: -1 });
    const clean = month("2026-11", [iv("up", utc(11, 1), utc(11, 2))]);
    expect(groupReport(view([clean], fromDec, utc(12, 1)), api, utc(11, 1), utc(12, 1)).budget.month).toMatchObject({ budgetMs: 0, usedMs: 0, leftRatio: 1 });
  });

  it("the open interval counts up to now, not to the end of the window; burn rates over 1 h, 6 h and 3 days", () => {
    const openDown: GroupLedger = { since, open: { kind: "down", start: utc(12, 1, 23, 30), origin: utc(12, 1, 23, 30), reason: "r", cause: "silent", holder: "server2", epoch: 4 } };
    const v = view([nov], openDown, utc(12, 2));
    const r = groupReport(v, api, utc(12, 1, 23), utc(12, 3));
    expect(r.downMs).toBe(30 * MIN);
    expect(r.observedMs).toBe(30 * MIN);
    // 30 min down in the last hour at 99.5 %: 1800 / 18 = 100x.
    expect(r.burn["1h"]).toBeCloseTo(100, 9);
    expect(r.burn["6h"]).toBeCloseTo(1800 / 108, 9);
    // The last 3 days also hold November's last 10 minutes down.
    expect(r.burn["3d"]).toBeCloseTo(2400 / 1296, 9);
    expect(r.intervals.at(-1)).toMatchObject({ kind: "down", end: null, timeToRecoverMs: null });
  });

  it("a month that dropped intervals is read from its day buckets, partial days pro rata, and is not exact", () => {
    let m = month("2026-11", [iv("up", utc(11, 1), utc(11, 3)), iv("down", utc(11, 3), utc(11, 3, 12)), iv("up", utc(11, 3, 12), utc(11, 5))]);
    m = { ...m, intervals: m.intervals.slice(2), dropped: 2 };
    const v = view([m], null, utc(11, 30));
    const r = groupReport(v, api, utc(11, 3, 6), utc(11, 4));
    expect(r.exact).toBe(false);
    // Nov 3 from 06:00 is three quarters of its bucket (12 h up, 12 h down).
    expect(r.upMs).toBeCloseTo(9 * H, 6);
    expect(r.downMs).toBeCloseTo(9 * H, 6);
    expect(r.plannedMs).toBe(0);
  });

  it("a running drill in words, the last drill's result, and the summary's drill problem", () => {
    const drills = smallSpec({ edit: (s) => void (s.drills = [{ group: "api", every: "7d", window: "Sun 02:00-04:00 UTC" }]) });
    const base = view([nov], led, utc(12, 2));
    const run = { trigger: "schedule", from: "server1", to: "server2", startedAt: utc(11, 29, 2), returnAfterMs: 60_000 };
    const at = (phase: "out" | "hold" | "back", lastOk: boolean | null) =>
      groupReport({ ...base, spec: drills, drills: { api: { lastAt: utc(11, 22, 2), lastResult: "moved in 3.1 s", lastOk, run: { ...run, phase } } } }, drills.groups[0]!, utc(11, 1), utc(12, 1)).drill;
    expect(at("out", true)).toEqual({ every: "7d", window: "Sun 02:00-04:00 UTC", lastAt: utc(11, 22, 2), lastResult: "moved in 3.1 s", lastOk: true, running: "moving server1 -> server2 (started 2026-11-29T02:00:00.000Z)" });
    expect(at("hold", true).running).toBe("on server2 until it moves back to server1 (started 2026-11-29T02:00:00.000Z)");
    expect(at("back", true).running).toBe("moving back server2 -> server1 (started 2026-11-29T02:00:00.000Z)");
    expect(groupReport(base, api, utc(11, 1), utc(12, 1)).drill).toEqual({ every: null, window: null, lastAt: null, lastResult: null, lastOk: null, running: null });
    const failed: LedgerView = { ...base, drills: { api: { lastAt: utc(11, 22, 2), lastResult: "server2 never reported api up", lastOk: false, run: null } } };
    expect(clusterSummary(failed)[0]!.drillProblem).toBe("server2 never reported api up");
    expect(clusterSummary({ ...failed, drills: { api: { ...failed.drills.api!, lastOk: true } } })[0]!.drillProblem).toBeNull();
    expect(clusterSummary(base)[0]).toMatchObject({ group: "api", target: 99.5, drillProblem: null });
    expect(clusterReport(base, "dc1.small", "dc1", utc(11, 1), utc(12, 1))).toMatchObject({ cluster: "dc1.small", site: "dc1", from: utc(11, 1), to: utc(12, 1), now: utc(12, 2) });
  });

  it("reads the months of the window, of its calendar month and of the 30 days before its end", () => {
    expect(monthsNeeded(utc(12, 1), utc(12, 2))).toEqual(["2026-11", "2026-12"]);
    expect(monthsNeeded(utc(11, 15), utc(12, 1))).toEqual(["2026-10", "2026-11"]);
    expect(monthsNeeded(utc(9, 1), utc(11, 1))).toEqual(["2026-09", "2026-10"]);
  });
});
