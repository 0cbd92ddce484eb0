// The shim's VIP path through the recording runner: the pure core decides (node-shim/core/), the
// executor (apply/vip.ts) turns each kernel operation into lines for the long-lived `nft -i` and
// `ip -batch -` sessions. Asserted: the exact lines, in order, for holding a VIP (lease filter,
// guarded renewal, labelled address with a lifetime, gratuitous ARP), letting go (lease element
// first, then the address, read back), stale addresses, and failures.
import { beforeAll, describe, expect, it } from "vitest";
import type { DesiredGroup, HeartbeatReply } from "../../protocol/heartbeat.js";
import { leaseTableSetup, VipExecutor } from "../../node-shim/apply/vip.js";
import { CommandRunner } from "../../node-shim/command-runner.js";
import type { KernelOp } from "../../node-shim/core/kernel.js";
import { type CoreAction, ShimCore } from "../../node-shim/core/shim-core.js";
import { setLogSink } from "../../node-shim/log.js";

beforeAll(() => setLogSink(null));

/** `ip -j addr show dev IF` as iproute2 prints it, with the given (address, label) pairs. */
function ipAddrJson(iface: string, addrs: { local: string; prefixlen: number; label?: string }[]): string {
  return JSON.stringify([
    {
      ifindex: 2,
      ifname: iface,
      operstate: "UP",
      addr_info: [...addrs.map((a) => ({ family: "inet", local: a.local, prefixlen: a.prefixlen, scope: "global", ...(a.label ? { label: a.label } : {}) })), { family: "inet6", local: "fe80::1", prefixlen: 64, scope: "link" }],
    },
  ]);
}

const VIP = "192.168.231.10";
const NFT = "nft -i <<<";
const IP = "ip -j -force -batch - <<<";
const line = (prefix: string, l: string) => `${prefix}${JSON.stringify(l)}`;

function group(role: DesiredGroup["role"], epoch: number, over: Partial<DesiredGroup> = {}): DesiredGroup {
  return { name: "server-api", mode: "active-standby", vip: VIP, prefix: 24, interface: "eth0", ports: [{ port: 8801, protocol: "tcp" }], probe: { type: "tcp", port: 8801, intervalMs: 1000, timeoutMs: 800, fall: 2, rise: 2 }, member: true, role, epoch, holder: role === "standby" ? "server2" : "server1", ...over };
}

function reply(groups: DesiredGroup[], grants: HeartbeatReply["grants"]): HeartbeatReply {
  return { grants, desired: { cluster: "dc1.c", node: "server1", specVersion: 1, heartbeatIntervalMs: 1000, leaseTtlMs: 3000, maintenance: false, groups, operations: [], failsafe: false, driftMarginMs: 500, peers: [{ name: "server2", ip: "192.168.231.12", groups: ["server-api"] }] } };
}

/** A core for server1 and the executor on a recording runner; run() carries actions out like the agent. */
function harness(runner: CommandRunner) {
  let now = 1000;
  const core = new ShimCore({ node: "server1", cluster: "dc1.c", bootId: "b1", localLeaseMarginMs: 200, failsafe: false, reannounceMs: 10_000, resyncMs: 5000 });
  const exec = new VipExecutor(runner, { arpCount: 2 });
  const results: { op: KernelOp["kind"]; ok: boolean; stale?: boolean; detail?: string }[] = [];
  const run = async (actions: CoreAction[]): Promise<void> => {
    for (const a of actions) {
      if (a.type === "kernel") {
        const r = await exec.run(a.op, (o) => core.recheck(o, now), () => now);
        results.push({ op: a.op.kind, ok: r.ok, ...(!r.ok ? { detail: r.detail, ...(r.stale ? { stale: true } : {}) } : {}) });
        await run(core.kernelDone(a.op, r, now));
      } else if (a.type === "announce") exec.announce(a.ref);
      else if (a.type === "fence") await run(core.fenceDone(a.group.name, now));
    }
  };
  return {
    core,
    results,
    run,
    at: (t: number) => (now = t),
    now: () => now,
    beat: async (r: HeartbeatReply, sentAt = now) => run(core.onReply(core.request({}, sentAt, 0), r, sentAt, now)),
  };
}

/** The renewal's replacement of the lease element (add, delete, add: the end always moves). */
const replaced = (fam: string, ms: number) => `add element ${fam} chime_ha_lease leased { ${VIP} timeout ${ms}ms }; delete element ${fam} chime_ha_lease leased { ${VIP} }; add element ${fam} chime_ha_lease leased { ${VIP} timeout ${ms}ms }`;

describe("VIPs through the core and the executor (recording runner)", () => {
  it("holds a VIP: lease filter first, a guarded lease element, then the labelled address with a lifetime, then ARP", async () => {
    const runner = new CommandRunner("recording").respond(["ip", "-j", "-force", "-batch", "-", "addr show dev eth0"], { stdout: ipAddrJson("eth0", [{ local: "192.168.231.11", prefixlen: 24, label: "eth0" }]) });
    const h = harness(runner);
    await h.beat(reply([group("holder", 1)], [{ group: "server-api", epoch: 1, ttlMs: 3000 }]));
    // Lease until 1000 + 3000 - 200 = 3800: the element times out 2800 ms from now.
    expect(runner.lines()).toEqual([
      line(NFT, leaseTableSetup()),
      line(NFT, `add element ip chime_ha_lease managed { ${VIP} }; add element arp chime_ha_lease managed { ${VIP} }`),
      line(IP, "addr show dev eth0"),
      line(NFT, "add element ip chime_ha_lease fresh { 1 timeout 250ms }"),
      line(NFT, `delete element ip chime_ha_lease fresh { 1 }; ${replaced("ip", 2800)}; ${replaced("arp", 2800)}`),
      line(IP, `addr replace ${VIP}/24 dev eth0 label eth0:cha valid_lft 4 preferred_lft 4`),
      `arping -q -U -c 2 -I eth0 ${VIP}`,
    ]);
    // Every renewal moves the element's end (and, once the lease has moved on by a second, the
    // address lifetime); no process is started for it, and no ARP.
    runner.clear();
    h.at(2000);
    await h.beat(reply([group("holder", 1)], [{ group: "server-api", epoch: 1, ttlMs: 3000 }]));
    expect(runner.lines()).toEqual([
      line(NFT, "add element ip chime_ha_lease fresh { 2 timeout 250ms }"),
      line(NFT, `delete element ip chime_ha_lease fresh { 2 }; ${replaced("ip", 2800)}; ${replaced("arp", 2800)}`),
      line(IP, `addr replace ${VIP}/24 dev eth0 label eth0:cha valid_lft 4 preferred_lft 4`),
    ]);
  });

  it("lets go: the lease element goes first (inert at once), then the address, read back before `released` is reported", async () => {
    const runner = new CommandRunner("recording").respond(["ip", "-j", "-force", "-batch", "-", "addr show dev eth0"], { stdout: ipAddrJson("eth0", []) });
    const h = harness(runner);
    await h.beat(reply([group("holder", 1)], [{ group: "server-api", epoch: 1, ttlMs: 3000 }]));
    runner.clear();
    h.at(1500);
    await h.beat(reply([group("release", 1)], []));
    expect(runner.lines()).toEqual([
      line(NFT, `add element ip chime_ha_lease leased { ${VIP} timeout 1ms }; delete element ip chime_ha_lease leased { ${VIP} }; add element arp chime_ha_lease leased { ${VIP} timeout 1ms }; delete element arp chime_ha_lease leased { ${VIP} }`),
      line(IP, `addr del ${VIP}/24 dev eth0`),
      line(IP, "addr show dev eth0"),
    ]);
    const req = h.core.request({}, 1600, 0);
    expect(req.released).toEqual([{ group: "server-api", epoch: 1 }]);
    expect(req.unreleased).toEqual([]);
  });

  it("cannot remove the address (ip fails): never reports `released`, says `unreleased`, keeps retrying with backoff", async () => {
    const runner = new CommandRunner("recording")
      .respond(["ip", "-j", "-force", "-batch", "-", "addr show dev eth0"], { stdout: ipAddrJson("eth0", []) })
      .respond(["ip", "-j", "-force", "-batch", "-", "addr del"], { code: 1, stderr: "injected fault: ip fails (CHIME_SHIM_FAULTS)" });
    const h = harness(runner);
    await h.beat(reply([group("holder", 1)], [{ group: "server-api", epoch: 1, ttlMs: 3000 }]));
    h.at(1500);
    await h.beat(reply([group("release", 1)], []));
    let req = h.core.request({}, 1600, 0);
    expect(req.released).toEqual([]);
    expect(req.unreleased).toEqual([{ group: "server-api", epoch: 1, detail: "injected fault: ip fails (CHIME_SHIM_FAULTS)" }]);
    expect(req.applyErrors?.[0]).toMatchObject({ group: "server-api", target: "vip", command: `ip <<< addr del ${VIP}/24 dev eth0`, exitCode: 1 });
    // Backoff: nothing before 100 ms, a retry after; once ip works the release completes.
    runner.clear();
    await h.run(h.core.tick(1550));
    expect(runner.lines()).toEqual([]);
    h.at(1700);
    runner.respond(["ip", "-j", "-force", "-batch", "-", "addr del"], { code: 0 });
    await h.run(h.core.tick(1700));
    expect(runner.lines()).toEqual([line(IP, `addr del ${VIP}/24 dev eth0`), line(IP, "addr show dev eth0")]);
    req = h.core.request({}, 1800, 0);
    expect(req.released).toEqual([{ group: "server-api", epoch: 1 }]);
    expect(req.unreleased).toEqual([]);
  });

  it("a renewal that reaches the kernel too late is refused by the kernel and retried with a fresh decision", async () => {
    const runner = new CommandRunner("recording").respond(["ip", "-j", "-force", "-batch", "-", "addr show dev eth0"], { stdout: ipAddrJson("eth0", []) });
    const h = harness(runner);
    await h.beat(reply([group("holder", 1)], [{ group: "server-api", epoch: 1, ttlMs: 3000 }]));
    runner.respond((c) => (c.session && c.input!.startsWith("delete element ip chime_ha_lease fresh { 2 }") ? { code: 1, stderr: "Error: Could not process rule: No such file or directory\ndelete element ip chime_ha_lease fresh { 2 }; add element ..." } : undefined));
    runner.clear();
    h.at(2000);
    await h.beat(reply([group("holder", 1)], [{ group: "server-api", epoch: 1, ttlMs: 3000 }]));
    expect(h.results.filter((r) => r.op === "lease").map((r) => [r.ok, r.stale ?? false])).toEqual([
      [true, false],
      [false, true],
      [true, false],
    ]);
    expect(runner.lines().filter((l) => l.includes("fresh {")).length).toBe(4);
  });

  it("removes a labelled VIP left from an earlier run once the control plane has spoken, never the manage address or foreign VIPs", async () => {
    let deleted = false;
    const runner = new CommandRunner("recording").respond((c) => {
      if (c.input?.startsWith("addr del")) deleted = true;
      if (c.input !== "addr show dev eth0") return undefined;
      const addrs = [
        { local: "192.168.231.11", prefixlen: 24, label: "eth0" },
        // Someone else's VIP (e.g. keepalived still running during migration): not ours to touch.
        { local: "192.168.231.99", prefixlen: 24, label: "eth0:kad" },
      ];
      return { stdout: ipAddrJson("eth0", deleted ? addrs : [...addrs, { local: VIP, prefixlen: 24, label: "eth0:cha" }]) };
    });
    const h = harness(runner);
    await h.beat(reply([group("standby", 2)], []));
    expect(runner.lines().slice(3)).toEqual([
      line(NFT, `add element ip chime_ha_lease leased { ${VIP} timeout 1ms }; delete element ip chime_ha_lease leased { ${VIP} }; add element arp chime_ha_lease leased { ${VIP} timeout 1ms }; delete element arp chime_ha_lease leased { ${VIP} }`),
      line(IP, `addr del ${VIP}/24 dev eth0`),
      line(IP, "addr show dev eth0"),
    ]);
  });

  it("never adds an address once the lease has ended (re-checked right before the command)", async () => {
    const runner = new CommandRunner("recording").respond(["ip", "-j", "-force", "-batch", "-", "addr show dev eth0"], { stdout: ipAddrJson("eth0", []) });
    const h = harness(runner);
    const core = h.core;
    await h.run(core.onReply(core.request({}, 1000, 0), reply([group("holder", 1)], [{ group: "server-api", epoch: 1, ttlMs: 3000 }]), 1000, 1000));
    const exec = new VipExecutor(runner);
    const r = await exec.run({ kind: "addr-add", ref: { vip: VIP, prefix: 24, iface: "eth0" }, until: 3800 }, (o) => core.recheck(o, 3900), () => 3900);
    expect(r).toMatchObject({ ok: false, aborted: true });
  });

  it("reads an interface that does not exist as empty, and fails loudly on other read errors", async () => {
    const gone = new CommandRunner("recording").respond(["ip", "-j", "-force", "-batch", "-", "addr show dev eth7"], { code: 1, stderr: 'Device "eth7" does not exist.' });
    expect(await new VipExecutor(gone).run({ kind: "read", ifaces: ["eth7"] }, (o) => o, () => 0)).toEqual({ ok: true, addrs: [] });
    const broken = new CommandRunner("recording").respond(["ip", "-j", "-force", "-batch", "-", "addr show dev eth0"], { code: 1, stderr: "RTNETLINK answers: Operation not permitted" });
    expect(await new VipExecutor(broken).run({ kind: "read", ifaces: ["eth0"] }, (o) => o, () => 0)).toMatchObject({ ok: false, detail: "RTNETLINK answers: Operation not permitted" });
  });
});
