// Each kind of deadline on its own (worker/engine/deadlines.ts), on a quiet cluster set up by hand
// where nothing else is due: when it falls, and whether the alarm is armed for it (only for
// deadlines no heartbeat is sure to reach: one-offs, or ones a late node would have moved).
import { describe, expect, it } from "vitest";
import type { EngineState } from "../../worker/engine/index.js";
import { boot, newPersistedState, nextAlarm, nextDeadline, SILENCE_CHECK_MS } from "../../worker/engine/index.js";
import { emptyNode } from "../../worker/engine/state.js";
import { API_GROUP, smallSpec } from "./support/small-spec.js";

const BOOT = 0;
const NOW = 100_000;
// T = 3 s, margin 0.5 s, hold-down 10 s; a node is late 1.5 s after its last heartbeat.

function quiet(groups = [API_GROUP], policy = {}): EngineState {
  return boot(newPersistedState("dc1.small", smallSpec({ groups, policy }), 1), BOOT);
}

describe("deadline kinds", () => {
  it("nothing due: no deadline, the alarm is the silence check", () => {
    const s = quiet();
    expect(nextDeadline(s, NOW)).toBeNull();
    expect(nextAlarm(s, NOW)).toBe(NOW + SILENCE_CHECK_MS);
  });

  it("the restart grace ends at boot + T + margin: armed", () => {
    const s = quiet();
    expect(nextDeadline(s, 1000)).toBe(3500);
    expect(nextAlarm(s, 1000)).toBe(3500);
  });

  it("a node's liveness (heartbeat + T + 1 ms) is moved by its heartbeats: armed only once it is late; not for a node never reported alive", () => {
    const s = quiet();
    s.nodes.server1 = { ...emptyNode(), lastBeatAt: NOW - 500, aliveReported: true };
    expect(nextDeadline(s, NOW)).toBe(NOW - 500 + 3001);
    expect(nextAlarm(s, NOW)).toBe(NOW + SILENCE_CHECK_MS);
    expect(nextAlarm(s, NOW + 1001)).toBe(NOW - 500 + 3001);
    s.nodes.server1.aliveReported = false;
    expect(nextDeadline(s, NOW)).toBeNull();
  });

  it("a compute node heard once is judged dead after deadAfter (60 s) of silence, moved by its heartbeats; once, while it counts as alive", () => {
    const s = quiet();
    s.persisted.heard = ["node1"];
    s.nodes.node1 = { ...emptyNode(), lastBeatAt: NOW - 500, aliveReported: false };
    expect(nextDeadline(s, NOW)).toBe(NOW - 500 + 60_000);
    expect(nextAlarm(s, NOW)).toBe(NOW + SILENCE_CHECK_MS);
    // Not heard since this object started: counted from its boot, armed (no heartbeat will move it).
    s.nodes.node1 = emptyNode();
    expect(nextDeadline(s, 4000)).toBe(60_000);
    expect(nextAlarm(s, 4000)).toBe(60_000);
    // Already judged (fencing under way): no deadline.
    s.persisted.computes.node1 = { phase: "suspect", since: 1 };
    expect(nextDeadline(s, 4000)).toBeNull();
    // A server is not judged dead this way.
    const t = quiet();
    t.persisted.heard = ["server1"];
    t.nodes.server1 = { ...emptyNode(), lastBeatAt: NOW - 500, aliveReported: false };
    expect(nextDeadline(t, NOW)).toBeNull();
  });

  it("a held lease's end + margin is moved by the holder's renewals; a revoked holder's is armed", () => {
    const s = quiet();
    s.nodes.server1 = { ...emptyNode(), lastBeatAt: NOW - 500, aliveReported: false };
    s.groups.api = { ...s.groups.api!, holder: "server1", epoch: 1, phase: "held", leaseUntil: NOW + 2500 };
    expect(nextDeadline(s, NOW)).toBe(NOW + 3000);
    expect(nextAlarm(s, NOW)).toBe(NOW + SILENCE_CHECK_MS);
    s.groups.api.phase = "revoking";
    expect(nextAlarm(s, NOW)).toBe(NOW + 3000);
    // After a restart the lease is unknown: it ends at boot + T at the latest, and nobody moves that.
    s.groups.api = { ...s.groups.api, phase: "held", leaseUntil: null };
    expect(nextAlarm(s, 1000)).toBe(3500);
  });

  it("hold-down ends 10 s after an automatic failover: armed", () => {
    const s = quiet();
    s.groups.api = { ...s.groups.api!, lastAutoFailoverAt: NOW - 4000 };
    expect(nextDeadline(s, NOW)).toBe(NOW + 6000);
    expect(nextAlarm(s, NOW)).toBe(NOW + 6000);
  });

  it("preemption: a better member healthy since t is looked at t + delay, only when preemption is on and the group has a holder", () => {
    const on = quiet([API_GROUP], { preempt: { enabled: true, delayMs: 30_000 } });
    on.nodes.server2 = { ...emptyNode(), healthySince: { api: NOW - 1000 } };
    expect(nextDeadline(on, NOW)).toBeNull();
    on.groups.api = { ...on.groups.api!, holder: "server2", epoch: 1, phase: "held", leaseUntil: NOW + 100_000 };
    expect(nextDeadline(on, NOW)).toBe(NOW + 29_000);
    expect(nextAlarm(on, NOW)).toBe(NOW + 29_000);
  });

  it("a VIP still leased to a removed group's holder frees at its end + margin: armed", () => {
    const s = quiet();
    s.persisted.retired = { web: { epoch: 2, vip: API_GROUP.vip, holder: "server2", until: NOW + 1000 } };
    expect(nextDeadline(s, NOW)).toBe(NOW + 1500);
    expect(nextAlarm(s, NOW)).toBe(NOW + 1500);
  });
});
