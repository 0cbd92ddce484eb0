// The restart grace (worker/engine/lease-rules.ts): a restarted Durable Object does not know the
// leases; until boot + T + margin it judges a holder only once it has heard from it. Preemption of a
// silent holder whose lease still runs asks it to release; the grant still waits for the lease end.
import { describe, expect, it } from "vitest";
import type { ProbeReport } from "../../protocol/heartbeat.js";
import { inRestartGrace } from "../../worker/engine/index.js";
import { Shell, smallSpec } from "./support/small-spec.js";

const OK: ProbeReport = { healthy: true, detail: "ok" };
const DOWN: ProbeReport = { healthy: false, detail: "http 503" };
const preempt = () => smallSpec({ policy: { preempt: { enabled: true, delayMs: 0 } } });

describe("restart grace", () => {
  it("lasts from boot to boot + T + margin, exclusive", () => {
    const sh = new Shell(smallSpec(), 1000);
    expect(inRestartGrace(sh.state, 1000)).toBe(true);
    expect(inRestartGrace(sh.state, 4499)).toBe(true);
    expect(inRestartGrace(sh.state, 4500)).toBe(false);
  });

  it("a holder not heard since the restart is not preempted during the grace; once it beats, it is", () => {
    const sh = new Shell(preempt());
    // server1 (priority 110) is unhealthy, so server2 (100) gets the group.
    for (let t = 0; t <= 5000; t += 1000) {
      sh.beat("server1", t, { probes: { api: DOWN } });
      sh.beat("server2", t, { probes: { api: OK } });
    }
    expect(sh.holder("api")).toBe("server2");
    sh.restart(10_000);
    sh.beat("server1", 10_100, { probes: { api: OK } });
    sh.tick(10_400);
    expect(sh.state.groups.api!.phase).toBe("held");
    expect(sh.events("group.revoking")).toEqual([]);
    sh.beat("server2", 10_500, { probes: { api: OK } });
    expect(sh.state.groups.api!.phase).toBe("revoking");
    expect(sh.events("group.revoking").map((e) => e.reason)).toEqual(["server1 (priority 110) healthy for 0.4 s outranks server2 (priority 100): preempting; revoking api epoch 1 from server2 for server1"]);
  });

  it("after the grace, a silent holder whose lease still runs is asked to release; the group moves at its lease end, as a release never confirmed", () => {
    const sh = new Shell(preempt());
    for (let t = 0; t <= 5000; t += 1000) {
      sh.beat("server1", t, { probes: { api: DOWN } });
      sh.beat("server2", t, { probes: { api: OK } });
    }
    // server2 falls silent after 5000 (lease to 8000, moves at 8500); server1 recovers at 8200.
    for (let t = 6000; t <= 8000; t += 1000) sh.beat("server1", t, { probes: { api: DOWN } });
    sh.beat("server1", 8200, { probes: { api: OK } });
    expect(sh.events("group.revoking").map((e) => e.reason)).toEqual(["server1 (priority 110) healthy for 0.0 s outranks server2 (priority 100): preempting; revoking api epoch 1 from server2 for server1"]);
    sh.tick(8499);
    expect(sh.holder("api")).toBe("server2");
    sh.tick(8500);
    expect(sh.holder("api")).toBe("server1");
    expect(sh.events("group.granted").at(-1)!.reason).toBe("server2 lease expired 3.5 s after its last heartbeat (it never confirmed the release); granting api epoch 2 to server1 (priority 110, healthy)");
  });
});
