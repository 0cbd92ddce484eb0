// Exact alarm times (worker/engine/deadlines.ts) in single states: the restart grace, the silence
// backstop, a late node's liveness and lease deadlines (not before it is late: 1.5 intervals),
// hold-down and preemption delays, a compute node's death, and a deadline already due (now + 1).
import { describe, expect, it } from "vitest";
import type { ProbeReport } from "../../protocol/heartbeat.js";
import { isLate, nextDeadline } from "../../worker/engine/index.js";
import { Shell, smallSpec } from "./support/small-spec.js";

const OK: ProbeReport = { healthy: true, detail: "ok" };
const DOWN: ProbeReport = { healthy: false, detail: "http 503" };
const alarmOf = (r: ReturnType<Shell["run"]>) => r.effects.flatMap((e) => (e.type === "alarm" ? [e.at] : []));

/** Both servers beat every second from 0 to `to`. */
function both(sh: Shell, to: number): void {
  for (let t = 0; t <= to; t += 1000) {
    sh.beat("server1", t, { probes: { api: OK } });
    sh.beat("server2", t, { probes: { api: OK } });
  }
}

describe("alarm times", () => {
  it("a booted object with nothing heard: the restart grace's end, then the backstop a minute later", () => {
    const sh = new Shell(smallSpec(), 1000);
    expect(alarmOf(sh.tick(1000))).toEqual([4500]);
    expect(alarmOf(sh.tick(4499))).toEqual([4500]);
    expect(alarmOf(sh.tick(4500))).toEqual([64_500]);
  });

  it("one alarm per step, and none for deadlines heartbeats keep moving while every node is on time", () => {
    const sh = new Shell(smallSpec());
    both(sh, 10_000);
    expect(alarmOf(sh.beat("server2", 11_000, { probes: { api: OK } }))).toEqual([71_000]);
  });

  it("a node is late after 1.5 intervals, not at: then its liveness (T + 1 ms) and its lease end + margin are armed", () => {
    const sh = new Shell(smallSpec());
    both(sh, 10_000);
    expect(isLate(sh.state, "server1", 11_500)).toBe(false);
    expect(isLate(sh.state, "server1", 11_501)).toBe(true);
    expect(isLate(sh.state, "node1", 0)).toBe(true); // never heard: late
    expect(alarmOf(sh.beat("server2", 11_500, { probes: { api: OK } }))).toEqual([71_500]);
    expect(alarmOf(sh.beat("server2", 11_501, { probes: { api: OK } }))).toEqual([13_001]);
    expect(alarmOf(sh.tick(13_001))).toEqual([13_500]);
    expect(sh.events("node.lost").map((e) => e.node)).toEqual(["server1"]);
    expect(nextDeadline(sh.state, 13_001)).toBe(13_500);
  });

  it("a revoked holder gets no renewals: its lease end is armed at once", () => {
    const sh = new Shell(smallSpec());
    both(sh, 5000);
    expect(alarmOf(sh.run({ type: "switchover", group: "api", to: "server2", actor: "op" }, 5100))).toEqual([8500]);
  });

  it("the end of a hold-down is armed while it lasts", () => {
    const sh = new Shell(smallSpec());
    both(sh, 5000);
    sh.beat("server1", 6000, { probes: { api: DOWN } });
    sh.beat("server1", 6100, { probes: { api: DOWN }, released: [{ group: "api", epoch: 1 }] });
    // Failed over (a health move) at 6000: the hold-down ends at 16 000.
    expect(alarmOf(sh.beat("server2", 6200, { probes: { api: OK } }))).toEqual([16_000]);
    // The next deadline of any kind: server1's liveness (last heartbeat 6100).
    expect(nextDeadline(sh.state, 6200)).toBe(9101);
  });

  it("a preemption delay is armed from when the better node turned healthy", () => {
    const sh = new Shell(smallSpec({ policy: { preempt: { enabled: true, delayMs: 5000 } } }));
    for (let t = 0; t <= 4000; t += 1000) {
      sh.beat("server2", t, { probes: { api: OK } });
      sh.beat("server1", t, { probes: { api: DOWN } });
    }
    expect(sh.holder("api")).toBe("server2");
    sh.beat("server2", 5000, { probes: { api: OK } });
    expect(alarmOf(sh.beat("server1", 5000, { probes: { api: OK } }))).toEqual([10_000]);
  });

  it("with preemption enabled and nothing pending, steady renewals arm only the backstop (not an alarm every millisecond)", () => {
    const sh = new Shell(smallSpec({ policy: { preempt: { enabled: true, delayMs: 5000 } } }));
    both(sh, 20_000);
    expect(alarmOf(sh.beat("server2", 21_000, { probes: { api: OK } }))).toEqual([81_000]);
    expect(alarmOf(sh.tick(21_001))).toEqual([81_001]);
  });

  it("a frozen cluster whose holder died is not woken every millisecond: only maintenance's end (an input) decides", () => {
    const sh = new Shell(smallSpec({ policy: { deadAfterMs: 10_000 } }));
    sh.beat("node1", 0, { probes: {} });
    both(sh, 5000);
    sh.run({ type: "maintenance", node: null, on: true, actor: "op" }, 5100);
    // server1 dies after 5000: its lease ends at 8500, node1's death is due at 10 000; both pass frozen.
    for (let t = 6000; t <= 20_000; t += 1000) sh.beat("server2", t, { probes: { api: OK } });
    expect(alarmOf(sh.beat("server2", 21_000, { probes: { api: OK } }))).toEqual([81_000]);
    expect(alarmOf(sh.tick(21_001))).toEqual([81_001]);
    expect(sh.holder("api")).toBe("server1");
  });

  it("a heard compute node's death is armed once it is late: from its last heartbeat", () => {
    const sh = new Shell(smallSpec({ policy: { deadAfterMs: 20_000 } }));
    sh.beat("node1", 0, { probes: {} });
    both(sh, 5000);
    // node1 was lost at 3001; what is left of it is its death at 20 000.
    expect(alarmOf(sh.beat("server1", 6000, { probes: { api: OK } }))).toEqual([20_000]);
    // After a restart it counts from the boot (it has not been heard since).
    sh.restart(7000);
    for (let t = 8000; t <= 10_000; t += 1000) sh.beat("server1", t, { probes: { api: OK } });
    expect(alarmOf(sh.beat("server1", 11_000, { probes: { api: OK } }))).toEqual([27_000]);
  });
});
