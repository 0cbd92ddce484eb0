// Shims for the data suite against the real control plane (wrangler dev): every node's agent runs
// in this process with a recording CommandRunner (VIP/arping commands are recorded, not run: on
// loopback the writer role is what matters), and real data-service probes and appliers.
import "../../../node-shim/register-data-services.js";
import { ShimAgent } from "../../../node-shim/agent.js";
import { CommandRunner } from "../../../node-shim/command-runner.js";
import { ShimConfig } from "../../../node-shim/config.js";
import type { EventPage } from "../../../protocol/api.js";
import type { ClusterStatus } from "../../../protocol/status.js";
import type { LocalControlPlane } from "../../shim/support/control-plane.js";

export { waitFor } from "../../shim/support/netns.js";

export class DataCluster {
  readonly agents = new Map<string, ShimAgent>();
  readonly runners = new Map<string, CommandRunner>();

  constructor(
    readonly cp: LocalControlPlane,
    readonly id: string,
    readonly tokens: Record<string, string>,
  ) {}

  /** Start (or restart) the shim of `node` with `extra` config (probes overrides, settings). */
  start(node: string, extra: Record<string, unknown>, runner = new CommandRunner("recording")): ShimAgent {
    const config = ShimConfig.parse({ controlPlaneUrl: this.cp.url, cluster: this.id, node, token: this.tokens[node], localLeaseMarginMs: 200, ...extra });
    const a = new ShimAgent({ config, token: this.tokens[node]!, runner });
    this.agents.set(node, a);
    this.runners.set(node, runner);
    a.start();
    return a;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.stop(false).catch(() => undefined)));
  }

  async call(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const r = await fetch(this.cp.url + path, {
      method,
      headers: { authorization: `Bearer ${this.cp.adminToken}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, json: text ? JSON.parse(text) : null };
  }

  async status(): Promise<ClusterStatus> {
    const r = await this.call("GET", `/v1/clusters/${this.id}/status`);
    if (r.status !== 200) throw new Error(`status: ${r.status} ${JSON.stringify(r.json)}`);
    return r.json as ClusterStatus;
  }

  async group(name: string) {
    return (await this.status()).groups.find((g) => g.name === name)!;
  }

  async events(): Promise<EventPage["events"]> {
    const r = await this.call("GET", `/v1/clusters/${this.id}/events?limit=500`);
    return (r.json as EventPage).events;
  }
}
