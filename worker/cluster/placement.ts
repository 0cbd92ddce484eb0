// Where a cluster's Durable Object lives. A site may carry a Cloudflare location hint (the object
// is created near the site's servers, not near whoever made the first API call) and a
// jurisdiction (the object runs and stores data only there: eu, fedramp). Objects never move, so a
// site's placement is fixed once it has clusters (api/sites.ts). Every stub for a cluster is made
// here; the node routes look the placement up once per isolate and minute, not per heartbeat.
import { eq } from "drizzle-orm";
import type { Jurisdiction, LocationHint } from "../../protocol/api.js";
import { db } from "../db/registry.js";
import { clusters, sites } from "../db/schema.js";
import type { Env } from "../env.js";
import { ApiError } from "../http/problem.js";

export interface Placement {
  locationHint: LocationHint | null;
  jurisdiction: Jurisdiction | null;
}

export const NO_PLACEMENT: Placement = { locationHint: null, jurisdiction: null };

/** The stub for a cluster's object: in the site's jurisdiction, created near its location hint. */
export function stubFor(env: Env, clusterId: string, placement: Placement) {
  const ns = placement.jurisdiction ? inJurisdiction(env, placement.jurisdiction) : env.CLUSTER;
  const id = ns.idFromName(clusterId);
  return placement.locationHint ? ns.get(id, { locationHint: placement.locationHint }) : ns.get(id);
}

function inJurisdiction(env: Env, j: Jurisdiction) {
  try {
    return env.CLUSTER.jurisdiction(j);
  } catch (err) {
    // Local workerd (npm start, tests) has no jurisdictions: refuse rather than ignore the constraint.
    throw new ApiError(501, "Not implemented", { detail: `this runtime cannot keep objects in jurisdiction '${j}' (${(err as Error).message}); use a site without a jurisdiction here` });
  }
}

const CACHE_MS = 60_000;
const cache = new Map<string, { placement: Placement; until: number }>();

/** The placement of a cluster's site (an unknown cluster gets none: its object answers "no such cluster"). */
export async function placementOf(env: Env, clusterId: string, now = Date.now()): Promise<Placement> {
  const hit = cache.get(clusterId);
  if (hit && hit.until > now) return hit.placement;
  const row = await db(env)
    .select({ locationHint: sites.locationHint, jurisdiction: sites.jurisdiction })
    .from(clusters)
    .innerJoin(sites, eq(sites.id, clusters.siteId))
    .where(eq(clusters.id, clusterId))
    .get();
  const placement: Placement = row ? { locationHint: row.locationHint ?? null, jurisdiction: row.jurisdiction ?? null } : NO_PLACEMENT;
  if (cache.size > 10_000) cache.clear();
  cache.set(clusterId, { placement, until: now + CACHE_MS });
  return placement;
}

/** Forget a cluster's placement (it was deleted; a new cluster of the same id may live elsewhere). */
export function forgetPlacement(clusterId: string): void {
  cache.delete(clusterId);
}

export async function clusterStub(env: Env, clusterId: string) {
  return stubFor(env, clusterId, await placementOf(env, clusterId));
}
