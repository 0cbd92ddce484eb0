// The shim's local limits (node-shim/limits.ts), judged without a node: what each kind of desired
// state and operation is refused for, with the limit named as the config names it; URL prefixes
// on segment boundaries; a tight block derived from the example spec.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { DesiredGroup, Operation } from "../../protocol/heartbeat.js";
import { ClusterSpec } from "../../protocol/spec.js";
import { loadShimConfig } from "../../node-shim/config.js";
import { groupRefusals, LimitsConfig, limitsFromSpec, limitsReport, operationRefusal, urlAllowed } from "../../node-shim/limits.js";

const LIMITS = LimitsConfig.parse({
  vip: { cidrs: ["192.168.231.0/26"], minPrefixLength: 24, interfaces: ["eth0"] },
  lb: { ports: [80, 8033], realServers: ["192.168.231.0/24"] },
  fence: { hosts: ["10.0.1.21"], credentialEnvs: ["IPMI_NODE1"] },
  urls: ["https://chime.example/api/evacuate", "http://192.168.231.12:8086"],
  operations: ["fence-ipmi", "evacuate", "influxdb-backfill"],
});

const group = (over: Partial<DesiredGroup> = {}): DesiredGroup => ({
  name: "api",
  service: "chime-server",
  mode: "active-standby",
  vip: "192.168.231.10",
  prefix: 24,
  interface: "eth0",
  ports: [{ port: 8801, protocol: "tcp" }],
  probe: { type: "tcp", port: 8801, intervalMs: 1000, timeoutMs: 800, fall: 2, rise: 2 },
  member: true,
  role: "holder",
  epoch: 1,
  holder: "server1",
  ...over,
} as DesiredGroup);

describe("local limits on the node", () => {
  it("a VIP outside the ranges, a prefix wider than allowed, an interface not listed", () => {
    expect(groupRefusals(LIMITS, group(), "eth0")).toEqual([]);
    expect(groupRefusals(LIMITS, group({ vip: "192.168.231.100" }), "eth0")).toEqual([{ group: "api", kind: "vip", what: "VIP 192.168.231.100/24", limit: "limits.vip.cidrs: 192.168.231.0/26" }]);
    expect(groupRefusals(LIMITS, group({ prefix: 16 }), "eth0")).toEqual([{ group: "api", kind: "vip", what: "VIP 192.168.231.10/16", limit: "limits.vip.minPrefixLength: 24" }]);
    expect(groupRefusals(LIMITS, group(), "eth1")).toEqual([{ group: "api", kind: "interface", what: "interface eth1 (VIP 192.168.231.10)", limit: "limits.vip.interfaces: eth0" }]);
    // Groups this node does not act on are not judged (not a member, shadow mode).
    expect(groupRefusals(LIMITS, group({ vip: "10.0.0.1", member: false }), "eth0")).toEqual([]);
    expect(groupRefusals(LIMITS, group({ vip: "10.0.0.1", shadow: true }), "eth0")).toEqual([]);
    // No limits block: everything goes (and the report says so).
    expect(groupRefusals(undefined, group({ vip: "10.0.0.1" }), "wlan9")).toEqual([]);
    expect(limitsReport(undefined, undefined)).toEqual({ restricted: false, vipCidrs: [], minPrefixLength: 0, interfaces: [] });
    expect(limitsReport(LIMITS, "bond0")).toEqual({ restricted: true, vipCidrs: ["192.168.231.0/26"], minPrefixLength: 24, interfaces: ["eth0"], interfaceOverride: "bond0" });
  });

  it("load balancing: ports and real servers", () => {
    const lb = (ports: DesiredGroup["ports"], ips: string[]) =>
      group({ mode: "active-active-lb", vip: "192.168.231.20", ports, lb: { backend: "ipvs", scheduler: "rr", realServers: ips.map((ip, i) => ({ node: `server${i + 1}`, ip, weight: 1 })) } });
    expect(groupRefusals(LIMITS, lb([{ port: 80, realPort: 8033, protocol: "tcp" }], ["192.168.231.11"]), "eth0")).toEqual([]);
    expect(groupRefusals(LIMITS, lb([{ port: 22, protocol: "tcp" }], ["192.168.231.11", "10.9.9.9"]), "eth0")).toEqual([
      { group: "api", kind: "lb-port", what: "load balancing of port 22 (VIP 192.168.231.20)", limit: "limits.lb.ports: 80, 8033" },
      { group: "api", kind: "lb-real-server", what: "real server server2 (10.9.9.9) (VIP 192.168.231.20)", limit: "limits.lb.realServers: 192.168.231.0/24" },
    ]);
  });

  it("operations: disabled kinds, BMC hosts, credentials, URLs", () => {
    const ipmi = (over: Partial<Extract<Operation, { kind: "fence-ipmi" }>> = {}): Operation => ({ id: "op-1", kind: "fence-ipmi", target: "node1", host: "10.0.1.21", user: "admin", passwordEnv: "IPMI_NODE1", ...over });
    expect(operationRefusal(LIMITS, ipmi())).toBeNull();
    expect(operationRefusal(LIMITS, ipmi({ host: "10.0.1.99" }))).toEqual({ operation: "op-1", kind: "fence-host", what: "fence-ipmi of node1 through BMC 10.0.1.99", limit: "limits.fence.hosts: 10.0.1.21" });
    expect(operationRefusal(LIMITS, ipmi({ passwordEnv: "AWS_SECRET_ACCESS_KEY" }))!.limit).toBe("limits.fence.credentialEnvs: IPMI_NODE1");
    expect(operationRefusal(LIMITS, ipmi({ passwordEnv: undefined, password: "x" }))!.kind).toBe("fence-credential");
    const evac = (url: string): Operation => ({ id: "op-2", kind: "evacuate", target: "node1", url, method: "POST", body: "{}" });
    expect(operationRefusal(LIMITS, evac("https://chime.example/api/evacuate"))).toBeNull();
    expect(operationRefusal(LIMITS, evac("https://chime.example/api/evacuate/node1"))).toBeNull();
    expect(operationRefusal(LIMITS, evac("http://10.0.0.5/internal"))).toEqual({ operation: "op-2", kind: "url", what: "evacuation of node1 through http://10.0.0.5/internal", limit: "limits.urls: https://chime.example/api/evacuate, http://192.168.231.12:8086" });
    expect(operationRefusal(LIMITS, { id: "op-3", kind: "minio-heal", alias: "local" })).toEqual({ operation: "op-3", kind: "operation", what: "operation minio-heal", limit: "limits.operations: fence-ipmi, evacuate, influxdb-backfill" });
    expect(operationRefusal(LIMITS, { id: "op-4", kind: "fence-webhook", target: "node1", url: "https://chime.example/api/evacuate" })!.limit).toBe("limits.operations: fence-ipmi, evacuate, influxdb-backfill");
    expect(operationRefusal(undefined, { id: "op-3", kind: "minio-heal", alias: "local" })).toBeNull();
  });

  it("URL prefixes end on a path segment and keep scheme, host and port", () => {
    const p = ["https://a.example/api"];
    expect(urlAllowed("https://a.example/api", p)).toBe(true);
    expect(urlAllowed("https://a.example/api/x?y=1", p)).toBe(true);
    expect(urlAllowed("https://a.example/apix", p)).toBe(false);
    expect(urlAllowed("https://a.example.evil.com/api", p)).toBe(false);
    expect(urlAllowed("http://a.example/api", p)).toBe(false);
    expect(urlAllowed("https://a.example:8443/api", p)).toBe(false);
    expect(urlAllowed("https://user:pw@a.example/api", p)).toBe(false);
    expect(urlAllowed("https://a.example/api/../admin", p)).toBe(false);
    expect(urlAllowed("not a url", p)).toBe(false);
  });

  it("a tight block from the example spec: exactly what the spec gives the node", () => {
    const spec = ClusterSpec.parse(parse(readFileSync("examples/chimestack.yaml", "utf8")));
    const l = limitsFromSpec(spec, "server1");
    expect(l.vip.cidrs).toEqual(spec.groups.map((g) => `${g.vip}/32`));
    expect(l.vip.interfaces).toEqual(["eth0"]);
    // The evacuation URL up to its first placeholder; the request the engine makes is inside it.
    expect(l.urls).toContain("http://127.0.0.1:8801/api/v1/hosts");
    expect(l.operations).toEqual(["evacuate", "minio-heal", "influxdb-backfill"]);
    expect(operationRefusal(l, { id: "op-1", kind: "evacuate", target: "node1", url: "http://127.0.0.1:8801/api/v1/hosts/node1.chime.com/evacuate", method: "POST", body: "{}" })).toBeNull();
    // Everything the spec asks of server1 is within them.
    for (const g of spec.groups) expect(groupRefusals(l, group({ name: g.name, vip: g.vip, prefix: g.prefix, interface: g.interface }), g.interface)).toEqual([]);
    // The block parses as config again, and a node not in the spec is an error.
    expect(LimitsConfig.parse(l)).toEqual(l);
    expect(() => limitsFromSpec(spec, "nobody")).toThrow(/not in the spec/);
    // examples/shim.yaml carries exactly this block.
    expect(loadShimConfig("examples/shim.yaml").limits).toEqual(l);
  });
});
