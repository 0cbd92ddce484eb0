// `chime-ha ack-fence CLUSTER NODE`: an operator confirms a dead compute node is powered off, so
// its VMs may be evacuated without a successful automatic fence (what compute.fence-failed asks for).
import type { Command } from "commander";
import { AdminOpResult } from "../../protocol/api.js";
import { ApiClient, clusterPath } from "./client.js";
import { resolveConnection } from "./contexts.js";
import { out } from "./output.js";

export function registerAckFence(program: Command): void {
  program
    .command("ack-fence")
    .description("confirm a dead compute node is powered off, so its VMs are evacuated")
    .argument("<cluster>", "cluster id (site.name) or name")
    .argument("<node>", "the compute node")
    .action(async (clusterArg: string, node: string) => {
      const client = new ApiClient(resolveConnection(program.opts()));
      const cluster = (await client.resolveCluster(clusterArg)).id;
      const r = await client.post(`${clusterPath(cluster)}/nodes/${encodeURIComponent(node)}/ack-fence`, undefined, AdminOpResult);
      for (const d of r.decisions ?? [r.detail]) out(d);
    });
}
