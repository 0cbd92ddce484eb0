// Small registry queries shared by the API resources.
import { and, eq } from "drizzle-orm";
import { drizzle, type DrizzleD1Database } from "drizzle-orm/d1";
import { ClusterSpec } from "../../protocol/spec.js";
import type { Env } from "../env.js";
import { ApiError } from "../http/problem.js";
import { redactSpec } from "../secrets/spec-secrets.js";
import { clusters, events, sites } from "./schema.js";

export type Db = DrizzleD1Database;
export const db = (env: Env): Db => drizzle(env.DB);

export type ClusterRow = typeof clusters.$inferSelect;

export async function loadCluster(d: Db, id: string): Promise<ClusterRow & { specParsed: ClusterSpec }> {
  const row = await d.select().from(clusters).where(eq(clusters.id, id)).get();
  if (!row) throw new ApiError(404, "Not found", { detail: `no cluster '${id}'` });
  // Stored specs were validated on the way in; parse again to get typed values with defaults.
  return { ...row, specParsed: ClusterSpec.parse(row.spec) };
}

export async function loadSite(d: Db, id: string) {
  const row = await d.select().from(sites).where(eq(sites.id, id)).get();
  if (!row) throw new ApiError(404, "Not found", { detail: `no site '${id}'` });
  return row;
}

export function clusterView(row: ClusterRow, withSpec: boolean) {
  return {
    id: row.id,
    site: row.siteId,
    name: row.name,
    specVersion: row.specVersion,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    // Fence credentials are never shown (worker/secrets/spec-secrets.ts).
    ...(withSpec ? { spec: redactSpec(row.spec) } : {}),
  };
}

/** An API change as an event row (the engine's decisions are written by the Durable Object). */
export function apiEvent(fields: {
  siteId: string | null;
  clusterId: string | null;
  kind: string;
  reason: string;
  actor: string;
  severity?: "info" | "warning" | "critical";
  node?: string | null;
  group?: string | null;
}) {
  return {
    at: Date.now(),
    siteId: fields.siteId,
    clusterId: fields.clusterId,
    kind: fields.kind,
    severity: fields.severity ?? "info",
    group: fields.group ?? null,
    node: fields.node ?? null,
    epoch: null,
    reason: fields.reason,
    actor: fields.actor,
  } satisfies typeof events.$inferInsert;
}

export { and, eq };
