import type { AlertMessage } from "./alerts/types.js";
import type { ClusterObject } from "./cluster/cluster-object.js";

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
}
