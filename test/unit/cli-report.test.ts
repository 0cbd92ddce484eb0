// `chime-ha report`: the text a person reads, from a report the engine computed for a scripted
// outage (a crash of the holder, then a drill), and --month's range.
import { describe, expect, it } from "vitest";
import { formatClusterReport, monthRange } from "../../node-shim/cli/report.js";
import { UsageError } from "../../node-shim/cli/output.js";
import { AvailSim, availSpec, utc } from "../engine/support/avail-sim.js";

describe("chime-ha report", () => {
  it("prints per group the figures and every outage and planned gap with its reasons", () => {
    const spec = availSpec((s) => void (s.drills = [{ group: "server-api", every: "7d", window: "Sun 02:00-04:00 UTC", returnAfter: "60s" }]));
    const t0 = utc(2026, 11, 1, 1, 59);
    const sim = new AvailSim(spec, t0);
    sim.up = new Set(["server1", "server2"]);
    sim.beatsEvery("server1", t0, utc(2026, 11, 1, 2, 5), 1000);
    sim.beatsEvery("server2", t0, utc(2026, 11, 1, 2, 30), 1000, 100);
    sim.at(utc(2026, 11, 1, 2, 5), () => sim.up.delete("server1"));
    sim.runUntil(utc(2026, 11, 1, 2, 30)); // the drill at 02:00, then server1 crashes at 02:05
    const r = sim.report(utc(2026, 11, 1), utc(2026, 12, 1));
    const text = formatClusterReport(r, "November 2026");
    // In service from 01:59:00.030 (31 min by 02:30): 3.535 s down is 99.8099 %. The month's budget
    // is 0.5 % of the rest of November (3h35m); the last 30 days' is 0.5 % of those 31 min (9.3 s).
    expect(text.split("\n")).toEqual([
      "dc1.chimestack (site dc1): November 2026, 2026-11-01T00:00Z to 2026-11-01T02:30Z",
      "",
      "GROUP       TARGET  AVAILABILITY  DOWN  PLANNED  OUTAGES  MTTR  BUDGET LEFT (MONTH)  BUDGET LEFT (30D)  DRILL",
      "server-api  99.5 %  99.8099 %     3.5s  70ms     1        3.5s  99.9 % (3h35m)       61.9 % (5.8s)      passed 2026-11-01",
      "",
      "Outages and planned gaps:",
      "  2026-11-01T02:00:00.050Z  server-api  planned (drill) 35ms: server-api granted to server2 at epoch 2; not yet reported up -> server2 serves server-api at epoch 2 (granted after 0ms, serving after 35ms)",
      "  2026-11-01T02:01:00.150Z  server-api  planned (drill) 35ms: server-api granted to server1 at epoch 3; not yet reported up -> server1 serves server-api at epoch 3 (granted after 0ms, serving after 35ms)",
      "  2026-11-01T02:04:59.000Z  server-api  DOWN 3.5s: server1 (holder of server-api) went silent after its heartbeat at 2026-11-01T02:04:59.000Z -> server2 serves server-api at epoch 4 (granted after 3.5s, serving after 3.5s)",
    ]);
  });

  it("--month is a whole calendar month, not one to come", () => {
    expect(monthRange("2026-02", Date.UTC(2026, 5, 1))).toEqual({ from: Date.UTC(2026, 1, 1), to: Date.UTC(2026, 2, 1), title: "February 2026" });
    expect(() => monthRange("2026-13")).toThrow(UsageError);
    expect(() => monthRange("2027-01", Date.UTC(2026, 11, 31))).toThrow("--month 2027-01 has not begun");
  });
});
