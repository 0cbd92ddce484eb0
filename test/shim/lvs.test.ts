// Load-balancing backends through the recording runner: the exact ipvsadm commands (this kernel
// has no IPVS module, so commands are all we can check) and the exact nftables transaction for
// create, weight change and removal, plus drain before removal.
import { beforeAll, describe, expect, it } from "vitest";
import type { DesiredGroup } from "../../protocol/heartbeat.js";
import { IpvsReconciler, parseIpvsSave } from "../../node-shim/apply/lvs-ipvs.js";
import { NftablesReconciler, renderRuleset } from "../../node-shim/apply/lvs-nftables.js";
import { type VirtualService, virtualServices } from "../../node-shim/apply/lvs.js";
import { CommandRunner } from "../../node-shim/command-runner.js";
import { setLogSink } from "../../node-shim/log.js";

beforeAll(() => setLogSink(null));

const portal = (reals: { ip: string; weight: number }[], scheduler: VirtualService["scheduler"] = "wrr"): VirtualService => ({
  group: "portal",
  vip: "192.168.231.20",
  port: 80,
  realPort: 8033,
  protocol: "tcp",
  scheduler,
  reals,
});

/** Runner whose `ipvsadm -Sn` answers with `save` (what the kernel table holds). */
const ipvsRunner = (save: string) => new CommandRunner("recording").respond(["ipvsadm", "-Sn"], { stdout: save });

describe("virtualServices (desired group -> services)", () => {
  it("one service per port of each lb group, realPort defaulting to port", () => {
    const g: DesiredGroup = {
      name: "portal",
      mode: "active-active-lb",
      vip: "192.168.231.20",
      prefix: 24,
      interface: "eth0",
      ports: [
        { port: 80, realPort: 8033, protocol: "tcp", label: "web UI" },
        { port: 443, protocol: "tcp" },
      ],
      probe: { type: "tcp", port: 8033, intervalMs: 1000, timeoutMs: 800, fall: 2, rise: 2 },
      member: true,
      role: "holder",
      epoch: 3,
      holder: "server1",
      lb: { backend: "ipvs", scheduler: "wrr", realServers: [{ node: "server1", ip: "192.168.231.11", weight: 2 }] },
    };
    expect(virtualServices([g, { ...g, name: "other", lb: undefined }])).toEqual([
      { group: "portal", vip: "192.168.231.20", port: 80, realPort: 8033, protocol: "tcp", scheduler: "wrr", reals: [{ ip: "192.168.231.11", weight: 2 }] },
      { group: "portal", vip: "192.168.231.20", port: 443, realPort: 443, protocol: "tcp", scheduler: "wrr", reals: [{ ip: "192.168.231.11", weight: 2 }] },
    ]);
  });
});

describe("IPVS backend (recording runner)", () => {
  it("parses ipvsadm -Sn", () => {
    expect(parseIpvsSave("-A -t 192.168.231.20:80 -s wrr\n-a -t 192.168.231.20:80 -r 192.168.231.11:8033 -m -w 3\n")).toEqual([
      { proto: "-t", vip: "192.168.231.20", port: 80, scheduler: "wrr", reals: [{ ip: "192.168.231.11", port: 8033, method: "-m", weight: 3 }] },
    ]);
  });

  it("creates the virtual service in NAT mode (80 -> 8033) with weights", async () => {
    const runner = ipvsRunner("");
    await new IpvsReconciler(runner, { drainMs: 10_000, now: () => 0 }).reconcile([portal([{ ip: "192.168.231.11", weight: 1 }, { ip: "192.168.231.12", weight: 3 }])]);
    expect(runner.lines()).toEqual([
      "ipvsadm -Sn",
      "ipvsadm -A -t 192.168.231.20:80 -s wrr",
      "ipvsadm -a -t 192.168.231.20:80 -r 192.168.231.11:8033 -m -w 1",
      "ipvsadm -a -t 192.168.231.20:80 -r 192.168.231.12:8033 -m -w 3",
    ]);
  });

  it("uses direct routing (-g) when the ports match", async () => {
    const runner = ipvsRunner("");
    await new IpvsReconciler(runner, { drainMs: 10_000, now: () => 0 }).reconcile([{ ...portal([{ ip: "192.168.231.11", weight: 1 }], "rr"), realPort: 80 }]);
    expect(runner.lines()).toEqual(["ipvsadm -Sn", "ipvsadm -A -t 192.168.231.20:80 -s rr", "ipvsadm -a -t 192.168.231.20:80 -r 192.168.231.11:80 -g -w 1"]);
  });

  it("issues nothing when the table already matches", async () => {
    const runner = ipvsRunner(
      "-A -t 192.168.231.20:80 -s wrr\n-a -t 192.168.231.20:80 -r 192.168.231.11:8033 -m -w 1\n-a -t 192.168.231.20:80 -r 192.168.231.12:8033 -m -w 3\n",
    );
    await new IpvsReconciler(runner, { drainMs: 10_000, now: () => 0 }).reconcile([portal([{ ip: "192.168.231.11", weight: 1 }, { ip: "192.168.231.12", weight: 3 }])]);
    expect(runner.lines()).toEqual(["ipvsadm -Sn"]);
  });

  it("changes weights and the scheduler with -e / -E only", async () => {
    const runner = ipvsRunner(
      "-A -t 192.168.231.20:80 -s rr\n-a -t 192.168.231.20:80 -r 192.168.231.11:8033 -m -w 1\n-a -t 192.168.231.20:80 -r 192.168.231.12:8033 -m -w 1\n",
    );
    await new IpvsReconciler(runner, { drainMs: 10_000, now: () => 0 }).reconcile([portal([{ ip: "192.168.231.11", weight: 1 }, { ip: "192.168.231.12", weight: 5 }])]);
    expect(runner.lines()).toEqual([
      "ipvsadm -Sn",
      "ipvsadm -E -t 192.168.231.20:80 -s wrr",
      "ipvsadm -e -t 192.168.231.20:80 -r 192.168.231.12:8033 -m -w 5",
    ]);
  });

  it("drains a leaving real server (weight 0) and deletes it only after the drain time", async () => {
    const withBoth = "-A -t 192.168.231.20:80 -s wrr\n-a -t 192.168.231.20:80 -r 192.168.231.11:8033 -m -w 1\n-a -t 192.168.231.20:80 -r 192.168.231.12:8033 -m -w 1\n";
    const drained = "-A -t 192.168.231.20:80 -s wrr\n-a -t 192.168.231.20:80 -r 192.168.231.11:8033 -m -w 1\n-a -t 192.168.231.20:80 -r 192.168.231.12:8033 -m -w 0\n";
    let now = 1_000;
    let save = withBoth;
    const runner = new CommandRunner("recording").respond((c) => (c.cmd === "ipvsadm" && c.args[0] === "-Sn" ? { stdout: save } : undefined));
    const ipvs = new IpvsReconciler(runner, { drainMs: 10_000, now: () => now });
    const only11 = [portal([{ ip: "192.168.231.11", weight: 1 }])];

    await ipvs.reconcile(only11);
    expect(runner.lines()).toEqual(["ipvsadm -Sn", "ipvsadm -e -t 192.168.231.20:80 -r 192.168.231.12:8033 -m -w 0"]);

    runner.clear();
    save = drained;
    now = 10_999;
    await ipvs.reconcile(only11);
    expect(runner.lines()).toEqual(["ipvsadm -Sn"]);

    runner.clear();
    now = 11_000;
    await ipvs.reconcile(only11);
    expect(runner.lines()).toEqual(["ipvsadm -Sn", "ipvsadm -d -t 192.168.231.20:80 -r 192.168.231.12:8033"]);
  });

  it("a draining server that comes back gets its weight again and is not deleted", async () => {
    const drained = "-A -t 192.168.231.20:80 -s wrr\n-a -t 192.168.231.20:80 -r 192.168.231.11:8033 -m -w 1\n-a -t 192.168.231.20:80 -r 192.168.231.12:8033 -m -w 0\n";
    let now = 0;
    const runner = ipvsRunner(drained);
    const ipvs = new IpvsReconciler(runner, { drainMs: 10_000, now: () => now });
    await ipvs.reconcile([portal([{ ip: "192.168.231.11", weight: 1 }])]);
    runner.clear();
    now = 5_000;
    await ipvs.reconcile([portal([{ ip: "192.168.231.11", weight: 1 }, { ip: "192.168.231.12", weight: 2 }])]);
    now = 20_000;
    await ipvs.reconcile([portal([{ ip: "192.168.231.11", weight: 1 }, { ip: "192.168.231.12", weight: 2 }])]);
    expect(runner.lines().filter((l) => l !== "ipvsadm -Sn")).toEqual([
      "ipvsadm -e -t 192.168.231.20:80 -r 192.168.231.12:8033 -m -w 2",
      "ipvsadm -e -t 192.168.231.20:80 -r 192.168.231.12:8033 -m -w 2",
    ]);
  });

  it("removes the whole virtual service when the VIP leaves this director", async () => {
    const runner = ipvsRunner("-A -t 192.168.231.20:80 -s wrr\n-a -t 192.168.231.20:80 -r 192.168.231.11:8033 -m -w 1\n");
    await new IpvsReconciler(runner, { drainMs: 10_000, now: () => 0 }).reconcile([]);
    expect(runner.lines()).toEqual(["ipvsadm -Sn", "ipvsadm -D -t 192.168.231.20:80"]);
  });

  it("refuses to act on an unreadable table", async () => {
    const runner = new CommandRunner("recording").respond(["ipvsadm", "-Sn"], { code: 2, stderr: "Can't initialize ipvs: Protocol not available" });
    await expect(new IpvsReconciler(runner, { drainMs: 0 }).reconcile([portal([])])).rejects.toThrow(/Protocol not available/);
    expect(runner.lines()).toEqual(["ipvsadm -Sn"]);
  });
});

const TABLE_1_3 = [
  "table ip chime_ha {",
  "  chain prerouting {",
  "    type nat hook prerouting priority dstnat; policy accept;",
  '    ip daddr 192.168.231.20 tcp dport 80 dnat ip to numgen inc mod 4 map { 0 : 192.168.231.11 . 8033, 1-3 : 192.168.231.12 . 8033 } comment "portal"',
  "  }",
  "  chain output {",
  "    type nat hook output priority -100; policy accept;",
  '    ip daddr 192.168.231.20 tcp dport 80 dnat ip to numgen inc mod 4 map { 0 : 192.168.231.11 . 8033, 1-3 : 192.168.231.12 . 8033 } comment "portal"',
  "  }",
  "  chain postrouting {",
  "    type nat hook postrouting priority srcnat; policy accept;",
  "    ct status dnat ip daddr { 192.168.231.11, 192.168.231.12 } tcp dport 8033 masquerade",
  "  }",
  "}",
].join("\n");

describe("nftables backend (recording runner)", () => {
  const missingTable = () =>
    new CommandRunner("recording")
      .respond(["nft", "list", "table"], { code: 1, stderr: "Error: No such file or directory" })
      .respond(["sysctl", "-n", "net.ipv4.ip_forward"], { stdout: "0\n" });

  it("renders weights as numgen map ranges, jhash for sh, and masquerade for the replies", () => {
    expect(renderRuleset([portal([{ ip: "192.168.231.11", weight: 1 }, { ip: "192.168.231.12", weight: 3 }])])).toBe(TABLE_1_3);
    const sh = renderRuleset([portal([{ ip: "192.168.231.11", weight: 1 }, { ip: "192.168.231.12", weight: 3 }], "sh")]);
    expect(sh).toContain("dnat ip to jhash ip saddr mod 2 map { 0 : 192.168.231.11 . 8033, 1 : 192.168.231.12 . 8033 }");
    const rr = renderRuleset([portal([{ ip: "192.168.231.11", weight: 5 }, { ip: "192.168.231.12", weight: 3 }], "rr")]);
    expect(rr).toContain("numgen inc mod 2 map { 0 : 192.168.231.11 . 8033, 1 : 192.168.231.12 . 8033 }");
    expect(renderRuleset([])).toBe("");
  });

  it("creates the table in one atomic transaction and turns forwarding on", async () => {
    const runner = missingTable();
    await new NftablesReconciler(runner).reconcile([portal([{ ip: "192.168.231.11", weight: 1 }, { ip: "192.168.231.12", weight: 3 }])]);
    expect(runner.recorded).toEqual([
      { cmd: "nft", args: ["list", "table", "ip", "chime_ha"] },
      { cmd: "sysctl", args: ["-n", "net.ipv4.ip_forward"] },
      { cmd: "sysctl", args: ["-w", "net.ipv4.ip_forward=1"] },
      { cmd: "nft", args: ["-f", "-"], input: `table ip chime_ha\ndelete table ip chime_ha\n${TABLE_1_3}\n` },
    ]);
  });

  it("replaces the table atomically when weights change, and only then", async () => {
    let exists = false;
    const runner = new CommandRunner("recording")
      .respond((c) => (c.cmd === "nft" && c.args[0] === "list" ? (exists ? { stdout: "table ip chime_ha {}" } : { code: 1 }) : undefined))
      .respond(["sysctl", "-n"], { stdout: "1\n" });
    const nft = new NftablesReconciler(runner);
    await nft.reconcile([portal([{ ip: "192.168.231.11", weight: 1 }, { ip: "192.168.231.12", weight: 1 }])]);
    exists = true;
    runner.clear();
    await nft.reconcile([portal([{ ip: "192.168.231.11", weight: 1 }, { ip: "192.168.231.12", weight: 1 }])]);
    expect(runner.lines()).toEqual(["nft list table ip chime_ha"]);

    runner.clear();
    await nft.reconcile([portal([{ ip: "192.168.231.11", weight: 1 }, { ip: "192.168.231.12", weight: 3 }])]);
    expect(runner.recorded).toEqual([
      { cmd: "nft", args: ["list", "table", "ip", "chime_ha"] },
      { cmd: "sysctl", args: ["-n", "net.ipv4.ip_forward"] },
      { cmd: "nft", args: ["-f", "-"], input: `table ip chime_ha\ndelete table ip chime_ha\n${TABLE_1_3}\n` },
    ]);
  });

  it("a removed or weight-0 real server leaves the map at once (new connections only)", async () => {
    const runner = missingTable();
    await new NftablesReconciler(runner).reconcile([portal([{ ip: "192.168.231.11", weight: 1 }, { ip: "192.168.231.12", weight: 0 }])]);
    const script = runner.recorded.at(-1)!.input!;
    expect(script).toContain('dnat ip to numgen inc mod 1 map { 0 : 192.168.231.11 . 8033 } comment "portal"');
    expect(script).not.toMatch(/192\.168\.231\.12 \. 8033/);
  });

  it("re-applies when someone deleted the table behind its back", async () => {
    let exists = false;
    const runner = new CommandRunner("recording")
      .respond((c) => (c.cmd === "nft" && c.args[0] === "list" ? (exists ? { stdout: "table ip chime_ha {}" } : { code: 1 }) : undefined))
      .respond(["sysctl", "-n"], { stdout: "1\n" });
    const nft = new NftablesReconciler(runner);
    const want = [portal([{ ip: "192.168.231.11", weight: 1 }])];
    await nft.reconcile(want);
    runner.clear();
    exists = false;
    await nft.reconcile(want);
    expect(runner.lines().map((l) => l.split(" <<<")[0])).toEqual(["nft list table ip chime_ha", "sysctl -n net.ipv4.ip_forward", "nft -f -"]);
  });

  it("deletes the table when nothing is to be balanced, and does nothing when it is absent", async () => {
    const present = new CommandRunner("recording").respond(["nft", "list", "table"], { stdout: "table ip chime_ha {}" });
    await new NftablesReconciler(present).reconcile([]);
    expect(present.lines()).toEqual(["nft list table ip chime_ha", "nft delete table ip chime_ha"]);
    const absent = missingTable();
    await new NftablesReconciler(absent).reconcile([]);
    expect(absent.lines()).toEqual(["nft list table ip chime_ha"]);
  });
});
