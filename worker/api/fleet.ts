// GET /v1/fleet: every site and cluster the caller may see, each cluster rolled up to one state
// (no holder / unknown / degraded / healthy) with its reasons, worst first. The body carries no
// time-varying figures, so it has a stable ETag: pollers send If-None-Match and get 304 until
// something changes (the console's fleet view polls this way).
import { createRoute, z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import { type Fleet, Fleet as FleetSchema, type FleetCluster } from "../../protocol/fleet.js";
import { compareRollups, ROLLUP_STATES, rollUp } from "../../protocol/rollup.js";
import { db } from "../db/registry.js";
import { clusters, sites } from "../db/schema.js";
import { requireRole } from "../http/auth.js";
import { ApiError } from "../http/problem.js";
import { sha256Hex } from "../http/tokens.js";
import { type App, SECURITY } from "./app.js";
import { clusterStub } from "../cluster/placement.js";

/** Durable Object status calls in flight at once. */
const FAN_OUT = 32;

async function mapLimited<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** True when If-None-Match names this ETag (a list, weak or strong, or "*"). */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  const bare = (t: string) => t.trim().replace(/^W\//, "");
  return ifNoneMatch.split(",").some((t) => t.trim() === "*" || bare(t) === bare(etag));
}

export function registerFleet(app: App): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/fleet",
      security: SECURITY,
      description:
        "Every site and cluster you may see, each cluster rolled up: no-holder (a group has no holder), unknown (no live state), degraded (every group held, but a holder, node or probe is not well, or maintenance), healthy (every group held by a live node whose probe passes). Sorted worst first. Send If-None-Match with the last ETag to get 304 while nothing changed.",
      request: {
        query: z.object({ site: z.string().optional() }),
        headers: z.object({ "if-none-match": z.string().optional() }),
      },
      responses: {
        200: { description: "the fleet, worst first; ETag header", content: { "application/json": { schema: FleetSchema } } },
        304: { description: "unchanged since the ETag sent in If-None-Match" },
      },
    }),
    async (c) => {
      const p = requireRole(c, "viewer");
      const { site } = c.req.valid("query");
      if (p.siteId !== null && site !== undefined && site !== p.siteId) throw new ApiError(403, "Forbidden", { detail: `your token is scoped to site '${p.siteId}'` });
      const only = p.siteId ?? site;
      const d = db(c.env);
      const [siteRows, clusterRows] = await Promise.all([
        d.select().from(sites).where(only === undefined ? undefined : eq(sites.id, only)).orderBy(sites.id).all(),
        d.select().from(clusters).where(only === undefined ? undefined : eq(clusters.siteId, only)).orderBy(clusters.id).all(),
      ]);
      const rolled = await mapLimited(clusterRows, FAN_OUT, async (row) => {
        const st = await (await clusterStub(c.env, row.id)).status();
        const rollup = rollUp(st);
        const holders: Record<string, string | null> = {};
        for (const g of st?.groups ?? []) holders[g.name] = g.holder;
        return { id: row.id, rollup, view: { id: row.id, site: row.siteId, name: row.name, specVersion: row.specVersion, ...rollup, holders } satisfies FleetCluster };
      });
      rolled.sort(compareRollups);
      const counts = Object.fromEntries(ROLLUP_STATES.map((s) => [s, 0])) as Fleet["counts"];
      for (const r of rolled) counts[r.rollup.state]++;
      const body: Fleet = {
        sites: siteRows.map((s) => ({ id: s.id, description: s.description, clusters: clusterRows.filter((r) => r.siteId === s.id).length })),
        clusters: rolled.map((r) => r.view),
        counts,
      };
      const text = JSON.stringify(body);
      const etag = `"fleet-${(await sha256Hex(text)).slice(0, 32)}"`;
      c.header("ETag", etag);
      c.header("Cache-Control", "no-cache");
      if (etagMatches(c.req.header("if-none-match"), etag)) return c.body(null, 304);
      return c.json(body, 200);
    },
  );
}
