// `chime-ha delete cluster|site|token|webhook NAME`: a cluster needs --yes (or typing its id on a
// terminal): its node tokens stop working and its shims drop their VIPs at lease end.
import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import { ApiClient, clusterPath, NoBody } from "./client.js";
import { resolveConnection } from "./contexts.js";
import { CommandFailed, out, UsageError } from "./output.js";

const KINDS = ["cluster", "site", "token", "webhook"] as const;
export const DELETE_KINDS = [...KINDS];

async function confirm(id: string): Promise<boolean> {
  if (!process.stdin.isTTY || !process.stderr.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`Deleting cluster ${id} revokes its node tokens; its shims drop their VIPs when their leases end.\nType the cluster id to confirm: `);
    return answer.trim() === id;
  } finally {
    rl.close();
  }
}

export function registerDelete(program: Command): void {
  program
    .command("delete")
    .description("delete a cluster, a site (without clusters), a token (revoke) or a webhook")
    .argument("<kind>", KINDS.join(" | "))
    .argument("<name>", "cluster id or name; site id; token id; webhook id")
    .option("--yes", "do not ask (needed for a cluster when not on a terminal)")
    .action(async (kind: string, name: string, o: { yes?: boolean }) => {
      const client = new ApiClient(resolveConnection(program.opts()));
      switch (kind) {
        case "cluster": {
          const id = (await client.resolveCluster(name)).id;
          if (!o.yes && !(await confirm(id))) {
            if (!process.stdin.isTTY) throw new UsageError(`refusing to delete cluster ${id} without --yes`);
            throw new CommandFailed(`not deleted: the id typed was not ${id}`);
          }
          await client.request("DELETE", clusterPath(id), NoBody);
          return out(`cluster ${id} deleted; its node tokens are revoked`);
        }
        case "site":
          await client.request("DELETE", `/v1/sites/${encodeURIComponent(name)}`, NoBody);
          return out(`site ${name} deleted`);
        case "token":
          await client.request("DELETE", `/v1/tokens/${encodeURIComponent(name)}`, NoBody);
          return out(`token ${name} revoked`);
        case "webhook":
          await client.request("DELETE", `/v1/webhooks/${encodeURIComponent(name)}`, NoBody);
          return out(`webhook ${name} deleted`);
        default:
          throw new UsageError(`delete: unknown kind '${kind}' (one of ${KINDS.join(", ")})`);
      }
    });
}
