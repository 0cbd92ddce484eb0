// `chime-ha shadow-report CLUSTER [--json]`: shadow mode's comparison (GET /v1/clusters/:id/shadow).
// Per group: who has the VIP under keepalived and under chime-ha, every keepalived move beside
// chime-ha's decision (agreed or not, and how long before or after keepalived), and a summary.
import type { Command } from "commander";
import { ShadowReport } from "../../protocol/api.js";
import { ApiClient, clusterPath } from "./client.js";
import { resolveConnection } from "./contexts.js";
import { out } from "./output.js";
import { textTable } from "./table.js";

const time = (ms: number) => new Date(ms).toISOString().slice(11, 23);
const signed = (ms: number) => (ms === 0 ? "same time" : `${Math.abs(ms) >= 1000 ? `${(Math.abs(ms) / 1000).toFixed(2)}s` : `${Math.round(Math.abs(ms))}ms`} ${ms < 0 ? "earlier" : "later"}`);

export function formatShadowReport(r: ShadowReport): string {
  const out: string[] = [];
  const shadowed = r.groups.filter((g) => g.shadow);
  if (shadowed.length === 0) return `${r.cluster}: no group is in shadow mode (policy.shadow or a group's shadow)`;
  for (const g of shadowed) {
    out.push(`${g.group}: keepalived holder ${g.keepalivedHolder ?? "-"}, chime-ha holder ${g.chimeHaHolder ?? "-"}`);
    const rows = g.entries.map((e) => [
      time(e.keepalived?.at ?? e.chimeHa!.at),
      e.keepalived ? (e.keepalived.dual ? `on ${e.keepalived.dual.join(" + ")}` : `${e.keepalived.initial ? "at" : "->"} ${e.keepalived.to}`) : "-",
      e.chimeHa ? `${e.keepalived?.initial ? "at" : "->"} ${e.chimeHa.to ?? "nobody"} (epoch ${e.chimeHa.epoch})` : "-",
      e.verdict,
      e.deltaMs === null ? "" : `chime-ha ${signed(e.deltaMs)}`,
    ]);
    out.push(rows.length ? textTable(["time (UTC)", "keepalived", "chime-ha", "verdict", "difference"], rows).replace(/^/gm, "  ") : "  no moves yet");
    const s = g.summary;
    const median = s.medianDeltaMs === null ? "" : `; chime-ha median ${signed(s.medianDeltaMs)} than keepalived (largest difference ${Math.round(s.maxAbsDeltaMs!)}ms)`;
    out.push(`  ${s.keepalivedMoves} keepalived move(s): ${s.agreed} agreed, ${s.disagreed} disagreed, ${s.keepalivedOnly} chime-ha would not have made; ${s.chimeHaOnly} move(s) only chime-ha would have made; ${s.splitBrain} keepalived split brain(s)${median}`);
    out.push("");
  }
  return out.join("\n").trimEnd();
}

export function registerShadowReport(program: Command): void {
  program
    .command("shadow-report")
    .description("shadow mode: each keepalived move beside chime-ha's decision (agreement, time difference)")
    .argument("<cluster>", "cluster id (site.name) or name")
    .option("--json", "the API's JSON instead of tables")
    .action(async (clusterArg: string, o: { json?: boolean }) => {
      const client = new ApiClient(resolveConnection(program.opts()));
      const cluster = (await client.resolveCluster(clusterArg)).id;
      const r = await client.get(`${clusterPath(cluster)}/shadow`, ShadowReport);
      out(o.json ? JSON.stringify(r, null, 2) : formatShadowReport(r));
    });
}
