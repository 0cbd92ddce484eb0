// `chime-ha switchover CLUSTER GROUP [--to NODE]`: planned move (revoke, holder confirms the
// release, grant); no lease wait.
import type { Command } from "commander";
import { AdminOpResult } from "../../protocol/api.js";
import { ApiClient, clientOptionsFromEnv, clusterPath } from "./client.js";

export async function switchover(client: ApiClient, cluster: string, group: string, to?: string): Promise<string> {
  const r = await client.post(`${clusterPath(cluster)}/switchover`, to === undefined ? { group } : { group, to }, AdminOpResult);
  return r.detail;
}

export function registerSwitchover(program: Command): void {
  program
    .command("switchover")
    .description("move a group's VIP to another node (default: the best healthy candidate)")
    .argument("<cluster>", "cluster id (site.name)")
    .argument("<group>", "group name")
    .option("--to <node>", "target node")
    .action(async (cluster: string, group: string, o: { to?: string }) => {
      const client = new ApiClient(clientOptionsFromEnv(program.opts()));
      process.stdout.write((await switchover(client, cluster, group, o.to)) + "\n");
    });
}
