// The chime-ha Worker: the HTTP API (Hono) over the D1 registry and one Durable Object per cluster.
import { HTTPException } from "hono/http-exception";
import { handleAlertBatch } from "./alerts/consumer.js";
import { sweepStuckAlerts } from "./alerts/sweep.js";
import type { AlertMessage } from "./alerts/types.js";
import { newApp } from "./api/app.js";
import { registerClusterStatus } from "./api/cluster-status.js";
import { registerShadow } from "./api/shadow.js";
import { registerClusters } from "./api/clusters.js";
import { registerAdminSecrets } from "./api/admin-secrets.js";
import { registerAvailability } from "./api/availability.js";
import { registerAudit } from "./api/audit.js";
import { auditCalls } from "./audit/middleware.js";
import { sealAudit } from "./audit/log.js";
import { registerDeadLetters } from "./api/dead-letters.js";
import { registerEvents } from "./api/events.js";
import { registerFleet } from "./api/fleet.js";
import { registerHeartbeats } from "./api/heartbeats.js";
import { registerMetrics } from "./api/metrics.js";
import { registerOpenApi } from "./api/openapi.js";
import { registerOperations } from "./api/operations.js";
import { registerSites } from "./api/sites.js";
import { registerTokens } from "./api/tokens.js";
import { registerWebhooks } from "./api/webhooks.js";
import { registerWhoAmI } from "./api/whoami.js";
import { registerConsole } from "./console/routes.js";
import type { Env } from "./env.js";
import { authenticate } from "./http/auth.js";
import { idempotency } from "./http/idempotency.js";
import { guardJsonDepth } from "./http/json-guard.js";
import { limitBody } from "./http/limits.js";
import { rateLimit } from "./http/rate-limit.js";
import { ApiError, problem, problemBody } from "./http/problem.js";
import { SecretKeyError } from "./secrets/keyring.js";

export { ClusterObject } from "./cluster/cluster-object.js";
export { RateLimiter } from "./ratelimit/rate-limiter.js";

const app = newApp();

/** Routes a node token reaches; the Durable Object checks those tokens itself. */
const NODE_ROUTE = /^\/v1\/clusters\/[^/]+\/nodes\/[^/]+\/(heartbeat|watch)$/;

const isNodeOrPublic = (path: string) => NODE_ROUTE.test(path) || path === "/v1/openapi.json";

// Order: size limit, who is calling, the caller's rate limit, JSON depth, then Idempotency-Key
// replay (a refused body is never kept), then the route.
app.use("/v1/*", limitBody());
app.use("/v1/*", async (c, next) => {
  // Node routes: the Durable Object checks the node token itself (no D1 query per heartbeat).
  // The OpenAPI document is public: it describes the API, not any data.
  if (!isNodeOrPublic(c.req.path)) c.set("principal", await authenticate(c.env, c.req.header("authorization"), Date.now()));
  return next();
});
app.use("/v1/*", rateLimit());
app.use("/v1/*", auditCalls(isNodeOrPublic));
app.use("/v1/*", guardJsonDepth());
app.use("/v1/*", async (c, next) => (isNodeOrPublic(c.req.path) ? next() : idempotency()(c, next)));

registerSites(app);
registerClusters(app);
registerClusterStatus(app);
registerShadow(app);
registerHeartbeats(app);
registerOperations(app);
registerEvents(app);
registerTokens(app);
registerWebhooks(app);
registerDeadLetters(app);
registerAdminSecrets(app);
registerAudit(app);
registerMetrics(app);
registerFleet(app);
registerAvailability(app);
registerWhoAmI(app);
registerOpenApi(app);

app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer", description: "admin, operator or viewer token" });
app.openAPIRegistry.registerComponent("securitySchemes", "nodeToken", { type: "http", scheme: "bearer", description: "the node's own token" });

// The fleet console (HTML for browsers; the service description as JSON for API clients).
registerConsole(app);
app.get("/healthz", (c) => c.json({ ok: true }));

app.notFound((c) => problem(c, 404, "Not found", { detail: `no route ${c.req.method} ${c.req.path}` }));

app.onError((err, c) => {
  if (err instanceof ApiError) return problem(c, err.status, err.title, err.fields);
  // No (or a wrong) CHIME_SECRET_KEYS: say so instead of a bare 500.
  if (err instanceof SecretKeyError) return problem(c, 503, "Unavailable", { detail: err.message });
  if (err instanceof HTTPException) {
    const res = err.getResponse();
    return new Response(JSON.stringify(problemBody(res.status, undefined, { detail: err.message })), {
      status: res.status,
      headers: { "content-type": "application/problem+json" },
    });
  }
  console.error(JSON.stringify({ msg: "unhandled error", path: c.req.path, error: String(err), stack: (err as Error).stack }));
  return problem(c, 500, "Internal error", { detail: "the control plane failed to handle this request; it has been logged" });
});

export { app };
export default {
  fetch: app.fetch,
  /** The alerts queue: route events to destinations, deliver with retries, dead-letter. */
  queue: (batch: MessageBatch<AlertMessage>, env: Env) => handleAlertBatch(batch, env),
  /** Cron: re-queue alerts whose queue message was lost (see alerts/sweep.ts). */
  scheduled: async (_controller: ScheduledController, env: Env) => {
    const n = await sweepStuckAlerts(env, Date.now());
    if (n > 0) console.log(JSON.stringify({ msg: "re-queued stuck alerts", count: n }));
    // The audit chain's head goes to the Worker's logs too: a copy outside D1 to check it against.
    const { sealed, head } = await sealAudit(env.DB);
    if (head) console.log(JSON.stringify({ msg: "audit head", id: head.id, hash: head.hash, sealed }));
  },
} satisfies ExportedHandler<Env, AlertMessage>;
