// `chime-ha status [CLUSTER]`: groups (holder, epoch, lease left) and nodes (alive, last
// heartbeat, maintenance, probe health) of one cluster or of every cluster the token may see.
import type { Command } from "commander";
import { z } from "zod";
import { Cluster } from "../../protocol/api.js";
import { ClusterStatus } from "../../protocol/status.js";
import { ApiClient, clientOptionsFromEnv, clusterPath } from "./client.js";
import { duration, textTable } from "./table.js";

export interface ClusterStatusView {
  cluster: string;
  site: string;
  status: ClusterStatus;
}

export async function fetchStatus(client: ApiClient, cluster?: string): Promise<ClusterStatusView[]> {
  const { clusters } = await client.get("/v1/clusters", z.object({ clusters: z.array(Cluster) }));
  const wanted = cluster === undefined ? clusters : clusters.filter((c) => c.id === cluster || c.name === cluster);
  if (cluster !== undefined && wanted.length === 0) throw new Error(`no cluster '${cluster}' (known: ${clusters.map((c) => c.id).join(", ") || "none"})`);
  return Promise.all(wanted.map(async (c) => ({ cluster: c.id, site: c.site, status: await client.get(`${clusterPath(c.id)}/status`, ClusterStatus) })));
}

export function renderStatus(views: ClusterStatusView[]): string {
  if (views.length === 0) return "no clusters";
  const out: string[] = [];
  for (const v of views) {
    const s = v.status;
    const flags = [s.maintenance ? "MAINTENANCE (automation frozen)" : "", s.restartGraceLeftMs > 0 ? `restart grace ${duration(s.restartGraceLeftMs)}` : ""].filter(Boolean);
    out.push(`cluster ${v.cluster} (site ${v.site}, spec v${s.specVersion})${flags.length ? "  " + flags.join(", ") : ""}`);
    out.push(
      textTable(
        ["GROUP", "MODE", "VIP", "HOLDER", "EPOCH", "PHASE", "LEASE LEFT", "REAL SERVERS"],
        s.groups.map((g) => [
          g.name,
          g.mode,
          g.vip,
          g.holder ?? "-",
          String(g.epoch),
          g.phase + (g.revokeTo ? ` -> ${g.revokeTo}` : ""),
          duration(g.leaseLeftMs),
          g.realServers ? g.realServers.join(",") || "(none)" : "",
        ]),
      ),
    );
    out.push("");
    out.push(
      textTable(
        ["NODE", "ROLE", "ALIVE", "LAST HEARTBEAT", "MAINT", "HEALTH"],
        s.nodes.map((n) => [
          n.name,
          n.role + (n.computePhase && n.computePhase !== "alive" ? ` (${n.computePhase})` : ""),
          n.alive ? "yes" : "NO",
          n.lastHeartbeatAgoMs === null ? "never" : `${duration(n.lastHeartbeatAgoMs)} ago`,
          n.maintenance ? "on" : "-",
          Object.entries(n.probes)
            .map(([k, p]) => `${k}:${p.healthy ? "ok" : "FAIL"}`)
            .join(" ") || "-",
        ]),
      ),
    );
    out.push("");
  }
  return out.join("\n").trimEnd();
}

export function registerStatus(program: Command): void {
  program
    .command("status")
    .description("holders, epochs, lease left and node health, for one cluster or all")
    .argument("[cluster]", "cluster id (site.name) or name; default: every cluster")
    .option("--json", "print the raw status as JSON")
    .action(async (cluster: string | undefined, opts: { json?: boolean }) => {
      const client = new ApiClient(clientOptionsFromEnv(program.opts()));
      const views = await fetchStatus(client, cluster);
      process.stdout.write((opts.json ? JSON.stringify(views, null, 2) : renderStatus(views)) + "\n");
    });
}
