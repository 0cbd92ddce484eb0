// GET /v1/metrics: Prometheus text exposition (0.0.4). Live state comes from each cluster's
// Durable Object (holder, epoch, lease left, node alive); counters from D1 (automatic failovers,
// alert deliveries, failed attempts, dead letters). Site-scoped tokens see their site only.
import { createRoute, z } from "@hono/zod-openapi";
import { and, count, eq, sql, sum } from "drizzle-orm";
import { db } from "../db/registry.js";
import { alertOutbox, clusters, deadLetters, events, webhooks } from "../db/schema.js";
import { requireRole } from "../http/auth.js";
import { type App, SECURITY } from "./app.js";
import { clusterStub } from "../cluster/placement.js";

const esc = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const labels = (l: Record<string, string>) => `{${Object.entries(l).map(([k, v]) => `${k}="${esc(v)}"`).join(",")}}`;

class Exposition {
  private families = new Map<string, { help: string; type: string; samples: string[] }>();
  add(name: string, type: "gauge" | "counter", help: string, l: Record<string, string>, value: number): void {
    let f = this.families.get(name);
    if (!f) this.families.set(name, (f = { help, type, samples: [] }));
    f.samples.push(`${name}${labels(l)} ${Number.isFinite(value) ? value : 0}`);
  }
  declare(name: string, type: "gauge" | "counter", help: string): void {
    if (!this.families.has(name)) this.families.set(name, { help, type, samples: [] });
  }
  text(): string {
    const out: string[] = [];
    for (const [name, f] of this.families) out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`, ...f.samples);
    return `${out.join("\n")}\n`;
  }
}

export function registerMetrics(app: App): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/metrics",
      security: SECURITY,
      description: "Prometheus text format: group holder/epoch/lease left, node alive, failovers, availability and error budget left (this month, last 30 days), alert deliveries and failures.",
      responses: { 200: { description: "Prometheus text exposition format 0.0.4", content: { "text/plain": { schema: z.string() } } } },
    }),
    async (c) => {
      const p = requireRole(c, "viewer");
      const d = db(c.env);
      const m = new Exposition();
      m.declare("chime_ha_group_holder", "gauge", "1 for the node holding the group's VIP.");
      m.declare("chime_ha_group_epoch", "gauge", "The group's current epoch (fencing token).");
      m.declare("chime_ha_group_lease_left_seconds", "gauge", "Lease left of the group's holder on the control plane's clock (-1: unknown or free).");
      m.declare("chime_ha_node_alive", "gauge", "1 when the node heartbeats within its lease TTL.");
      m.declare("chime_ha_failovers_total", "counter", "Automatic grants to a new holder after the old one failed.");
      m.declare("chime_ha_alert_deliveries_total", "counter", "Alerts delivered, per destination.");
      m.declare("chime_ha_alert_delivery_failures_total", "counter", "Failed delivery attempts, per destination.");
      m.declare("chime_ha_alert_dead_letters", "gauge", "Alerts in the dead-letter table not yet replayed, per destination.");
      m.declare("chime_ha_alert_pending", "gauge", "Alerts waiting for delivery, per destination.");
      m.declare("chime_ha_group_sla_target_ratio", "gauge", "The group's availability target (0.995 for 99.5 %).");
      m.declare("chime_ha_group_availability_ratio", "gauge", "Availability so far in the window (month: this calendar month; 30d: the last 30 days): up / (up + unplanned down).");
      m.declare("chime_ha_group_downtime_seconds", "gauge", "Unplanned downtime in the window so far.");
      m.declare("chime_ha_group_error_budget_remaining_seconds", "gauge", "Error budget left in the window (negative: overspent).");
      m.declare("chime_ha_group_error_budget_remaining_ratio", "gauge", "Error budget left as a share of the window's budget (1 untouched, 0 spent, below 0 overspent).");

      const rows = await d
        .select({ id: clusters.id, siteId: clusters.siteId })
        .from(clusters)
        .where(p.siteId === null ? undefined : eq(clusters.siteId, p.siteId))
        .orderBy(clusters.id)
        .all();
      const statuses = await Promise.all(rows.map(async (r) => (await clusterStub(c.env, r.id)).status()));
      const availability = await Promise.all(rows.map(async (r) => (await clusterStub(c.env, r.id)).availabilitySummary()));
      rows.forEach((r, i) => {
        for (const g of availability[i] ?? []) {
          const base = { site: r.siteId, cluster: r.id, group: g.group };
          m.add("chime_ha_group_sla_target_ratio", "gauge", "", base, g.target / 100);
          for (const [window, b] of [["month", g.month], ["30d", g.rolling30d]] as const) {
            // Not in service yet: no figure rather than a made-up 100 %.
            if (b.availability === null) continue;
            const l = { ...base, window };
            m.add("chime_ha_group_availability_ratio", "gauge", "", l, b.availability / 100);
            m.add("chime_ha_group_downtime_seconds", "gauge", "", l, b.usedMs / 1000);
            m.add("chime_ha_group_error_budget_remaining_seconds", "gauge", "", l, b.leftMs / 1000);
            m.add("chime_ha_group_error_budget_remaining_ratio", "gauge", "", l, b.leftRatio);
          }
        }
      });
      rows.forEach((r, i) => {
        const st = statuses[i];
        if (!st) return;
        const base = { site: r.siteId, cluster: r.id };
        for (const g of st.groups) {
          if (g.holder !== null) m.add("chime_ha_group_holder", "gauge", "", { ...base, group: g.name, node: g.holder }, 1);
          m.add("chime_ha_group_epoch", "gauge", "", { ...base, group: g.name }, g.epoch);
          m.add("chime_ha_group_lease_left_seconds", "gauge", "", { ...base, group: g.name }, g.leaseLeftMs === null ? -1 : g.leaseLeftMs / 1000);
        }
        for (const n of st.nodes) m.add("chime_ha_node_alive", "gauge", "", { ...base, node: n.name, role: n.role }, n.alive ? 1 : 0);
      });

      const failovers = await d
        .select({ clusterId: events.clusterId, siteId: events.siteId, group: events.group, n: count() })
        .from(events)
        .where(and(eq(events.kind, "group.granted"), eq(events.severity, "warning"), p.siteId === null ? undefined : eq(events.siteId, p.siteId)))
        .groupBy(events.clusterId, events.siteId, events.group)
        .all();
      for (const f of failovers) m.add("chime_ha_failovers_total", "counter", "", { site: f.siteId ?? "", cluster: f.clusterId ?? "", group: f.group ?? "" }, f.n);

      const hooks = await d
        .select({ id: webhooks.id, format: webhooks.format })
        .from(webhooks)
        .where(p.siteId === null ? undefined : eq(webhooks.siteId, p.siteId))
        .orderBy(webhooks.id)
        .all();
      if (hooks.length > 0) {
        const stats = await d
          .select({
            webhookId: alertOutbox.webhookId,
            delivered: sql<number>`sum(case when ${alertOutbox.status} = 'delivered' then 1 else 0 end)`,
            pending: sql<number>`sum(case when ${alertOutbox.status} = 'pending' then 1 else 0 end)`,
            // Every attempt but the successful one failed.
            failures: sum(sql`${alertOutbox.attempts} - case when ${alertOutbox.status} = 'delivered' then 1 else 0 end`),
          })
          .from(alertOutbox)
          .groupBy(alertOutbox.webhookId)
          .all();
        const dead = await d
          .select({ webhookId: deadLetters.webhookId, n: count() })
          .from(deadLetters)
          .where(sql`${deadLetters.replayedAt} is null`)
          .groupBy(deadLetters.webhookId)
          .all();
        const byId = new Map(stats.map((s) => [s.webhookId, s]));
        const deadBy = new Map(dead.map((x) => [x.webhookId, x.n]));
        for (const h of hooks) {
          const s = byId.get(h.id);
          const l = { webhook: h.id, format: h.format };
          m.add("chime_ha_alert_deliveries_total", "counter", "", l, Number(s?.delivered ?? 0));
          m.add("chime_ha_alert_delivery_failures_total", "counter", "", l, Number(s?.failures ?? 0));
          m.add("chime_ha_alert_dead_letters", "gauge", "", l, deadBy.get(h.id) ?? 0);
          m.add("chime_ha_alert_pending", "gauge", "", l, Number(s?.pending ?? 0));
        }
      }
      return c.text(m.text(), 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
    },
  );
}
