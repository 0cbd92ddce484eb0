// Sites: where clusters live. Admins create and delete them; site-scoped tokens see only theirs.
// A site's placement (location hint, jurisdiction) decides where its clusters' Durable Objects
// run (cluster/placement.ts); it can change only while the site has no clusters.
import { createRoute, z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import { type Jurisdiction, type LocationHint, Site, SiteCreate, SiteUpdate } from "../../protocol/api.js";
import { apiEvent, db, loadSite } from "../db/registry.js";
import { clusters, events, sites } from "../db/schema.js";
import { actorOf, requireRole } from "../http/auth.js";
import { ApiError } from "../http/problem.js";
import { type App, problemResponse, SECURITY } from "./app.js";

const IdParam = z.object({ id: z.string() });

const placementText = (p: { locationHint: LocationHint | null; jurisdiction: Jurisdiction | null }) =>
  [p.jurisdiction ? ` in jurisdiction ${p.jurisdiction}` : "", p.locationHint ? ` near ${p.locationHint}` : ""].join("");

export function registerSites(app: App): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/sites",
      security: SECURITY,
      responses: { 200: { description: "sites", content: { "application/json": { schema: z.object({ sites: z.array(Site) }) } } } },
    }),
    async (c) => {
      const p = requireRole(c, "viewer");
      const rows = await db(c.env).select().from(sites).orderBy(sites.id).all();
      return c.json({ sites: rows.filter((r) => p.siteId === null || r.id === p.siteId) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/sites",
      security: SECURITY,
      request: { body: { required: true, content: { "application/json": { schema: SiteCreate } } } },
      responses: { 201: { description: "created", content: { "application/json": { schema: Site } } }, 409: problemResponse("exists") },
    }),
    async (c) => {
      const p = requireRole(c, "admin");
      const body = c.req.valid("json");
      const d = db(c.env);
      if (await d.select().from(sites).where(eq(sites.id, body.id)).get()) {
        throw new ApiError(409, "Conflict", { detail: `site '${body.id}' exists` });
      }
      const row = { id: body.id, description: body.description, createdAt: Date.now(), locationHint: body.locationHint ?? null, jurisdiction: body.jurisdiction ?? null };
      await d.batch([
        d.insert(sites).values(row),
        d.insert(events).values(apiEvent({ siteId: row.id, clusterId: null, kind: "site.created", reason: `site ${row.id} created${placementText(row)}`, actor: actorOf(p) })),
      ]);
      return c.json(row, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/sites/{id}",
      security: SECURITY,
      request: { params: IdParam },
      responses: { 200: { description: "site", content: { "application/json": { schema: Site } } }, 404: problemResponse("no such site") },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      requireRole(c, "viewer", id);
      return c.json(await loadSite(db(c.env), id), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/v1/sites/{id}",
      security: SECURITY,
      request: { params: IdParam, body: { required: true, content: { "application/json": { schema: SiteUpdate } } } },
      responses: {
        200: { description: "updated", content: { "application/json": { schema: Site } } },
        400: problemResponse("invalid placement"),
        404: problemResponse("no such site"),
        409: problemResponse("placement change on a site with clusters"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const p = requireRole(c, "admin", id);
      const body = c.req.valid("json");
      const d = db(c.env);
      const site = await loadSite(d, id);
      const next = {
        description: body.description ?? site.description,
        locationHint: body.locationHint === undefined ? site.locationHint : body.locationHint,
        jurisdiction: body.jurisdiction === undefined ? site.jurisdiction : body.jurisdiction,
      };
      const placementChanged = next.locationHint !== site.locationHint || next.jurisdiction !== site.jurisdiction;
      if (placementChanged) {
        // The combined placement must still be valid (a new jurisdiction may exclude the old hint).
        const check = SiteUpdate.safeParse({ locationHint: next.locationHint, jurisdiction: next.jurisdiction });
        if (!check.success) throw new ApiError(400, "Invalid placement", { detail: check.error.issues[0]!.message, errors: [{ path: "locationHint", message: check.error.issues[0]!.message }] });
        const has = await d.select({ id: clusters.id }).from(clusters).where(eq(clusters.siteId, id)).limit(1).all();
        if (has.length > 0) throw new ApiError(409, "Conflict", { detail: `site '${id}' has clusters: their Durable Objects cannot move, so its location hint and jurisdiction are fixed (create a new site)` });
      }
      const what = [body.description !== undefined && body.description !== site.description ? "description" : null, placementChanged ? `placement${placementText(next) || " cleared"}` : null].filter(Boolean);
      await d.batch([
        d.update(sites).set(next).where(eq(sites.id, id)),
        d.insert(events).values(apiEvent({ siteId: id, clusterId: null, kind: "site.updated", reason: `site ${id}: ${what.length ? what.join(", ") : "nothing"} changed`, actor: actorOf(p) })),
      ]);
      return c.json({ ...site, ...next }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/v1/sites/{id}",
      security: SECURITY,
      request: { params: IdParam },
      responses: { 204: { description: "deleted" }, 404: problemResponse("no such site"), 409: problemResponse("site has clusters") },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const p = requireRole(c, "admin", id);
      const d = db(c.env);
      await loadSite(d, id);
      const has = await d.select({ id: clusters.id }).from(clusters).where(eq(clusters.siteId, id)).limit(1).all();
      if (has.length > 0) throw new ApiError(409, "Conflict", { detail: `site '${id}' still has clusters; delete them first` });
      await d.batch([
        d.delete(sites).where(eq(sites.id, id)),
        d.insert(events).values(apiEvent({ siteId: id, clusterId: null, kind: "site.deleted", reason: `site ${id} deleted`, actor: actorOf(p) })),
      ]);
      return c.body(null, 204);
    },
  );
}
