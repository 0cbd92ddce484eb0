// Real network test: two server hosts and a client host on a bridge, each in a namespace this
// suite creates (10.231.61.0/24, no default route anywhere). The shim's VIP executor moves the
// VIP with real `nft`, `ip` and `arping`, and the client reaches whichever server holds it; the nftables
// backend spreads real HTTP requests over two real backends, and a backend taken out of the
// desired state gets no new connection from the next request on.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NftablesReconciler } from "../../node-shim/apply/lvs-nftables.js";
import type { VirtualService } from "../../node-shim/apply/lvs.js";
import { VipExecutor } from "../../node-shim/apply/vip.js";
import type { KernelOp, VipRef } from "../../node-shim/core/kernel.js";
import { setLogSink } from "../../node-shim/log.js";
import { labUnavailable, NetnsLab, NetnsRunner, waitFor } from "./support/netns.js";

const NET = "10.231.61";
const VIP = `${NET}.10`;
const LB_VIP = `${NET}.20`;
const missing = await labUnavailable();
if (missing && process.env.CI === "true") throw new Error(`shim network test cannot run: ${missing}`);

/** Hold `ref` on a host for `ms` from now, as the core would have the executor do it. */
async function hold(exec: VipExecutor, ref: VipRef, ms = 60_000): Promise<void> {
  const until = performance.now() + ms;
  const ops: KernelOp[] = [{ kind: "setup" }, { kind: "manage", vips: [ref.vip] }, { kind: "lease", entries: [{ vip: ref.vip, until }] }, { kind: "addr-add", ref, until }];
  for (const op of ops) {
    const r = await exec.run(op, (o) => o, () => performance.now());
    if (!r.ok) throw new Error(`${op.kind}: ${r.detail}`);
  }
  exec.announce(ref);
}

async function letGo(exec: VipExecutor, ref: VipRef): Promise<void> {
  const ops: KernelOp[] = [{ kind: "unlease", vips: [ref.vip] }, { kind: "addr-del", ref }];
  for (const op of ops) {
    const r = await exec.run(op, (o) => o, () => performance.now());
    if (!r.ok) throw new Error(`${op.kind}: ${r.detail}`);
  }
}

describe.runIf(missing === null)("VIP and nftables load balancing in network namespaces", () => {
  const lab = new NetnsLab(`chs-v${process.pid % 100000}-`, NET);

  beforeAll(async () => {
    setLogSink(null);
    await lab.createBridge();
    await lab.addHost("s1", 11);
    await lab.addHost("s2", 12);
    await lab.addHost("c", 100);
    await Promise.all([lab.httpServer("s1", 8801), lab.httpServer("s2", 8801), lab.httpServer("s1", 8033), lab.httpServer("s2", 8033)]);
  });
  const runners: NetnsRunner[] = [];
  const executor = (host: string, arpCount = 2) => {
    const r = new NetnsRunner(lab.host(host).ns);
    runners.push(r);
    return new VipExecutor(r, { arpCount });
  };
  afterAll(async () => {
    for (const r of runners) r.closeSessions();
    await lab.cleanup();
  });

  it("has no default route in any host namespace", async () => {
    for (const h of lab.hosts.values()) expect(await lab.inNs(h.ns, "ip", ["route", "show", "default"])).toBe("");
  });

  it("moves the VIP from s1 to s2: real ip addr + gratuitous ARP, the client follows at once", async () => {
    const vip1 = executor("s1");
    const vip2 = executor("s2");
    const ref = { vip: VIP, prefix: 24, iface: "eth0" };

    await hold(vip1, ref);
    const addrs = JSON.parse(await lab.inNs(lab.host("s1").ns, "ip", ["-j", "addr", "show", "dev", "eth0"])) as { addr_info: { local: string; label?: string }[] }[];
    expect(addrs[0]!.addr_info.find((a) => a.local === VIP)?.label).toBe("eth0:cha");
    expect(await lab.httpFrom("c", `http://${VIP}:8801/`, 3)).toEqual({ s1: 3 });
    const mac1 = await lab.mac("s1");
    const mac2 = await lab.mac("s2");
    expect(await lab.neighbourMac("c", VIP)).toBe(mac1);

    // Failover: the old holder lets go, the new one adds the VIP and announces it.
    await letGo(vip1, ref);
    await hold(vip2, ref);
    // The client's ARP entry for the VIP is rewritten by the gratuitous ARP alone (no traffic).
    await waitFor("client to learn s2's MAC for the VIP from gratuitous ARP", async () => (await lab.neighbourMac("c", VIP)) === mac2, 5000);
    expect(await lab.httpFrom("c", `http://${VIP}:8801/`, 3)).toEqual({ s2: 3 });

    // s1 only removes what it owns: its manage address is untouched, and a VIP is gone for good.
    const s1Addrs = await lab.inNs(lab.host("s1").ns, "ip", ["-4", "-o", "addr", "show", "dev", "eth0"]);
    expect(s1Addrs).toContain(`${NET}.11/24`);
    expect(s1Addrs).not.toContain(VIP);
  });

  it("spreads HTTP requests over two real backends by weight; a removed backend gets no new connection", async () => {
    const s1 = lab.host("s1");
    const s2 = lab.host("s2");
    // s1 directs: it holds the LB VIP and runs the nftables table.
    await hold(executor("s1", 1), { vip: LB_VIP, prefix: 24, iface: "eth0" });
    const nft = new NftablesReconciler(new NetnsRunner(s1.ns));
    const portal = (reals: { ip: string; weight: number }[]): VirtualService[] => [
      { group: "portal", vip: LB_VIP, port: 80, realPort: 8033, protocol: "tcp", scheduler: "wrr", reals },
    ];

    await nft.reconcile(portal([{ ip: s1.ip, weight: 1 }, { ip: s2.ip, weight: 1 }]));
    expect(await lab.inNs(s1.ns, "sysctl", ["-n", "net.ipv4.ip_forward"])).toBe("1\n");
    const even = await lab.httpFrom("c", `http://${LB_VIP}/`, 20);
    expect(even).toEqual({ s1: 10, s2: 10 });

    await nft.reconcile(portal([{ ip: s1.ip, weight: 1 }, { ip: s2.ip, weight: 3 }]));
    const weighted = await lab.httpFrom("c", `http://${LB_VIP}/`, 20);
    expect(weighted).toEqual({ s1: 5, s2: 15 });

    // s2 leaves the pool: from the very next request on, only s1 answers.
    await nft.reconcile(portal([{ ip: s1.ip, weight: 1 }]));
    expect(await lab.httpFrom("c", `http://${LB_VIP}/`, 10)).toEqual({ s1: 10 });

    // The director lets go: the table is gone and the VIP no longer answers.
    await nft.reconcile([]);
    await expect(lab.inNs(s1.ns, "nft", ["list", "table", "ip", "chime_ha"])).rejects.toThrow();
  });
});
