// The shim against the real control plane (wrangler dev: Worker, Durable Object, D1), with its
// commands running in network namespaces this suite creates (10.231.64.0/24, no default route;
// the client host reaches the VIP only through the lab bridge).
//
// 1. server1 gets the VIP; a stale chime-ha VIP on server2 is removed, never adopted.
// 2. Lease expiry: server1 is cut off from the control plane (a proxy stops forwarding). It drops
//    the VIP before the control plane's lease for it ends, and before server2 is granted;
//    timestamps from both sides are printed.
// 3. SIGTERM-style release hands the group over without waiting for a lease to run out.
// 4. A restarted shim adopts the VIP it still has when the first reply grants it the epoch.
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventPage } from "../../protocol/api.js";
import type { ClusterStatus } from "../../protocol/status.js";
import { ShimAgent } from "../../node-shim/agent.js";
import { ShimConfig } from "../../node-shim/config.js";
import { setLogSink } from "../../node-shim/log.js";
import { adminGet, createLocalCluster, labSpec, type LocalControlPlane, startLocalControlPlane } from "./support/control-plane.js";
import { CutProxy } from "./support/cut-proxy.js";
import { labUnavailable, NetnsLab, NetnsRunner, waitFor } from "./support/netns.js";

const NET = "10.231.64";
const VIP = `${NET}.10`;
const missing = await labUnavailable(["ip", "nft", "arping", "bash"]);
if (missing && process.env.CI === "true") throw new Error(`shim lease test cannot run: ${missing}`);

interface Log {
  t: string;
  msg: string;
  [k: string]: unknown;
}

describe.runIf(missing === null)("shim leases against the real control plane", () => {
  const lab = new NetnsLab(`chs-l${process.pid % 100000}-`, NET);
  let cp: LocalControlPlane;
  let proxy: CutProxy;
  let proxyUrl = "";
  let cluster = "";
  let tokens: Record<string, string> = {};
  const agents: ShimAgent[] = [];
  const stateRoot = mkdtempSync(join(tmpdir(), "chs-lease-state-"));
  const stateDir = (node: string) => join(stateRoot, node);
  const logs: Log[] = [];
  /** Wall-clock times at which the VIP left each host (from `ip monitor address`). */
  const vipDeleted: Record<string, number[]> = { s1: [], s2: [] };
  const monitors: ChildProcess[] = [];

  const agent = (node: "server1" | "server2", host: "s1" | "s2", url: string): ShimAgent => {
    const config = ShimConfig.parse({
      controlPlaneUrl: url,
      cluster,
      node,
      token: tokens[node],
      // The probe runs inside the host's namespace (through its runner): is the API port open?
      probes: { "server-api": { type: "exec", command: ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8801"], intervalMs: 500, timeoutMs: 400, fall: 2, rise: 1 } },
      localLeaseMarginMs: 200,
      stateDir: stateDir(node),
    });
    const a = new ShimAgent({ config, token: tokens[node]!, runner: new NetnsRunner(lab.host(host).ns) });
    agents.push(a);
    a.start();
    return a;
  };
  const hasVip = async (host: string) => (await lab.inNs(lab.host(host).ns, "ip", ["-4", "-o", "addr", "show", "dev", "eth0"])).includes(`${VIP}/24`);
  const status = async () => (await adminGet(cp, `/v1/clusters/${cluster}/status`)) as ClusterStatus;
  const group = async () => (await status()).groups.find((g) => g.name === "server-api")!;

  beforeAll(async () => {
    setLogSink((line) => logs.push(JSON.parse(line) as Log));
    await lab.createBridge();
    await lab.addHost("s1", 11);
    await lab.addHost("s2", 12);
    await lab.addHost("c", 100);
    await Promise.all([lab.httpServer("s1", 8801), lab.httpServer("s2", 8801)]);
    for (const h of ["s1", "s2"] as const) {
      const m = lab.spawnIn(lab.host(h).ns, "ip", ["-o", "monitor", "address"]);
      m.stdout!.on("data", (d: Buffer) => {
        for (const line of String(d).split("\n")) if (line.startsWith("Deleted") && line.includes(`${VIP}/24`)) vipDeleted[h]!.push(Date.now());
      });
      monitors.push(m);
    }
    cp = await startLocalControlPlane();
    ({ id: cluster, tokens } = await createLocalCluster(cp, "lab", labSpec(NET)));
    const port = Number(new URL(cp.url).port);
    proxy = new CutProxy("127.0.0.1", port);
    proxyUrl = await proxy.listen();
  }, 150_000);

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop(false).catch(() => undefined)));
    await proxy?.close();
    await cp?.stop();
    await lab.cleanup();
    rmSync(stateRoot, { recursive: true, force: true });
    setLogSink(null);
  });

  let agent1: ShimAgent;
  let agent2: ShimAgent;

  it("server1 gets the VIP; a stale chime-ha VIP on server2 is removed, not adopted", async () => {
    agent1 = agent("server1", "s1", proxyUrl);
    await waitFor("s1 to hold the VIP", () => hasVip("s1"), 15_000);
    expect(await lab.httpFrom("c", `http://${VIP}:8801/`, 2)).toEqual({ s1: 2 });
    const g = await group();
    expect(g.holder).toBe("server1");

    // Left over from an earlier run on server2 (with our label): the first reply does not grant
    // server2 this group, so it must go.
    await lab.inNs(lab.host("s2").ns, "ip", ["addr", "add", `${VIP}/24`, "dev", "eth0", "label", "eth0:cha"]);
    agent2 = agent("server2", "s2", cp.url);
    await waitFor("the stale VIP on s2 to be removed", async () => !(await hasVip("s2")), 10_000);
    expect(vipDeleted.s2!.length).toBe(1);
    expect((await group()).holder).toBe("server1");
    expect(await hasVip("s1")).toBe(true);
  });

  it("cut off from the control plane, server1 drops the VIP before the control plane's lease ends", async () => {
    await waitFor("server2 to report healthy", async () => (await status()).nodes.find((n) => n.name === "server2")?.probes["server-api"]?.healthy === true, 10_000);
    const before = await group();
    const cutAt = proxy.cut();
    // The control plane's view right after the cut: when does its lease for server1 end?
    const atCut = await group();
    const statusAt = Date.now();
    expect(atCut.holder).toBe("server1");
    expect(atCut.leaseLeftMs).not.toBeNull();
    // leaseLeftMs was computed inside the request, between cutAt and statusAt: bound it both ways.
    const cpLeaseEndLatest = statusAt + atCut.leaseLeftMs!;
    const cpLeaseEndEarliest = cutAt + atCut.leaseLeftMs!;

    await waitFor("s1 to drop the VIP", async () => vipDeleted.s1!.length > 0, 6000, 10);
    const droppedAt = vipDeleted.s1![0]!;
    await waitFor("server2 to be granted and hold the VIP", async () => (await group()).holder === "server2" && (await hasVip("s2")), 10_000, 50);
    expect(await lab.httpFrom("c", `http://${VIP}:8801/`, 2)).toEqual({ s2: 2 });

    const events = ((await adminGet(cp, `/v1/clusters/${cluster}/events?limit=500`)) as EventPage).events;
    const granted = events.find((e) => e.kind === "group.granted" && e.node === "server2" && e.group === "server-api");
    expect(granted).toBeDefined();
    const expiredLog = logs.find((l) => l.msg === "lease expired" && l.group === "server-api");
    expect(expiredLog).toBeDefined();

    const figures = {
      lastRequestReachedControlPlaneMsBeforeCut: cutAt - proxy.lastForwardedAt,
      shimLeaseExpiredLogMsAfterCut: Date.parse(expiredLog!.t) - cutAt,
      vipDroppedMsAfterCut: droppedAt - cutAt,
      controlPlaneLeaseEndMsAfterCut: [cpLeaseEndEarliest - cutAt, cpLeaseEndLatest - cutAt],
      vipDroppedMsBeforeControlPlaneLeaseEnd: cpLeaseEndEarliest - droppedAt,
      server2GrantedMsAfterCut: granted!.at - cutAt,
      vipDroppedMsBeforeServer2Grant: granted!.at - droppedAt,
      epochs: { before: before.epoch, after: granted!.epoch },
    };
    console.log("lease expiry figures (ms):", JSON.stringify(figures));
    // Safety: the old holder let go before the control plane's lease ended, and before the grant.
    expect(droppedAt).toBeLessThan(cpLeaseEndEarliest);
    expect(droppedAt).toBeLessThan(granted!.at);
    expect(granted!.epoch).toBe(before.epoch + 1);
  });

  it("back online, server1 does not take the VIP back (no preemption); a release hands it over at once", async () => {
    proxy.restore();
    await waitFor("server1 to reach the control plane again", async () => agent1.snapshot().connected && (await status()).nodes.find((n) => n.name === "server1")?.alive === true, 10_000);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await hasVip("s1")).toBe(false);
    expect((await group()).holder).toBe("server2");

    // server2 stops as on SIGTERM: drops the VIP, reports `released`; server1 gets it without a lease wait.
    const g = await group();
    const stopAt = Date.now();
    await agent2.stop(true);
    await waitFor("s1 to hold the VIP again", () => hasVip("s1"), 5000, 20);
    const movedMs = Date.now() - stopAt;
    expect(await hasVip("s2")).toBe(false);
    const after = await group();
    expect(after.holder).toBe("server1");
    expect(after.epoch).toBe(g.epoch + 1);
    console.log(`release handover: VIP on server1 ${movedMs} ms after server2 began releasing (lease TTL 3000 ms)`);
    // Faster than waiting out the lease (TTL + drift margin = 3.5 s) would have been.
    expect(movedMs).toBeLessThan(3000);
    expect(await lab.httpFrom("c", `http://${VIP}:8801/`, 2)).toEqual({ s1: 2 });
  });

  it("a restarted shim adopts its VIP when the first reply grants it the current epoch", async () => {
    const epoch = (await group()).epoch;
    const deletedBefore = vipDeleted.s1!.length;
    // Crash-like stop: the VIP stays on the interface.
    await agent1.stop(false);
    expect(await hasVip("s1")).toBe(true);
    const again = agent("server1", "s1", proxyUrl);
    // Before this fix a fresh shim reported "not probed yet" as unhealthy and the holder lost its group.
    await waitFor("the new shim to hold the lease", async () => again.snapshot().leases.find((l) => l.group === "server-api") ?? null, 5000);
    await new Promise((r) => setTimeout(r, 1000));
    expect(again.snapshot().leases[0]!.epoch).toBe(epoch);
    expect(vipDeleted.s1!.length).toBe(deletedBefore);
    expect(await hasVip("s1")).toBe(true);
    expect((await group()).epoch).toBe(epoch);
  });
});
