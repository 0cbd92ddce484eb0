// Failsafe peers in the engine (worker/engine/failsafe-peers.ts): the peer list each shim says it
// uses (`peersOf`) is kept when it grows; a holder whose lease lapsed without a release is noted
// (only under failsafe), and that lapse ends when it says it holds the group no more, or when a
// member it knew holds the group at the new epoch. While it lasts, a member that joined after the
// lapsed holder's peer list may not take the group; without a lapse, a new member is like any.
import { describe, expect, it } from "vitest";
import { Shell, smallSpec } from "./support/small-spec.js";

const OK = { healthy: true, detail: "ok" };
const DOWN = { healthy: false, detail: "connect ECONNREFUSED" };
const three = (policy = {}) => smallSpec({ priorities: [110, 100, 90], policy });

/**
 * server1 holds api at epoch 1 and goes silent after its heartbeat at 1000; its lease ends at 4000,
 * and at 4500 (end + margin) server2 gets api at epoch 2.
 */
function lapsed(policy = {}): Shell {
  const sh = new Shell(three(policy));
  for (const n of ["server1", "server2", "server3"]) sh.beat(n, 0, { probes: { api: OK } });
  sh.beat("server1", 1000, { probes: { api: OK }, holding: [{ group: "api", epoch: 1 }] });
  for (let t = 1500; t <= 4500; t += 500) for (const n of ["server2", "server3"]) sh.beat(n, t, { probes: { api: OK } });
  expect(sh.holder("api")).toBe("server2");
  expect(sh.state.groups.api!.epoch).toBe(2);
  return sh;
}

describe("failsafe lapses", () => {
  it("a shim's peer list version is kept when it grows, written once; an older or missing one changes nothing", () => {
    const sh = new Shell(three());
    const first = sh.beat("server1", 0, { probes: { api: OK }, peersOf: 2 });
    expect(sh.state.persisted.peersOf).toEqual({ server1: 2 });
    expect(sh.persistsOf(first).map((p) => p.peersOf)).toEqual([{ server1: 2 }]);
    for (const [t, peersOf] of [[1000, 2], [2000, 1], [3000, undefined]] as const) {
      const r = sh.beat("server1", t, { probes: { api: OK }, ...(peersOf === undefined ? {} : { peersOf }) });
      expect(sh.persistsOf(r)).toEqual([]);
    }
    const grown = sh.beat("server1", 4000, { probes: { api: OK }, peersOf: 3 });
    expect(sh.persistsOf(grown).map((p) => p.peersOf)).toEqual([{ server1: 3 }]);
  });

  it("a holder whose lease lapsed is noted in the step that moves its group, and only under failsafe", () => {
    expect(lapsed().state.persisted.groups.api!.lapsedHolder).toBe("server1");
    expect(lapsed({ failsafe: false }).state.persisted.groups.api!.lapsedHolder).toBeUndefined();
  });

  it("the lapse ends when the lapsed holder says it holds the group no more (not while it says it holds it), and that is written", () => {
    const sh = lapsed();
    sh.beat("server1", 5000, { probes: { api: OK }, holding: [{ group: "api", epoch: 1 }] });
    expect(sh.state.persisted.groups.api!.lapsedHolder).toBe("server1");
    const r = sh.beat("server1", 5100, { probes: { api: OK }, holding: [] });
    expect(sh.state.persisted.groups.api!.lapsedHolder).toBeUndefined();
    expect(sh.persistsOf(r).map((p) => p.groups.api)).toEqual([{ holder: "server2", epoch: 2, lastAutoFailoverAt: 4500, holderBoot: "boot-server2" }]);
  });

  it("the lapse ends when a member the lapsed holder knew reports holding the group at its new epoch (not at another)", () => {
    const sh = lapsed();
    sh.beat("server3", 5000, { probes: { api: OK }, holding: [{ group: "api", epoch: 2 }] });
    sh.beat("server2", 5000, { probes: { api: OK }, holding: [{ group: "api", epoch: 1 }] });
    expect(sh.state.persisted.groups.api!.lapsedHolder).toBe("server1");
    const r = sh.beat("server2", 5100, { probes: { api: OK }, holding: [{ group: "api", epoch: 2 }] });
    expect(sh.state.persisted.groups.api!.lapsedHolder).toBeUndefined();
    expect(sh.persistsOf(r)).toHaveLength(1);
  });

  it("without a lapse a member that joined later takes a group like any other", () => {
    const sh = new Shell(smallSpec({ priorities: [110, 100] }));
    sh.run({ type: "spec", spec: three(), specVersion: 2, actor: "ops" }, 0);
    expect(sh.state.persisted.memberSince).toEqual({ api: { server3: 2 } });
    sh.beat("server1", 100, { probes: { api: DOWN }, peersOf: 1 });
    sh.beat("server2", 100, { probes: { api: DOWN }, peersOf: 1 });
    sh.beat("server3", 100, { probes: { api: OK }, peersOf: 2 });
    expect(sh.holder("api")).toBe("server3");
  });

  it("without a lapse, the holder's and a peer's steady heartbeats write nothing", () => {
    const sh = new Shell(three());
    for (const n of ["server1", "server2", "server3"]) sh.beat(n, 0, { probes: { api: OK }, holding: [] });
    sh.beat("server1", 500, { probes: { api: OK }, holding: [{ group: "api", epoch: 1 }] });
    for (let t = 1000; t <= 3000; t += 1000) {
      expect(sh.persistsOf(sh.beat("server1", t, { probes: { api: OK }, holding: [{ group: "api", epoch: 1 }] }))).toEqual([]);
      expect(sh.persistsOf(sh.beat("server2", t, { probes: { api: OK }, holding: [] }))).toEqual([]);
    }
  });
});
