import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { formatPath, groupMembers, sameSubnet, validateSpec, type ClusterSpecInput } from "../../protocol/spec.js";

const example = parse(readFileSync(new URL("../../examples/chimestack.yaml", import.meta.url), "utf8")) as ClusterSpecInput;
const clone = (): ClusterSpecInput => structuredClone(example);

function problems(input: unknown) {
  const r = validateSpec(input);
  if (r.ok) throw new Error("expected the spec to be rejected");
  return r.problems;
}

describe("cluster spec", () => {
  it("accepts the HA guide's example exactly as the guide lays it out", () => {
    const r = validateSpec(example);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const s = r.spec;
    expect(s.nodes.map((n) => [n.hostname, n.ip, n.role])).toEqual([
      ["server1.chime.com", "192.168.231.11", "server"],
      ["server2.chime.com", "192.168.231.12", "server"],
      ["node1.chime.com", "192.168.231.101", "compute"],
      ["node2.chime.com", "192.168.231.102", "compute"],
    ]);
    expect(s.groups.map((g) => [g.name, g.mode, g.vip, g.ports.map((p) => `${p.port}->${p.realPort ?? p.port}`)])).toEqual([
      ["server-api", "active-standby", "192.168.231.10", ["8801->8801", "8802->8802"]],
      ["portal", "active-active-lb", "192.168.231.20", ["80->8033"]],
      ["mysql", "mysql-writer", "192.168.231.30", ["3306->3306"]],
      ["influxdb", "influxdb-read", "192.168.231.40", ["8086->8086"]],
      ["minio", "minio", "192.168.231.50", ["9000->9000"]],
    ]);
    for (const g of s.groups) expect(groupMembers(s, g)).toEqual(["server1", "server2"]);
    expect(s.policy.preempt.enabled).toBe(false);
  });

  it("applies the sizing rule 2 <= servers <= 3 and computes >= 1", () => {
    const one = clone();
    one.nodes = one.nodes.filter((n) => n.name !== "server2");
    one.groups = [];
    expect(problems(one)).toContainEqual({ path: "nodes", message: "sizing rule: a cluster needs 2 to 3 server nodes, this one has 1" });

    const four = clone();
    for (const i of [3, 4]) four.nodes.push({ name: `server${i}`, hostname: `server${i}.chime.com`, ip: `192.168.231.1${i}`, role: "server" });
    expect(problems(four)).toContainEqual({ path: "nodes", message: "sizing rule: a cluster needs 2 to 3 server nodes, this one has 4" });

    const noCompute = clone();
    noCompute.nodes = noCompute.nodes.filter((n) => n.role === "server");
    expect(problems(noCompute)).toContainEqual({ path: "nodes", message: "sizing rule: a cluster needs at least 1 compute node, this one has 0" });
  });

  it("names the exact path of duplicate hostnames and IPs", () => {
    const s = clone();
    s.nodes[1]!.hostname = "SERVER1.chime.com";
    s.nodes[3]!.ip = "192.168.231.101";
    const p = problems(s);
    expect(p).toContainEqual({ path: "nodes[1].hostname", message: "duplicate hostname 'SERVER1.chime.com' (also nodes[0])" });
    expect(p).toContainEqual({ path: "nodes[3].ip", message: "duplicate ip '192.168.231.101' (also nodes[2])" });
  });

  it("rejects a VIP equal to a node IP, reused, or outside the members' subnet", () => {
    const s = clone();
    s.groups![0]!.vip = "192.168.231.12";
    s.groups![1]!.vip = "192.168.231.30";
    s.groups![3]!.vip = "10.0.0.40";
    const p = problems(s);
    expect(p).toContainEqual({ path: "groups[0].vip", message: "VIP 192.168.231.12 is the manage IP of nodes[1] (server2)" });
    expect(p).toContainEqual({ path: "groups[2].vip", message: "VIP 192.168.231.30 is already used by groups[1]" });
    expect(p).toContainEqual({ path: "groups[3].vip", message: "VIP 10.0.0.40 is outside the subnet of member server1 (192.168.231.11/24)" });
  });

  it("checks ports, members and TTL against the heartbeat interval", () => {
    const s = clone();
    s.groups![0]!.ports[1]!.port = 70000;
    s.groups![0]!.members = ["server1", "node1", "ghost"];
    s.policy = { heartbeatIntervalMs: 1000, leaseTtlMs: 2000 };
    const p = problems(s);
    expect(p).toContainEqual({ path: "groups[0].ports[1].port", message: "port must be 1-65535" });
    expect(p).toContainEqual({ path: "groups[0].members[1]", message: "'node1' is a compute node; group members must be server nodes" });
    expect(p).toContainEqual({ path: "groups[0].members[2]", message: "unknown node 'ghost'" });
    expect(p).toContainEqual({ path: "policy.leaseTtlMs", message: "lease TTL (2000 ms) must be more than 2 x heartbeat interval (1000 ms)" });
  });

  it("allows port translation only for NAT load balancing and wants the mode's own probe", () => {
    const s = clone();
    s.groups![0]!.ports[0]!.realPort = 9801;
    s.groups![2]!.probe = { type: "tcp", port: 3306 };
    const p = problems(s);
    expect(p).toContainEqual({ path: "groups[0].ports[0].realPort", message: "port translation (8801 -> 9801) needs mode active-active-lb (NAT load balancing)" });
    expect(p).toContainEqual({ path: "groups[2].probe.type", message: "mode mysql-writer needs a 'mysql' probe" });
  });

  it("rejects unknown keys with their path instead of ignoring them", () => {
    const s = clone() as Record<string, unknown>;
    (s.nodes as Record<string, unknown>[])[0]!.addr = "x";
    expect(problems(s).map((p) => p.path)).toContain("nodes[0]");
  });

  it("formats paths and subnets", () => {
    expect(formatPath(["groups", 2, "ports", 0, "port"])).toBe("groups[2].ports[0].port");
    expect(formatPath([])).toBe("(root)");
    expect(sameSubnet("192.168.231.10", "192.168.231.250", 24)).toBe(true);
    expect(sameSubnet("192.168.231.10", "192.168.232.10", 24)).toBe(false);
    expect(sameSubnet("10.0.0.1", "10.255.0.1", 8)).toBe(true);
  });
});
