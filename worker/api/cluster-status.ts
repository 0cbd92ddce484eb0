// GET /v1/clusters/:id/status: per group holder, epoch, lease left; per node alive, last
// heartbeat, probe health; the last decisions with their reasons.
import { createRoute, z } from "@hono/zod-openapi";
import { db, loadCluster } from "../db/registry.js";
import { requireRole } from "../http/auth.js";
import { ApiError } from "../http/problem.js";
import { type App, problemResponse, SECURITY } from "./app.js";
import { clusterStub } from "../cluster/placement.js";

export function registerClusterStatus(app: App): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/clusters/{id}/status",
      security: SECURITY,
      request: { params: z.object({ id: z.string() }) },
      responses: {
        200: { description: "live state from the cluster's Durable Object", content: { "application/json": { schema: z.object({}).passthrough() } } },
        404: problemResponse("no such cluster"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const row = await loadCluster(db(c.env), id);
      requireRole(c, "viewer", row.siteId);
      const status = await (await clusterStub(c.env, id)).status();
      if (!status) throw new ApiError(404, "Not found", { detail: `cluster ${id} has no live state` });
      return c.json({ cluster: id, site: row.siteId, ...status }, 200);
    },
  );
}
