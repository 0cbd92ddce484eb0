// GET /v1/whoami: the calling token's role and scope, so a client (the console) can check a token
// at sign-in and show only the actions the token may take.
import { createRoute } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import { WhoAmI } from "../../protocol/fleet.js";
import { db } from "../db/registry.js";
import { tokens } from "../db/schema.js";
import { requireRole } from "../http/auth.js";
import { type App, SECURITY } from "./app.js";

export function registerWhoAmI(app: App): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/whoami",
      security: SECURITY,
      description: "The calling token's role (admin, operator, viewer), site scope, label and expiry. Node tokens get 403.",
      responses: { 200: { description: "who the token is", content: { "application/json": { schema: WhoAmI } } } },
    }),
    async (c) => {
      const p = requireRole(c, "viewer");
      if (p.tokenId === "admin:bootstrap") return c.json({ role: p.kind, site: null, tokenId: p.tokenId, label: "bootstrap admin (ADMIN_TOKEN)", expiresAt: null }, 200);
      const row = await db(c.env).select({ label: tokens.label, expiresAt: tokens.expiresAt }).from(tokens).where(eq(tokens.id, p.tokenId)).get();
      return c.json({ role: p.kind, site: p.siteId, tokenId: p.tokenId, label: row?.label ?? "", expiresAt: row?.expiresAt ?? null }, 200);
    },
  );
}
