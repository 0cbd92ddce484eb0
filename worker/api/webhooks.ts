// Alert destinations (webhooks) with their routing rule: site / cluster (absent: all) and the
// lowest severity sent. `POST /v1/webhooks/:id/test` queues a test alert through the same path
// as real ones (outbox, queue, retries, dead letters).
import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, eq, gt, type SQL } from "drizzle-orm";
import { PageQuery, Webhook, WebhookCreate, WebhookCreated, WebhookTestResult, WebhookUpdate } from "../../protocol/api.js";
import { enqueueDeliveries } from "../alerts/consumer.js";
import { draftAlert } from "../alerts/routing.js";
import { apiEvent, db, loadCluster, loadSite } from "../db/registry.js";
import { alertOutbox, deadLetters, events, incidents, webhooks } from "../db/schema.js";
import { actorOf, requireRole, requireRoleFor } from "../http/auth.js";
import { ApiError } from "../http/problem.js";
import { newId } from "../http/tokens.js";
import type { Env } from "../env.js";
import { webhookDestinationProblem } from "../net/resolve.js";
import { seal } from "../secrets/keyring.js";
import { webhookSecretContext } from "../secrets/rotate.js";
import { type App, problemResponse, SECURITY } from "./app.js";

type Row = typeof webhooks.$inferSelect;
export const webhookView = (r: Row): Webhook => ({
  id: r.id,
  format: r.format,
  url: r.url,
  label: r.label,
  site: r.siteId,
  cluster: r.clusterId,
  minSeverity: r.minSeverity,
  ratePerMinute: r.ratePerMinute,
  timeoutMs: r.timeoutMs,
  enabled: r.enabled,
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
});

const IdParam = z.object({ id: z.string() });

export async function loadWebhook(d: ReturnType<typeof db>, id: string): Promise<Row> {
  const row = await d.select().from(webhooks).where(eq(webhooks.id, id)).get();
  if (!row) throw new ApiError(404, "Not found", { detail: `no webhook '${id}'` });
  return row;
}

/** 400 naming `url` when the Worker must not send there (worker/net/url-policy.ts). */
async function checkDestination(env: Env, url: string): Promise<void> {
  const why = await webhookDestinationProblem(env, url, { fresh: true });
  if (why) throw new ApiError(400, "Invalid request", { detail: `webhook URL ${why}`, errors: [{ path: "url", message: why }] });
}

function randomSecret(): string {
  return [...crypto.getRandomValues(new Uint8Array(32))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export function registerWebhooks(app: App): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/webhooks",
      security: SECURITY,
      request: { query: PageQuery },
      responses: { 200: { description: "a page of webhooks (never their secrets)", content: { "application/json": { schema: z.object({ webhooks: z.array(Webhook), nextCursor: z.string().nullable() }) } } } },
    }),
    async (c) => {
      const p = requireRole(c, "viewer");
      const q = c.req.valid("query");
      const conds: SQL[] = [];
      if (q.cursor !== undefined) conds.push(gt(webhooks.id, q.cursor));
      if (p.siteId !== null) conds.push(eq(webhooks.siteId, p.siteId));
      const rows = await db(c.env)
        .select()
        .from(webhooks)
        .where(conds.length ? and(...conds) : undefined)
        .orderBy(asc(webhooks.id))
        .limit(q.limit + 1)
        .all();
      const page = rows.slice(0, q.limit);
      return c.json({ webhooks: page.map(webhookView), nextCursor: rows.length > q.limit ? page.at(-1)!.id : null }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/webhooks",
      security: SECURITY,
      description: "Add an alert destination. For generic-json the HMAC secret is in this reply only.",
      request: { body: { required: true, content: { "application/json": { schema: WebhookCreate } } } },
      responses: {
        201: { description: "created", content: { "application/json": { schema: WebhookCreated } } },
        400: problemResponse("invalid body"),
        404: problemResponse("no such site or cluster"),
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const d = db(c.env);
      let site = body.site ?? null;
      if (body.cluster !== undefined) {
        requireRole(c, "admin"); // before any lookup: a stranger learns nothing about what exists
        const cl = await loadCluster(d, body.cluster);
        if (site !== null && cl.siteId !== site) {
          throw new ApiError(400, "Invalid request", { errors: [{ path: "cluster", message: `cluster ${body.cluster} is in site '${cl.siteId}', not '${site}'` }] });
        }
        site = cl.siteId;
      }
      const p = requireRoleFor(c, "admin", site);
      if (site !== null && body.cluster === undefined) await loadSite(d, site);
      await checkDestination(c.env, body.url);
      if (body.format !== "generic-json" && body.secret !== undefined) {
        throw new ApiError(400, "Invalid request", { errors: [{ path: "secret", message: "only generic-json webhooks are signed" }] });
      }
      const secret = body.format === "generic-json" ? (body.secret ?? randomSecret()) : null;
      const now = Date.now();
      const id = newId("wh");
      const row: Row = {
        id,
        label: body.label,
        format: body.format,
        url: body.url,
        // The signing secret is shown in this reply only and stored sealed (worker/secrets/keyring.ts).
        secret: secret === null ? null : await seal(c.env, secret, webhookSecretContext(id)),
        siteId: site,
        clusterId: body.cluster ?? null,
        minSeverity: body.minSeverity,
        ratePerMinute: body.ratePerMinute,
        timeoutMs: body.timeoutMs,
        enabled: body.enabled,
        createdAt: now,
        updatedAt: now,
      };
      await d.batch([
        d.insert(webhooks).values(row),
        d.insert(events).values(
          apiEvent({ siteId: site, clusterId: row.clusterId, kind: "webhook.created", reason: `${row.format} webhook ${row.id} created (${row.minSeverity} and above${row.clusterId ? `, cluster ${row.clusterId}` : site ? `, site ${site}` : ""})`, actor: actorOf(p) }),
        ),
      ]);
      return c.json({ webhook: webhookView(row), secret }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/webhooks/{id}",
      security: SECURITY,
      request: { params: IdParam },
      responses: { 200: { description: "webhook", content: { "application/json": { schema: Webhook } } }, 404: problemResponse("no such webhook") },
    }),
    async (c) => {
      requireRole(c, "viewer");
      const row = await loadWebhook(db(c.env), c.req.valid("param").id);
      requireRoleFor(c, "viewer", row.siteId);
      return c.json(webhookView(row), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/v1/webhooks/{id}",
      security: SECURITY,
      request: { params: IdParam, body: { required: true, content: { "application/json": { schema: WebhookUpdate } } } },
      responses: { 200: { description: "updated", content: { "application/json": { schema: Webhook } } }, 404: problemResponse("no such webhook") },
    }),
    async (c) => {
      requireRole(c, "admin");
      const d = db(c.env);
      const row = await loadWebhook(d, c.req.valid("param").id);
      const p = requireRoleFor(c, "admin", row.siteId);
      const body = c.req.valid("json");
      if (body.url !== undefined) await checkDestination(c.env, body.url);
      const next: Row = { ...row, ...Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined)), updatedAt: Date.now() };
      await d.batch([
        d.update(webhooks).set(next).where(eq(webhooks.id, row.id)),
        d.insert(events).values(apiEvent({ siteId: row.siteId, clusterId: row.clusterId, kind: "webhook.updated", reason: `webhook ${row.id} updated (${Object.keys(body).join(", ") || "no fields"})`, actor: actorOf(p) })),
      ]);
      return c.json(webhookView(next), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/v1/webhooks/{id}",
      security: SECURITY,
      description: "Remove a destination with its pending alerts, incidents and dead letters.",
      request: { params: IdParam },
      responses: { 204: { description: "deleted" }, 404: problemResponse("no such webhook") },
    }),
    async (c) => {
      requireRole(c, "admin");
      const d = db(c.env);
      const row = await loadWebhook(d, c.req.valid("param").id);
      const p = requireRoleFor(c, "admin", row.siteId);
      await d.batch([
        d.delete(webhooks).where(eq(webhooks.id, row.id)),
        d.delete(alertOutbox).where(eq(alertOutbox.webhookId, row.id)),
        d.delete(incidents).where(eq(incidents.webhookId, row.id)),
        d.delete(deadLetters).where(eq(deadLetters.webhookId, row.id)),
        d.insert(events).values(apiEvent({ siteId: row.siteId, clusterId: row.clusterId, kind: "webhook.deleted", reason: `webhook ${row.id} deleted`, actor: actorOf(p) })),
      ]);
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/webhooks/{id}/test",
      security: SECURITY,
      description: "Queue a test alert to this destination (through the same outbox, retries and dead letters).",
      request: { params: IdParam },
      responses: { 202: { description: "queued", content: { "application/json": { schema: WebhookTestResult } } }, 404: problemResponse("no such webhook") },
    }),
    async (c) => {
      requireRole(c, "operator");
      const d = db(c.env);
      const row = await loadWebhook(d, c.req.valid("param").id);
      const p = requireRoleFor(c, "operator", row.siteId);
      const now = Date.now();
      const key = `test:${crypto.randomUUID()}`;
      const alert = draftAlert(
        { id: 0, at: now, siteId: row.siteId, clusterId: row.clusterId, kind: "webhook.test", severity: "info", group: null, node: null, epoch: null, reason: `test message requested by ${actorOf(p)}`, actor: actorOf(p) },
        "test",
        key,
        0,
      );
      const [inserted] = await d
        .insert(alertOutbox)
        .values({ webhookId: row.id, eventKey: key, clusterId: row.clusterId, incident: key, phase: "test", alert, status: "pending", createdAt: now })
        .returning({ id: alertOutbox.id })
        .all();
      await d.insert(events).values(apiEvent({ siteId: row.siteId, clusterId: row.clusterId, kind: "webhook.tested", reason: `test alert #${inserted!.id} queued for webhook ${row.id}`, actor: actorOf(p) }));
      await enqueueDeliveries(c.env, [inserted!.id]);
      return c.json({ queued: true as const, alertId: inserted!.id }, 202);
    },
  );
}
