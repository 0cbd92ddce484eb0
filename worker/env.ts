import type { AlertMessage } from "./alerts/types.js";
import type { ClusterObject } from "./cluster/cluster-object.js";
import type { RateLimiter } from "./ratelimit/rate-limiter.js";

export interface Env {
  DB: D1Database;
  CLUSTER: DurableObjectNamespace<ClusterObject>;
  /** Alerts: events to route and outbox rows to deliver (wrangler.toml [[queues]]). */
  ALERTS: Queue<AlertMessage>;
  /** Worker secret (or .dev.vars locally): the bootstrap admin token. */
  ADMIN_TOKEN?: string;
  /** Alert delivery tuning (vars): first retry delay in seconds (doubles each time), attempts before dead-lettering. */
  ALERT_RETRY_BASE_SECONDS?: string;
  ALERT_MAX_ATTEMPTS?: string;
  /** "true" only for tests and local development: webhooks may use http:// to loopback (worker/net/url-policy.ts). */
  CHIME_LOOPBACK_TEST_MODE?: string;
  /** API rate limits per token (worker/ratelimit/): one Durable Object per token. */
  RATE_LIMITER?: DurableObjectNamespace<RateLimiter>;
  /** Default requests per minute per API token (default 1200) and the largest burst (default 200). */
  API_RATE_PER_MINUTE?: string;
  API_RATE_BURST?: string;
  /** Worker secret: keys that seal secrets at rest, current first (worker/secrets/keyring.ts). */
  CHIME_SECRET_KEYS?: string;
  /** DNS-over-HTTPS endpoint for checking webhook host names (default Cloudflare's; worker/net/resolve.ts). */
  DNS_RESOLVER_URL?: string;
}
