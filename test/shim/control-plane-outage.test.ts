// A control-plane restart with default settings moves no VIP (issue 17): the real control plane
// (wrangler dev) and two shims whose commands run in network namespaces this suite creates
// (10.231.66.0/24, no default route). The spec says nothing about failsafe (on by default: the
// group has two members) and the shim configs hold no secret (the control plane derives the
// cluster's keys and sends them in the desired state). Only the failsafe listen addresses are set,
// to loopback ports: the shims run in this process, outside the hosts' namespaces.
//
// The control plane is killed (SIGKILL) and kept away for several lease TTLs, then started again
// on its stored state: the holder keeps the VIP throughout on its peer's promises (no deletion,
// the client reaches it the whole time), nothing moves when the control plane is back, and the
// outage as each shim saw it is recorded as an event when it reconnects.
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import type { EventPage } from "../../protocol/api.js";
import type { ClusterStatus } from "../../protocol/status.js";
import { ShimAgent } from "../../node-shim/agent.js";
import { ShimConfig } from "../../node-shim/config.js";
import { setLogSink } from "../../node-shim/log.js";
import { api, type ControlPlane, createCluster, startControlPlane } from "../support/control-plane.js";
import { freePort, labSpec } from "./support/control-plane.js";
import { labUnavailable, NetnsLab, NetnsRunner, waitFor } from "./support/netns.js";

const NET = "10.231.66";
const VIP = `${NET}.10`;
const missing = await labUnavailable(["ip", "nft", "arping", "bash"]);
if (missing && process.env.CI === "true") throw new Error(`control-plane outage test cannot run: ${missing}`);

interface Log {
  t: string;
  msg: string;
  node?: string;
  [k: string]: unknown;
}

describe.runIf(missing === null)("a control-plane restart with default settings", () => {
  const lab = new NetnsLab(`chs-o${process.pid % 100000}-`, NET);
  let cp: ControlPlane;
  let cluster = "";
  let tokens: Record<string, string> = {};
  const agents: ShimAgent[] = [];
  const stateRoot = mkdtempSync(join(tmpdir(), "chs-outage-state-"));
  const logs: Log[] = [];
  const vipEvents: { host: string; kind: "added" | "deleted"; at: number }[] = [];
  const monitors: ChildProcess[] = [];

  const hasVip = async (host: string) => (await lab.inNs(lab.host(host).ns, "ip", ["-4", "-o", "addr", "show", "dev", "eth0"])).includes(`${VIP}/24`);
  const status = async () => (await api(cp.url, cp.adminToken, "GET", `/v1/clusters/${cluster}/status`)) as ClusterStatus;
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
        for (const line of String(d).split("\n")) {
          if (!line.includes(`${VIP}/24`)) continue;
          vipEvents.push({ host: h, kind: line.startsWith("Deleted") ? "deleted" : "added", at: Date.now() });
        }
      });
      monitors.push(m);
    }
    cp = await startControlPlane({ logLevel: "warn", readyTimeoutMs: 90_000 });
    const spec = labSpec(NET);
    expect(spec.policy).not.toHaveProperty("failsafe");
    ({ clusterId: cluster, nodeTokens: tokens } = await createCluster(cp.url, cp.adminToken, spec, "lab"));
    const ports = { server1: await freePort(), server2: await freePort() };
    for (const [node, host] of [["server1", "s1"], ["server2", "s2"]] as const) {
      const peer = node === "server1" ? "server2" : "server1";
      const config = ShimConfig.parse({
        controlPlaneUrl: cp.url,
        cluster,
        node,
        token: tokens[node],
        // Tolerant probes: a workerd starting up takes both cores, and a probe timing out then would
        // move the group for health reasons, which is not what this test is about.
        probes: { "server-api": { type: "exec", command: ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8801"], intervalMs: 1000, timeoutMs: 2500, fall: 4, rise: 1 } },
        localLeaseMarginMs: 200,
        stateDir: join(stateRoot, node),
        // No secret: the keys come from the control plane. Loopback: this process is the host.
        failsafe: { listen: `127.0.0.1:${ports[node]}`, peers: { [peer]: `http://127.0.0.1:${ports[peer]}` } },
      });
      const a = new ShimAgent({ config, token: tokens[node]!, runner: new NetnsRunner(lab.host(host).ns) });
      agents.push(a);
      a.start();
    }
  }, 150_000);

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop(false).catch(() => undefined)));
    for (const m of monitors) m.kill();
    await cp?.stop();
    await lab.cleanup();
    rmSync(stateRoot, { recursive: true, force: true });
    setLogSink(null);
  });

  it("keeps the VIP on its holder while the control plane is away, moves nothing when it is back, and records the outage", async () => {
    onTestFailed(() => console.log(`shim log (last 60 lines):\n${logs.slice(-60).map((l) => JSON.stringify(l)).join("\n")}\ncontrol plane:\n${cp.logTail(20)}`));
    // Both shims start together: usually server1 (higher priority) is granted first, but on a busy
    // machine server2's first healthy report can come first (no preemption then). Either is fine.
    await waitFor("a server to hold the VIP", async () => (await hasVip("s1")) || (await hasVip("s2")), 40_000);
    const h = (await hasVip("s1")) ? "s1" : "s2";
    const o = h === "s1" ? "s2" : "s1";
    const holder = h === "s1" ? "server1" : "server2";
    const peer = h === "s1" ? "server2" : "server1";
    await waitFor("both shims to listen for failsafe requests with the control plane's keys", async () => logs.filter((l) => l.msg === "failsafe listening" && l.keys === "control plane").length === 2, 10_000);
    await waitFor(`${peer} to report healthy`, async () => (await status()).nodes.find((n) => n.name === peer)?.probes["server-api"]?.healthy === true, 10_000);
    const before = await group();
    expect(before.holder).toBe(holder);
    const eventsBefore = vipEvents.length;

    // The control plane crashes and stays away for 4 lease TTLs (3 s each), then comes back.
    const downAt = Date.now();
    await cp.kill();
    let served = 0;
    let failed = 0;
    while (Date.now() - downAt < 12_000) {
      const r = await lab.httpFrom("c", `http://${VIP}:8801/`, 1).catch(() => null);
      if (r?.[h] === 1) served++;
      else failed++;
      await new Promise((res) => setTimeout(res, 250));
    }
    await cp.restart();
    const upAt = Date.now();
    await waitFor("both shims to reach the control plane again", async () => agents.every((a) => a.snapshot().connected) && (await status()).nodes.filter((n) => n.alive).length >= 2, 30_000);
    await new Promise((r) => setTimeout(r, 2000));

    const after = await group();
    // `ip monitor` also prints each renewal of the address's lifetime on the holder: only a
    // deletion, or the VIP showing up on the other server, would be a move.
    const moves = vipEvents.slice(eventsBefore).filter((e) => e.kind === "deleted" || e.host === o);
    const figures = { holder, controlPlaneAwayMs: upAt - downAt, clientRequestsServedByHolder: served, clientRequestsFailed: failed, vipMoves: moves, epochBefore: before.epoch, epochAfter: after.epoch };
    console.log("control-plane restart with default settings:", JSON.stringify(figures));
    expect(moves).toEqual([]);
    expect(failed).toBe(0);
    expect(await hasVip(h)).toBe(true);
    expect(await hasVip(o)).toBe(false);
    expect(after.holder).toBe(holder);
    expect(after.epoch).toBe(before.epoch);
    expect(logs.some((l) => l.msg === "failsafe: control plane unreachable, keeping group on peers' promises")).toBe(true);

    // Each shim said how the outage looked from its side; the control plane recorded it once per node.
    const events = ((await api(cp.url, cp.adminToken, "GET", `/v1/clusters/${cluster}/events?limit=500`)) as EventPage).events.filter((e) => e.kind === "node.control-plane-outage");
    expect(events.map((e) => e.node).sort()).toEqual(["server1", "server2"]);
    const held = events.find((e) => e.node === holder)!;
    expect(held.severity).toBe("info");
    expect(held.reason).toMatch(new RegExp(`^${holder} could not reach the control plane from \\S+ to \\S+ \\(\\d+\\.\\d s; \\d+ heartbeats failed, the last: .+\\); meanwhile it held server-api \\(epoch \\d+, kept on its peers' failsafe promises\\)$`));
    expect(events.find((e) => e.node === peer)!.reason).toMatch(/meanwhile it held no group$/);
  }, 120_000);
});
