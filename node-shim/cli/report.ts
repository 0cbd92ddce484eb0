// `chime-ha report [CLUSTER] [--month YYYY-MM] [--json]`: what the availability ledger says. With a
// cluster: per group availability, downtime, planned time, outages, MTTR, the error budget left
// (month, 30 days) and the last drill, then every outage with its reasons. Without: every cluster,
// worst first. Default period: this month so far; --month a whole calendar month.
import type { Command } from "commander";
import { formatAvailability, formatBudgetLeft } from "../../protocol/availability-format.js";
import { type Budget, type ClusterAvailability, ClusterAvailability as ClusterAvailabilitySchema, FleetAvailability, type GroupAvailability } from "../../protocol/availability.js";
import { ApiClient, clusterPath } from "./client.js";
import { resolveConnection } from "./contexts.js";
import { out, UsageError } from "./output.js";
import { duration, textTable } from "./table.js";

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

/** [from, to) of a calendar month "YYYY-MM" (UTC). */
export function monthRange(month: string, now = Date.now()): { from: number; to: number; title: string } {
  const m = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(month);
  if (!m) throw new UsageError(`--month: a month like 2026-11, got '${month}'`);
  const y = Number(m[1]);
  const i = Number(m[2]) - 1;
  const from = Date.UTC(y, i, 1);
  if (from > now) throw new UsageError(`--month ${month} has not begun`);
  return { from, to: Date.UTC(y, i + 1, 1), title: `${MONTHS[i]} ${y}` };
}

const budgetCell = (b: Budget) => (b.availability === null ? "-" : `${formatBudgetLeft(b.leftRatio)} (${b.leftMs < 0 ? `-${duration(-b.leftMs)}` : duration(b.leftMs)})`);

function drillCell(g: GroupAvailability): string {
  const d = g.drill;
  if (d.running) return `running: ${d.running}`;
  if (d.lastAt === null) return d.window ? `none yet (${d.window})` : "-";
  return `${d.lastOk ? "passed" : "failed"} ${new Date(d.lastAt).toISOString().slice(0, 10)}`;
}

/** The per-group table and the outages of one cluster, as text. */
export function formatClusterReport(r: ClusterAvailability, title: string): string {
  const rows = r.groups.map((g) => [
    g.group,
    `${g.target} %`,
    formatAvailability(g.availability),
    duration(g.downMs),
    duration(g.plannedMs),
    String(g.outages),
    duration(g.mttrMs),
    budgetCell(g.budget.month),
    budgetCell(g.budget.rolling30d),
    drillCell(g),
  ]);
  const lines = [
    `${r.cluster} (site ${r.site}): ${title}, ${new Date(r.from).toISOString().slice(0, 16)}Z to ${new Date(Math.min(r.to, r.now)).toISOString().slice(0, 16)}Z`,
    "",
    textTable(["GROUP", "TARGET", "AVAILABILITY", "DOWN", "PLANNED", "OUTAGES", "MTTR", "BUDGET LEFT (MONTH)", "BUDGET LEFT (30D)", "DRILL"], rows),
  ];
  const outages = r.groups.flatMap((g) => g.intervals.filter((i) => i.kind !== "up").map((i) => ({ g: g.group, i })));
  if (outages.length) {
    lines.push("", "Outages and planned gaps:");
    for (const { g, i } of outages) {
      const len = (i.end ?? r.now) - i.start;
      const ttr = [i.timeToGrantMs !== null ? `granted after ${duration(i.timeToGrantMs)}` : "", i.timeToRecoverMs !== null ? `serving after ${duration(i.timeToRecoverMs)}` : "still down"].filter(Boolean).join(", ");
      lines.push(`  ${new Date(i.start).toISOString()}  ${g}  ${i.kind === "planned" ? `planned (${i.plannedBy})` : "DOWN"} ${duration(len)}: ${i.startReason}${i.endReason ? ` -> ${i.endReason}` : ""} (${ttr})`);
    }
  }
  const inexact = r.groups.filter((g) => !g.exact).map((g) => g.group);
  if (inexact.length) lines.push("", `(${inexact.join(", ")}: some intervals of a busy month were dropped; totals come from per-day buckets)`);
  return lines.join("\n");
}

export function registerReport(program: Command): void {
  program
    .command("report")
    .description("availability per group from the control plane's ledger: availability, downtime, outages, MTTR, error budget left, drills; every cluster (worst first) without an argument")
    .argument("[cluster]", "cluster id (site.name) or name")
    .option("--month <YYYY-MM>", "a whole calendar month (default: this month so far)")
    .option("--json", "print what the API said")
    .action(async (cluster: string | undefined, o: { month?: string; json?: boolean }) => {
      const client = new ApiClient(resolveConnection(program.opts()));
      const range = o.month !== undefined ? monthRange(o.month) : null;
      const q = range ? `?from=${range.from}&to=${range.to}` : "";
      const title = range ? range.title : `${MONTHS[new Date().getUTCMonth()]} ${new Date().getUTCFullYear()} so far`;
      if (cluster !== undefined) {
        const c = await client.resolveCluster(cluster);
        const r = await client.get(`${clusterPath(c.id)}/availability${q}`, ClusterAvailabilitySchema);
        out(o.json ? JSON.stringify(r, null, 2) : formatClusterReport(r, title));
        return;
      }
      if (!range) {
        const fleet = await client.get("/v1/availability", FleetAvailability);
        if (o.json) return out(JSON.stringify(fleet, null, 2));
        const rows = fleet.clusters.map((c) => {
          const w = c.worst;
          return [c.id, w?.group ?? "-", w ? formatAvailability(w.month.availability) : "-", w ? formatAvailability(w.rolling30d.availability) : "-", w ? budgetCell(w.rolling30d) : "-", c.groups.find((g) => g.drillProblem)?.drillProblem ?? ""];
        });
        out(fleet.clusters.length ? textTable(["CLUSTER", "WORST GROUP", "THIS MONTH", "30 DAYS", "BUDGET LEFT (30D)", "DRILL PROBLEM"], rows) : "no clusters yet");
        return;
      }
      // A past month for every cluster: one report each (at most 8 requests at a time).
      const all = await client.clusters();
      const reports: ClusterAvailability[] = new Array(all.length);
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(8, all.length) }, async () => {
          for (let i = next++; i < all.length; i = next++) reports[i] = await client.get(`${clusterPath(all[i]!.id)}/availability${q}`, ClusterAvailabilitySchema);
        }),
      );
      if (o.json) return out(JSON.stringify(reports, null, 2));
      const worst = (r: ClusterAvailability) => r.groups.filter((g) => g.availability !== null).sort((a, b) => a.availability! - b.availability!)[0] ?? null;
      const sorted = [...reports].sort((a, b) => (worst(a)?.availability ?? 101) - (worst(b)?.availability ?? 101) || a.cluster.localeCompare(b.cluster));
      const rows = sorted.map((r) => {
        const w = worst(r);
        return [r.cluster, w?.group ?? "-", formatAvailability(w?.availability ?? null), w ? duration(w.downMs) : "-", w ? String(w.outages) : "-", w ? budgetCell(w.budget.month) : "-"];
      });
      out(`${title}\n\n${reports.length ? textTable(["CLUSTER", "WORST GROUP", "AVAILABILITY", "DOWN", "OUTAGES", "BUDGET LEFT (MONTH)"], rows) : "no clusters yet"}`);
    });
}
