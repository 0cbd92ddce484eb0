// VIP reconciler through the recording runner: the exact `ip` and `arping` commands for add,
// remove (only our labelled addresses), adopt (already there: announce, never re-add) and
// periodic re-announce.
import { beforeAll, describe, expect, it } from "vitest";
import { VipReconciler } from "../../node-shim/apply/vip.js";
import { CommandRunner } from "../../node-shim/command-runner.js";
import { setLogSink } from "../../node-shim/log.js";

beforeAll(() => setLogSink(null));

/** `ip -j addr show dev IF` as iproute2 prints it, with the given (address, label) pairs. */
function ipAddrJson(iface: string, addrs: { local: string; prefixlen: number; label?: string }[]): string {
  return JSON.stringify([
    {
      ifindex: 2,
      ifname: iface,
      flags: ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"],
      mtu: 1500,
      operstate: "UP",
      addr_info: [
        ...addrs.map((a) => ({ family: "inet", local: a.local, prefixlen: a.prefixlen, scope: "global", ...(a.label ? { label: a.label } : {}), valid_life_time: 4294967295 })),
        { family: "inet6", local: "fe80::1", prefixlen: 64, scope: "link" },
      ],
    },
  ]);
}

const arping = (iface: string, vip: string) => `arping -q -U -c 2 -I ${iface} ${vip}`;

describe("VipReconciler (recording runner)", () => {
  it("adds a missing VIP with the chime-ha label, then sends gratuitous ARP", async () => {
    const runner = new CommandRunner("recording").respond(["ip", "-j", "addr", "show", "dev", "eth0"], {
      stdout: ipAddrJson("eth0", [{ local: "192.168.231.11", prefixlen: 24, label: "eth0" }]),
    });
    await new VipReconciler(runner, { reannounceMs: 10_000, arpCount: 2, now: () => 0 }).reconcile([{ vip: "192.168.231.10", prefix: 24, iface: "eth0" }]);
    expect(runner.lines()).toEqual([
      "ip -j addr show dev eth0",
      "ip addr add 192.168.231.10/24 dev eth0 label eth0:cha",
      arping("eth0", "192.168.231.10"),
    ]);
  });

  it("removes only addresses carrying its label; the manage IP and foreign VIPs stay", async () => {
    const runner = new CommandRunner("recording").respond(["ip", "-j", "addr", "show", "dev", "eth0"], {
      stdout: ipAddrJson("eth0", [
        { local: "192.168.231.11", prefixlen: 24, label: "eth0" },
        { local: "192.168.231.10", prefixlen: 24, label: "eth0:cha" },
        // Someone else's VIP (e.g. keepalived still running during migration): not ours to touch.
        { local: "192.168.231.99", prefixlen: 24, label: "eth0:kad" },
      ]),
    });
    await new VipReconciler(runner, { reannounceMs: 10_000, arpCount: 2, now: () => 0 }).reconcile([], ["eth0"]);
    expect(runner.lines()).toEqual(["ip -j addr show dev eth0", "ip addr del 192.168.231.10/24 dev eth0"]);
  });

  it("adopts a VIP already on the interface: no add, no delete, one announcement", async () => {
    const runner = new CommandRunner("recording").respond(["ip", "-j", "addr", "show", "dev", "eth0"], {
      stdout: ipAddrJson("eth0", [{ local: "192.168.231.10", prefixlen: 24, label: "eth0:cha" }]),
    });
    let now = 0;
    const vip = new VipReconciler(runner, { reannounceMs: 10_000, arpCount: 2, now: () => now });
    const wanted = [{ vip: "192.168.231.10", prefix: 24, iface: "eth0" }];
    await vip.reconcile(wanted);
    expect(runner.lines()).toEqual(["ip -j addr show dev eth0", arping("eth0", "192.168.231.10")]);

    // Within the re-announce period nothing but the read happens ...
    runner.clear();
    now = 9_999;
    await vip.reconcile(wanted);
    expect(runner.lines()).toEqual(["ip -j addr show dev eth0"]);
    // ... and after it, the VIP is announced again.
    runner.clear();
    now = 10_000;
    await vip.reconcile(wanted);
    expect(runner.lines()).toEqual(["ip -j addr show dev eth0", arping("eth0", "192.168.231.10")]);
  });

  it("moves a VIP between prefixes/interfaces: removal first, then add", async () => {
    const runner = new CommandRunner("recording")
      .respond(["ip", "-j", "addr", "show", "dev", "eth0"], { stdout: ipAddrJson("eth0", [{ local: "192.168.231.10", prefixlen: 24, label: "eth0:cha" }]) })
      .respond(["ip", "-j", "addr", "show", "dev", "bond0"], { stdout: ipAddrJson("bond0", []) });
    await new VipReconciler(runner, { reannounceMs: 10_000, arpCount: 2, now: () => 0 }).reconcile([{ vip: "192.168.231.10", prefix: 24, iface: "bond0" }], ["eth0"]);
    expect(runner.lines()).toEqual([
      "ip -j addr show dev eth0",
      "ip -j addr show dev bond0",
      "ip addr del 192.168.231.10/24 dev eth0",
      "ip addr add 192.168.231.10/24 dev bond0 label bond0:cha",
      arping("bond0", "192.168.231.10"),
    ]);
  });

  it("treats 'already gone' on removal as done and fails loudly on other errors", async () => {
    const gone = new CommandRunner("recording").respond(["ip", "addr", "del"], { code: 2, stderr: "RTNETLINK answers: Cannot assign requested address" });
    await expect(new VipReconciler(gone).remove({ vip: "192.168.231.10", prefix: 24, iface: "eth0" })).resolves.toBeUndefined();
    const broken = new CommandRunner("recording").respond(["ip", "addr", "del"], { code: 2, stderr: "Cannot find device \"eth9\"" });
    await expect(new VipReconciler(broken).remove({ vip: "192.168.231.10", prefix: 24, iface: "eth9" })).rejects.toThrow(/Cannot find device/);
  });

  it("fails when the interface cannot be read instead of guessing", async () => {
    const runner = new CommandRunner("recording").respond(["ip", "-j", "addr", "show"], { code: 1, stderr: 'Device "eth7" does not exist.' });
    await expect(new VipReconciler(runner).reconcile([{ vip: "192.168.231.10", prefix: 24, iface: "eth7" }])).rejects.toThrow(/eth7/);
    expect(runner.lines()).toEqual(["ip -j addr show dev eth7"]);
  });
});
