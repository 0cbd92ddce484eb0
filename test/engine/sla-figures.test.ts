// Error-budget arithmetic (worker/engine/sla.ts): which target a group has, how much unplanned
// downtime lies in a window (closed intervals clipped to it, the open one up to its end), burn
// rates, and how spans are printed in alert texts. Figures by hand.
import { describe, expect, it } from "vitest";
import { ClusterSpec, DEFAULT_SLA_TARGET, type ClusterSpecInput } from "../../protocol/spec.js";
import { addInterval, emptyLedgerMemory, emptyMonth, type GroupLedger, type LedgerInterval } from "../../worker/engine/ledger.js";
import { BURN_RULES, burnRate, DAY_MS, downWithin, HOUR_MS, MIN_MS, span, targetOf } from "../../worker/engine/sla.js";
import { smallSpec } from "./support/small-spec.js";

const T0 = Date.UTC(2026, 10, 10);
const iv = (group: string, kind: LedgerInterval["kind"], start: number, end: number): LedgerInterval => ({ group, kind, start, end, origin: start, startReason: "b", endReason: "e", holder: "server1", epoch: 1 });
const open = (kind: LedgerInterval["kind"], start: number): GroupLedger => ({ since: 0, open: { kind, start, origin: start, reason: "r", cause: "probe", holder: "server1", epoch: 1 } });

describe("error budgets", () => {
  it("a group's target is its own, else the cluster's, else the default", () => {
    const spec = (edit: (s: ClusterSpecInput) => void) => smallSpec({ groups: [{ name: "api", service: "chime-server", mode: "active-standby", vip: "192.168.231.10", ports: [{ port: 8801 }], probe: { type: "tcp", port: 8801 } }], edit });
    const plain = spec(() => {});
    expect(targetOf(plain, plain.groups[0]!)).toBe(DEFAULT_SLA_TARGET);
    expect(DEFAULT_SLA_TARGET).toBe(99.5);
    const cluster = spec((s) => void (s.sla = { target: 99.9 }));
    expect(targetOf(cluster, cluster.groups[0]!)).toBe(99.9);
    const own: ClusterSpec = spec((s) => {
      s.sla = { target: 99.9 };
      s.groups![0]!.sla = { target: 99 };
    });
    expect(targetOf(own, own.groups[0]!)).toBe(99);
  });

  it("downtime in a window: only this group's unplanned intervals, clipped to the window, and the open outage up to the window's end", () => {
    let m = emptyMonth("2026-11");
    m = addInterval(m, iv("api", "down", T0, T0 + 10 * MIN_MS)); // 10 min
    m = addInterval(m, iv("api", "planned", T0 + 20 * MIN_MS, T0 + 30 * MIN_MS)); // planned: not counted
    m = addInterval(m, iv("api", "up", T0 + 30 * MIN_MS, T0 + 40 * MIN_MS));
    m = addInterval(m, iv("db", "down", T0, T0 + HOUR_MS)); // another group
    const mem = { ...emptyLedgerMemory(), months: { "2026-11": m } };
    expect(downWithin(mem, undefined, "api", T0 - HOUR_MS, T0 + HOUR_MS)).toBe(10 * MIN_MS);
    // Clipped at both ends: 5 min of the 10 lie in [T0 + 5 min, T0 + 1 h].
    expect(downWithin(mem, undefined, "api", T0 + 5 * MIN_MS, T0 + HOUR_MS)).toBe(5 * MIN_MS);
    expect(downWithin(mem, undefined, "api", T0 - HOUR_MS, T0 + 4 * MIN_MS)).toBe(4 * MIN_MS);
    // A window entirely after it counts nothing (not a negative time).
    expect(downWithin(mem, undefined, "api", T0 + HOUR_MS, T0 + 2 * HOUR_MS)).toBe(0);
    // The open interval: down since T0 + 50 min, counted from the window's start if later.
    expect(downWithin(mem, open("down", T0 + 50 * MIN_MS), "api", T0, T0 + HOUR_MS)).toBe(20 * MIN_MS);
    expect(downWithin(mem, open("down", T0 + 50 * MIN_MS), "api", T0 + 55 * MIN_MS, T0 + HOUR_MS)).toBe(5 * MIN_MS);
    expect(downWithin(mem, open("up", T0 + 50 * MIN_MS), "api", T0, T0 + HOUR_MS)).toBe(10 * MIN_MS);
    expect(downWithin(mem, open("planned", T0 + 50 * MIN_MS), "api", T0, T0 + HOUR_MS)).toBe(10 * MIN_MS);
  });

  it("burn rate: 1 spends the budget exactly over the window; the workbook's rules and windows", () => {
    // 99.5 %: 0.5 % of an hour is 18 s.
    expect(burnRate(18_000, HOUR_MS, 99.5)).toBeCloseTo(1, 12);
    expect(burnRate(259_200, HOUR_MS, 99.5)).toBeCloseTo(14.4, 12);
    expect(burnRate(0, HOUR_MS, 99.9)).toBe(0);
    expect(BURN_RULES.map((r) => [r.id, r.severity, r.rate, r.longMs, r.shortMs])).toEqual([
      ["fast", "critical", 14.4, HOUR_MS, 5 * MIN_MS],
      ["slow", "critical", 6, 6 * HOUR_MS, 30 * MIN_MS],
      ["ticket", "warning", 1, 3 * DAY_MS, 6 * HOUR_MS],
    ]);
  });

  it("spans in alert texts: whole days from two days up, else hours, minutes or seconds with one decimal at most", () => {
    expect(span(3 * DAY_MS)).toBe("3 days");
    expect(span(2 * DAY_MS)).toBe("2 days");
    expect(span(DAY_MS)).toBe("24 h");
    expect(span(2 * DAY_MS + HOUR_MS)).toBe("49 h");
    expect(span(HOUR_MS)).toBe("1 h");
    expect(span(6 * HOUR_MS)).toBe("6 h");
    expect(span(HOUR_MS - 1)).toBe("60 min");
    expect(span(5 * MIN_MS)).toBe("5 min");
    expect(span(1_038_000)).toBe("17.3 min");
    expect(span(MIN_MS)).toBe("1 min");
    expect(span(59_000)).toBe("59 s");
    expect(span(4_250)).toBe("4.3 s");
    expect(span(0)).toBe("0 s");
  });
});
