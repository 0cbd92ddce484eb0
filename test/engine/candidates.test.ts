// Who gets a group, and why (worker/engine/candidates.ts): among live, healthy members that are not
// in maintenance, the mode's preference first, then the higher priority, then the order of the
// nodes in the spec (not the order of the group's member list). Each refusal names its reason.
import { describe, expect, it } from "vitest";
import type { ProbeReport } from "../../protocol/heartbeat.js";
import { ClusterSpec, type ClusterSpecInput } from "../../protocol/spec.js";
import { candidates, whyNotCandidate } from "../../worker/engine/index.js";
import { Driver } from "./support/data-spec.js";

const OK: ProbeReport = { healthy: true, detail: "ok" };

/** Three servers in spec order server1, server2, server3 with the given priorities; one active-standby group. */
function spec(priorities: [number, number, number], group: Partial<NonNullable<ClusterSpecInput["groups"]>[number]> = {}) {
  return ClusterSpec.parse({
    apiVersion: "chime-ha/v1",
    name: "prio",
    policy: { heartbeatIntervalMs: 1000, leaseTtlMs: 3000, driftMarginMs: 500, holdDownMs: 0, deadAfterMs: 60_000 },
    nodes: [
      ...priorities.map((priority, i) => ({ name: `server${i + 1}`, hostname: `server${i + 1}.chime.com`, ip: `192.168.231.${11 + i}`, role: "server", priority })),
      { name: "node1", hostname: "node1.chime.com", ip: "192.168.231.101", role: "compute", fence: { type: "webhook", url: "http://fence.example/off" } },
    ],
    groups: [{ name: "api", service: "chime-server", mode: "active-standby", vip: "192.168.231.10", ports: [{ port: 8801 }], probe: { type: "tcp", port: 8801 }, ...group }],
  });
}

/** Everyone beats at 0 while the cluster is frozen, then maintenance ends at 500: all three are candidates at once. */
function allAtOnce(d: Driver): void {
  d.run({ type: "maintenance", node: null, on: true, actor: "op" }, 0);
  for (const n of ["server1", "server2", "server3"]) d.beat(n, 0, { probes: { api: OK } });
  d.run({ type: "maintenance", node: null, on: false, actor: "op" }, 500);
}

describe("candidate order", () => {
  it("the higher priority wins over spec order", () => {
    const d = new Driver(spec([100, 90, 120]));
    allAtOnce(d);
    expect(candidates(d.state, d.state.persisted.spec.groups[0]!, 500)).toEqual(["server3", "server1", "server2"]);
    expect(d.holder("api")).toBe("server3");
    expect(d.events("group.granted").map((e) => e.reason)).toEqual(["api has no holder yet; granting api epoch 1 to server3 (priority 120, healthy)"]);
  });

  it("equal priorities: the node listed first in the spec wins, whatever the member list's order", () => {
    const d = new Driver(spec([100, 100, 100], { members: ["server3", "server2", "server1"] }));
    allAtOnce(d);
    expect(candidates(d.state, d.state.persisted.spec.groups[0]!, 500)).toEqual(["server1", "server2", "server3"]);
    expect(d.holder("api")).toBe("server1");
  });

  it("a failover goes to the best remaining node: priority first, then spec order", () => {
    const d = new Driver(spec([110, 100, 105]));
    for (let t = 0; t <= 2000; t += 1000) for (const n of ["server1", "server2", "server3"]) d.beat(n, t, { probes: { api: OK } });
    expect(d.holder("api")).toBe("server1");
    // server1 dies after its beat at 2000; the others keep beating; at 5500 the lease is surely over.
    for (let t = 3000; t <= 5000; t += 1000) for (const n of ["server2", "server3"]) d.beat(n, t, { probes: { api: OK } });
    d.tick(5500);
    expect(d.holder("api")).toBe("server3");
    expect(d.events("group.granted").at(-1)!.reason).toBe("server1 lease expired 3.5 s after its last heartbeat; granting api epoch 2 to server3 (priority 105, healthy)");
  });

  it("the reasons a node cannot take a group, in the order they are checked", () => {
    const d = new Driver(spec([100, 100, 100], { members: ["server1", "server2"] }));
    const g = d.state.persisted.spec.groups[0]!;
    expect(whyNotCandidate(d.state, g, "nosuch", 0)).toBe("nosuch is not in the cluster");
    expect(whyNotCandidate(d.state, g, "server3", 0)).toBe("server3 is not a member of api");
    expect(whyNotCandidate(d.state, g, "server1", 0)).toBe("server1 has not sent a heartbeat");
    d.beat("server1", 0, { probes: {} });
    expect(whyNotCandidate(d.state, g, "server1", 0)).toBe("server1 has not reported its api probe yet");
    d.beat("server1", 100, { probes: { api: { healthy: false, detail: "" } } });
    expect(whyNotCandidate(d.state, g, "server1", 100)).toBe("server1's probe for api is failing");
    d.beat("server1", 200, { probes: { api: { healthy: false, detail: "http 503" } } });
    expect(whyNotCandidate(d.state, g, "server1", 200)).toBe("server1's probe for api is failing (http 503)");
    d.run({ type: "maintenance", node: "server1", on: true, actor: "op" }, 300);
    expect(whyNotCandidate(d.state, g, "server1", 300)).toBe("server1 is in maintenance");
    d.run({ type: "maintenance", node: "server1", on: false, actor: "op" }, 400);
    expect(whyNotCandidate(d.state, g, "server1", 3201)).toBe("server1 is not alive (no heartbeat for 3.0 s)");
  });
});
