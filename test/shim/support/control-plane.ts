// The shim and data suites' view of a real local control plane: `wrangler dev` (workerd: the
// Worker, Durable Objects, D1) on 127.0.0.1 with the migrations applied to a fresh temp state
// directory. One implementation serves every suite: test/support/control-plane.ts.
import { createServer } from "node:net";
import type { ClusterSpecInput } from "../../../protocol/spec.js";
import { api, createCluster, startControlPlane } from "../../support/control-plane.js";

export interface LocalControlPlane {
  url: string;
  adminToken: string;
  pid: number;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

export async function startLocalControlPlane(): Promise<LocalControlPlane> {
  const cp = await startControlPlane({ logLevel: "warn", readyTimeoutMs: 90_000 });
  return { url: cp.url, adminToken: cp.adminToken, pid: cp.pid, stop: () => cp.stop() };
}

/** A site (created if missing) and a cluster from `spec`; returns the cluster id and each node's token. */
export async function createLocalCluster(cp: LocalControlPlane, site: string, spec: ClusterSpecInput): Promise<{ id: string; tokens: Record<string, string> }> {
  const made = await createCluster(cp.url, cp.adminToken, spec, site);
  return { id: made.clusterId, tokens: made.nodeTokens };
}

export const adminGet = (cp: LocalControlPlane, path: string) => api(cp.url, cp.adminToken, "GET", path);

/** Two servers and a compute node on `net` (e.g. 10.231.64) with one active-standby group. */
export function labSpec(net: string, overrides: Partial<ClusterSpecInput> = {}): ClusterSpecInput {
  return {
    apiVersion: "chime-ha/v1",
    name: "lab",
    policy: { heartbeatIntervalMs: 1000, leaseTtlMs: 3000, driftMarginMs: 500, holdDownMs: 0 },
    nodes: [
      { name: "server1", hostname: "server1.lab", ip: `${net}.11`, role: "server", priority: 110 },
      { name: "server2", hostname: "server2.lab", ip: `${net}.12`, role: "server", priority: 100 },
      { name: "node1", hostname: "node1.lab", ip: `${net}.101`, role: "compute" },
    ],
    groups: [
      {
        name: "server-api",
        service: "chime-server",
        mode: "active-standby",
        vip: `${net}.10`,
        interface: "eth0",
        ports: [{ port: 8801, label: "API" }],
        probe: { type: "tcp", port: 8801, intervalMs: 500, fall: 2, rise: 1 },
      },
    ],
    ...overrides,
  };
}
