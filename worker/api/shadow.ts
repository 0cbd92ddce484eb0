// GET /v1/clusters/:id/shadow: shadow mode's report. Per group, every move the HA system in place
// (keepalived) made beside chime-ha's own decision: agreed or not, and how long before or after.
import { createRoute, z } from "@hono/zod-openapi";
import { ShadowReport } from "../../protocol/api.js";
import { clusterStub } from "../cluster/placement.js";
import { db, loadCluster } from "../db/registry.js";
import { requireRole } from "../http/auth.js";
import { ApiError } from "../http/problem.js";
import { type App, problemResponse, SECURITY } from "./app.js";

export function registerShadow(app: App): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/clusters/{id}/shadow",
      security: SECURITY,
      description: "Shadow mode (policy.shadow or a group's shadow): the incumbent's moves beside chime-ha's decisions.",
      request: { params: z.object({ id: z.string() }) },
      responses: {
        200: { description: "the shadow ledger, judged now", content: { "application/json": { schema: ShadowReport } } },
        404: problemResponse("no such cluster"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const row = await loadCluster(db(c.env), id);
      requireRole(c, "viewer", row.siteId);
      const report = await (await clusterStub(c.env, id)).shadow();
      if (!report) throw new ApiError(404, "Not found", { detail: `cluster ${id} has no live state` });
      return c.json({ cluster: id, site: row.siteId, ...report }, 200);
    },
  );
}
