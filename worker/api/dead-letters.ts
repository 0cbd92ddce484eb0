// Dead letters: alerts whose delivery kept failing. Listed with their last error; replay sends
// them again in their original order (per destination and incident).
import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, eq, gt, inArray, type SQL } from "drizzle-orm";
import { DeadLetter, DeadLetterPage, ReplayRequest, ReplayResult } from "../../protocol/api.js";
import { replayDeadLetters } from "../alerts/replay.js";
import type { Alert } from "../alerts/types.js";
import { apiEvent, db } from "../db/registry.js";
import { alertOutbox, deadLetters, events, webhooks } from "../db/schema.js";
import { actorOf, requireRole } from "../http/auth.js";
import { type App, problemResponse, SECURITY } from "./app.js";
import { loadWebhook } from "./webhooks.js";
import { requireRoleFor } from "../http/auth.js";

/** Webhook ids this token may see: every one, or its site's. */
async function visibleWebhooks(d: ReturnType<typeof db>, siteId: string | null): Promise<string[]> {
  const rows = await d
    .select({ id: webhooks.id })
    .from(webhooks)
    .where(siteId === null ? undefined : eq(webhooks.siteId, siteId))
    .all();
  return rows.map((r) => r.id);
}

export function registerDeadLetters(app: App): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/dead-letters",
      security: SECURITY,
      request: { query: z.object({ webhook: z.string().max(100).optional(), cursor: z.string().regex(/^\d+$/, "cursor is an opaque number from nextCursor").optional(), limit: z.coerce.number().int().min(1).max(500).default(100) }) },
      responses: { 200: { description: "a page of dead letters, oldest first", content: { "application/json": { schema: DeadLetterPage } } }, 404: problemResponse("no such webhook") },
    }),
    async (c) => {
      const p = requireRole(c, "viewer");
      const q = c.req.valid("query");
      const d = db(c.env);
      let ids: string[];
      if (q.webhook !== undefined) {
        const w = await loadWebhook(d, q.webhook);
        requireRoleFor(c, "viewer", w.siteId);
        ids = [w.id];
      } else ids = await visibleWebhooks(d, p.siteId);
      if (ids.length === 0) return c.json({ deadLetters: [], nextCursor: null }, 200);
      const conds: SQL[] = [inArray(deadLetters.webhookId, ids)];
      if (q.cursor !== undefined) conds.push(gt(deadLetters.id, Number(q.cursor)));
      const rows = await d
        .select({ dl: deadLetters, alert: alertOutbox.alert, incident: alertOutbox.incident, phase: alertOutbox.phase })
        .from(deadLetters)
        .innerJoin(alertOutbox, eq(alertOutbox.id, deadLetters.outboxId))
        .where(and(...conds))
        .orderBy(asc(deadLetters.id))
        .limit(q.limit + 1)
        .all();
      const page = rows.slice(0, q.limit);
      const out: z.infer<typeof DeadLetter>[] = page.map((r) => ({
        id: r.dl.id,
        webhook: r.dl.webhookId,
        alertId: r.dl.outboxId,
        incident: r.incident,
        phase: r.phase,
        title: (r.alert as Alert).title,
        attempts: r.dl.attempts,
        lastError: r.dl.lastError,
        deadAt: r.dl.deadAt,
        replayedAt: r.dl.replayedAt,
      }));
      return c.json({ deadLetters: out, nextCursor: rows.length > q.limit ? String(page.at(-1)!.dl.id) : null }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/dead-letters/replay",
      security: SECURITY,
      description: "Send dead letters again (fresh attempts), in their original order. Filters: webhook, ids.",
      request: { body: { required: true, content: { "application/json": { schema: ReplayRequest } } } },
      responses: { 200: { description: "how many were queued again", content: { "application/json": { schema: ReplayResult } } }, 404: problemResponse("no such webhook") },
    }),
    async (c) => {
      const p = requireRole(c, "operator");
      const body = c.req.valid("json");
      const d = db(c.env);
      let ids: string[];
      let siteId = p.siteId;
      if (body.webhook !== undefined) {
        const w = await loadWebhook(d, body.webhook);
        requireRoleFor(c, "operator", w.siteId);
        ids = [w.id];
        siteId = w.siteId;
      } else ids = await visibleWebhooks(d, p.siteId);
      const replayed = await replayDeadLetters(c.env, { webhookIds: ids, ...(body.ids ? { ids: body.ids } : {}) }, Date.now());
      if (replayed > 0) {
        await d.insert(events).values(apiEvent({ siteId, clusterId: null, kind: "alerts.replayed", reason: `${replayed} dead-lettered alert(s) queued again${body.webhook ? ` for webhook ${body.webhook}` : ""}`, actor: actorOf(p) }));
      }
      return c.json({ replayed }, 200);
    },
  );
}
