// The status view (worker/engine/status.ts): what GET /v1/clusters/:id/status shows at an exact
// instant — lease left, restart grace left, each group's health with its one-line reason, each
// member's reason, the director's real servers, per node liveness, probes, compute phase.
// Policy: heartbeat 1 s, T = 3 s, margin 0.5 s, hold-down 10 s, deadAfter 15 s.
import { describe, expect, it } from "vitest";
import type { ProbeReport } from "../../protocol/heartbeat.js";
import { ClusterSpec } from "../../protocol/spec.js";
import { boot, statusView } from "../../worker/engine/index.js";
import { Driver } from "./support/data-spec.js";

const OK: ProbeReport = { healthy: true, detail: "http 200" };
const DOWN: ProbeReport = { healthy: false, detail: "http 503" };
const BOTH = { "server-api": OK, portal: OK };

function spec() {
  return ClusterSpec.parse({
    apiVersion: "chime-ha/v1",
    name: "status",
    policy: { heartbeatIntervalMs: 1000, leaseTtlMs: 3000, driftMarginMs: 500, holdDownMs: 10_000, deadAfterMs: 15_000 },
    nodes: [
      { name: "server1", hostname: "server1.chime.com", ip: "192.168.231.11", role: "server", priority: 110 },
      { name: "server2", hostname: "server2.chime.com", ip: "192.168.231.12", role: "server", priority: 100 },
      { name: "server3", hostname: "server3.chime.com", ip: "192.168.231.13", role: "server", priority: 100 },
      { name: "node1", hostname: "node1.chime.com", ip: "192.168.231.101", role: "compute", fence: { type: "webhook", url: "http://fence.example/off" } },
      { name: "node2", hostname: "node2.chime.com", ip: "192.168.231.102", role: "compute" },
    ],
    groups: [
      { name: "server-api", service: "chime-server", mode: "active-standby", vip: "192.168.231.10", ports: [{ port: 8801 }], probe: { type: "tcp", port: 8801 } },
      {
        name: "portal",
        service: "chime-portal",
        mode: "active-active-lb",
        vip: "192.168.231.20",
        members: ["server1", "server2", "server3"],
        ports: [{ port: 80, realPort: 8033 }],
        probe: { type: "tcp", port: 8033 },
        lb: { backend: "ipvs", scheduler: "wrr", weights: { server2: 3, server3: 0 } },
      },
    ],
  });
}

describe("status view", () => {
  it("restart grace left counts down from boot + T + margin and is 0 from that instant on", () => {
    const d = new Driver(spec(), 10_000);
    expect(statusView(d.state, 10_000).restartGraceLeftMs).toBe(3500);
    expect(statusView(d.state, 12_000).restartGraceLeftMs).toBe(1500);
    expect(statusView(d.state, 13_499).restartGraceLeftMs).toBe(1);
    expect(statusView(d.state, 13_500).restartGraceLeftMs).toBe(0);
    expect(statusView(d.state, 20_000).restartGraceLeftMs).toBe(0);
  });

  it("a held group: holder, epoch, lease left from the last renewal, every member's reason, the director's real servers", () => {
    const d = new Driver(spec());
    d.beat("server1", 0, { probes: BOTH });
    d.beat("server2", 100, { probes: BOTH });
    d.beat("server1", 1000, { probes: BOTH });
    d.beat("server2", 1100, { probes: { "server-api": DOWN, portal: OK } });
    const st = statusView(d.state, 1500);
    expect(st.specVersion).toBe(1);
    expect(st.maintenance).toBe(false);
    // Renewed at 1000: the control plane counts the lease to 4000.
    expect(st.groups[0]).toEqual({
      name: "server-api",
      mode: "active-standby",
      vip: "192.168.231.10",
      holder: "server1",
      epoch: 1,
      phase: "held",
      leaseLeftMs: 2500,
      revokeTo: null,
      health: "ok",
      reason: null,
      members: [
        { node: "server1", why: null },
        { node: "server2", why: "server2's probe for server-api is failing (http 503)" },
        { node: "server3", why: "server3 has not sent a heartbeat" },
      ],
    });
    // Weight 0 leaves server3 out even when it is healthy; server2 has weight 3, server1 the default 1.
    d.beat("server3", 1200, { probes: BOTH });
    expect(statusView(d.state, 1300).groups[1]!.realServers).toEqual(["server1 192.168.231.11 w1", "server2 192.168.231.12 w3"]);
    expect(statusView(d.state, 1300).groups[0]!.realServers).toBeUndefined();
  });

  it("nodes: liveness up to exactly T after the last heartbeat, how long ago, probes, maintenance, heard, compute phase", () => {
    const d = new Driver(spec());
    d.beat("server1", 0, { probes: { "server-api": { healthy: true, detail: "http 200", downForMs: 0 }, portal: DOWN } });
    d.beat("node1", 500);
    d.run({ type: "maintenance", node: "server2", on: true, actor: "token:ops" }, 600);
    const at = (now: number) => statusView(d.state, now).nodes;
    expect(at(3000)).toEqual([
      {
        name: "server1",
        role: "server",
        alive: true,
        lastHeartbeatAgoMs: 3000,
        maintenance: false,
        // Only health and detail are shown, whatever else the probe reported.
        probes: { "server-api": { healthy: true, detail: "http 200" }, portal: { healthy: false, detail: "http 503" } },
        heard: true,
        applyErrors: [],
      },
      { name: "server2", role: "server", alive: false, lastHeartbeatAgoMs: null, maintenance: true, probes: {}, heard: false, applyErrors: [] },
      { name: "server3", role: "server", alive: false, lastHeartbeatAgoMs: null, maintenance: false, probes: {}, heard: false, applyErrors: [] },
      { name: "node1", role: "compute", alive: true, lastHeartbeatAgoMs: 2500, maintenance: false, probes: {}, heard: true, applyErrors: [], computePhase: "alive" },
      { name: "node2", role: "compute", alive: false, lastHeartbeatAgoMs: null, maintenance: false, probes: {}, heard: false, applyErrors: [], computePhase: "alive" },
    ]);
    expect(at(3001)[0]).toMatchObject({ alive: false, lastHeartbeatAgoMs: 3001 });
    expect(at(3500)[3]).toMatchObject({ alive: true, lastHeartbeatAgoMs: 3000 });
    expect(at(3501)[3]).toMatchObject({ alive: false, lastHeartbeatAgoMs: 3001 });
  });

  it("a node that never sent a heartbeat since boot is not alive, even within T of the boot", () => {
    const d = new Driver(spec());
    d.beat("server1", 0, { probes: BOTH });
    // The Durable Object restarts at 1000: server1 was heard, but not since this boot.
    const s = boot(structuredClone(d.state.persisted), 1000);
    const st = statusView(s, 1000);
    expect(st.nodes[0]).toMatchObject({ name: "server1", alive: false, lastHeartbeatAgoMs: null, heard: true });
    expect(st.groups[0]).toMatchObject({ holder: "server1", leaseLeftMs: null, health: "degraded" });
  });

  it("a compute node's phase carries its detail", () => {
    const d = new Driver(spec());
    d.beat("node2", 0);
    for (let t = 0; t <= 16_000; t += 1000) d.beat("server1", t, { probes: BOTH });
    // node2 has no fence: it is not fenced, and status says why.
    expect(statusView(d.state, 16_000).nodes.find((n) => n.name === "node2")!.computePhase).toBe("fence-failed (no fence configured)");
  });

  it("a silent holder is degraded: since when it is silent and when its lease ends (never below 0)", () => {
    const d = new Driver(spec());
    d.beat("server1", 0, { probes: BOTH });
    d.beat("server2", 100, { probes: BOTH });
    d.beat("server1", 1000, { probes: BOTH });
    d.beat("server2", 1100, { probes: BOTH });
    // server1 stops. At 4200 it is silent for 3.2 s; the lease (renewed at 1000) ends at 4000 for
    // status, and the group moves at 4500.
    d.beat("server2", 3900, { probes: BOTH });
    expect(statusView(d.state, 3900).groups[0]).toMatchObject({ leaseLeftMs: 100, health: "ok" });
    d.beat("server2", 4200, { probes: BOTH });
    const g = statusView(d.state, 4200).groups[0]!;
    expect(g).toMatchObject({ holder: "server1", leaseLeftMs: 0, health: "degraded", reason: "holder server1 is not alive (no heartbeat for 3.2 s); its lease ends in 0.0 s" });
    // After a restart the lease is unknown: it ends at boot + T at the latest.
    const s = boot(structuredClone(d.state.persisted), 4300);
    expect(statusView(s, 5300).groups[0]).toMatchObject({
      holder: "server1",
      leaseLeftMs: null,
      health: "degraded",
      reason: "holder server1 is not alive (no heartbeat since the control plane started); its lease ends in 2.0 s",
    });
  });

  it("a group on the move says from whom, to whom and why", () => {
    const d = new Driver(spec());
    d.beat("server1", 0, { probes: BOTH });
    d.beat("server2", 100, { probes: BOTH });
    d.run({ type: "switchover", group: "server-api", to: "server2", actor: "token:alice" }, 200);
    expect(statusView(d.state, 300).groups[0]).toMatchObject({
      holder: "server1",
      phase: "revoking",
      revokeTo: "server2",
      health: "moving",
      reason: "moving from server1 to server2: switchover requested by token:alice",
    });
  });

  it("a holder draining without a named target, and a revoke without a reason, still read well", () => {
    const d = new Driver(spec());
    d.beat("server1", 0, { probes: BOTH });
    const s = structuredClone(d.state);
    s.groups["server-api"] = { ...s.groups["server-api"]!, phase: "revoking", revokeTo: null, revokeReason: null };
    expect(statusView(s, 100).groups[0]).toMatchObject({ health: "moving", reason: "moving from server1: revoked" });
  });

  it("no holder: frozen by maintenance, or every member's reason", () => {
    const d = new Driver(spec());
    d.beat("server1", 0, { probes: { "server-api": DOWN, portal: OK } });
    d.beat("server2", 100, { probes: { "server-api": DOWN, portal: OK } });
    expect(statusView(d.state, 200).groups[0]).toMatchObject({
      holder: null,
      leaseLeftMs: null,
      health: "down",
      reason: "no holder: server1's probe for server-api is failing (http 503); server2's probe for server-api is failing (http 503); server3 has not sent a heartbeat",
    });
    d.run({ type: "maintenance", node: null, on: true, actor: "token:ops" }, 300);
    const st = statusView(d.state, 400);
    expect(st.maintenance).toBe(true);
    expect(st.groups[0]).toMatchObject({ health: "down", reason: "no holder; the cluster is in maintenance, so none is chosen" });
  });

  it("a free group whose members could all take it (asked between two inputs) has no candidate yet", () => {
    const d = new Driver(spec());
    d.beat("server1", 0, { probes: BOTH });
    const s = structuredClone(d.state);
    s.groups["server-api"] = { ...s.groups["server-api"]!, holder: null, phase: "free", leaseUntil: null };
    s.persisted.spec = { ...s.persisted.spec, groups: s.persisted.spec.groups.map((g) => (g.name === "server-api" ? { ...g, members: ["server1"] } : g)) };
    expect(statusView(s, 100).groups[0]).toMatchObject({ health: "down", reason: "no holder: no candidate yet" });
  });

  it("a holder kept although unfit says so; a holder failing to apply its group is degraded with the command", () => {
    const d = new Driver(spec());
    d.beat("server1", 0, { probes: BOTH });
    d.beat("server1", 1000, { probes: { "server-api": DOWN, portal: OK } });
    expect(statusView(d.state, 1100).groups[0]).toMatchObject({
      holder: "server1",
      health: "degraded",
      reason: "server1's probe for server-api is failing (http 503); server1 keeps it until a healthy candidate can take it",
    });
    const fail = { group: "portal", target: "lb", command: "ipvsadm -A -t 192.168.231.20:80 -s wrr", exitCode: 2, stderrTail: "", since: Date.UTC(2026, 0, 2, 3, 4, 5, 6) };
    const other = { group: "server-api", target: "vip", command: "ip addr add 192.168.231.10/24 dev eth0", exitCode: null, stderrTail: "x\n", since: 0 };
    d.beat("server1", 2000, { probes: BOTH, applyErrors: [fail, other] });
    d.beat("server1", 4999, { probes: BOTH, applyErrors: [fail, other] });
    // Seen for 2999 ms: not yet persistent.
    expect(statusView(d.state, 4999).groups[1]!.health).toBe("ok");
    expect(statusView(d.state, 4999).nodes[0]!.applyErrors).toEqual([]);
    d.beat("server1", 5000, { probes: BOTH, applyErrors: [fail, other] });
    const st = statusView(d.state, 5000);
    expect(st.groups[1]).toMatchObject({ health: "degraded", reason: "server1 cannot apply lb for portal: `ipvsadm -A -t 192.168.231.20:80 -s wrr` exited 2, failing since 2026-01-02T03:04:05.006Z" });
    expect(st.groups[0]).toMatchObject({ health: "degraded", reason: "server1 cannot apply vip for server-api: `ip addr add 192.168.231.10/24 dev eth0` could not run (x), failing since 1970-01-01T00:00:00.000Z" });
    expect(st.nodes[0]!.applyErrors).toEqual([fail, other]);
  });

  it("decisions: the last 20, oldest first", () => {
    const d = new Driver(spec());
    d.beat("server1", 0, { probes: BOTH });
    for (let i = 0; i < 30; i++) d.run({ type: "maintenance", node: null, on: i % 2 === 0, actor: `token:${i}` }, 100 + i);
    const decisions = statusView(d.state, 200).decisions;
    expect(decisions).toHaveLength(20);
    expect(decisions.at(-1)).toEqual({ at: 129, kind: "cluster.maintenance", reason: "maintenance off (by token:29): automatic decisions resume" });
    expect(decisions[0]).toEqual({ at: 110, kind: "cluster.maintenance", reason: "maintenance on (by token:10): automatic decisions frozen" });
  });
});
