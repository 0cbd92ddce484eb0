// Local limits (worker/engine/limits.ts), the rules the other limits tests leave implicit: which
// refusals rule a node out of a group (the group's own desired state: VIP, interface, LB port, LB
// real server; not a fence or an operation), how the reported limits read, when a refusal counts
// as the same one again, and which spec changes are judged against the members' limits.
import { describe, expect, it } from "vitest";
import type { LimitRefusal, LimitsReport } from "../../protocol/limits.js";
import { describeLimits, limitsHold, specLimitProblems } from "../../worker/engine/limits.js";
import { healthy } from "./support/data-spec.js";
import { API_GROUP, Shell, smallSpec } from "./support/small-spec.js";

const OPEN: LimitsReport = { restricted: false, vipCidrs: [], minPrefixLength: 0, interfaces: [] };
const LAN: LimitsReport = { restricted: true, vipCidrs: ["192.168.231.0/25"], minPrefixLength: 24, interfaces: ["eth0"] };
const NARROW: LimitsReport = { restricted: true, vipCidrs: ["192.168.231.64/26"], minPrefixLength: 24, interfaces: ["eth0"] };
const PROBES = { api: healthy };
const refusal = (over: Partial<LimitRefusal> = {}): LimitRefusal => ({ group: "api", kind: "vip", what: "VIP 192.168.231.10/24", limit: "limits.vip.cidrs: 192.168.231.64/26", since: 1, ...over });
const apiOf = (sh: Shell) => sh.state.persisted.spec.groups[0]!;

describe("limits: which refusals rule a node out", () => {
  it("a refusal of the group's VIP, interface, LB port or LB real server rules it out, whatever limits it reported", () => {
    for (const kind of ["vip", "interface", "lb-port", "lb-real-server"] as const) {
      const sh = new Shell(smallSpec());
      sh.beat("server1", 0, { probes: PROBES, limits: OPEN, limitRefusals: [refusal({ kind, what: `the ${kind}` })] });
      expect(limitsHold(sh.state, apiOf(sh), "server1")).toBe(`server1 refuses the ${kind} for api: not allowed by its local limits (limits.vip.cidrs: 192.168.231.64/26)`);
      expect(limitsHold(sh.state, apiOf(sh), "server2")).toBeNull();
    }
  });

  it("a fence, URL or operation refusal, or a refusal about another group, does not", () => {
    const sh = new Shell(smallSpec());
    sh.beat("server1", 0, { probes: PROBES, limits: OPEN, limitRefusals: [refusal({ kind: "fence-host" }), refusal({ kind: "url" }), refusal({ kind: "operation" }), refusal({ group: "web" })] });
    expect(limitsHold(sh.state, apiOf(sh), "server1")).toBeNull();
    for (let t = 0; t <= 1000; t += 1000) sh.beat("server2", t, { probes: PROBES });
    sh.beat("server1", 1000, { probes: PROBES, limits: OPEN, limitRefusals: [refusal({ kind: "fence-host" })] });
    expect(sh.holder("api")).toBe("server1");
  });

  it("a shadow group is never ruled out by limits (the node applies nothing for it)", () => {
    const sh = new Shell(smallSpec({ groups: [{ ...API_GROUP, shadow: true }] }));
    sh.beat("server1", 0, { probes: PROBES, limits: NARROW, limitRefusals: [refusal()] });
    expect(limitsHold(sh.state, apiOf(sh), "server1")).toBeNull();
  });
});

describe("limits: how they are reported and said", () => {
  it("reads the reported limits in one line", () => {
    expect(describeLimits(OPEN)).toBe("none set (it applies whatever it is sent)");
    expect(describeLimits({ ...LAN, vipCidrs: [] })).toBe("no VIPs at all");
    expect(describeLimits({ ...LAN, interfaces: [] })).toBe("VIPs in 192.168.231.0/25 (prefix /24 or longer) on interfaces none");
    expect(describeLimits({ ...LAN, vipCidrs: ["10.0.0.0/8", "192.168.0.0/16"], interfaces: ["eth0", "eth1"] })).toBe("VIPs in 10.0.0.0/8, 192.168.0.0/16 (prefix /24 or longer) on interfaces eth0, eth1");
    expect(describeLimits({ ...LAN, interfaceOverride: "bond0" })).toBe("VIPs in 192.168.231.0/25 (prefix /24 or longer) on interface bond0 (its config puts every VIP there)");
  });

  it("the first report is an event about the node, written at once", () => {
    const sh = new Shell(smallSpec());
    const r = sh.beat("server2", 0, { probes: PROBES, limits: OPEN });
    expect(sh.persistsOf(r)).toHaveLength(1);
    expect(sh.events("node.limits")).toStrictEqual([{ type: "event", kind: "node.limits", severity: "info", actor: "engine", node: "server2", reason: "server2 reports its local limits: none set (it applies whatever it is sent)" }]);
    // A heartbeat without a report changes nothing.
    expect(sh.persistsOf(sh.beat("server2", 1000, { probes: PROBES }))).toEqual([]);
    expect(sh.state.persisted.limits).toEqual({ server2: OPEN });
  });

  it("a refusal said once stays said while its what and limit stay; another limit is said again; its end resolves the incident", () => {
    const sh = new Shell(smallSpec());
    sh.beat("server1", 0, { probes: PROBES, limitRefusals: [refusal({ since: 1 })] });
    sh.beat("server1", 1000, { probes: PROBES, limitRefusals: [refusal({ since: 900 })] });
    expect(sh.events("limits.refused")).toHaveLength(1);
    expect(sh.events("limits.refused")[0]).toMatchObject({ incident: "refuse:api/vip:server1", node: "server1", group: "api" });
    sh.beat("server1", 2000, { probes: PROBES, limitRefusals: [refusal({ limit: "limits.vip.cidrs: 10.0.0.0/8" })] });
    expect(sh.events("limits.refused").map((e) => e.reason)).toEqual([
      "server1 refuses VIP 192.168.231.10/24 for api: not allowed by its local limits (limits.vip.cidrs: 192.168.231.64/26)",
      "server1 refuses VIP 192.168.231.10/24 for api: not allowed by its local limits (limits.vip.cidrs: 10.0.0.0/8)",
    ]);
    sh.beat("server1", 3000, { probes: PROBES, limitRefusals: [] });
    expect(sh.events("limits.refusal-ended")).toStrictEqual([{ type: "event", kind: "limits.refusal-ended", severity: "info", actor: "engine", node: "server1", group: "api", incident: "refuse:api/vip:server1", resolves: true, reason: "server1 no longer refuses the vip of api" }]);
    // Another node's refusal of the same group is its own.
    sh.beat("server2", 3100, { probes: PROBES, limitRefusals: [refusal()] });
    sh.beat("server1", 3200, { probes: PROBES, limitRefusals: [] });
    expect(sh.events("limits.refusal-ended")).toHaveLength(1);
  });
});

describe("limits: which spec changes are judged", () => {
  const spec = (vip: string, edit: Parameters<typeof smallSpec>[0] = {}) => smallSpec({ groups: [{ ...API_GROUP, vip }], ...edit });

  it("a changed member list is judged again, an unchanged group is not, even when another group changed before it", () => {
    const both = { server1: NARROW, server2: NARROW };
    // .10 is outside NARROW for both; unchanged: let through.
    expect(specLimitProblems(spec("192.168.231.10"), spec("192.168.231.10"), both)).toEqual([]);
    // The same group with one member fewer: judged (and refused).
    const fewer = smallSpec({ groups: [{ ...API_GROUP, members: ["server1"] }] });
    expect(specLimitProblems(spec("192.168.231.10"), fewer, both)).toEqual([{ group: 0, field: "vip", message: "no member of api allows VIP 192.168.231.10/24 on eth0: server1: VIP 192.168.231.10/24 is outside limits.vip.cidrs: 192.168.231.64/26" }]);
    // Each group is compared with its own old self, not with another group listed before it.
    const old = smallSpec({ groups: [{ ...API_GROUP, name: "web", vip: "192.168.231.200" }, { ...API_GROUP, vip: "192.168.231.10", ports: [{ port: 8802 }] }] });
    expect(specLimitProblems(old, structuredClone(old), both)).toEqual([]);
    const far = smallSpec({ groups: [{ ...API_GROUP, name: "web", vip: "192.168.231.200" }, { ...API_GROUP, vip: "192.168.231.201", ports: [{ port: 8802 }] }] });
    expect(specLimitProblems(old, far, both).map((p) => p.group)).toEqual([1]);
  });

  it("a new prefix or interface is judged too; the field is 'interface' only when every member refuses the interface", () => {
    const old = spec("192.168.231.70");
    const eth1 = smallSpec({ groups: [{ ...API_GROUP, vip: "192.168.231.70", interface: "eth1" }] });
    expect(specLimitProblems(old, eth1, { server1: LAN, server2: LAN })[0]).toMatchObject({ field: "interface" });
    // One member refuses the VIP, the other the interface: the VIP is the field.
    const eth1far = smallSpec({ groups: [{ ...API_GROUP, vip: "192.168.231.10", interface: "eth1" }] });
    expect(specLimitProblems(old, eth1far, { server1: NARROW, server2: LAN })[0]).toMatchObject({ field: "vip" });
    expect(specLimitProblems(old, eth1far, { server1: NARROW, server2: LAN })[0]!.message).toBe("no member of api allows VIP 192.168.231.10/24 on eth1: server1: VIP 192.168.231.10/24 is outside limits.vip.cidrs: 192.168.231.64/26; server2: interface eth1 (VIP 192.168.231.10) is outside limits.vip.interfaces: eth0");
  });

  it("a shadow group is never judged", () => {
    const shadow = smallSpec({ groups: [{ ...API_GROUP, vip: "192.168.231.200", shadow: true }] });
    expect(specLimitProblems(smallSpec(), shadow, { server1: NARROW, server2: NARROW })).toEqual([]);
  });
});
