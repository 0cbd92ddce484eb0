// The ledger's calendar and month records (worker/engine/ledger.ts): UTC months from epoch ms,
// closed intervals split into per-day buckets, records kept under their size bound, and what a
// booting engine takes from the records the shell loaded. Figures by hand.
import { describe, expect, it } from "vitest";
import {
  addInterval,
  emptyMonth,
  type LedgerInterval,
  ledgerMemoryFrom,
  memoryMonths,
  MONTH_BYTES,
  monthBefore,
  monthOf,
  monthsBetween,
  monthStart,
  monthStartOf,
  nextMonthStart,
} from "../../worker/engine/ledger.js";

const DAY = 86_400_000;
const H = 3_600_000;
const utc = (y: number, mo: number, d: number, h = 0, mi = 0) => Date.UTC(y, mo - 1, d, h, mi);

const iv = (over: Partial<LedgerInterval>): LedgerInterval => ({
  group: "api",
  kind: "down",
  start: utc(2026, 11, 10, 12),
  end: utc(2026, 11, 10, 13),
  origin: utc(2026, 11, 10, 12),
  startReason: "server1's probe for api is failing",
  endReason: "server1 serves api at epoch 1",
  holder: "server1",
  epoch: 1,
  ...over,
});

describe("ledger calendar (UTC)", () => {
  it("names and bounds months, across year ends", () => {
    expect(monthOf(utc(2026, 1, 1))).toBe("2026-01");
    expect(monthOf(utc(2026, 11, 30, 23, 59))).toBe("2026-11");
    expect(monthOf(utc(2026, 12, 1) - 1)).toBe("2026-11");
    expect(monthStart("2026-11")).toBe(utc(2026, 11, 1));
    expect(monthStart("2027-01")).toBe(utc(2027, 1, 1));
    expect(monthStartOf(utc(2026, 11, 17, 5))).toBe(utc(2026, 11, 1));
    expect(nextMonthStart(utc(2026, 11, 17, 5))).toBe(utc(2026, 12, 1));
    expect(nextMonthStart(utc(2026, 12, 31, 23))).toBe(utc(2027, 1, 1));
  });

  it("counts months back across years, by one by default", () => {
    expect(monthBefore("2026-11")).toBe("2026-10");
    expect(monthBefore("2026-01")).toBe("2025-12");
    expect(monthBefore("2026-03", 3)).toBe("2025-12");
    expect(monthBefore("2026-11", 13)).toBe("2025-10");
    expect(monthBefore("2026-11", 0)).toBe("2026-11");
  });

  it("lists the months from one time to another, both ends included, oldest first", () => {
    expect(monthsBetween(utc(2026, 11, 30), utc(2027, 2, 1))).toEqual(["2026-11", "2026-12", "2027-01", "2027-02"]);
    expect(monthsBetween(utc(2026, 11, 3), utc(2026, 11, 4))).toEqual(["2026-11"]);
    expect(monthsBetween(utc(2026, 11, 3), utc(2026, 10, 4))).toEqual([]);
    // An engine keeps the months of the last 32 days: two around a month start, one at its end.
    expect(memoryMonths(utc(2026, 12, 5))).toEqual(["2026-11", "2026-12"]);
    expect(memoryMonths(utc(2026, 3, 31, 12))).toEqual(["2026-02", "2026-03"]);
    expect(memoryMonths(utc(2026, 1, 31))).toEqual(["2025-12", "2026-01"]);
  });
});

describe("month records", () => {
  it("an outage across midnight fills two day buckets; it counts as one outage, on the day it began", () => {
    const m = addInterval(emptyMonth("2026-12"), iv({ start: utc(2026, 12, 24, 23, 59), end: utc(2026, 12, 25, 0, 0) + 30_000, origin: utc(2026, 12, 24, 23, 59) }));
    expect(m.days.api).toEqual({ "24": [0, 60_000, 0, 1], "25": [0, 30_000, 0, 0] });
    expect(m.intervals).toHaveLength(1);
    expect(m.dropped).toBe(0);
  });

  it("up, down and planned go to their own slots; a down piece continuing an outage from before adds no outage", () => {
    let m = emptyMonth("2026-11");
    m = addInterval(m, iv({ kind: "up", start: utc(2026, 11, 1), end: utc(2026, 11, 1, 10), origin: utc(2026, 11, 1) }));
    m = addInterval(m, iv({ kind: "planned", start: utc(2026, 11, 1, 10), end: utc(2026, 11, 1, 10, 1), origin: utc(2026, 11, 1, 10) }));
    // Continues an outage that began in October (origin before start): down time, no new outage.
    m = addInterval(m, iv({ group: "db", kind: "down", start: utc(2026, 11, 1), end: utc(2026, 11, 1, 2), origin: utc(2026, 10, 31, 23) }));
    expect(m.days.api).toEqual({ "01": [10 * H, 0, 60_000, 0] });
    expect(m.days.db).toEqual({ "01": [0, 2 * H, 0, 0] });
    // A three-day up interval: two full days and the part of the third.
    m = addInterval(m, iv({ kind: "up", start: utc(2026, 11, 2, 6), end: utc(2026, 11, 4, 6), origin: utc(2026, 11, 2, 6) }));
    expect(m.days.api!["02"]).toEqual([18 * H, 0, 0, 0]);
    expect(m.days.api!["03"]).toEqual([DAY, 0, 0, 0]);
    expect(m.days.api!["04"]).toEqual([6 * H, 0, 0, 0]);
    expect(m.intervals.map((i) => i.kind)).toEqual(["up", "planned", "down", "up"]);
  });

  it("a record that grows past its bound drops its oldest intervals and counts them; the day buckets stay exact", () => {
    let m = emptyMonth("2026-11");
    const reason = "x".repeat(200);
    // About 450 characters each: 400 of them are nearly twice the bound.
    const n = 400;
    for (let i = 0, t = utc(2026, 11, 1); i < n; i++, t += 60_000) m = addInterval(m, iv({ start: t, end: t + 30_000, origin: t, startReason: reason }));
    expect(m.dropped).toBeGreaterThan(0);
    expect(m.intervals.length + m.dropped).toBe(n);
    expect(JSON.stringify(m).length).toBeLessThanOrEqual(MONTH_BYTES);
    // The newest are kept; the buckets count every interval, dropped or not.
    expect(m.intervals.at(-1)!.start).toBe(utc(2026, 11, 1) + (n - 1) * 60_000);
    expect(m.intervals[0]!.start).toBe(utc(2026, 11, 1) + m.dropped * 60_000);
    expect(m.days.api!["01"]).toEqual([0, n * 30_000, 0, n]);
  });

  it("a booting engine's memory: the month records by name, and per group the end of its newest unplanned outage", () => {
    let nov = emptyMonth("2026-11");
    nov = addInterval(nov, iv({ start: utc(2026, 11, 10), end: utc(2026, 11, 10, 1), origin: utc(2026, 11, 10) }));
    nov = addInterval(nov, iv({ start: utc(2026, 11, 20), end: utc(2026, 11, 20, 1), origin: utc(2026, 11, 20) }));
    nov = addInterval(nov, iv({ kind: "planned", start: utc(2026, 11, 25), end: utc(2026, 11, 25, 1), origin: utc(2026, 11, 25) }));
    let dec = emptyMonth("2026-12");
    dec = addInterval(dec, iv({ kind: "up", start: utc(2026, 12, 1), end: utc(2026, 12, 2), origin: utc(2026, 12, 1) }));
    dec = addInterval(dec, iv({ group: "db", start: utc(2026, 12, 1), end: utc(2026, 12, 1, 3), origin: utc(2026, 12, 1) }));
    // Records in any order: the newest outage wins.
    const mem = ledgerMemoryFrom([dec, nov]);
    expect(Object.keys(mem.months).sort()).toEqual(["2026-11", "2026-12"]);
    expect(mem.months["2026-11"]).toBe(nov);
    expect(mem.lastDownEnd).toEqual({ api: utc(2026, 11, 20, 1), db: utc(2026, 12, 1, 3) });
  });
});
