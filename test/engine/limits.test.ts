// Local limits as the engine sees them (issue 18): what each node reports it allows is kept
// (persisted only when it changes); a refusal is one critical event, shown in status and as the
// member's reason, and resolved when it ends; a refusing node is no candidate, so the group goes
// to a node that may hold it; a spec change no member allows is found before it reaches a node.
// And a control-plane outage as a shim saw it is recorded once (issue 17).
import { describe, expect, it } from "vitest";
import type { LimitRefusal, LimitsReport } from "../../protocol/limits.js";
import { ClusterSpec } from "../../protocol/spec.js";
import { specLimitProblems } from "../../worker/engine/limits.js";
import { statusView } from "../../worker/engine/index.js";
import { healthy } from "./support/data-spec.js";
import { API_GROUP, Shell, smallSpec } from "./support/small-spec.js";

// VIP .10 is in LAN's range only, .70 in both, .200 in neither.
const LAN: LimitsReport = { restricted: true, vipCidrs: ["192.168.231.0/25"], minPrefixLength: 24, interfaces: ["eth0"] };
const NARROW: LimitsReport = { restricted: true, vipCidrs: ["192.168.231.64/26"], minPrefixLength: 24, interfaces: ["eth0"] };
const PROBES = { api: healthy };
const refusal = (over: Partial<LimitRefusal> = {}): LimitRefusal => ({ group: "api", kind: "vip", what: "VIP 192.168.231.10/24", limit: "limits.vip.cidrs: 192.168.231.64/26", since: 1, ...over });

describe("local limits in the engine", () => {
  it("keeps each node's reported limits, written only when they change", () => {
    const d = new Shell(smallSpec());
    const first = d.beat("server1", 0, { probes: PROBES, limits: LAN });
    expect(d.persistsOf(first)).toHaveLength(1);
    expect(d.persisted.limits).toEqual({ server1: LAN });
    expect(d.events("node.limits").map((e) => e.reason)).toEqual(["server1 reports its local limits: VIPs in 192.168.231.0/25 (prefix /24 or longer) on interfaces eth0"]);
    // Steady heartbeats with the same report: no write, no event.
    for (let t = 1000; t <= 5000; t += 1000) expect(d.persistsOf(d.beat("server1", t, { probes: PROBES, limits: LAN }))).toEqual([]);
    d.beat("server1", 6000, { probes: PROBES, limits: { ...LAN, interfaceOverride: "bond0" } });
    expect(d.events("node.limits").at(-1)!.reason).toBe("server1 changed its local limits: VIPs in 192.168.231.0/25 (prefix /24 or longer) on interface bond0 (its config puts every VIP there)");
    // They survive a restart of the Durable Object, and a spec change that keeps the node.
    d.restart(7000);
    expect(d.state.persisted.limits?.server1?.interfaceOverride).toBe("bond0");
    d.run({ type: "spec", spec: smallSpec({ policy: { leaseTtlMs: 4000 } }), specVersion: 2, actor: "admin:tok_1" }, 7100);
    expect(d.state.persisted.limits?.server1).toBeDefined();
    expect(statusView(d.state, 7100).nodes[0]!.limits).toEqual({ ...LAN, interfaceOverride: "bond0" });
  });

  it("a refusal is one critical event, the member's reason and a status entry; the group goes to a node that may hold it", () => {
    const d = new Shell(smallSpec());
    // server1 (priority 110) would be first, but it refuses the group's VIP.
    for (let t = 0; t <= 3600; t += 1000) {
      d.beat("server1", t, { probes: PROBES, limits: NARROW, limitRefusals: [refusal()] });
      d.beat("server2", t + 10, { probes: PROBES, limits: LAN });
    }
    expect(d.holder("api")).toBe("server2");
    const reason = "server1 refuses VIP 192.168.231.10/24 for api: not allowed by its local limits (limits.vip.cidrs: 192.168.231.64/26)";
    expect(d.events("limits.refused").map((e) => [e.severity, e.reason, e.node, e.group])).toEqual([["critical", reason, "server1", "api"]]);
    const st = statusView(d.state, 3700);
    expect(st.groups[0]!.members).toEqual([
      { node: "server1", why: reason },
      { node: "server2", why: null },
    ]);
    expect(st.nodes[0]!.limitRefusals).toEqual([refusal()]);
    expect(st.nodes[1]!.limitRefusals).toBeUndefined();
    // The node's limits are widened (a restart of its shim): the refusal ends, said once.
    d.beat("server1", 4000, { probes: PROBES, limits: LAN, limitRefusals: [] });
    d.beat("server1", 5000, { probes: PROBES, limits: LAN, limitRefusals: [] });
    expect(d.events("limits.refusal-ended").map((e) => [e.reason, e.group])).toEqual([["server1 no longer refuses the vip of api", "api"]]);
    expect(statusView(d.state, 5000).groups[0]!.members![0]).toEqual({ node: "server1", why: null });
  });

  it("a holder that refuses its group after a spec change releases it and does not get it back", () => {
    const inside = smallSpec({ groups: [{ ...API_GROUP, vip: "192.168.231.70" }] });
    const d2 = new Shell(inside);
    for (let t = 0; t <= 3600; t += 1000) {
      d2.beat("server1", t, { probes: PROBES, limits: NARROW, holding: d2.holder("api") === "server1" ? [{ group: "api", epoch: 1 }] : [] });
      d2.beat("server2", t + 10, { probes: PROBES, limits: LAN });
    }
    expect(d2.holder("api")).toBe("server1");
    // An admin moves the VIP out of server1's range: the node refuses and releases at once.
    d2.run({ type: "spec", spec: smallSpec(), specVersion: 2, actor: "admin:tok_1" }, 4000);
    const r = d2.beat("server1", 4100, { probes: PROBES, limits: NARROW, limitRefusals: [refusal({ since: 4100 })], released: [{ group: "api", epoch: 1 }] });
    expect(d2.holder("api")).toBe("server2");
    expect(r.reply!.grants).toEqual([]);
    expect(d2.events("group.granted").at(-1)!.reason).toBe("server1 released api; granting api epoch 2 to server2 (priority 100, healthy)");
  });

  it("before the node has answered a spec change, its reported limits already rule it out", () => {
    const d = new Shell(smallSpec({ groups: [{ ...API_GROUP, vip: "192.168.231.70" }] }));
    d.beat("server1", 0, { probes: PROBES, limits: NARROW });
    d.beat("server2", 10, { probes: PROBES, limits: LAN });
    d.run({ type: "spec", spec: smallSpec(), specVersion: 2, actor: "admin:tok_1" }, 100);
    const why = statusView(d.state, 100).groups[0]!.members![0]!.why;
    expect(why).toBe("server1 refuses VIP 192.168.231.10/24 for api: not allowed by its local limits (limits.vip.cidrs: 192.168.231.64/26)");
    // An interface the node does not allow (its config does not override the spec's).
    d.run({ type: "spec", spec: smallSpec({ groups: [{ ...API_GROUP, vip: "192.168.231.70", interface: "eth1" }] }), specVersion: 3, actor: "admin:tok_1" }, 200);
    expect(statusView(d.state, 200).groups[0]!.members![0]!.why).toBe("server1 refuses interface eth1 (VIP 192.168.231.70) for api: not allowed by its local limits (limits.vip.interfaces: eth0)");
    // A node without limits (restricted: false) is never ruled out by them.
    d.beat("server1", 300, { probes: PROBES, limits: { restricted: false, vipCidrs: [], minPrefixLength: 0, interfaces: [] } });
    expect(statusView(d.state, 300).groups[0]!.members![0]!.why).toBe(null);
  });

  it("an operation refusal is an event about the node, resolved when it is no longer reported", () => {
    const d = new Shell(smallSpec());
    const op = refusal({ group: undefined, operation: "op-3-minio-heal", kind: "operation", what: "operation minio-heal", limit: "limits.operations: fence-ipmi" });
    delete op.group;
    d.beat("server1", 0, { probes: PROBES, limitRefusals: [op] });
    d.beat("server1", 1000, { probes: PROBES, limitRefusals: [op] });
    expect(d.events("limits.refused").map((e) => [e.reason, e.group])).toEqual([["server1 refuses operation minio-heal (operation op-3-minio-heal): not allowed by its local limits (limits.operations: fence-ipmi)", undefined]]);
    d.beat("server1", 2000, { probes: PROBES });
    expect(d.events("limits.refusal-ended").map((e) => e.reason)).toEqual(["server1 no longer refuses the operation (operation op-3-minio-heal)"]);
  });
});

describe("a spec change checked against the limits the members reported", () => {
  const spec = (vip: string, edit: Parameters<typeof smallSpec>[0] = {}) => smallSpec({ groups: [{ ...API_GROUP, vip }], ...edit });

  it("refuses a VIP no member allows, naming each member and its limit", () => {
    expect(specLimitProblems(spec("192.168.231.70"), spec("192.168.231.200"), { server1: NARROW, server2: LAN })).toEqual([
      {
        group: 0,
        field: "vip",
        message: "no member of api allows VIP 192.168.231.200/24 on eth0: server1: VIP 192.168.231.200/24 is outside limits.vip.cidrs: 192.168.231.64/26; server2: VIP 192.168.231.200/24 is outside limits.vip.cidrs: 192.168.231.0/25",
      },
    ]);
    // A prefix wider than the allowed range claims more than it: refused too.
    expect(specLimitProblems(spec("192.168.231.70"), ClusterSpec.parse({ ...spec("192.168.231.70"), groups: [{ ...spec("192.168.231.70").groups[0]!, prefix: 16 }] }), { server1: LAN, server2: LAN })).toHaveLength(1);
    // An interface no member allows.
    expect(specLimitProblems(spec("192.168.231.70"), smallSpec({ groups: [{ ...API_GROUP, vip: "192.168.231.70", interface: "eth1" }] }), { server1: LAN, server2: LAN })[0]!.field).toBe("interface");
  });

  it("lets it through when one member allows it, when a member never reported, or when the group did not change", () => {
    expect(specLimitProblems(spec("192.168.231.70"), spec("192.168.231.10"), { server1: NARROW, server2: LAN })).toEqual([]);
    expect(specLimitProblems(spec("192.168.231.70"), spec("192.168.231.200"), { server1: NARROW })).toEqual([]);
    expect(specLimitProblems(spec("192.168.231.70"), spec("192.168.231.200"), { server1: NARROW, server2: { restricted: false, vipCidrs: [], minPrefixLength: 0, interfaces: [] } })).toEqual([]);
    expect(specLimitProblems(spec("192.168.231.200"), spec("192.168.231.200", { policy: { leaseTtlMs: 4000 } }), { server1: NARROW, server2: LAN })).toEqual([]);
    // An interface override on the node: the spec's interface does not matter there.
    expect(specLimitProblems(spec("192.168.231.70"), smallSpec({ groups: [{ ...API_GROUP, vip: "192.168.231.70", interface: "eth1" }] }), { server1: { ...LAN, interfaceOverride: "eth0" }, server2: LAN })).toEqual([]);
  });
});

describe("a control-plane outage as a shim saw it", () => {
  it("is recorded once, from when to when and what the node held meanwhile", () => {
    const d = new Shell(smallSpec());
    const t0 = Date.UTC(2026, 10, 30, 10, 0, 0);
    d.beat("server1", t0, { probes: PROBES });
    const outage = { id: 7, fromAgoMs: 17_800, failures: 18, lastError: "control plane unreachable: ECONNREFUSED", held: [{ group: "api", epoch: 3, keptOnPromises: true }] };
    d.beat("server1", t0 + 20_000, { probes: PROBES, outage });
    // Its reply was lost: the next heartbeat says it again, which is not a second outage.
    d.beat("server1", t0 + 21_000, { probes: PROBES, outage: { ...outage, fromAgoMs: 18_800 } });
    expect(d.events("node.control-plane-outage").map((e) => [e.severity, e.reason])).toEqual([
      ["info", "server1 could not reach the control plane from 2026-11-30T10:00:02.200Z to 2026-11-30T10:00:20.000Z (17.8 s; 18 heartbeats failed, the last: control plane unreachable: ECONNREFUSED); meanwhile it held api (epoch 3, kept on its peers' failsafe promises)"],
    ]);
    // A later outage in which the lease ended: a warning with when the VIP went.
    d.beat("server1", t0 + 40_000, { probes: PROBES, outage: { id: 30, fromAgoMs: 9000, failures: 9, lastError: "no reply within 800 ms", held: [{ group: "api", epoch: 3, keptOnPromises: false, lostAgoMs: 6500 }] } });
    expect(d.events("node.control-plane-outage").at(-1)).toMatchObject({
      severity: "warning",
      reason: "server1 could not reach the control plane from 2026-11-30T10:00:31.000Z to 2026-11-30T10:00:40.000Z (9.0 s; 9 heartbeats failed, the last: no reply within 800 ms); meanwhile it held api (epoch 3) until 2026-11-30T10:00:33.500Z, when its lease ended and the VIP went",
    });
    // A new boot may reuse an id: it is another outage.
    d.beat("server1", t0 + 50_000, { bootId: "boot-2", probes: PROBES, outage: { id: 7, fromAgoMs: 2000, failures: 2, lastError: "x", held: [] } });
    expect(d.events("node.control-plane-outage").at(-1)!.reason).toMatch(/meanwhile it held no group$/);
  });
});
