// The edges of an availability report's window (worker/engine/report.ts), on a ledger written by
// hand with two groups: another group's intervals never count; an outage that ends exactly at the
// window's start is not in it but its recovery still counts for MTTR, one that starts exactly at
// its start is an outage of the window; MTTR and MTTG are means (MTTG over granted outages only);
// months are read in order whatever order they were loaded in; a window ending at a month start
// reads nothing of the next month; planned time from day buckets; the open interval's grant.
import { describe, expect, it } from "vitest";
import { addInterval, emptyMonth, type GroupLedger, type LedgerInterval, type LedgerMonth } from "../../worker/engine/ledger.js";
import { groupReport, type LedgerView } from "../../worker/engine/report.js";
import { API_GROUP, smallSpec } from "./support/small-spec.js";

const MIN = 60_000;
const H = 3_600_000;
const T = Date.UTC(2026, 10, 10, 8);
const spec = smallSpec({ groups: [API_GROUP, { ...API_GROUP, name: "web", vip: "192.168.231.20" }], edit: (s) => void (s.drills = [{ group: "web", every: "7d", window: "Sun 02:00-04:00 UTC" }]) });
const api = spec.groups[0]!;

const iv = (group: string, kind: LedgerInterval["kind"], start: number, end: number, over: Partial<LedgerInterval> = {}): LedgerInterval => ({ group, kind, start, end, origin: start, startReason: `${kind} ${start}`, endReason: `${kind} end ${end}`, holder: "server1", epoch: 1, ...over });
const month = (name: string, ivs: LedgerInterval[], dropped = 0): LedgerMonth => ({ ...ivs.reduce((m, i) => addInterval(m, i), emptyMonth(name)), dropped });

// api: up 1 h, down 10 min (granted after 2 min), up, down 20 min at T+2h (never granted), up,
// 5 min planned at T+3h, up since. web: down the whole time (it must never count for api).
const nov = month("2026-11", [
  iv("api", "up", T, T + H),
  iv("web", "down", T, T + 4 * H),
  iv("api", "down", T + H, T + H + 10 * MIN, { grantedAt: T + H + 2 * MIN, grantedTo: "server2" }),
  iv("api", "up", T + H + 10 * MIN, T + 2 * H),
  iv("api", "down", T + 2 * H, T + 2 * H + 20 * MIN),
  iv("api", "up", T + 2 * H + 20 * MIN, T + 3 * H),
  iv("api", "planned", T + 3 * H, T + 3 * H + 5 * MIN, { plannedBy: "switchover by token:ops" }),
]);
const open: GroupLedger = { since: T, open: { kind: "up", start: T + 3 * H + 5 * MIN, origin: T + 3 * H + 5 * MIN, reason: "server1 serves api at epoch 1", cause: "held", holder: "server1", epoch: 1 } };
const view = (months: LedgerMonth[], led: GroupLedger = open, now = T + 5 * H): LedgerView => ({ spec, ledger: { api: led }, drills: {}, months: Object.fromEntries(months.map((m) => [m.month, m])), now });

describe("report windows", () => {
  it("from the first outage's end to the second's end: only the second is in the window (and its MTTR); none was granted", () => {
    const r = groupReport(view([nov]), api, T + H + 10 * MIN, T + 2 * H + 20 * MIN);
    expect(r.intervals.map((i) => [i.kind, i.start])).toEqual([
      ["up", T + H + 10 * MIN],
      ["down", T + 2 * H],
    ]);
    expect(r.outages).toBe(1);
    expect(r.mttrMs).toBe(20 * MIN);
    expect(r.mttgMs).toBeNull();
    expect(r.downMs).toBe(20 * MIN);
    expect(r.upMs).toBe(50 * MIN);
    expect(r.intervals[0]).toMatchObject({ timeToGrantMs: null, timeToRecoverMs: null });
    expect(r.intervals[1]).toMatchObject({ timeToGrantMs: null, timeToRecoverMs: 20 * MIN });
    // Both outages: MTTR the mean of 10 and 20 min, MTTG over the granted one only.
    const both = groupReport(view([nov]), api, T, T + 3 * H);
    expect([both.outages, both.mttrMs, both.mttgMs]).toEqual([2, 15 * MIN, 2 * MIN]);
  });

  it("an outage starting exactly at the window's start is one of its outages; a window that is all outage has 0 %, not none", () => {
    const r = groupReport(view([nov]), api, T + 2 * H, T + 2 * H + 20 * MIN);
    expect(r.outages).toBe(1);
    expect(r.availability).toBe(0);
    expect(r.intervals.map((i) => i.kind)).toEqual(["down"]);
    // Mostly down: up / (up + down), not undefined.
    const mostly = groupReport(view([nov]), api, T + 2 * H - 5 * MIN, T + 2 * H + 20 * MIN);
    expect(mostly.availability).toBeCloseTo(20, 12);
  });

  it("months are read oldest first whatever order they come in; a window ending at a month start reads nothing of the next", () => {
    const dec = month("2026-12", [iv("api", "down", Date.UTC(2026, 11, 1), Date.UTC(2026, 11, 1, 0, 30))], 3);
    const led: GroupLedger = { since: T, open: { kind: "up", start: Date.UTC(2026, 11, 1, 0, 30), origin: Date.UTC(2026, 11, 1, 0, 30), reason: "r", cause: "held", holder: "server1", epoch: 2, grantedAt: 1, grantedTo: "x" } };
    const v = view([dec, nov], led, Date.UTC(2026, 11, 2));
    const r = groupReport(v, api, T, Date.UTC(2026, 11, 1));
    expect(r.exact).toBe(true);
    expect(r.intervals.map((i) => i.start)).toEqual([T, T + H, T + H + 10 * MIN, T + 2 * H, T + 2 * H + 20 * MIN, T + 3 * H]);
    // Including December: its buckets (it dropped intervals), so not exact.
    expect(groupReport(v, api, T, Date.UTC(2026, 11, 1, 1)).exact).toBe(false);
  });

  it("planned time from day buckets, pro rata; the open interval's grant is reported", () => {
    const dropped = { ...nov, intervals: [], dropped: nov.intervals.length };
    const led: GroupLedger = { since: T, open: { kind: "down", start: T + 4 * H, origin: T + 4 * H, reason: "r", cause: "silent", holder: "server1", epoch: 1, grantedAt: T + 4 * H + MIN, grantedTo: "server2" } };
    const r = groupReport(view([dropped], led, Date.UTC(2026, 10, 11, 1)), api, Date.UTC(2026, 10, 10), Date.UTC(2026, 10, 11));
    expect(r.exact).toBe(false);
    expect(r.plannedMs).toBe(5 * MIN);
    // 30 min from the buckets, and the open outage from T + 4 h (12:00) to the window's end.
    expect(r.downMs).toBe(30 * MIN + 12 * H);
    expect(r.intervals.at(-1)).toMatchObject({ kind: "down", end: null, grantedAt: T + 4 * H + MIN, grantedTo: "server2", timeToGrantMs: MIN });
    // A drill configured for another group is not this group's.
    expect(r.drill.every).toBeNull();
  });
});
