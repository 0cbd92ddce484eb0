// When a held group moves and when it stays (worker/engine/evaluate-groups.ts), each said once with
// its reason: an unfit holder with nobody better keeps the group (degraded), one that failed over
// moments ago is held down, a holder in node maintenance is drained (planned) or stays when nobody
// can take it, a lost group is said lost only when nobody took it, a free group that had a holder
// is granted as an automatic failover, a better-priority member preempts only when strictly
// better, and nothing moves while the cluster is in maintenance.
import { describe, expect, it } from "vitest";
import { Shell, smallSpec } from "./support/small-spec.js";

const OK = { healthy: true, detail: "ok" };
const DOWN = { healthy: false, detail: "refused" };

function held(policy = {}, priorities = [110, 100]): Shell {
  const sh = new Shell(smallSpec({ policy: { holdDownMs: 10_000, ...policy }, priorities }));
  sh.beat("server1", 0, { probes: { api: OK } });
  sh.beat("server2", 0, { probes: { api: OK } });
  expect(sh.holder("api")).toBe("server1");
  return sh;
}

describe("group moves", () => {
  it("degraded: an unfit holder with nobody better keeps its group, said once; cleared when it is fit again", () => {
    const sh = held();
    sh.beat("server2", 500, { probes: { api: DOWN } });
    sh.beat("server1", 600, { probes: { api: DOWN } });
    sh.beat("server1", 700, { probes: { api: DOWN } });
    expect(sh.holder("api")).toBe("server1");
    expect(sh.state.persisted.notes["wait:api"]).toBe("degraded:server1:1");
    expect(sh.events("group.degraded").map((e) => [e.severity, e.node, e.reason])).toEqual([["critical", "server1", "server1's probe for api is failing (refused), but no healthy candidate; server1 keeps api"]]);
    sh.beat("server1", 800, { probes: { api: OK } });
    expect(Object.keys(sh.state.persisted.notes)).not.toContain("wait:api");
  });

  it("an unfit holder moves to the best candidate, as an automatic failover; within hold-down it is held down, said once", () => {
    const sh = held();
    const r = sh.beat("server1", 1000, { probes: { api: DOWN } });
    expect(sh.state.groups.api).toMatchObject({ phase: "revoking", revokeTo: "server2", revokeReason: "server1's probe for api is failing (refused)", lastAutoFailoverAt: 1000 });
    expect(sh.persistsOf(r).map((p) => p.groups.api!.lastAutoFailoverAt)).toEqual([1000]);
    sh.beat("server1", 1100, { probes: { api: DOWN }, released: [{ group: "api", epoch: 1 }] });
    expect(sh.holder("api")).toBe("server2");
    sh.beat("server1", 1200, { probes: { api: OK } });
    sh.beat("server2", 2000, { probes: { api: DOWN } });
    sh.beat("server2", 2500, { probes: { api: DOWN } });
    expect(sh.holder("api")).toBe("server2");
    expect(sh.state.groups.api!.phase).toBe("held");
    expect(sh.state.persisted.notes["wait:api"]).toBe("hold-down:server2:server1:1000");
    expect(sh.events("group.hold-down").map((e) => e.reason)).toEqual(["server2's probe for api is failing (refused); api would move to server1 but failed over 1.0 s ago: holding down 9.0 s more"]);
  });

  it("a holder in node maintenance is drained (a planned move); with nobody to take it, it stays, said once", () => {
    const sh = held();
    sh.run({ type: "maintenance", node: "server1", on: true, actor: "ops" }, 500);
    expect(sh.state.groups.api).toMatchObject({ phase: "revoking", revokeTo: "server2", revokeReason: "server1 is in maintenance (drain)", plannedBy: "drain of server1" });
    const blocked = held();
    blocked.beat("server2", 400, { probes: { api: DOWN } });
    blocked.run({ type: "maintenance", node: "server1", on: true, actor: "ops" }, 500);
    blocked.tick(600);
    expect(blocked.state.groups.api!.phase).toBe("held");
    expect(blocked.events("group.drain-blocked").map((e) => [e.severity, e.reason])).toEqual([["warning", "server1 is in maintenance but no healthy candidate can take api; it stays"]]);
  });

  it("a group whose lease ran out is lost only when nobody took it; a free group that had a holder goes as an automatic failover", () => {
    const sh = held();
    for (let t = 1000; t <= 3000; t += 1000) sh.beat("server2", t, { probes: { api: OK } });
    // server1's lease: its heartbeat at 0 + T (3 s) + margin (0.5 s).
    sh.beat("server2", 3500, { probes: { api: OK } });
    expect(sh.holder("api")).toBe("server2");
    expect(sh.events("group.lost")).toEqual([]);
    expect(sh.events("group.granted").at(-1)).toMatchObject({ severity: "warning", reason: "server1 lease expired 3.5 s after its last heartbeat; granting api epoch 2 to server2 (priority 100, healthy)" });
    expect(sh.state.groups.api!.lastAutoFailoverAt).toBe(3500);
    const lost = held();
    lost.beat("server2", 1000, { probes: { api: DOWN } });
    lost.tick(3500);
    expect(lost.events("group.lost").map((e) => [e.severity, e.node, e.reason])).toEqual([["critical", "server1", "server1 lease expired 3.5 s after its last heartbeat; api has no holder"]]);
    // Free with epoch 1: when server2 is healthy again it gets the group as a failover.
    lost.beat("server2", 4000, { probes: { api: OK } });
    expect(lost.events("group.granted").at(-1)).toMatchObject({ severity: "warning", reason: "api is free; granting api epoch 2 to server2 (priority 100, healthy)" });
    expect(lost.state.groups.api!.lastAutoFailoverAt).toBe(4000);
  });

  it("preemption: only a strictly better priority, healthy for the delay, takes over (a planned move)", () => {
    const policy = { preempt: { enabled: true, delayMs: 5000 } };
    const sh = new Shell(smallSpec({ policy, priorities: [110, 100] }));
    sh.beat("server2", 0, { probes: { api: OK } });
    expect(sh.holder("api")).toBe("server2");
    for (let t = 1000; t <= 5000; t += 1000) for (const n of ["server1", "server2"]) sh.beat(n, t, { probes: { api: OK } });
    sh.beat("server1", 5999, { probes: { api: OK } });
    expect(sh.state.groups.api!.phase).toBe("held");
    sh.beat("server1", 6000, { probes: { api: OK } });
    expect(sh.state.groups.api).toMatchObject({ phase: "revoking", revokeTo: "server1", revokeReason: "server1 (priority 110) healthy for 5.0 s outranks server2 (priority 100): preempting", plannedBy: "preemption" });
    const same = new Shell(smallSpec({ policy, priorities: [100, 100] }));
    same.beat("server2", 0, { probes: { api: OK } });
    for (let t = 1000; t <= 10_000; t += 1000) for (const n of ["server1", "server2"]) same.beat(n, t, { probes: { api: OK } });
    expect(same.state.groups.api!.phase).toBe("held");
    expect(same.holder("api")).toBe("server2");
  });

  it("nothing moves while the cluster is in maintenance, even an unfit holder", () => {
    const sh = held();
    sh.run({ type: "maintenance", node: null, on: true, actor: "ops" }, 100);
    sh.beat("server1", 1000, { probes: { api: DOWN } });
    sh.beat("server1", 1100, { probes: { api: DOWN } });
    expect(sh.state.groups.api!.phase).toBe("held");
    expect(sh.events("group.revoking")).toEqual([]);
  });
});
