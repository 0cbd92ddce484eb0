// MinIO and compute nodes under the real control plane (wrangler dev), against local stand-in
// servers (no MinIO server, BMC or chime-server can run here; see support/stand-ins.ts):
// - minio: the VIP goes to a live node whose cluster has write quorum, moves on quorum loss, and
//   quorum loss everywhere is a critical event; `mc admin heal` runs through the CommandRunner.
// - compute: silent compute nodes are fenced by the chime-server holder's shim (exact ipmitool argv
//   through the recording runner, exact webhook body), and the evacuation request is sent only
//   after a successful fence or an operator's ack through the API.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CommandRunner } from "../../node-shim/command-runner.js";
import { setLogSink } from "../../node-shim/log.js";
import { minioHeal } from "../../node-shim/operations/minio-heal.js";
import { createLocalCluster, type LocalControlPlane, startLocalControlPlane } from "../shim/support/control-plane.js";
import { DataCluster, waitFor } from "./support/cluster.js";
import { MinioStandIn, Recorder } from "./support/stand-ins.js";

const NET = "10.231.72";

describe("minio and compute nodes against stand-in servers", () => {
  let cp: LocalControlPlane;
  let cl: DataCluster;
  const m1 = new MinioStandIn();
  const m2 = new MinioStandIn();
  const api1 = new Recorder(); // chime-server API on server1 (probe target only)
  const fenceHook = new Recorder();
  const chimeServer = new Recorder(); // the evacuation endpoint
  const runner1 = new CommandRunner("recording");

  beforeAll(async () => {
    setLogSink(null);
    process.env.CHD_IPMI_NODE1 = "secret-1";
    process.env.CHD_IPMI_NODE3 = "secret-3";
    await Promise.all([m1.start(), m2.start(), api1.start(), fenceHook.start(), chimeServer.start()]);
    cp = await startLocalControlPlane();
    const spec = {
      apiVersion: "chime-ha/v1" as const,
      name: "compute",
      policy: { heartbeatIntervalMs: 300, leaseTtlMs: 1500, driftMarginMs: 300, holdDownMs: 0, deadAfterMs: 2000 },
      nodes: [
        { name: "server1", hostname: "server1.lab", ip: `${NET}.11`, role: "server" as const, priority: 110 },
        { name: "server2", hostname: "server2.lab", ip: `${NET}.12`, role: "server" as const, priority: 100 },
        { name: "node1", hostname: "node1.lab", ip: `${NET}.101`, role: "compute" as const, fence: { type: "ipmi" as const, host: "10.99.0.101", user: "fencer", passwordEnv: "CHD_IPMI_NODE1" } },
        { name: "node2", hostname: "node2.lab", ip: `${NET}.102`, role: "compute" as const, fence: { type: "webhook" as const, url: fenceHook.url("/fence") } },
        { name: "node3", hostname: "node3.lab", ip: `${NET}.103`, role: "compute" as const, fence: { type: "ipmi" as const, host: "10.99.0.103", user: "fencer", passwordEnv: "CHD_IPMI_NODE3" } },
      ],
      groups: [
        { name: "server-api", service: "chime-server", mode: "active-standby" as const, vip: `${NET}.10`, ports: [{ port: 8801 }], members: ["server1"], probe: { type: "http" as const, port: 8801, intervalMs: 200, fall: 2, rise: 1 } },
        { name: "minio", service: "minio", mode: "minio" as const, vip: `${NET}.50`, ports: [{ port: 9000 }], probe: { type: "minio" as const, intervalMs: 200, timeoutMs: 500, fall: 1, rise: 1 } },
      ],
      evacuation: { url: chimeServer.url("/v1/hosts/evacuate"), method: "POST" as const, body: '{"host":"{hostname}","ip":"{ip}"}' },
    };
    const { id, tokens } = await createLocalCluster(cp, "cmp", spec);
    cl = new DataCluster(cp, id, tokens);
    // Compute shims (slim: heartbeats only) from the start, so none is silent for deadAfter yet.
    for (const n of ["node1", "node2", "node3"]) cl.start(n, {});
  }, 150_000);

  afterAll(async () => {
    await cl?.stopAll();
    await cp?.stop();
    await Promise.all([m1.stop(), m2.stop(), api1.stop(), fenceHook.stop(), chimeServer.stop()]);
  });

  const minioProbe = (m: MinioStandIn) => ({ type: "minio", port: m.port, intervalMs: 200, timeoutMs: 500, fall: 1, rise: 1 });

  it("minio: the VIP goes to a node with write quorum, moves on quorum loss; quorum lost everywhere is critical", async () => {
    // node1's BMC answers; node3's does not (its fence fails). Both report power state on request.
    runner1.respond(["ipmitool", "-I", "lanplus", "-H", "10.99.0.101"], { code: 0, stdout: "Chassis Power Control: Down/Off\n" });
    runner1.respond((c) => (c.cmd === "ipmitool" && c.args[3] === "10.99.0.101" && c.args.at(-1) === "status" ? { code: 0, stdout: "Chassis Power is off\n" } : undefined));
    runner1.respond(["ipmitool", "-I", "lanplus", "-H", "10.99.0.103"], { code: 1, stderr: "Error: Unable to establish IPMI v2 / RMCP+ session\n" });
    cl.start("server1", { probes: { "server-api": { type: "http", port: api1.port, intervalMs: 200, fall: 2, rise: 1 }, minio: minioProbe(m1) } }, runner1);
    await waitFor("server1 to hold server-api and minio", async () => {
      const s = await cl.status();
      return s.groups.every((g) => g.holder === "server1");
    }, 20_000, 50);
    cl.start("server2", { probes: { minio: minioProbe(m2) } });
    await waitFor("server2's minio probe", async () => (await cl.status()).nodes.find((n) => n.name === "server2")?.probes.minio?.healthy, 10_000, 50);

    m1.writeQuorum = false;
    await waitFor("minio to move to server2", async () => (await cl.group("minio")).holder === "server2", 10_000, 50);
    const failed = (await cl.events()).find((e) => e.kind === "probe.failed" && e.node === "server1" && e.group === "minio");
    expect(failed?.reason).toContain("minio live but its cluster has no write quorum (/cluster: http 503; read quorum yes)");

    m2.writeQuorum = false;
    const degraded = await waitFor("a critical event for quorum lost everywhere", async () => (await cl.events()).find((e) => e.kind === "group.degraded" && e.group === "minio"), 10_000, 100);
    expect(degraded.severity).toBe("critical");
    expect(degraded.reason).toContain("no healthy candidate; server2 keeps minio");
    m1.writeQuorum = true;
    m2.writeQuorum = true;

    // `mc admin heal` through the CommandRunner, exact argv.
    const mc = new CommandRunner("recording").respond(["mc", "admin", "heal"], { code: 0, stdout: '{"status":"success"}\n' });
    const heal = await minioHeal({ id: "h1", kind: "minio-heal", alias: "chime" }, { runner: mc, settings: {} });
    expect(mc.lines()).toEqual(["mc admin heal -r --json chime"]);
    expect(heal).toEqual({ ok: true, detail: 'mc admin heal chime: 1 status lines; last: {"status":"success"}' });
    expect((await minioHeal({ id: "h2", kind: "minio-heal", alias: "x; rm -rf /" }, { runner: mc, settings: {} })).ok).toBe(false);
    expect(mc.recorded).toHaveLength(1);
  });

  it("compute: fenced first (exact IPMI argv / webhook body), evacuated only after a successful fence or an ack", async () => {
    await waitFor("compute nodes alive", async () => (await cl.status()).nodes.filter((n) => n.role === "compute").every((n) => n.alive), 10_000, 50);
    runner1.clear();
    const silentAt = performance.now();
    await Promise.all(["node1", "node2", "node3"].map((n) => cl.agents.get(n)!.stop(false)));

    // node1 (IPMI ok) and node2 (webhook 200) are fenced, then evacuated.
    await waitFor("evacuation requests for node1 and node2", async () => chimeServer.requests.length >= 2, 15_000, 50);
    const ipmi = runner1.recorded.filter((c) => c.cmd === "ipmitool");
    expect(ipmi.filter((c) => c.args[3] === "10.99.0.101").map((c) => [c.cmd, ...c.args].join(" "))).toEqual([
      "ipmitool -I lanplus -H 10.99.0.101 -U fencer -E chassis power off",
      "ipmitool -I lanplus -H 10.99.0.101 -U fencer -E chassis power status",
    ]);
    // The password travels in the environment only.
    expect(runner1.lines().join("\n")).not.toContain("secret-");
    expect(fenceHook.requests).toHaveLength(1);
    expect(fenceHook.requests[0]!.method).toBe("POST");
    expect(fenceHook.requests[0]!.contentType).toBe("application/json");
    expect(JSON.parse(fenceHook.requests[0]!.body)).toEqual({ action: "power-off", node: "node2", requestId: expect.stringMatching(/^op-\d+-fence-node2$/) });

    const bodies = chimeServer.requests.map((r) => ({ method: r.method, path: r.path, body: r.body }));
    expect(bodies).toEqual(
      expect.arrayContaining([
        { method: "POST", path: "/v1/hosts/evacuate", body: '{"host":"node1.lab","ip":"10.231.72.101"}' },
        { method: "POST", path: "/v1/hosts/evacuate", body: '{"host":"node2.lab","ip":"10.231.72.102"}' },
      ]),
    );
    // Evacuation of node2 came after its fence.
    const evac2 = chimeServer.requests.find((r) => r.body.includes("node2.lab"))!;
    expect(evac2.at).toBeGreaterThan(fenceHook.requests[0]!.at);

    // node3: its BMC refused, so it is NOT evacuated, however long we wait...
    await waitFor("node3's fence to fail", async () => (await cl.status()).nodes.find((n) => n.name === "node3")?.computePhase?.startsWith("fence-failed"), 10_000, 50);
    expect(ipmi.filter((c) => c.args[3] === "10.99.0.103").map((c) => c.args.slice(-3).join(" "))).toEqual(["chassis power off"]);
    await new Promise((r) => setTimeout(r, 2000));
    expect(chimeServer.requests.filter((r) => r.body.includes("node3"))).toEqual([]);
    const fenceFailed = (await cl.events()).find((e) => e.kind === "compute.fence-failed" && e.node === "node3")!;
    expect(fenceFailed.reason).toContain("Unable to establish IPMI v2 / RMCP+ session");

    // ...until an operator acknowledges that it is powered off.
    const ack = await cl.call("POST", `/v1/clusters/${cl.id}/nodes/node3/ack-fence`);
    expect(ack.status).toBe(200);
    await waitFor("the evacuation request for node3", async () => chimeServer.requests.find((r) => r.body.includes("node3.lab")), 10_000, 50);
    await waitFor("node3 evacuated", async () => (await cl.status()).nodes.find((n) => n.name === "node3")?.computePhase?.startsWith("evacuated"), 10_000, 50);
    const twice = await cl.call("POST", `/v1/clusters/${cl.id}/nodes/node3/ack-fence`);
    expect(twice.status).toBe(409);
    const evacuated = (await cl.events()).filter((e) => e.kind === "compute.evacuated").map((e) => e.node).sort();
    expect(evacuated).toEqual(["node1", "node2", "node3"]);
    console.log(`compute: node1/node2 evacuation requests ${Math.round(chimeServer.requests[0]!.at - silentAt)} / ${Math.round(chimeServer.requests[1]!.at - silentAt)} ms after they went silent (deadAfter 2000 ms); node3 only after the ack`);
  });
});
