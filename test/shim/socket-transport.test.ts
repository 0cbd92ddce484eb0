// The shim's WebSocket transport against the real control plane (wrangler dev), commands recorded
// (no namespaces needed):
// 1. Heartbeats travel as messages on the watch socket; the control plane counts them as such.
// 2. The socket breaks and cannot reconnect: heartbeats go over HTTP, then back to the socket when
//    it can; the lease never lapses and the group never moves (the rule counts from each send).
// 3. A switchover's grant is pushed to the new holder the moment it is decided; its lease counts
//    from the send time of the heartbeat the push answers.
// 4. Shadow mode: the shims act on nothing (no VIP, no table, no fence command) and report where
//    the incumbent has the VIP; the control plane's shadow report pairs the moves.
import { createServer, type Server, type Socket, connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ShadowReport } from "../../protocol/api.js";
import type { PushedGrantsMessage } from "../../protocol/heartbeat.js";
import type { ClusterStatus } from "../../protocol/status.js";
import { ShimAgent } from "../../node-shim/agent.js";
import { CommandRunner } from "../../node-shim/command-runner.js";
import { ShimConfig } from "../../node-shim/config.js";
import { setLogSink } from "../../node-shim/log.js";
import { api } from "../support/control-plane.js";
import { adminGet, createLocalCluster, labSpec, type LocalControlPlane, startLocalControlPlane } from "./support/control-plane.js";
import { waitFor } from "./support/netns.js";

const NET = "10.231.65";

/** A TCP proxy that passes HTTP and, until blockSockets(), WebSocket upgrades; then it drops and refuses them. */
class SocketBreaker {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  blocked = false;
  constructor(private readonly port: number) {}

  async listen(): Promise<string> {
    this.server = createServer((client) => {
      client.once("data", (first) => {
        const upgrade = /upgrade:\s*websocket/i.test(String(first));
        if (upgrade && this.blocked) return client.destroy();
        const up = connect(this.port, "127.0.0.1");
        up.write(first);
        client.pipe(up);
        up.pipe(client);
        const done = () => {
          client.destroy();
          up.destroy();
          this.sockets.delete(client);
        };
        client.on("close", done);
        up.on("close", done);
        client.on("error", done);
        up.on("error", done);
        if (upgrade) this.sockets.add(client);
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    return `http://127.0.0.1:${(this.server!.address() as { port: number }).port}`;
  }

  blockSockets(): void {
    this.blocked = true;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server?.close(r));
  }
}

interface Usage {
  heartbeatsHttp: number;
  heartbeatsSocket: number;
}

describe("the shim's WebSocket transport", () => {
  let cp: LocalControlPlane;
  let breaker: SocketBreaker;
  let url = "";
  const agents: ShimAgent[] = [];
  const logs: { msg: string; [k: string]: unknown }[] = [];

  beforeAll(async () => {
    setLogSink((line) => logs.push(JSON.parse(line) as { msg: string }));
    cp = await startLocalControlPlane();
    breaker = new SocketBreaker(Number(new URL(cp.url).port));
    url = await breaker.listen();
  }, 150_000);

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop(false).catch(() => undefined)));
    await breaker?.close();
    await cp?.stop();
    setLogSink(null);
  });

  const start = (cluster: string, node: string, token: string, runner: CommandRunner) => {
    const config = ShimConfig.parse({
      controlPlaneUrl: url,
      cluster,
      node,
      token,
      transport: "websocket",
      probes: { "server-api": { type: "exec", command: ["true"], intervalMs: 200, timeoutMs: 150, fall: 2, rise: 1 } },
      localLeaseMarginMs: 200,
      resyncSeconds: 1,
    });
    const a = new ShimAgent({ config, token, runner });
    agents.push(a);
    a.start();
    return a;
  };
  const usage = async (cluster: string) => ((await adminGet(cp, `/v1/clusters/${cluster}/status`)) as { usage: Usage }).usage;
  const group = async (cluster: string) => ((await adminGet(cp, `/v1/clusters/${cluster}/status`)) as ClusterStatus).groups.find((g) => g.name === "server-api")!;

  it("heartbeats go over the socket; with the socket gone they go over HTTP and back, and the lease never lapses", async () => {
    const { id, tokens } = await createLocalCluster(cp, "ws", labSpec(NET, { policy: { heartbeatIntervalMs: 300, leaseTtlMs: 1500, driftMarginMs: 300, holdDownMs: 0 } }));
    const a1 = start(id, "server1", tokens.server1!, new CommandRunner("recording"));
    await waitFor("server1 to hold server-api", async () => a1.core.leases.valid("server-api", performance.now()) !== null, 15_000);
    const u0 = await usage(id);
    await new Promise((r) => setTimeout(r, 1500));
    const u1 = await usage(id);
    expect(u1.heartbeatsSocket - u0.heartbeatsSocket).toBeGreaterThanOrEqual(3);
    expect(u1.heartbeatsHttp - u0.heartbeatsHttp).toBe(0);

    // Every 20 ms: does server1 still hold a valid lease? (It must, throughout.)
    let lapses = 0;
    const watch = setInterval(() => {
      if (a1.core.leases.valid("server-api", performance.now()) === null) lapses++;
    }, 20);
    const before = await group(id);
    breaker.blockSockets();
    await waitFor("heartbeats over HTTP", async () => (await usage(id)).heartbeatsHttp - u1.heartbeatsHttp >= 3, 10_000, 100);
    breaker.blocked = false;
    const u2 = await usage(id);
    await waitFor("heartbeats back on the socket", async () => (await usage(id)).heartbeatsSocket - u2.heartbeatsSocket >= 3, 40_000, 200);
    clearInterval(watch);
    expect(lapses).toBe(0);
    expect(logs.filter((l) => l.msg === "lease expired")).toEqual([]);
    const after = await group(id);
    expect([after.holder, after.epoch]).toEqual([before.holder, before.epoch]);
    expect(logs.some((l) => l.msg === "heartbeats now over HTTP")).toBe(true);
    expect(logs.some((l) => l.msg === "heartbeats now over the watch socket")).toBe(true);
    await a1.stop(false);
  }, 90_000);

  it("a switchover's grant is pushed to the new holder at once, counted from the send of the heartbeat it answers", async () => {
    const { id, tokens } = await createLocalCluster(cp, "push", labSpec(NET, { policy: { heartbeatIntervalMs: 1000, leaseTtlMs: 10_000, driftMarginMs: 500, holdDownMs: 0 } }));
    const a1 = start(id, "server1", tokens.server1!, new CommandRunner("recording"));
    await waitFor("server1 to hold", async () => a1.core.leases.valid("server-api", performance.now()) !== null, 15_000);
    const a2 = start(id, "server2", tokens.server2!, new CommandRunner("recording"));
    await waitFor("server2 healthy at the control plane", async () => ((await adminGet(cp, `/v1/clusters/${id}/status`)) as ClusterStatus).nodes.find((n) => n.name === "server2")?.probes["server-api"]?.healthy === true, 15_000);
    // Record what server2's core is given, and when each of its heartbeats left.
    const pushes: { push: PushedGrantsMessage; at: number }[] = [];
    const sentAt = new Map<number, number>();
    const request = a2.core.request.bind(a2.core);
    a2.core.request = (probes, now) => {
      const r = request(probes, now);
      sentAt.set(r.seq, now);
      return r;
    };
    const onPushed = a2.core.onPushedGrants.bind(a2.core);
    a2.core.onPushedGrants = (push, now) => {
      pushes.push({ push, at: now });
      return onPushed(push, now);
    };
    // Two heartbeats sent (and answered) since, so the push answers one we know the send time of.
    await waitFor("two recorded heartbeats of server2", async () => sentAt.size >= 2, 10_000, 20);
    const r = await api(cp.url, cp.adminToken, "POST", `/v1/clusters/${id}/switchover`, { group: "server-api", to: "server2" });
    expect(r).toMatchObject({ ok: true });
    await waitFor("server2 to hold epoch 2", async () => a2.core.leases.valid("server-api", performance.now())?.epoch === 2, 10_000, 10);
    expect(pushes.map((p) => p.push.grants)).toEqual([[{ group: "server-api", epoch: 2, ttlMs: 10_000 }]]);
    const { push, at } = pushes[0]!;
    const sent = sentAt.get(push.seq)!;
    expect(sent).toBeLessThan(at);
    // The lease as the push gave it: from the send of heartbeat `seq`, not from the push's arrival.
    expect(a2.core.leases.valid("server-api", at)!.validUntil).toBeLessThanOrEqual(sent + 10_000 - 200);
  }, 60_000);

  it("shadow mode: the shims act on nothing and report where keepalived has the VIP; the control plane pairs the moves", async () => {
    const vip = `${NET}.10`;
    const { id, tokens } = await createLocalCluster(cp, "shadow", labSpec(NET, { policy: { heartbeatIntervalMs: 300, leaseTtlMs: 1500, driftMarginMs: 300, holdDownMs: 0, shadow: true } }));
    // keepalived (not running here) has the VIP on server1: that is what `ip addr` shows there.
    let vipOn: "server1" | "server2" = "server1";
    const runner = (node: "server1" | "server2") =>
      new CommandRunner("recording").respond(["ip", "-o", "-4", "addr", "show"], { stdout: "" }).respond((c) =>
        c.cmd === "ip" && c.args.join(" ") === "-o -4 addr show" && vipOn === node ? { stdout: `2: eth0    inet ${vip}/24 scope global secondary eth0:ka\\       valid_lft forever preferred_lft forever\n` } : undefined,
      );
    const r1 = runner("server1");
    const r2 = runner("server2");
    start(id, "server1", tokens.server1!, r1);
    // chime-ha grants the group to the first healthy member it hears from: let that be server1, as
    // keepalived has it, before server2 starts (started together, either could come first).
    await waitFor("chime-ha to grant server-api to server1", async () => (await group(id)).holder === "server1", 15_000, 50);
    start(id, "server2", tokens.server2!, r2);
    const report = async () => ((await adminGet(cp, `/v1/clusters/${id}/shadow`)) as ShadowReport).groups.find((g) => g.group === "server-api")!;
    await waitFor("the first comparison", async () => (await report()).entries.length > 0, 15_000, 100);
    expect((await report()).entries[0]).toMatchObject({ verdict: "agreed", keepalived: { to: "server1", initial: true }, chimeHa: { to: "server1" } });
    // keepalived moves the VIP; chime-ha, asked by an operator, moves too.
    vipOn = "server2";
    await waitFor("keepalived's move seen", async () => (await report()).keepalivedHolder === "server2", 10_000, 100);
    expect(await api(cp.url, cp.adminToken, "POST", `/v1/clusters/${id}/switchover`, { group: "server-api", to: "server2" })).toMatchObject({ ok: true });
    await waitFor("the move paired", async () => (await report()).summary.agreed === 1, 10_000, 100);
    const moved = (await report()).entries.at(-1)!;
    expect(moved).toMatchObject({ verdict: "agreed", keepalived: { to: "server2" }, chimeHa: { to: "server2", epoch: 2 } });
    // Nothing but reads and probes ran: no address, ARP, table or fence command on either host.
    for (const r of [r1, r2]) {
      const acted = r.lines().filter((l) => !l.startsWith("ip -o -4 addr show") && !l.startsWith("true"));
      expect(acted).toEqual([]);
    }
  }, 60_000);
});
