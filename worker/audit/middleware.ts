// Every mutating API call (POST, PUT, PATCH, DELETE) is an audit row: who, what route, on what,
// the status and (for refusals) why. Unauthenticated (401) and rate-limited (429) attempts are
// left out: they change nothing and would let anyone fill the log. Node heartbeats are not
// operator calls; the decisions they lead to are audited by the cluster's Durable Object.
import type { MiddlewareHandler } from "hono";
import { actorOf, type AppEnv } from "../http/auth.js";
import { appendAudit, sealAudit } from "./log.js";

const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export const auditCalls = (skip: (path: string) => boolean): MiddlewareHandler<AppEnv> => async (c, next) => {
  await next();
  if (!MUTATING.has(c.req.method) || skip(c.req.path)) return;
  const status = c.res.status;
  if (status === 401 || status === 429) return;
  const principal = c.get("principal");
  // The route's pattern (`/v1/clusters/:id/switchover`), not the middleware's.
  const route = [...c.req.matchedRoutes].reverse().find((r) => r.method !== "ALL")?.path ?? c.req.path;
  let detail = c.res.headers.get("idempotency-replayed") === "true" ? "replayed (Idempotency-Key)" : "ok";
  if (status >= 400) {
    try {
      const p = (await c.res.clone().json()) as { title?: string; detail?: string };
      detail = [p.title, p.detail].filter(Boolean).join(": ").slice(0, 500);
    } catch {
      detail = `HTTP ${status}`;
    }
  }
  try {
    await appendAudit(c.env.DB, [{ at: Date.now(), source: "api", actor: principal ? actorOf(principal) : "unauthenticated", action: `${c.req.method} ${route}`, target: c.req.path, status, detail }]);
    c.executionCtx.waitUntil(sealAudit(c.env.DB).catch((err) => console.error(JSON.stringify({ msg: "audit seal failed", error: String(err) }))));
  } catch (err) {
    console.error(JSON.stringify({ msg: "audit append failed", route, status, error: String(err) }));
  }
};
