// Compute nodes under the real control plane (wrangler dev) with in-process shims and local
// stand-ins (no chime-server or BMC can run here):
// - a compute node whose chime-agent is down but whose host answers is not fenced (a warning);
//   when the host stops answering it is fenced and evacuated;
// - exactly one effective evacuation per failed compute node across an executor failover: the
//   chime-server holder dies while its evacuation request is in flight, the new holder asks again
//   with the same Idempotency-Key, and the stand-in chime-server (idempotent per key, counting)
//   starts one evacuation.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CommandRunner } from "../../node-shim/command-runner.js";
import { setLogSink } from "../../node-shim/log.js";
import { createLocalCluster, type LocalControlPlane, startLocalControlPlane } from "../shim/support/control-plane.js";
import { DataCluster, waitFor } from "./support/cluster.js";
import { ChimeServerStandIn, Recorder } from "./support/stand-ins.js";

const NET = "10.231.74";

describe("compute nodes: chime-agent down vs host down, exactly-once evacuation across executor failover", () => {
  let cp: LocalControlPlane;
  let cl: DataCluster;
  const api1 = new Recorder();
  const api2 = new Recorder();
  const fence = new Recorder();
  const chimeServer = new ChimeServerStandIn();
  const agentRunner = new CommandRunner("recording");

  beforeAll(async () => {
    setLogSink(null);
    await Promise.all([api1.start(), api2.start(), fence.start(), chimeServer.start()]);
    cp = await startLocalControlPlane();
    const spec = {
      apiVersion: "chime-ha/v1" as const,
      name: "evac",
      policy: { heartbeatIntervalMs: 300, leaseTtlMs: 1500, driftMarginMs: 300, holdDownMs: 0, deadAfterMs: 2000 },
      nodes: [
        { name: "server1", hostname: "server1.lab", ip: `${NET}.11`, role: "server" as const, priority: 110 },
        { name: "server2", hostname: "server2.lab", ip: `${NET}.12`, role: "server" as const, priority: 100 },
        { name: "node1", hostname: "node1.lab", ip: `${NET}.101`, role: "compute" as const, fence: { type: "webhook" as const, url: fence.url("/fence") } },
        { name: "node2", hostname: "node2.lab", ip: `${NET}.102`, role: "compute" as const, fence: { type: "webhook" as const, url: fence.url("/fence") } },
      ],
      groups: [{ name: "server-api", service: "chime-server", mode: "active-standby" as const, vip: `${NET}.10`, ports: [{ port: 8801 }], probe: { type: "http" as const, port: 8801, intervalMs: 200, fall: 2, rise: 1 } }],
      evacuation: { url: chimeServer.url("/v1/hosts/evacuate"), method: "POST" as const, body: '{"host":"{hostname}","requestId":"{idempotencyKey}"}' },
    };
    const { id, tokens } = await createLocalCluster(cp, "evac", spec);
    cl = new DataCluster(cp, id, tokens);
    const api = (r: Recorder) => ({ probes: { "server-api": { type: "http", port: r.port, intervalMs: 200, fall: 2, rise: 1 } } });
    cl.start("server1", api(api1));
    await waitFor("server1 to hold chime-server", async () => (await cl.group("server-api")).holder === "server1", 20_000, 50);
    cl.start("server2", api(api2));
    // node2's chime-agent is down from the start; its host (shim) answers.
    agentRunner.respond(["systemctl", "is-active", "chime-agent"], { code: 3, stdout: "failed\n" });
    cl.start("node1", {});
    cl.start("node2", { probes: { "chime-agent": { type: "exec", command: ["systemctl", "is-active", "chime-agent"], intervalMs: 200, timeoutMs: 500, fall: 1, rise: 1 } } }, agentRunner);
    await waitFor("every node alive", async () => (await cl.status()).nodes.every((n) => n.alive), 15_000, 50);
  }, 150_000);

  afterAll(async () => {
    await cl?.stopAll();
    await cp?.stop();
    await Promise.all([api1.stop(), api2.stop(), fence.stop(), chimeServer.stop()]);
  });

  it("chime-agent down on a live host: a warning, no fence, for well past deadAfter", async () => {
    const warning = await waitFor("the agent-down warning", async () => (await cl.events()).find((e) => e.kind === "compute.agent-down" && e.node === "node2"), 10_000, 100);
    expect(warning.severity).toBe("warning");
    expect(warning.reason).toBe("node2's chime-agent is down (exec exited 3: failed) but the host answers: not fencing it; its VMs keep running, unmanaged until chime-agent is back");
    await new Promise((r) => setTimeout(r, 3 * 2000));
    expect(fence.requests.filter((r) => r.body.includes("node2"))).toEqual([]);
    expect((await cl.status()).nodes.find((n) => n.name === "node2")!.computePhase).toBe("alive");
  });

  it("the executor dies with the evacuation in flight: the new one asks again with the same key, one evacuation happens", async () => {
    chimeServer.delayMs = 4000;
    const silentAt = performance.now();
    await cl.agents.get("node1")!.stop(false);
    // Fenced by server1, then server1 asks chime-server to evacuate (held for 4 s)...
    const first = await waitFor("server1's evacuation request for node1", async () => chimeServer.requests.find((r) => r.body.includes("node1.lab")), 15_000, 20);
    expect(fence.requests.filter((r) => r.body.includes('"node1"'))).toHaveLength(1);
    // ...and dies with it in flight (its shim stops without a word; its request still completes).
    await cl.agents.get("server1")!.stop(false);
    const second = await waitFor("server2's re-issued request", async () => chimeServer.requests.filter((r) => r.body.includes("node1.lab"))[1], 20_000, 20);
    await waitFor("node1 evacuated", async () => (await cl.status()).nodes.find((n) => n.name === "node1")?.computePhase?.startsWith("evacuated"), 20_000, 100);
    await new Promise((r) => setTimeout(r, 3000));
    const forNode1 = chimeServer.requests.filter((r) => r.body.includes("node1.lab"));
    console.log(
      `evacuation across executor failover: ${forNode1.length} requests for node1 (first ${Math.round(first.at - silentAt)} ms after it went silent, re-issued ${Math.round(second.at - first.at)} ms later), key ${first.idempotencyKey}; effective evacuations ${JSON.stringify(Object.fromEntries(chimeServer.effective))}`,
    );
    expect(forNode1).toHaveLength(2);
    expect(first.idempotencyKey).toMatch(/\/node1\/\d+$/);
    expect(second.idempotencyKey).toBe(first.idempotencyKey);
    expect(JSON.parse(second.body)).toEqual({ host: "node1.lab", requestId: first.idempotencyKey });
    expect(chimeServer.effective.get(first.idempotencyKey!)).toBe(1);
    const events = await cl.events();
    expect(events.some((e) => e.kind === "compute.evacuating" && e.reason.includes(`re-issued to server2 with the same idempotency key ${first.idempotencyKey}`))).toBe(true);
    expect(events.filter((e) => e.kind === "compute.evacuated" && e.node === "node1")).toHaveLength(1);
  });

  it("the host itself stops answering: fenced and evacuated once, under its own key", async () => {
    chimeServer.delayMs = 0;
    await cl.agents.get("node2")!.stop(false);
    await waitFor("node2 evacuated", async () => (await cl.status()).nodes.find((n) => n.name === "node2")?.computePhase?.startsWith("evacuated"), 20_000, 100);
    await new Promise((r) => setTimeout(r, 2000));
    expect(fence.requests.filter((r) => r.body.includes('"node2"'))).toHaveLength(1);
    const forNode2 = chimeServer.requests.filter((r) => r.body.includes("node2.lab"));
    expect(forNode2).toHaveLength(1);
    expect(forNode2[0]!.idempotencyKey).toMatch(/\/node2\/\d+$/);
    // One effective evacuation per failed compute node.
    expect([...chimeServer.effective.values()]).toEqual([1, 1]);
  });
});
