// `chime-ha maintenance CLUSTER on|off [--node NODE]`: freeze automation for a cluster, or drain
// one node (groups move away, then it is left alone).
import type { Command } from "commander";
import { AdminOpResult } from "../../protocol/api.js";
import { ApiClient, clientOptionsFromEnv, clusterPath, UsageError } from "./client.js";

export async function maintenance(client: ApiClient, cluster: string, on: boolean, node?: string): Promise<string> {
  const path = node === undefined ? `${clusterPath(cluster)}/maintenance` : `${clusterPath(cluster)}/nodes/${encodeURIComponent(node)}/maintenance`;
  return (await client.post(path, { on }, AdminOpResult)).detail;
}

export function parseOnOff(word: string): boolean {
  if (word === "on") return true;
  if (word === "off") return false;
  throw new UsageError(`expected 'on' or 'off', got '${word}'`);
}

export function registerMaintenance(program: Command): void {
  program
    .command("maintenance")
    .description("cluster maintenance (freeze automation) or, with --node, drain one node")
    .argument("<cluster>", "cluster id (site.name)")
    .argument("<state>", "on | off")
    .option("--node <node>", "only this node")
    .action(async (cluster: string, state: string, o: { node?: string }) => {
      const client = new ApiClient(clientOptionsFromEnv(program.opts()));
      process.stdout.write((await maintenance(client, cluster, parseOnOff(state), o.node)) + "\n");
    });
}
