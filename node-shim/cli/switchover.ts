// `chime-ha switchover CLUSTER GROUP [--to NODE] [--wait]`: planned move (revoke, the holder
// confirms the release, grant); no lease wait. With --wait it reports the outcome ("server-api
// now held by server2") and exits 1 if the move did not happen within the timeout.
import type { Command } from "commander";
import { AdminOpResult } from "../../protocol/api.js";
import { ClusterStatus as ClusterStatusSchema } from "../../protocol/status.js";
import { ApiClient, CliNotFound, clusterPath } from "./client.js";
import { resolveConnection } from "./contexts.js";
import { out, parseDuration } from "./output.js";
import { seconds, waitForStatus } from "./wait.js";

export function registerSwitchover(program: Command): void {
  program
    .command("switchover")
    .description("move a group's VIP to another node (default: the best healthy candidate)")
    .argument("<cluster>", "cluster id (site.name) or name")
    .argument("<group>", "group name")
    .option("--to <node>", "target node")
    .option("--wait", "wait until the move is done and say who holds the group; exit 1 if it is not done in time")
    .option("--timeout <duration>", "how long --wait waits", "30s")
    .action(async (clusterArg: string, group: string, o: { to?: string; wait?: boolean; timeout: string }) => {
      const timeoutMs = parseDuration(o.timeout, "--timeout");
      const client = new ApiClient(resolveConnection(program.opts()));
      const cluster = (await client.resolveCluster(clusterArg)).id;
      const before = (await client.get(`${clusterPath(cluster)}/status`, ClusterStatusSchema)).groups.find((g) => g.name === group);
      if (!before) throw new CliNotFound(`no group '${group}' in cluster ${cluster}`);
      const r = await client.post(`${clusterPath(cluster)}/switchover`, o.to === undefined ? { group } : { group, to: o.to }, AdminOpResult);
      out(r.detail);
      if (!o.wait) return;
      const moved = (g: typeof before | undefined) =>
        g !== undefined && g.phase === "held" && g.holder !== null && g.epoch > before.epoch && (o.to !== undefined ? g.holder === o.to : g.holder !== before.holder);
      const done = await waitForStatus(
        client,
        cluster,
        (s) => moved(s.groups.find((g) => g.name === group)),
        (s) => {
          const g = s?.groups.find((x) => x.name === group);
          const now = g ? (g.holder ? `held by ${g.holder} (epoch ${g.epoch}, ${g.phase})` : "without a holder") : "unknown";
          return `${group} did not move within ${seconds(timeoutMs)}: it is ${now}${g?.reason ? `; ${g.reason}` : ""}`;
        },
        timeoutMs,
      );
      const g = done.status.groups.find((x) => x.name === group)!;
      out(`${group} now held by ${g.holder} (epoch ${g.epoch}; was ${before.holder ?? "nobody"}), after ${seconds(done.elapsedMs)}`);
    });
}
