// Events with cursor pagination, oldest first: `nextCursor` is the id of the last row returned,
// so `--follow` just keeps asking with the cursor it was given.
import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, desc, eq, gt, gte, type SQL } from "drizzle-orm";
import { EventPage, EventsQuery } from "../../protocol/api.js";
import { db, loadCluster } from "../db/registry.js";
import { events } from "../db/schema.js";
import { requireRole } from "../http/auth.js";
import { ApiError } from "../http/problem.js";
import { type App, problemResponse, SECURITY } from "./app.js";

async function page(env: Parameters<typeof db>[0], where: SQL[], q: { cursor?: string; since?: number; limit: number; last?: number }) {
  const conds = [...where];
  if (q.cursor !== undefined) conds.push(gt(events.id, Number(q.cursor)));
  if (q.since !== undefined) conds.push(gte(events.at, q.since));
  const base = db(env)
    .select()
    .from(events)
    .where(conds.length ? and(...conds) : undefined);
  // `last`: the newest N, read newest first and turned around, so pages stay oldest first.
  const rows = q.last !== undefined ? (await base.orderBy(desc(events.id)).limit(q.last).all()).reverse() : await base.orderBy(asc(events.id)).limit(q.limit).all();
  const last = rows.at(-1);
  return {
    events: rows.map((r) => ({
      id: r.id,
      at: r.at,
      site: r.siteId,
      cluster: r.clusterId,
      kind: r.kind,
      severity: r.severity,
      group: r.group,
      node: r.node,
      epoch: r.epoch,
      reason: r.reason,
      actor: r.actor,
    })),
    nextCursor: last ? String(last.id) : (q.cursor ?? null),
  };
}

export function registerEvents(app: App): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/clusters/{id}/events",
      security: SECURITY,
      request: { params: z.object({ id: z.string() }), query: EventsQuery },
      responses: { 200: { description: "a page of events", content: { "application/json": { schema: EventPage } } }, 404: problemResponse("no such cluster") },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const q = c.req.valid("query");
      const row = await loadCluster(db(c.env), id);
      requireRole(c, "viewer", row.siteId);
      return c.json(await page(c.env, [eq(events.clusterId, id)], q), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/events",
      security: SECURITY,
      request: { query: EventsQuery },
      responses: { 200: { description: "a page of events across clusters", content: { "application/json": { schema: EventPage } } } },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const p = requireRole(c, "viewer");
      if (p.siteId !== null && q.site !== undefined && q.site !== p.siteId) {
        throw new ApiError(403, "Forbidden", { detail: `your token is scoped to site '${p.siteId}'` });
      }
      const site = p.siteId ?? q.site;
      return c.json(await page(c.env, site ? [eq(events.siteId, site)] : [], q), 200);
    },
  );
}
