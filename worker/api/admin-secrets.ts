// Secrets at rest (worker/secrets/): how many sealed values each key holds, and the rotation that
// re-seals them all under the current key. Admin tokens that span every site only.
import { createRoute } from "@hono/zod-openapi";
import { SecretsReport } from "../../protocol/api.js";
import { apiEvent, db } from "../db/registry.js";
import { events } from "../db/schema.js";
import { actorOf, requireRoleFor } from "../http/auth.js";
import { secretsPass } from "../secrets/rotate.js";
import { type App, problemResponse, SECURITY } from "./app.js";

export function registerAdminSecrets(app: App): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/admin/secrets",
      security: SECURITY,
      description: "Sealed secrets per key in the registry (webhook signing secrets, fence credentials in specs).",
      responses: { 200: { description: "counts per key", content: { "application/json": { schema: SecretsReport } } }, 403: problemResponse("not an unscoped admin") },
    }),
    async (c) => {
      requireRoleFor(c, "admin", null);
      return c.json(await secretsPass(c.env, false), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/admin/secrets/rotate",
      security: SECURITY,
      description:
        "Re-seal every secret at rest under the current key (the first in CHIME_SECRET_KEYS), in D1 and in each cluster's Durable Object. When byKey names only the current key and failed is empty, older keys can be removed.",
      responses: { 200: { description: "what was re-sealed, and what holds each key now", content: { "application/json": { schema: SecretsReport } } }, 403: problemResponse("not an unscoped admin") },
    }),
    async (c) => {
      const p = requireRoleFor(c, "admin", null);
      const report = await secretsPass(c.env, true);
      await db(c.env)
        .insert(events)
        .values(apiEvent({ siteId: null, clusterId: null, kind: "secrets.rotated", reason: `secrets re-sealed under key ${report.currentKey}: ${report.resealed} changed, ${report.failed.length} failed`, actor: actorOf(p), severity: report.failed.length ? "warning" : "info" }));
      return c.json(report, 200);
    },
  );
}
