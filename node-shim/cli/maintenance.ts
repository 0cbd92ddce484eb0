// `chime-ha maintenance CLUSTER on|off [--node NODE] [--wait]`: freeze automation for a cluster,
// or drain one node (its groups move away, then it takes none). With --wait a drain reports where
// each group went ("server-api now held by server2") and exits 1 if any is still on the node when
// the timeout ends (with the reason, e.g. no healthy candidate).
import type { Command } from "commander";
import { AdminOpResult } from "../../protocol/api.js";
import { ClusterStatus as ClusterStatusSchema } from "../../protocol/status.js";
import { ApiClient, clusterPath } from "./client.js";
import { resolveConnection } from "./contexts.js";
import { out, parseDuration, UsageError } from "./output.js";
import { seconds, waitForStatus } from "./wait.js";

export function parseOnOff(word: string): boolean {
  if (word === "on") return true;
  if (word === "off") return false;
  throw new UsageError(`expected 'on' or 'off', got '${word}'`);
}

export function registerMaintenance(program: Command): void {
  program
    .command("maintenance")
    .description("cluster maintenance (freeze automatic failover) or, with --node, drain one node")
    .argument("<cluster>", "cluster id (site.name) or name")
    .argument("<state>", "on | off")
    .option("--node <node>", "only this node: its groups move away (drain), then it takes none")
    .option("--wait", "wait until it took effect (a drain: every group moved) and say so; exit 1 if not in time")
    .option("--timeout <duration>", "how long --wait waits", "60s")
    .action(async (clusterArg: string, state: string, o: { node?: string; wait?: boolean; timeout: string }) => {
      const on = parseOnOff(state);
      const timeoutMs = parseDuration(o.timeout, "--timeout");
      const client = new ApiClient(resolveConnection(program.opts()));
      const cluster = (await client.resolveCluster(clusterArg)).id;
      const before = await client.get(`${clusterPath(cluster)}/status`, ClusterStatusSchema);
      const path = o.node === undefined ? `${clusterPath(cluster)}/maintenance` : `${clusterPath(cluster)}/nodes/${encodeURIComponent(o.node)}/maintenance`;
      const r = await client.post(path, { on }, AdminOpResult);
      out(r.detail);
      if (!o.wait) return;
      const node = o.node;
      if (node === undefined) {
        await waitForStatus(client, cluster, (s) => s.maintenance === on, () => `cluster maintenance is still ${on ? "off" : "on"} after ${seconds(timeoutMs)}`, timeoutMs);
        out(on ? `${cluster}: maintenance on; automatic failover frozen (groups stay where they are)` : `${cluster}: maintenance off; automatic failover resumes`);
        return;
      }
      if (!on) {
        await waitForStatus(client, cluster, (s) => s.nodes.find((n) => n.name === node)?.maintenance === false, () => `${node} is still in maintenance after ${seconds(timeoutMs)}`, timeoutMs);
        out(`${node}: maintenance off; it is a candidate again (groups do not move back by themselves)`);
        return;
      }
      const held = before.groups.filter((g) => g.holder === node).map((g) => g.name);
      const done = await waitForStatus(
        client,
        cluster,
        (s) => s.nodes.find((n) => n.name === node)?.maintenance === true && s.groups.every((g) => g.holder !== node),
        (s) => {
          const stuck = (s?.groups ?? []).filter((g) => g.holder === node);
          return `${node} still holds ${stuck.map((g) => `${g.name}${g.reason ? ` (${g.reason})` : ""}`).join(", ") || "groups"} after ${seconds(timeoutMs)}`;
        },
        timeoutMs,
      );
      for (const name of held) {
        const g = done.status.groups.find((x) => x.name === name)!;
        out(g.holder ? `${name} now held by ${g.holder} (epoch ${g.epoch})` : `${name} has no holder now${g.reason ? `: ${g.reason}` : ""}`);
      }
      out(`${node} drained after ${seconds(done.elapsedMs)}: it holds no group`);
    });
}
