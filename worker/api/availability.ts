// The availability ledger (engine/ledger.ts) over the API: per cluster and window, and the fleet
// roll-up (this month and the last 30 days per group, worst first). Both read the cluster's
// Durable Object; neither writes anything.
import { createRoute, z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import { AvailabilityQuery, ClusterAvailability, type FleetAvailabilityCluster, FleetAvailability, MAX_REPORT_DAYS, parseTimeParam } from "../../protocol/availability.js";
import { clusterStub } from "../cluster/placement.js";
import { db, loadCluster } from "../db/registry.js";
import { clusters } from "../db/schema.js";
import { requireRole } from "../http/auth.js";
import { ApiError } from "../http/problem.js";
import { monthStartOf } from "../engine/ledger.js";
import { type App, problemResponse, SECURITY } from "./app.js";

/** Durable Object calls in flight at once for the fleet roll-up. */
const FAN_OUT = 32;

function timeParam(name: "from" | "to", v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const ms = parseTimeParam(v);
  if (ms === null) throw new ApiError(400, "Invalid request", { detail: `${name}: not a time`, errors: [{ path: `query.${name}`, message: "must be epoch milliseconds or an ISO 8601 date/time like 2026-11-01 or 2026-11-01T02:00:00Z" }] });
  return ms;
}

/** Least 30-day budget left first, then lowest 30-day availability; groups not yet in service last. */
function worstKey(c: FleetAvailabilityCluster): [number, number] {
  const w = c.worst;
  return w && w.rolling30d.availability !== null ? [w.rolling30d.leftRatio, w.rolling30d.availability] : [Infinity, Infinity];
}

export function registerAvailability(app: App): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/clusters/{id}/availability",
      security: SECURITY,
      description:
        "The availability ledger per group over [from, to] (default: this month so far): availability (up / (up + unplanned down)), downtime, planned time (switchovers, drains, drills), every interval with the reason it began and ended, outages with time to grant and to recover, MTTR; the error budget of the calendar month and the last 30 days, burn rates, drills.",
      request: { params: z.object({ id: z.string() }), query: AvailabilityQuery },
      responses: {
        200: { description: "per group", content: { "application/json": { schema: ClusterAvailability } } },
        400: problemResponse("from/to not a time, from after to, or a window longer than 400 days"),
        404: problemResponse("no such cluster"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const q = c.req.valid("query");
      const row = await loadCluster(db(c.env), id);
      requireRole(c, "viewer", row.siteId);
      const now = Date.now();
      const from = timeParam("from", q.from, monthStartOf(now));
      const to = timeParam("to", q.to, now);
      if (from >= to) throw new ApiError(400, "Invalid request", { detail: "from must be before to", errors: [{ path: "query.from", message: "must be before to" }] });
      if (to - from > MAX_REPORT_DAYS * 86_400_000) throw new ApiError(400, "Invalid request", { detail: `a window of at most ${MAX_REPORT_DAYS} days`, errors: [{ path: "query.from", message: `at most ${MAX_REPORT_DAYS} days before to` }] });
      const report = await (await clusterStub(c.env, id)).availability(from, to);
      if (!report) throw new ApiError(404, "Not found", { detail: `cluster ${id} has no live state` });
      return c.json({ cluster: id, site: row.siteId, ...report }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/availability",
      security: SECURITY,
      description: "Every cluster you may see with each group's availability and error budget left, this calendar month and the last 30 days; worst first (least 30-day budget left).",
      request: { query: z.object({ site: z.string().optional() }) },
      responses: { 200: { description: "worst first", content: { "application/json": { schema: FleetAvailability } } }, 403: problemResponse("a site-scoped token asked for another site") },
    }),
    async (c) => {
      const p = requireRole(c, "viewer");
      const { site } = c.req.valid("query");
      if (p.siteId !== null && site !== undefined && site !== p.siteId) throw new ApiError(403, "Forbidden", { detail: `your token is scoped to site '${p.siteId}'` });
      const only = p.siteId ?? site;
      const rows = await db(c.env).select().from(clusters).where(only === undefined ? undefined : eq(clusters.siteId, only)).orderBy(clusters.id).all();
      const out: FleetAvailabilityCluster[] = new Array(rows.length);
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < rows.length; i = next++) {
          const r = rows[i]!;
          const groups = (await (await clusterStub(c.env, r.id)).availabilitySummary()) ?? [];
          const inService = groups.filter((g) => g.rolling30d.availability !== null);
          const worst = inService.reduce<(typeof groups)[number] | null>((w, g) => (w === null || g.rolling30d.leftRatio < w.rolling30d.leftRatio ? g : w), null);
          out[i] = { id: r.id, site: r.siteId, name: r.name, worst, groups };
        }
      };
      await Promise.all(Array.from({ length: Math.min(FAN_OUT, rows.length) }, worker));
      out.sort((a, b) => {
        const [ka, kb] = [worstKey(a), worstKey(b)];
        return ka[0] - kb[0] || ka[1] - kb[1] || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
      });
      return c.json({ now: Date.now(), clusters: out }, 200);
    },
  );
}
