// Operator CLI commands that need no control plane: `plan` reproduces the HA guide's two tables
// from examples/chimestack.yaml row for row, `validate` names each problem by path and exits 1.
// Runs the real bin (tsx) for the exit codes.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { readSpecFile } from "../../node-shim/cli/spec-file.js";
import { planTables } from "../../node-shim/cli/plan.js";
import { validateCommand } from "../../node-shim/cli/validate.js";

const run = promisify(execFile);
const BIN = "node_modules/.bin/tsx";
const CLI = "node-shim/bin/chime-ha.ts";
const dir = mkdtempSync(join(tmpdir(), "chs-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(BIN, [CLI, ...args], { timeout: 20_000, env: { ...process.env, CHIME_HA_URL: "", CHIME_HA_TOKEN: "" } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

// The guide's tables (2.4 High Availability Setting), verbatim.
const GUIDE_NODES = [
  ["ServerNode1", "server1.chime.com", "192.168.231.11", "master node of management service"],
  ["ServerNode2", "server2.chime.com", "192.168.231.12", "slave node of management service"],
  ["Node1", "node1.chime.com", "192.168.231.101", "computing node1"],
  ["Node2", "node2.chime.com", "192.168.231.102", "computing node2"],
];
const GUIDE_ENDPOINTS = [
  ["192.168.231.11:8801", "chime-server", "Server1 API's real endpoint"],
  ["192.168.231.12:8801", "chime-server", "Server2 API's real endpoint"],
  ["192.168.231.10:8801", "chime-server", "Server API's VIP endpoint"],
  ["192.168.231.11:8802", "chime-server", "Server1 grpc's real endpoint"],
  ["192.168.231.12:8802", "chime-server", "Server2 grpc's real endpoint"],
  ["192.168.231.10:8802", "chime-server", "Server grpc's VIP endpoint"],
  ["192.168.231.11:8033", "chime-portal", "Server1 web UI's real endpoint"],
  ["192.168.231.12:8033", "chime-portal", "Server2 web UI's real endpoint"],
  ["192.168.231.20:80", "chime-portal", "web UI's VIP endpoint"],
  ["192.168.231.11:3306", "mysql", "Server1's mysql's real endpoint"],
  ["192.168.231.12:3306", "mysql", "Server2's mysql's real endpoint"],
  ["192.168.231.30:3306", "mysql", "mysql's VIP endpoint"],
  ["192.168.231.11:8086", "influxdb", "Server1's influxdb's real endpoint"],
  ["192.168.231.12:8086", "influxdb", "Server2's influxdb's real endpoint"],
  ["192.168.231.40:8086", "influxdb", "influxdb's VIP endpoint"],
  ["192.168.231.11:9000", "minio", "Server1's minio's real endpoint"],
  ["192.168.231.12:9000", "minio", "Server2's minio's real endpoint"],
  ["192.168.231.50:9000", "minio", "minio's VIP endpoint"],
];

/** Cells of the markdown table rows in `text` that follow the header starting with `first`. */
function tableRows(text: string, first: string): string[][] {
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l.startsWith(`| ${first} `));
  const rows: string[][] = [];
  for (const l of lines.slice(start + 2)) {
    if (!l.startsWith("|")) break;
    rows.push(l.slice(1, -1).split("|").map((c) => c.trim()));
  }
  return rows;
}

describe("chime-ha plan", () => {
  it("prints the guide's two tables exactly for examples/chimestack.yaml", async () => {
    const r = await cli(["plan", "examples/chimestack.yaml"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("| Node ");
    expect(tableRows(r.stdout, "Node")).toEqual(GUIDE_NODES);
    expect(tableRows(r.stdout, "IP:Port")).toEqual(GUIDE_ENDPOINTS);
  });

  it("derives the rows from any spec: three servers, an unlabelled group, generated node names", () => {
    const base = readSpecFile("examples/chimestack.yaml");
    if (!base.ok) throw new Error("example spec must be valid");
    const spec = structuredClone(base.spec);
    spec.nodes.push({ name: "server3", hostname: "server3.chime.com", ip: "192.168.231.13", prefix: 24, role: "server", priority: 90 });
    spec.groups = [
      { ...spec.groups[0]!, ports: [{ port: 8801, protocol: "tcp", label: "API" }] },
      { ...spec.groups[1]!, ports: [{ port: 443, realPort: 8443, protocol: "tcp" }], members: ["server1", "server3"] },
    ];
    const t = planTables(spec);
    expect(t.nodes.at(-1)).toEqual({ node: "ServerNode3", hostname: "server3.chime.com", ip: "192.168.231.13", description: "server node 3" });
    expect(t.endpoints.map((e) => [e.endpoint, e.description])).toEqual([
      ["192.168.231.11:8801", "Server1 API's real endpoint"],
      ["192.168.231.12:8801", "Server2 API's real endpoint"],
      ["192.168.231.13:8801", "Server3 API's real endpoint"],
      ["192.168.231.10:8801", "Server API's VIP endpoint"],
      ["192.168.231.11:8443", "Server1's chime-portal's real endpoint"],
      ["192.168.231.13:8443", "Server3's chime-portal's real endpoint"],
      ["192.168.231.20:443", "chime-portal's VIP endpoint"],
    ]);
  });
});

describe("chime-ha validate", () => {
  it("accepts the example spec (exit 0)", async () => {
    const r = await cli(["validate", "examples/chimestack.yaml"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/valid \(cluster chimestack: 2 server \+ 2 compute nodes, 5 groups\)/);
  });

  it("names every problem by path and exits 1", async () => {
    const base = readSpecFile("examples/chimestack.yaml");
    if (!base.ok) throw new Error("example spec must be valid");
    const bad = structuredClone(base.spec) as unknown as { nodes: { ip: string }[]; groups: { vip: string; ports: { port: number }[] }[] };
    bad.nodes[1]!.ip = "192.168.231.300";
    bad.groups[2]!.vip = "192.168.231.10";
    bad.groups[0]!.ports[1]!.port = 70000;
    const file = join(dir, "bad.yaml");
    writeFileSync(file, stringify(bad));
    const r = await cli(["validate", file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("nodes[1].ip: must be a dotted IPv4 address");
    expect(r.stderr).toContain("groups[0].ports[1].port: port must be 1-65535");
    const direct = validateCommand(file);
    expect(direct.ok).toBe(false);
  });

  it("reports a cross-field rule with its path, and YAML syntax errors with line and column", () => {
    const base = readSpecFile("examples/chimestack.yaml");
    if (!base.ok) throw new Error("example spec must be valid");
    const dup = structuredClone(base.spec);
    dup.groups[2]!.vip = "192.168.231.10";
    const f1 = join(dir, "dup.yaml");
    writeFileSync(f1, stringify(dup));
    expect(validateCommand(f1).text).toContain("groups[2].vip: VIP 192.168.231.10 is already used by groups[0]");
    const f2 = join(dir, "broken.yaml");
    writeFileSync(f2, "apiVersion: chime-ha/v1\nnodes: [\n  - a\n");
    const out = validateCommand(f2);
    expect(out.ok).toBe(false);
    expect(out.text).toMatch(/\(yaml\): .*line \d+, column \d+/);
  });

  it("status without a URL is a usage error (exit 2), not a crash", async () => {
    const r = await cli(["status"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("no control plane URL: set CHIME_HA_URL or pass --url");
  });
});
