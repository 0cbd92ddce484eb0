// A real local control plane for the shim suites: `wrangler dev` (workerd: the Worker, Durable
// Objects, D1) on 127.0.0.1 with the D1 migrations applied to a fresh temp state directory.
// (Helper B's test/support/control-plane.ts was not there yet when the shim suites needed one.)
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { ClusterSpecInput } from "../../../protocol/spec.js";

const exec = promisify(execFile);
const WRANGLER = "node_modules/.bin/wrangler";
const ENV = { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", NO_COLOR: "1" };

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
  const state = mkdtempSync(join(tmpdir(), "chs-cp-"));
  const adminToken = `adm-${process.pid}-${Math.floor(performance.now())}`;
  await exec(WRANGLER, ["d1", "migrations", "apply", "chime-ha", "--local", "--persist-to", state], { env: ENV, timeout: 120_000 });
  const port = await freePort();
  const child: ChildProcess = spawn(
    WRANGLER,
    ["dev", "--local", "--persist-to", state, "--ip", "127.0.0.1", "--port", String(port), "--var", `ADMIN_TOKEN:${adminToken}`, "--show-interactive-dev-session=false", "--log-level", "warn"],
    { env: ENV, stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output = (output + String(d)).slice(-4000)));
  child.stderr!.on("data", (d: Buffer) => (output = (output + String(d)).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.pid !== undefined) {
      // wrangler starts workerd as a child: end the process group we created (by its PID).
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // already gone
      }
      await new Promise((r) => {
        const t = setTimeout(() => {
          try {
            process.kill(-child.pid!, "SIGKILL");
          } catch {
            // gone
          }
          r(undefined);
        }, 3000);
        child.once("exit", () => (clearTimeout(t), r(undefined)));
      });
    }
    rmSync(state, { recursive: true, force: true });
  };
  const deadline = performance.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`wrangler dev exited ${child.exitCode}: ${output}`);
    }
    try {
      const r = await fetch(`${url}/v1/clusters`, { headers: { authorization: `Bearer ${adminToken}` }, signal: AbortSignal.timeout(1000) });
      if (r.status === 200) break;
    } catch {
      // not up yet
    }
    if (performance.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev did not come up within 90 s: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url, adminToken, pid: child.pid!, stop };
}

async function admin(cp: LocalControlPlane, method: string, path: string, body?: unknown): Promise<unknown> {
  const r = await fetch(cp.url + path, {
    method,
    headers: { authorization: `Bearer ${cp.adminToken}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** A site and a cluster from `spec`; returns the cluster id and each node's token. */
export async function createLocalCluster(cp: LocalControlPlane, site: string, spec: ClusterSpecInput): Promise<{ id: string; tokens: Record<string, string> }> {
  await admin(cp, "POST", "/v1/sites", { id: site });
  const out = (await admin(cp, "POST", "/v1/clusters", { site, spec })) as { cluster: { id: string }; nodeTokens: Record<string, string> };
  return { id: out.cluster.id, tokens: out.nodeTokens };
}

export const adminGet = (cp: LocalControlPlane, path: string) => admin(cp, "GET", path);

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
