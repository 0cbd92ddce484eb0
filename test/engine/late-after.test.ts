// When a node counts as late (worker/engine/deadlines.ts, lateAfterMs): once another node's next
// heartbeat could no longer come before a lease end + margin (T + margin - 2 intervals), but never
// before 1.5 intervals. Only a late node's moving deadlines get an alarm.
import { describe, expect, it } from "vitest";
import { isLate, lateAfterMs, nextAlarm } from "../../worker/engine/deadlines.js";
import { Shell, smallSpec } from "./support/small-spec.js";

const OK = { healthy: true, detail: "ok" };

describe("late after", () => {
  it("T + margin - 2 intervals when that is longer than 1.5 intervals, rounded", () => {
    const at = (policy: NonNullable<Parameters<typeof smallSpec>[0]>["policy"]) => lateAfterMs(new Shell(smallSpec({ policy })).state);
    // 1.5 x 1000 = 1500 = 3000 + 500 - 2000: the defaults sit on the boundary.
    expect(at({})).toBe(1500);
    expect(at({ leaseTtlMs: 6000, driftMarginMs: 500 })).toBe(4500);
    expect(at({ leaseTtlMs: 6000, driftMarginMs: 1500 })).toBe(5500);
    expect(at({ leaseTtlMs: 3000, driftMarginMs: 0, heartbeatIntervalMs: 1000 })).toBe(1500);
    expect(at({ leaseTtlMs: 3000, driftMarginMs: 0, heartbeatIntervalMs: 1001 })).toBe(1502);
  });

  it("a node is late only after that long; its liveness deadline is armed then, not before", () => {
    const sh = new Shell(smallSpec({ policy: { leaseTtlMs: 6000, driftMarginMs: 500 } }));
    for (let t = 0; t <= 2000; t += 1000) {
      sh.beat("server1", t, { probes: { api: OK } });
      sh.beat("server2", t, { probes: { api: OK } });
    }
    expect(isLate(sh.state, "server1", 6500)).toBe(false);
    expect(isLate(sh.state, "server1", 6501)).toBe(true);
    sh.beat("server2", 6500, { probes: { api: OK } });
    expect(nextAlarm(sh.state, 6500)).toBe(66_500);
    sh.beat("server2", 6501, { probes: { api: OK } });
    // server1's liveness: last heartbeat 2000 + T + 1.
    expect(nextAlarm(sh.state, 6501)).toBe(8001);
  });
});
