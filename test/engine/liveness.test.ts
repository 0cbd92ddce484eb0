// Liveness and the time formats every reason uses (worker/engine/liveness.ts): a node is alive up to
// exactly T after its last heartbeat, never before its first; times print as UTC ISO-8601 and
// durations with one decimal.
import { describe, expect, it } from "vitest";
import type { ProbeReport } from "../../protocol/heartbeat.js";
import { isAlive, isoTime, secs } from "../../worker/engine/liveness.js";
import { boot, statusView } from "../../worker/engine/index.js";
import { dataSpec, Driver } from "./support/data-spec.js";

const OK: ProbeReport = { healthy: true, detail: "ok" };

describe("isoTime", () => {
  it("prints UTC with milliseconds, across leap days and years", () => {
    expect(isoTime(0)).toBe("1970-01-01T00:00:00.000Z");
    expect(isoTime(1)).toBe("1970-01-01T00:00:00.001Z");
    expect(isoTime(86_399_999)).toBe("1970-01-01T23:59:59.999Z");
    expect(isoTime(951_782_400_000)).toBe("2000-02-29T00:00:00.000Z");
    expect(isoTime(1_709_251_199_999)).toBe("2024-02-29T23:59:59.999Z");
    expect(isoTime(1_709_251_200_000)).toBe("2024-03-01T00:00:00.000Z");
    expect(isoTime(Date.UTC(2026, 11, 31, 23, 59, 59, 123))).toBe("2026-12-31T23:59:59.123Z");
    expect(isoTime(Date.UTC(2100, 1, 28, 12))).toBe("2100-02-28T12:00:00.000Z");
    expect(isoTime(Date.UTC(2100, 2, 1))).toBe("2100-03-01T00:00:00.000Z");
  });

  it("a time outside Date's range (a shim may report any integer) is printed, not thrown", () => {
    expect(isoTime(8_640_000_000_000_000)).toBe("+275760-09-13T00:00:00.000Z");
    expect(isoTime(8_640_000_000_000_001)).toBe("8640000000000001 ms after 1970-01-01T00:00:00.000Z");
  });

  it("an apply failure dated beyond Date's range still becomes one event, and the step goes on", () => {
    const d = new Driver();
    const since = 9_007_199_254_740_991;
    for (let t = 0; t <= 3000; t += 1000) d.beat("server1", t, { probes: { "server-api": OK }, applyErrors: [{ target: "sysctl", command: "sysctl -w x=1", exitCode: 1, stderrTail: "", since }] });
    expect(d.events("apply.failed").map((e) => e.reason)).toEqual(["server1 cannot apply sysctl: `sysctl -w x=1` exited 1, failing since 9007199254740991 ms after 1970-01-01T00:00:00.000Z"]);
    expect(d.holder("server-api")).toBe("server1");
  });
});

describe("secs", () => {
  it("one decimal, rounded", () => {
    expect(secs(0)).toBe("0.0 s");
    expect(secs(3499)).toBe("3.5 s");
    expect(secs(3449)).toBe("3.4 s");
    expect(secs(61_000)).toBe("61.0 s");
  });
});

describe("isAlive", () => {
  it("alive up to and including T after the last heartbeat, not 1 ms later", () => {
    const d = new Driver();
    d.beat("server1", 1000, { probes: { "server-api": OK } });
    expect(isAlive(d.state, "server1", 1000)).toBe(true);
    expect(isAlive(d.state, "server1", 4000)).toBe(true);
    expect(isAlive(d.state, "server1", 4001)).toBe(false);
  });

  it("never alive before a heartbeat since boot, also at boot time 0, nor for an unknown node", () => {
    const d = new Driver(dataSpec(), 0);
    expect(isAlive(d.state, "server1", 0)).toBe(false);
    expect(isAlive(d.state, "server1", 3000)).toBe(false);
    expect(isAlive(d.state, "nosuch", 0)).toBe(false);
    d.beat("server1", 0, { probes: { "server-api": OK } });
    const rebooted = boot(structuredClone(d.state.persisted), 1);
    expect(isAlive(rebooted, "server1", 1)).toBe(false);
    expect(statusView(rebooted, 1).nodes[0]!.alive).toBe(false);
  });

  it("the node is lost at T + 1 ms, with the silence in the reason", () => {
    const d = new Driver();
    d.beat("server1", 0, { probes: { "server-api": OK } });
    d.beat("server2", 0, { probes: { "server-api": OK } });
    d.beat("server2", 3000, { probes: { "server-api": OK } });
    expect(d.events("node.lost")).toEqual([]);
    d.tick(3001);
    expect(d.events("node.lost").map((e) => [e.node, e.reason])).toEqual([["server1", "server1 missed heartbeats for 3.0 s (lease TTL 3.0 s)"]]);
  });
});
