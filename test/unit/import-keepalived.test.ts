// `chime-ha import keepalived`: keepalived.conf files to a cluster spec. Checked by round trips
// (export -> import -> export gives back the same files, for several specs and export options),
// by keepalived.conf files written the way the HA guide and common tutorials write them
// (test/fixtures/keepalived/, each imported into a spec that passes `chime-ha validate`, with a
// message for every construct that cannot be mapped), and by the parser's own rules.
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { exportKeepalived, type KeepalivedOptions } from "../../node-shim/cli/export-keepalived.js";
import { ImportError, importKeepalived, parseConf, probeFromScript } from "../../node-shim/cli/import-keepalived.js";
import { readSpecFile } from "../../node-shim/cli/spec-file.js";
import { type ClusterSpec, validateSpec } from "../../protocol/spec.js";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "chs-ka-import-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const FIXTURES = "test/fixtures/keepalived";

const example = (): ClusterSpec => {
  const r = readSpecFile("examples/chimestack.yaml");
  if (!r.ok) throw new Error("example spec invalid");
  return r.spec;
};

const fixture = (name: string) =>
  readdirSync(join(FIXTURES, name))
    .filter((f) => f.endsWith(".conf"))
    .sort()
    .map((f) => parseConf(join(FIXTURES, name, f), readFileSync(join(FIXTURES, name, f), "utf8")));

/** export every server -> import those files -> export again: the files must be the same. */
function roundTrip(spec: ClusterSpec, opts: Omit<KeepalivedOptions, "node">) {
  const servers = spec.nodes.filter((n) => n.role === "server").map((n) => n.name);
  const first = servers.map((node) => exportKeepalived(spec, { ...opts, node }));
  const computes = Object.fromEntries(spec.nodes.filter((n) => n.role === "compute").map((n) => [n.name, n.ip]));
  const r = importKeepalived(
    first.map((text, i) => parseConf(`${servers[i]}.conf`, text)),
    { computes },
  );
  const v = validateSpec(r.spec);
  if (!v.ok) throw new Error(`imported spec invalid: ${JSON.stringify(v.problems)}`);
  const second = servers.map((node) => exportKeepalived(v.spec, { ...opts, node }));
  return { first, second, spec: v.spec, messages: r.messages };
}

describe("import keepalived", () => {
  it("export -> import -> export gives back the same files (example spec; VRRPv3 with process tracking; preemption; unicast on one interface; VRRP only)", () => {
    const tracked = example();
    tracked.policy.heartbeatIntervalMs = 300;
    tracked.policy.leaseTtlMs = 900;
    tracked.groups[0]!.process = "chime-server";
    const preempt = example();
    preempt.policy.preempt = { enabled: true, delayMs: 20_000 };
    const cases: [ClusterSpec, Omit<KeepalivedOptions, "node">][] = [
      [example(), {}],
      [tracked, { vrrpVersion: 3 }],
      [preempt, { unicast: true }],
      [example(), { iface: "veth1", virtualServers: false, unicast: true }],
    ];
    for (const [spec, opts] of cases) {
      const r = roundTrip(spec, opts);
      expect(r.second).toEqual(r.first);
      // Nothing an exported file says is left unmapped.
      expect(r.messages).toEqual([]);
    }
  });

  it("keeps what the export carries: names, hostnames, IPs, priorities, groups in order, ports, probes, process, load balancing", () => {
    const spec = example();
    spec.groups[0]!.process = "chime-server";
    const { spec: back } = roundTrip(spec, { unicast: true });
    expect(back.name).toBe("chimestack");
    const servers = (s: ClusterSpec) => s.nodes.filter((n) => n.role === "server").map((n) => [n.name, n.hostname, n.ip, n.priority]);
    expect(servers(back)).toEqual(servers(spec));
    // keepalived knows no compute nodes: they come from --computes, by name and address.
    expect(back.nodes.filter((n) => n.role === "compute").map((n) => [n.name, n.ip])).toEqual(spec.nodes.filter((n) => n.role === "compute").map((n) => [n.name, n.ip]));
    expect(back.groups.map((g) => [g.name, g.service, g.mode, g.vip, g.ports.map((p) => [p.port, p.realPort])])).toEqual(spec.groups.map((g) => [g.name, g.service, g.mode, g.vip, g.ports.map((p) => [p.port, p.realPort])]));
    expect(back.groups[0]!.process).toBe("chime-server");
    expect(back.groups[0]!.probe).toMatchObject({ type: "http", port: 8801, path: "/health" });
    expect(back.groups.find((g) => g.name === "portal")!.lb).toMatchObject({ backend: "ipvs", scheduler: "wrr" });
    expect(back.policy).toMatchObject({ heartbeatIntervalMs: 1000, leaseTtlMs: 3000, driftMarginMs: 500, preempt: { enabled: false } });
  });

  it("the HA guide's keepalived + LVS: two groups, the portal balanced 80 -> 8033 with NAT, each construct it cannot map named", () => {
    const r = importKeepalived(fixture("ha-guide-lvs"), { computes: { node1: "192.168.231.101" }, name: "chimestack" });
    expect(r.problems).toEqual([]);
    const spec = validateSpec(r.spec);
    expect(spec.ok).toBe(true);
    if (!spec.ok) return;
    expect(spec.spec.nodes.map((n) => [n.name, n.ip, n.priority])).toEqual([
      ["server1", "192.168.231.11", 110],
      ["server2", "192.168.231.12", 100],
      ["node1", "192.168.231.101", 100],
    ]);
    const [api, portal] = spec.spec.groups;
    expect(api).toMatchObject({ name: "chime-server", mode: "active-standby", vip: "192.168.231.10", prefix: 24, interface: "eth0", ports: [{ port: 8801 }] });
    expect(api!.probe).toMatchObject({ type: "http", port: 8801, path: "/health", intervalMs: 2000, timeoutMs: 2000, fall: 3, rise: 2 });
    expect(portal).toMatchObject({ name: "portal", mode: "active-active-lb", vip: "192.168.231.20", ports: [{ port: 80, realPort: 8033 }], lb: { backend: "ipvs", scheduler: "wrr" } });
    expect(portal!.probe).toMatchObject({ type: "tcp", port: 8033, intervalMs: 2000, timeoutMs: 2000 });
    expect(spec.spec.policy.preempt.enabled).toBe(false);
    expect(r.messages).toEqual([
      "test/fixtures/keepalived/ha-guide-lvs/server1.conf:67: virtual_server 192.168.231.20 80: persistence_timeout not mapped; use lb scheduler sh (source hashing) for stickiness",
      "test/fixtures/keepalived/ha-guide-lvs/server2.conf:67: virtual_server 192.168.231.20 80: persistence_timeout not mapped; use lb scheduler sh (source hashing) for stickiness",
    ]);
  });

  it("the classic HAProxy tutorial: no router_id, no unicast, authentication, a killall check, state MASTER", () => {
    const files = fixture("tutorial-haproxy");
    expect(() => importKeepalived(files, { computes: { node1: "192.168.1.101" } })).toThrow(
      new ImportError("test/fixtures/keepalived/tutorial-haproxy/backup.conf: cannot tell backup's manage IP (no unicast_src_ip, no unique unicast_peer in the other files): pass --ip backup=<address>"),
    );
    const r = importKeepalived(files, { computes: { node1: "192.168.1.101" }, ips: { master: "192.168.1.11", backup: "192.168.1.12" }, ports: { "vi-1": [80, 443] } });
    expect(r.problems).toEqual([]);
    expect(r.spec.nodes!.map((n) => [n.name, n.priority])).toEqual([
      ["backup", 100],
      ["master", 101],
      ["node1", undefined],
    ]);
    expect(r.spec.groups![0]).toMatchObject({ name: "vi-1", vip: "192.168.1.100", prefix: 32, interface: "eth0", ports: [{ port: 80 }, { port: 443 }], probe: { type: "exec", command: ["killall", "-0", "haproxy"], intervalMs: 2000 } });
    // keepalived preempts by default; so does the imported spec, and it says so.
    expect(r.spec.policy!.preempt).toEqual({ enabled: true, delayMs: 0 });
    const at = (f: string) => `test/fixtures/keepalived/tutorial-haproxy/${f}.conf`;
    expect(r.messages).toEqual([
      `${at("backup")}:6: vrrp_script chk_haproxy: weight 2 not mapped; in chime-ha a failing check makes the node unfit (like weight 0), it does not shift priorities`,
      `${at("backup")}:15: vrrp_instance VI_1: authentication not mapped; chime-ha nodes authenticate with their own tokens`,
      `${at("master")}:6: vrrp_script chk_haproxy: weight 2 not mapped; in chime-ha a failing check makes the node unfit (like weight 0), it does not shift priorities`,
      `${at("master")}:11: vrrp_instance VI_1: state MASTER not mapped; chime-ha grants the group to the best healthy node (priority decides)`,
      `${at("master")}:15: vrrp_instance VI_1: authentication not mapped; chime-ha nodes authenticate with their own tokens`,
      `${at("backup")}:1: no nopreempt: keepalived preempts at once by default, so chime-ha will too (policy.preempt.delayMs 0); chime-ha's own default is not to preempt`,
    ]);
  });

  it("nginx with unicast peers, notify scripts and e-mail: IPs from unicast_src_ip, a pidof check, each unmapped construct named", () => {
    const r = importKeepalived(fixture("nginx-unicast"), { computes: { node1: "10.10.10.101" }, ports: { "vi-web": [80, 443] } });
    expect(r.problems).toEqual([]);
    expect(r.spec.nodes!.slice(0, 2).map((n) => [n.name, n.ip, n.priority])).toEqual([
      ["lb1", "10.10.10.11", 150],
      ["lb2", "10.10.10.12", 100],
    ]);
    expect(r.spec.groups![0]).toMatchObject({ name: "vi-web", vip: "10.10.10.100", prefix: 24, interface: "ens192", probe: { type: "exec", command: ["/usr/bin/pidof", "nginx"], fall: 2, rise: 2 } });
    expect(r.spec.policy!.preempt).toEqual({ enabled: false, delayMs: 30_000 });
    const lb1 = r.messages.filter((m) => m.includes("/lb1.conf:"));
    expect(lb1.map((m) => m.replace(/^.*lb1\.conf:/, ""))).toEqual([
      "2: global_defs notification_email: not mapped; chime-ha alerts through /v1/webhooks (Slack, Teams, e-mail gateways, ...)",
      "5: global_defs notification_email_from: not mapped; chime-ha alerts through /v1/webhooks (Slack, Teams, e-mail gateways, ...)",
      "6: global_defs smtp_server: not mapped; chime-ha alerts through /v1/webhooks (Slack, Teams, e-mail gateways, ...)",
      "7: global_defs smtp_connect_timeout: not mapped; chime-ha alerts through /v1/webhooks (Slack, Teams, e-mail gateways, ...)",
      "31: vrrp_instance VI_WEB: authentication not mapped; chime-ha nodes authenticate with their own tokens",
      "41: vrrp_instance VI_WEB: notify_master not mapped; chime-ha reports every move as an event and alerts through /v1/webhooks",
      "42: vrrp_instance VI_WEB: notify_backup not mapped; chime-ha reports every move as an event and alerts through /v1/webhooks",
      "43: vrrp_instance VI_WEB: notify_fault not mapped; chime-ha reports every move as an event and alerts through /v1/webhooks",
    ]);
  });

  it("VRRPv3 with process tracking for a MariaDB writer: a mysql-writer group, its process, the half-second advert as the heartbeat", () => {
    const r = importKeepalived(fixture("vrrp3-track-process"), { computes: { node1: "172.16.5.101" } });
    expect(r.problems).toEqual([]);
    expect(r.spec.groups![0]).toMatchObject({ name: "db-writer", mode: "mysql-writer", service: "mariadbd", process: "mariadbd", vip: "172.16.5.50", interface: "bond0", ports: [{ port: 3306 }], probe: { type: "mysql", port: 3306 } });
    expect(r.spec.policy).toMatchObject({ heartbeatIntervalMs: 500, leaseTtlMs: 1500, driftMarginMs: 250 });
    expect(r.messages.filter((m) => m.includes("db-a.conf"))).toEqual(["test/fixtures/keepalived/vrrp3-track-process/db-a.conf:44: vrrp_instance DB_WRITER: track_interface not mapped; a node whose link is down stops renewing its lease and loses the group"]);
  });

  it("says what is missing instead of guessing: no compute node, no port", () => {
    const r = importKeepalived(fixture("tutorial-haproxy"), { ips: { master: "192.168.1.11", backup: "192.168.1.12" } });
    expect(r.messages).toContain("(options):0: no compute nodes: a chime-ha cluster needs at least one (keepalived does not know them): pass --computes node1=<ip>[,node2=<ip>]");
    expect(r.messages).toContain("test/fixtures/keepalived/tutorial-haproxy/backup.conf:9: vrrp_instance VI_1: no port known (no virtual_server, no check with a port): pass --ports vi-1=<port>[,<port>]");
    expect(r.problems.map((p) => p.path)).toEqual(expect.arrayContaining(["nodes", "groups[0].ports"]));
  });

  it("parses keepalived's syntax: comments with # and !, quoted strings, one-line blocks, and says where a block is not closed", () => {
    const c = parseConf("x.conf", 'vrrp_script a { script "/bin/x --y {z}" # trailing\n interval 1 }\n! note\nvrrp_instance I { track_script { a }\nunicast_peer {\n 10.0.0.2\n}\n}\n');
    expect(c.nodes.map((n) => n.keyword)).toEqual(["vrrp_script", "vrrp_instance"]);
    expect(c.nodes[0]!.children!.map((n) => [n.keyword, n.args])).toEqual([
      ["script", ["/bin/x --y {z}"]],
      ["interval", ["1"]],
    ]);
    expect(c.comments.get(3)).toBe("note");
    expect(c.nodes[1]!.children!.map((n) => [n.keyword, (n.children ?? []).map((x) => x.keyword)])).toEqual([
      ["track_script", ["a"]],
      ["unicast_peer", ["10.0.0.2"]],
    ]);
    expect(() => parseConf("y.conf", "vrrp_instance I {\n  priority 1\n")).toThrow(new ImportError("y.conf:1: block 'vrrp_instance' is never closed"));
    expect(() => parseConf("z.conf", "}\n")).toThrow(new ImportError("z.conf:1: '}' without a block to close"));
    // A password with '!' inside a word is a word, not a comment.
    expect(parseConf("p.conf", "auth_pass s3cr3t!x\n").nodes[0]!.args).toEqual(["s3cr3t!x"]);
  });

  it("recognises the checks operators write: /dev/tcp, curl, mysqladmin, anything else as a command", () => {
    const t = { intervalMs: 1000, timeoutMs: 1000, fall: 2, rise: 2 };
    expect(probeFromScript("/usr/bin/timeout 1 /bin/bash -c '</dev/tcp/127.0.0.1/8801'", t).probe).toEqual({ type: "tcp", port: 8801, ...t });
    expect(probeFromScript("curl -fs http://localhost:8080/healthz?full=1", t).probe).toEqual({ type: "http", port: 8080, path: "/healthz?full=1", scheme: "http", ...t });
    expect(probeFromScript("/usr/bin/curl -fsS -o /dev/null -m 1 http://127.0.0.1:8086/ping", t).probe).toEqual({ type: "influxdb", port: 8086, ...t });
    expect(probeFromScript("/usr/bin/mysqladmin -h 127.0.0.1 -P 3307 ping", t).probe).toEqual({ type: "mysql", port: 3307, ...t });
    expect(probeFromScript("/etc/keepalived/check_app.sh --strict", t).probe).toEqual({ type: "exec", command: ["/etc/keepalived/check_app.sh", "--strict"], ...t });
  });

  it("is registered on the CLI: writes a spec that `chime-ha validate` accepts, messages on stderr", async () => {
    const files = readdirSync(join(FIXTURES, "ha-guide-lvs")).map((f) => join(FIXTURES, "ha-guide-lvs", f)).sort();
    const out = join(dir, "guide.yaml");
    const r = await run("node_modules/.bin/tsx", ["node-shim/bin/chime-ha.ts", "import", "keepalived", ...files, "--computes", "node1=192.168.231.101,node2=192.168.231.102", "-o", out], { timeout: 30_000 });
    expect(r.stderr).toContain("persistence_timeout not mapped");
    const v = await run("node_modules/.bin/tsx", ["node-shim/bin/chime-ha.ts", "validate", out], { timeout: 30_000 });
    expect(v.stdout).toBe(`${out}: valid (cluster imported: 2 server + 2 compute nodes, 2 groups)\n`);
    // Without compute nodes the spec is written but not valid yet: exit 1 with the problem's path.
    const bad = await run("node_modules/.bin/tsx", ["node-shim/bin/chime-ha.ts", "import", "keepalived", ...files], { timeout: 30_000 }).catch((e: { code: number; stderr: string }) => e);
    expect((bad as { code: number }).code).toBe(1);
    expect((bad as { stderr: string }).stderr).toContain("nodes: sizing rule: a cluster needs at least 1 compute node, this one has 0");
  });
});
