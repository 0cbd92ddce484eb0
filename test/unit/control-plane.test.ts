// The real Worker in workerd (wrangler dev) through test/support/control-plane.ts: create the
// example cluster, heartbeat as server1 and get a grant; state survives a restart and a SIGKILL;
// stop() leaves no process and no temp dir behind.
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HeartbeatReply, type HeartbeatRequestInput } from "../../protocol/heartbeat.js";
import { api, ApiCallError, type ControlPlane, createCluster, loadSpecFile, startControlPlane } from "../support/control-plane.js";

const groupAlive = (pid: number) => {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
};

const beat = (seq: number, healthy = true): HeartbeatRequestInput => ({
  bootId: "unit-boot-1",
  seq,
  probes: { "server-api": { healthy, detail: "test" }, portal: { healthy, detail: "test" } },
});

describe("control plane in workerd", () => {
  let cp: ControlPlane;
  let clusterId: string;
  let nodeTokens: Record<string, string>;

  beforeAll(async () => {
    cp = await startControlPlane();
    ({ clusterId, nodeTokens } = await createCluster(cp.url, cp.adminToken, loadSpecFile()));
  }, 120_000);

  afterAll(async () => {
    const pid = cp?.pid;
    await cp?.stop();
    if (pid && pid > 0) expect(groupAlive(pid)).toBe(false);
    if (cp) expect(existsSync(cp.persistDir)).toBe(false);
  });

  it("created the example cluster with one token per node, ids from site and name", () => {
    expect(clusterId).toBe("dc1.chimestack");
    expect(Object.keys(nodeTokens).sort()).toEqual(["node1", "node2", "server1", "server2"]);
    expect(new Set(Object.values(nodeTokens)).size).toBe(4);
  });

  it("refuses the API without the admin token and a heartbeat with another node's token", async () => {
    await expect(api(cp.url, "wrong-token", "GET", "/v1/clusters")).rejects.toMatchObject({ status: 401 });
    const wrong = api(cp.url, nodeTokens.server2!, "POST", `/v1/clusters/${clusterId}/nodes/server1/heartbeat`, beat(0));
    await expect(wrong).rejects.toBeInstanceOf(ApiCallError);
    await expect(wrong).rejects.toMatchObject({ status: 403 });
  });

  it("a heartbeat from server1 gets the server-api grant and holder role", async () => {
    const reply = HeartbeatReply.parse(await api(cp.url, nodeTokens.server1!, "POST", `/v1/clusters/${clusterId}/nodes/server1/heartbeat`, beat(1)));
    const grant = reply.grants.find((g) => g.group === "server-api");
    expect(grant).toBeDefined();
    expect(grant!.epoch).toBeGreaterThanOrEqual(1);
    expect(grant!.ttlMs).toBe(3000);
    const desired = reply.desired.groups.find((g) => g.name === "server-api");
    expect(desired).toMatchObject({ role: "holder", holder: "server1", vip: "192.168.231.10" });
    expect(reply.desired.node).toBe("server1");
  });

  it("keeps the cluster and its grant across a restart and across SIGKILL", async () => {
    const before = HeartbeatReply.parse(await api(cp.url, nodeTokens.server1!, "POST", `/v1/clusters/${clusterId}/nodes/server1/heartbeat`, beat(2)));
    const epoch = before.grants.find((g) => g.group === "server-api")!.epoch;

    const oldPid = cp.pid;
    await cp.restart();
    expect(groupAlive(oldPid)).toBe(false);
    const status = (await api(cp.url, cp.adminToken, "GET", `/v1/clusters/${clusterId}/status`)) as { groups: { name: string; holder: string | null; epoch: number }[] };
    expect(status.groups.find((g) => g.name === "server-api")).toMatchObject({ holder: "server1", epoch });

    const killedPid = cp.pid;
    await cp.kill();
    expect(groupAlive(killedPid)).toBe(false);
    await expect(fetch(`${cp.url}/healthz`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
    await cp.restart();
    // The holder renews at the same epoch after the crash: nothing was lost, nothing moved.
    const after = HeartbeatReply.parse(await api(cp.url, nodeTokens.server1!, "POST", `/v1/clusters/${clusterId}/nodes/server1/heartbeat`, { ...beat(3), holding: [{ group: "server-api", epoch }] }));
    expect(after.grants.find((g) => g.group === "server-api")?.epoch).toBe(epoch);
  });

  it("createCluster reports a bad spec with paths and stores nothing", async () => {
    const spec = loadSpecFile() as { name: string; nodes: { ip: string }[] };
    const bad = { ...spec, name: "broken", nodes: spec.nodes.map((n, i) => (i === 1 ? { ...n, ip: spec.nodes[0]!.ip } : n)) };
    const err = await createCluster(cp.url, cp.adminToken, bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiCallError);
    expect((err as ApiCallError).status).toBe(400);
    expect((err as ApiCallError).message).toMatch(/spec\.nodes\[1\]\.ip/);
    const list = (await api(cp.url, cp.adminToken, "GET", "/v1/clusters")) as { clusters: { id: string }[] };
    expect(list.clusters.map((c) => c.id)).toEqual(["dc1.chimestack"]);
  });
});
