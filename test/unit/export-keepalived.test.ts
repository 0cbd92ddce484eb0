// `chime-ha export keepalived`: the keepalived.conf each server of a spec would run. Checked line
// by line for the example spec, for the lab's choices (advert_int, VRRP only, unicast, preempt),
// for path-precise refusals, and (when keepalived is installed; CI installs it) with
// `keepalived --config-test`, which must accept every generated file.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { ExportError, exportKeepalived, probeScript } from "../../node-shim/cli/export-keepalived.js";
import { readSpecFile } from "../../node-shim/cli/spec-file.js";
import type { ClusterSpec } from "../../protocol/spec.js";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "chs-ka-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const example = (): ClusterSpec => {
  const r = readSpecFile("examples/chimestack.yaml");
  if (!r.ok) throw new Error("example spec invalid");
  return r.spec;
};

/** The body lines of `kind name { ... }` (top-level block), trimmed. */
function block(conf: string, header: string): string[] {
  const lines = conf.split("\n");
  const start = lines.findIndex((l) => l === `${header} {`);
  if (start < 0) throw new Error(`no block '${header}'`);
  let depth = 0;
  const body: string[] = [];
  for (const l of lines.slice(start)) {
    depth += (l.match(/{/g) ?? []).length - (l.match(/}/g) ?? []).length;
    body.push(l.trim());
    if (depth === 0) break;
  }
  return body.slice(1, -1);
}

describe("export keepalived", () => {
  it("writes one vrrp_instance + vrrp_script per group of server1, from the spec's values", () => {
    const conf = exportKeepalived(example(), { node: "server1" });
    expect(block(conf, "vrrp_instance server_api")).toEqual([
      "state BACKUP",
      "interface eth0",
      "virtual_router_id 51",
      "priority 110",
      "advert_int 1",
      "nopreempt",
      "virtual_ipaddress {",
      "192.168.231.10/24 dev eth0 label eth0:ka",
      "}",
      "track_script {",
      "chk_server_api",
      "}",
    ]);
    expect(block(conf, "vrrp_script chk_server_api")).toEqual([
      'script "/usr/bin/curl -fsS -o /dev/null -m 1 http://127.0.0.1:8801/health"',
      "interval 1",
      "timeout 1",
      "fall 2",
      "rise 2",
    ]);
    // One instance per group, router ids counting up in spec order.
    const vrids = [...conf.matchAll(/virtual_router_id (\d+)/g)].map((m) => Number(m[1]));
    expect(vrids).toEqual([51, 52, 53, 54, 55]);
    expect(conf).toContain('script "/usr/bin/mysqladmin --connect-timeout=1 -h 127.0.0.1 -P 3306 ping"');
    expect(conf).toContain('script "/usr/bin/curl -fsS -o /dev/null -m 1 http://127.0.0.1:8086/ping"');
  });

  it("server2 gets its own priority and the same router ids; the portal gets a NAT virtual_server 80 -> 8033", () => {
    const conf = exportKeepalived(example(), { node: "server2" });
    expect(block(conf, "vrrp_instance server_api")).toContain("priority 100");
    expect(block(conf, "vrrp_instance server_api")).toContain("virtual_router_id 51");
    const vs = block(conf, "virtual_server 192.168.231.20 80");
    expect(vs.slice(0, 4)).toEqual(["delay_loop 1", "lb_algo wrr", "lb_kind NAT", "protocol TCP"]);
    expect(vs).toContain("real_server 192.168.231.11 8033 {");
    expect(vs).toContain("real_server 192.168.231.12 8033 {");
  });

  it("the lab's form: VRRP only, fixed advert_int, one interface, unicast peers, a tcp check", () => {
    const spec = example();
    spec.policy.heartbeatIntervalMs = 300;
    spec.groups[0]!.probe = { type: "tcp", port: 8801, intervalMs: 200, timeoutMs: 150, fall: 2, rise: 1 };
    const conf = exportKeepalived(spec, { node: "server2", iface: "veth1", advertInt: 1, virtualServers: false, unicast: true });
    expect(conf).not.toContain("virtual_server");
    const inst = block(conf, "vrrp_instance server_api");
    expect(inst).toContain("interface veth1");
    expect(inst).toContain("advert_int 1");
    expect(inst).toContain("192.168.231.10/24 dev veth1 label veth1:ka");
    expect(inst.slice(inst.indexOf("unicast_peer {"), inst.indexOf("unicast_peer {") + 3)).toEqual(["unicast_peer {", "192.168.231.11", "}"]);
    expect(inst).toContain("unicast_src_ip 192.168.231.12");
    expect(block(conf, "vrrp_script chk_server_api")).toEqual(["script \"/usr/bin/timeout 1 /bin/bash -c '</dev/tcp/127.0.0.1/8801'\"", "interval 1", "timeout 1", "fall 2", "rise 1"]);
    // Without an explicit advert_int, the 300 ms heartbeat rounds up to VRRPv2's 1 s.
    expect(exportKeepalived(spec, { node: "server2" })).toContain("advert_int 1");
  });

  it("maps preempt on to preempt_delay, and an exec probe to its quoted command", () => {
    const spec = example();
    spec.policy.preempt = { enabled: true, delayMs: 30_000 };
    const conf = exportKeepalived(spec, { node: "server1" });
    expect(conf).not.toContain("nopreempt");
    expect(block(conf, "vrrp_instance server_api")).toContain("preempt_delay 30");
    expect(probeScript({ type: "exec", command: ["/usr/local/bin/check", "--name", "chime server"], intervalMs: 1000, timeoutMs: 2500, fall: 2, rise: 2 }, "127.0.0.1")).toBe(
      "/usr/bin/timeout 3 /usr/local/bin/check --name 'chime server'",
    );
  });

  it("--vrrp-version 3: fractional adverts (the heartbeat interval by default), checked against keepalived's range", () => {
    const spec = example();
    spec.policy.heartbeatIntervalMs = 300;
    const conf = exportKeepalived(spec, { node: "server1", vrrpVersion: 3 });
    expect(block(conf, "global_defs")).toEqual(["router_id server1", "vrrp_version 3", "enable_script_security", "script_user root"]);
    expect(block(conf, "vrrp_instance server_api")).toContain("advert_int 0.3");
    expect(exportKeepalived(spec, { node: "server1", vrrpVersion: 3, advertInt: 0.25 })).toContain("  advert_int 0.25\n");
    expect(exportKeepalived(spec, { node: "server1", vrrpVersion: 3, advertInt: 2 })).toContain("  advert_int 2\n");
    // VRRPv2 has no vrrp_version line and rounds the 300 ms heartbeat up to 1 s.
    expect(exportKeepalived(spec, { node: "server1" })).not.toContain("vrrp_version");
    expect(() => exportKeepalived(spec, { node: "server1", advertInt: 0.3 })).toThrow(new ExportError("--advert-int: VRRPv2 adverts are whole seconds 1-255, got 0.3 (use --vrrp-version 3 for fractions)"));
    expect(() => exportKeepalived(spec, { node: "server1", vrrpVersion: 3, advertInt: 0.005 })).toThrow(new ExportError("--advert-int: VRRPv3 adverts are 0.01-40.95 s in steps of 0.01 s, got 0.005"));
    expect(() => exportKeepalived(spec, { node: "server1", vrrpVersion: 3, advertInt: 41 })).toThrow(/^--advert-int: VRRPv3 adverts are 0\.01-40\.95 s/);
    expect(() => exportKeepalived(spec, { node: "server1", vrrpVersion: 4 as 3 })).toThrow(new ExportError("--vrrp-version: 2 or 3, got 4"));
  });

  it("tracks a group's process with vrrp_track_process (process death -> FAULT at once), keeping the vrrp_script probe", () => {
    const spec = example();
    spec.groups[0]!.process = "chime-server";
    const conf = exportKeepalived(spec, { node: "server1" });
    expect(block(conf, "vrrp_track_process trk_server_api")).toEqual(["process chime-server", "quorum 1", "weight 0"]);
    const inst = block(conf, "vrrp_instance server_api");
    expect(inst.slice(-6)).toEqual(["track_script {", "chk_server_api", "}", "track_process {", "trk_server_api", "}"]);
    // Groups without a process name keep the script only; --no-track-process drops tracking.
    expect(block(conf, "vrrp_instance portal")).not.toContain("track_process {");
    expect(exportKeepalived(spec, { node: "server1", trackProcess: false })).not.toContain("track_process");
  });

  it("refuses compute nodes, unknown nodes, and out-of-range options with the option named", () => {
    expect(() => exportKeepalived(example(), { node: "node1" })).toThrow(new ExportError("--node: 'node1' is a compute node; keepalived runs on server nodes"));
    expect(() => exportKeepalived(example(), { node: "server9" })).toThrow(/^--node: no node 'server9' in cluster chimestack \(nodes: server1, server2, node1, node2\)$/);
    expect(() => exportKeepalived(example(), { node: "server1", vridBase: 252 })).toThrow(/^--vrid-base: 252 \+ 5 groups/);
    expect(() => exportKeepalived(example(), { node: "server1", advertInt: 0.5 })).toThrow(/^--advert-int: /);
  });

  it("is registered on the CLI: prints the config, or the spec's problems by path with exit 1", async () => {
    const out = await run("node_modules/.bin/tsx", ["node-shim/bin/chime-ha.ts", "export", "keepalived", "examples/chimestack.yaml", "--node", "server2", "--no-virtual-server"], { timeout: 20_000 });
    expect(out.stdout).toBe(exportKeepalived(example(), { node: "server2", virtualServers: false }) + "\n");
    const bad = join(dir, "bad.yaml");
    const spec = example() as unknown as { nodes: { ip: string }[] };
    spec.nodes[1]!.ip = "192.168.231.11";
    writeFileSync(bad, stringify(spec));
    const err = await run("node_modules/.bin/tsx", ["node-shim/bin/chime-ha.ts", "export", "keepalived", bad, "--node", "server1"], { timeout: 20_000 }).catch((e: { code: number; stderr: string }) => e);
    expect((err as { code: number }).code).toBe(1);
    expect((err as { stderr: string }).stderr).toContain("nodes[1].ip: duplicate ip '192.168.231.11' (also nodes[0])");
  });

  const keepalived = ["/usr/sbin/keepalived", "/sbin/keepalived"].find((p) => existsSync(p));
  if (!keepalived && process.env.CI === "true") throw new Error("keepalived is not installed (.ci/run installs it)");
  it.runIf(keepalived !== undefined)("keepalived --config-test accepts every generated file: both nodes, VRRPv2 and v3, process tracking, virtual servers, unicast, preemption", async () => {
    const tracked = example();
    tracked.policy.heartbeatIntervalMs = 300;
    tracked.groups[0]!.process = "chime-server";
    tracked.groups[1]!.process = "chime-portal";
    const preempt = example();
    preempt.policy.preempt = { enabled: true, delayMs: 5000 };
    let files = 0;
    for (const spec of [example(), tracked, preempt]) {
      for (const node of ["server1", "server2"]) {
        for (const vrrpVersion of [2, 3] as const) {
          for (const virtualServers of [true, false]) {
            const file = join(dir, `${node}-${vrrpVersion}-${virtualServers}-${files}.conf`);
            writeFileSync(file, exportKeepalived(spec, { node, vrrpVersion, virtualServers, unicast: !virtualServers }));
            const r = await run(keepalived!, ["--config-test", "-f", file], { timeout: 10_000 }).catch((e: { code: number; stderr: string; stdout: string }) => e);
            expect((r as { code?: number }).code ?? 0, `${file}: ${(r as { stderr: string }).stderr}`).toBe(0);
            files++;
          }
        }
      }
    }
    expect(files).toBe(24);
  });
});
