// The audit log as NDJSON (one protocol/audit.ts AuditEntry per line, oldest first) and a
// server-side check of the whole chain. Unscoped admins only: the log spans every site.
import { createRoute, z } from "@hono/zod-openapi";
import { asc, gt } from "drizzle-orm";
import { AuditQuery } from "../../protocol/api.js";
import { AUDIT_GENESIS, AuditEntry, verifyAuditChain } from "../../protocol/audit.js";
import { sealAudit } from "../audit/log.js";
import { db } from "../db/registry.js";
import { auditLog } from "../db/schema.js";
import { requireRoleFor } from "../http/auth.js";
import { type App, problemResponse, SECURITY } from "./app.js";

const Verdict = z.object({
  ok: z.boolean(),
  checked: z.number(),
  head: z.object({ id: z.number(), hash: z.string() }).nullable(),
  problem: z.object({ id: z.number(), reason: z.string() }).nullable(),
});

type Row = typeof auditLog.$inferSelect;
const entry = (r: Row): AuditEntry => ({ id: r.id, at: r.at, source: r.source, actor: r.actor, action: r.action, target: r.target, status: r.status, detail: r.detail, prevHash: r.prevHash ?? "", hash: r.hash ?? "" });

export function registerAudit(app: App): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/audit",
      security: SECURITY,
      description:
        "Every mutating API call and every engine decision, oldest first, as NDJSON (one entry per line). Each entry carries prevHash and hash (SHA-256 chain, protocol/audit.ts): verify a page from its first prevHash, or the whole log from 64 zeros. Page with after=<last id>; X-Audit-Head is the newest sealed row (keep it to catch a rewritten tail later).",
      request: { query: AuditQuery },
      responses: { 200: { description: "NDJSON of audit entries", content: { "application/x-ndjson": { schema: AuditEntry } } }, 403: problemResponse("not an unscoped admin") },
    }),
    async (c) => {
      requireRoleFor(c, "admin", null);
      const q = c.req.valid("query");
      const { head } = await sealAudit(c.env.DB);
      const rows = await db(c.env).select().from(auditLog).where(gt(auditLog.id, q.after)).orderBy(asc(auditLog.id)).limit(q.limit).all();
      const body = rows.map((r) => JSON.stringify(entry(r))).join("\n") + (rows.length ? "\n" : "");
      const headers: Record<string, string> = { "content-type": "application/x-ndjson" };
      if (head) headers["x-audit-head"] = `${head.id} ${head.hash}`;
      if (rows.length) headers["x-audit-next-after"] = String(rows.at(-1)!.id);
      return new Response(body, { status: 200, headers }) as never;
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/audit/verify",
      security: SECURITY,
      description: "Walk the whole chain from the first row: ok, or the first row that was changed or follows a removed one.",
      responses: { 200: { description: "the verdict", content: { "application/json": { schema: Verdict } } }, 403: problemResponse("not an unscoped admin") },
    }),
    async (c) => {
      requireRoleFor(c, "admin", null);
      await sealAudit(c.env.DB);
      let prev = AUDIT_GENESIS;
      let after = 0;
      let checked = 0;
      let head: { id: number; hash: string } | null = null;
      for (;;) {
        const rows = (await db(c.env).select().from(auditLog).where(gt(auditLog.id, after)).orderBy(asc(auditLog.id)).limit(1000).all()).map(entry);
        if (rows.length === 0) break;
        const v = await verifyAuditChain(rows, prev);
        if (!v.ok) return c.json({ ok: false, checked: checked + v.checked, head: v.head ?? head, problem: v.problem }, 200);
        checked += v.checked;
        head = v.head;
        prev = rows.at(-1)!.hash;
        after = rows.at(-1)!.id;
      }
      return c.json({ ok: true, checked, head, problem: null }, 200);
    },
  );
}
