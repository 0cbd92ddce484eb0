// API tokens: admin, operator, viewer, optionally scoped to one site, with optional expiry.
// Created here (the token is in the reply only; D1 keeps its SHA-256) and revoked here. Node
// tokens are minted with their cluster and rotated per node; revoking one here also tells the
// cluster's Durable Object, which checks node tokens itself.
import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, eq, gt, like, or, type SQL } from "drizzle-orm";
import { PageQuery, Token, TokenCreate, TokenCreated } from "../../protocol/api.js";
import { apiEvent, db, loadSite } from "../db/registry.js";
import { events, tokens } from "../db/schema.js";
import { actorOf, requireRole, requireRoleFor } from "../http/auth.js";
import { ApiError } from "../http/problem.js";
import { newId, newToken, sha256Hex } from "../http/tokens.js";
import { type App, problemResponse, SECURITY } from "./app.js";
import { clusterStub } from "../cluster/placement.js";

type Row = typeof tokens.$inferSelect;
const view = (r: Row): Token => ({
  id: r.id,
  kind: r.kind,
  site: r.siteId,
  cluster: r.clusterId,
  node: r.nodeName,
  label: r.label,
  createdAt: r.createdAt,
  expiresAt: r.expiresAt,
  revokedAt: r.revokedAt,
  ratePerMinute: r.ratePerMinute,
});

/** The site a token belongs to (node tokens: their cluster's site, the id's prefix). */
const siteOf = (r: Row): string | null => r.siteId ?? (r.clusterId ? r.clusterId.slice(0, r.clusterId.indexOf(".")) : null);

export function registerTokens(app: App): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/tokens",
      security: SECURITY,
      description: "Tokens (never their values), oldest id first; a site-scoped admin sees its site's only.",
      request: { query: PageQuery },
      responses: { 200: { description: "a page of tokens", content: { "application/json": { schema: z.object({ tokens: z.array(Token), nextCursor: z.string().nullable() }) } } } },
    }),
    async (c) => {
      const p = requireRole(c, "admin");
      const q = c.req.valid("query");
      const conds: SQL[] = [];
      if (q.cursor !== undefined) conds.push(gt(tokens.id, q.cursor));
      if (p.siteId !== null) conds.push(or(eq(tokens.siteId, p.siteId), like(tokens.clusterId, `${p.siteId}.%`))!);
      const rows = await db(c.env)
        .select()
        .from(tokens)
        .where(conds.length ? and(...conds) : undefined)
        .orderBy(asc(tokens.id))
        .limit(q.limit + 1)
        .all();
      const page = rows.slice(0, q.limit);
      return c.json({ tokens: page.map(view), nextCursor: rows.length > q.limit ? page.at(-1)!.id : null }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/tokens",
      security: SECURITY,
      description: "Create an admin, operator or viewer token. The token is in this reply only.",
      request: { body: { required: true, content: { "application/json": { schema: TokenCreate } } } },
      responses: {
        201: { description: "created; keep the token now, it is never shown again", content: { "application/json": { schema: TokenCreated } } },
        404: problemResponse("no such site"),
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const p = requireRoleFor(c, "admin", body.site ?? null);
      const d = db(c.env);
      if (body.site !== undefined) await loadSite(d, body.site);
      const now = Date.now();
      const token = newToken(body.role);
      const row: Row = {
        id: newId("tok"),
        kind: body.role,
        siteId: body.site ?? null,
        clusterId: null,
        nodeName: null,
        label: body.label,
        hash: await sha256Hex(token),
        createdAt: now,
        expiresAt: body.expiresInSeconds !== undefined ? now + body.expiresInSeconds * 1000 : null,
        revokedAt: null,
        ratePerMinute: body.ratePerMinute ?? null,
      };
      await d.batch([
        d.insert(tokens).values(row),
        d.insert(events).values(
          apiEvent({ siteId: row.siteId, clusterId: null, kind: "token.created", reason: `${row.kind} token ${row.id}${row.siteId ? ` for site ${row.siteId}` : ""} created${row.label ? ` (${row.label})` : ""}`, actor: actorOf(p) }),
        ),
      ]);
      return c.json({ token, info: view(row) }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/tokens/{id}",
      security: SECURITY,
      request: { params: z.object({ id: z.string() }) },
      responses: { 200: { description: "token (never its value)", content: { "application/json": { schema: Token } } }, 404: problemResponse("no such token") },
    }),
    async (c) => {
      requireRole(c, "admin");
      const row = await db(c.env).select().from(tokens).where(eq(tokens.id, c.req.valid("param").id)).get();
      if (!row) throw new ApiError(404, "Not found", { detail: `no token '${c.req.valid("param").id}'` });
      requireRoleFor(c, "admin", siteOf(row));
      return c.json(view(row), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/v1/tokens/{id}",
      security: SECURITY,
      description: "Revoke a token at once (node tokens too; rotate a node's token to give it a new one).",
      request: { params: z.object({ id: z.string() }) },
      responses: { 204: { description: "revoked" }, 404: problemResponse("no such token"), 409: problemResponse("already revoked") },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      requireRole(c, "admin");
      const d = db(c.env);
      const row = await d.select().from(tokens).where(eq(tokens.id, id)).get();
      if (!row) throw new ApiError(404, "Not found", { detail: `no token '${id}'` });
      const p = requireRoleFor(c, "admin", siteOf(row));
      if (row.revokedAt !== null) throw new ApiError(409, "Conflict", { detail: `token ${id} was revoked at ${new Date(row.revokedAt).toISOString()}` });
      const now = Date.now();
      await d.batch([
        d.update(tokens).set({ revokedAt: now }).where(eq(tokens.id, id)),
        d.insert(events).values(
          apiEvent({ siteId: siteOf(row), clusterId: row.clusterId, node: row.nodeName, kind: "token.revoked", reason: `${row.kind} token ${id} revoked`, actor: actorOf(p) }),
        ),
      ]);
      if (row.kind === "node" && row.clusterId && row.nodeName) {
        // The Durable Object checks node tokens itself: it forgets this one (current or in grace).
        await (await clusterStub(c.env, row.clusterId)).revokeNodeToken(row.nodeName, row.hash);
      }
      return c.body(null, 204);
    },
  );
}
