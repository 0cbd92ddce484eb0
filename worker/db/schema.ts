// Registry tables in D1. Tokens are stored as SHA-256 hashes only; events keep every decision
// and every API change with its reason and actor.
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const sites = sqliteTable("sites", {
  id: text("id").primaryKey(),
  description: text("description").notNull().default(""),
  createdAt: integer("created_at").notNull(),
  /** Durable Object placement of this site's clusters (cluster/placement.ts); null: Cloudflare's choice. */
  locationHint: text("location_hint", { enum: ["wnam", "enam", "sam", "weur", "eeur", "apac", "oc", "afr", "me"] }),
  jurisdiction: text("jurisdiction", { enum: ["eu", "fedramp", "fedramp-high"] }),
});

export const clusters = sqliteTable(
  "clusters",
  {
    /** `<site>.<name>`: readable in the CLI and stable. */
    id: text("id").primaryKey(),
    siteId: text("site_id")
      .notNull()
      .references(() => sites.id),
    name: text("name").notNull(),
    spec: text("spec", { mode: "json" }).notNull(),
    specVersion: integer("spec_version").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [uniqueIndex("clusters_site_name").on(t.siteId, t.name)],
);

export const nodes = sqliteTable(
  "nodes",
  {
    clusterId: text("cluster_id")
      .notNull()
      .references(() => clusters.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    hostname: text("hostname").notNull(),
    ip: text("ip").notNull(),
    role: text("role", { enum: ["server", "compute"] }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.clusterId, t.name] })],
);

export const tokens = sqliteTable(
  "tokens",
  {
    id: text("id").primaryKey(),
    kind: text("kind", { enum: ["admin", "operator", "viewer", "node"] }).notNull(),
    /** Scope: a site (operators/viewers), or one node of one cluster (node tokens). */
    siteId: text("site_id"),
    clusterId: text("cluster_id"),
    nodeName: text("node_name"),
    label: text("label").notNull().default(""),
    hash: text("hash").notNull(),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at"),
    revokedAt: integer("revoked_at"),
    /** API requests per minute for this token; null: the Worker's default (worker/ratelimit/). */
    ratePerMinute: integer("rate_per_minute"),
  },
  (t) => [uniqueIndex("tokens_hash").on(t.hash), index("tokens_node").on(t.clusterId, t.nodeName)],
);

export const events = sqliteTable(
  "events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    at: integer("at").notNull(),
    siteId: text("site_id"),
    clusterId: text("cluster_id"),
    kind: text("kind").notNull(),
    severity: text("severity", { enum: ["info", "warning", "critical"] }).notNull(),
    group: text("group_name"),
    node: text("node"),
    epoch: integer("epoch"),
    reason: text("reason").notNull(),
    actor: text("actor").notNull(),
  },
  (t) => [index("events_cluster").on(t.clusterId, t.id), index("events_site").on(t.siteId, t.id)],
);

/**
 * Alert destinations, each with its routing rule: which site/cluster (null: all) and the lowest
 * severity it wants. `secret` signs generic-json bodies (HMAC needs it in clear); it is shown once.
 */
export const webhooks = sqliteTable("webhooks", {
  id: text("id").primaryKey(),
  label: text("label").notNull().default(""),
  format: text("format", { enum: ["slack", "discord", "teams", "google-chat", "generic-json"] }).notNull(),
  url: text("url").notNull(),
  secret: text("secret"),
  siteId: text("site_id"),
  clusterId: text("cluster_id"),
  minSeverity: text("min_severity", { enum: ["info", "warning", "critical"] }).notNull(),
  /** Deliveries per minute to this destination; more wait (never dropped). */
  ratePerMinute: integer("rate_per_minute").notNull(),
  /** How long one delivery may take before it counts as failed (then retried with backoff). */
  timeoutMs: integer("timeout_ms").notNull().default(10000),
  enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/** One incident as one destination saw it: opened once, updates folded, resolved once. */
export const incidents = sqliteTable(
  "incidents",
  {
    webhookId: text("webhook_id").notNull(),
    clusterId: text("cluster_id").notNull(),
    incident: text("incident").notNull(),
    state: text("state", { enum: ["open", "resolved"] }).notNull(),
    /** Highest severity sent for this incident; a higher one is sent as an update, lower ones are folded. */
    severity: text("severity", { enum: ["info", "warning", "critical"] }).notNull(),
    openedAt: integer("opened_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    updates: integer("updates").notNull().default(0),
    /** kind + reason of the last alert sent, so a repeat is dropped (dedupe). */
    lastKey: text("last_key").notNull(),
  },
  (t) => [primaryKey({ columns: [t.webhookId, t.clusterId, t.incident] })],
);

/**
 * Every alert to deliver, in order per (destination, incident). The queue carries only ids; this
 * row is the truth (status, attempts), so a redelivered queue message never sends twice.
 */
export const alertOutbox = sqliteTable(
  "alert_outbox",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    webhookId: text("webhook_id").notNull(),
    /** Source event id (or `test:<n>`), unique per destination: routing twice adds nothing. */
    eventKey: text("event_key").notNull(),
    clusterId: text("cluster_id"),
    incident: text("incident").notNull(),
    phase: text("phase", { enum: ["opened", "update", "resolved", "notice", "test"] }).notNull(),
    alert: text("alert", { mode: "json" }).notNull(),
    status: text("status", { enum: ["pending", "delivered", "dead"] }).notNull(),
    attempts: integer("attempts").notNull().default(0),
    lastError: text("last_error"),
    createdAt: integer("created_at").notNull(),
    deliveredAt: integer("delivered_at"),
  },
  (t) => [uniqueIndex("alert_outbox_event").on(t.webhookId, t.eventKey), index("alert_outbox_order").on(t.webhookId, t.incident, t.id)],
);

/** Alerts that kept failing; `POST /v1/dead-letters/replay` sends them again, in order. */
export const deadLetters = sqliteTable(
  "dead_letters",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    outboxId: integer("outbox_id").notNull(),
    webhookId: text("webhook_id").notNull(),
    attempts: integer("attempts").notNull(),
    lastError: text("last_error").notNull(),
    deadAt: integer("dead_at").notNull(),
    replayedAt: integer("replayed_at"),
  },
  (t) => [index("dead_letters_webhook").on(t.webhookId, t.id)],
);

/** Responses to POSTs sent with an Idempotency-Key (2xx only), per token, replayed on a retry. */
export const idempotencyKeys = sqliteTable(
  "idempotency_keys",
  {
    tokenId: text("token_id").notNull(),
    key: text("key").notNull(),
    requestHash: text("request_hash").notNull(),
    status: integer("status").notNull(),
    contentType: text("content_type"),
    body: text("body").notNull(),
    headers: text("headers", { mode: "json" }).notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tokenId, t.key] })],
);

/**
 * One append-only log of every mutating API call and every engine decision (worker/audit/). Rows
 * are written without hashes and sealed in id order right after (prev_hash, hash: the chain of
 * protocol/audit.ts). SQLite triggers (migration 0006) refuse deleting a row and changing one
 * except for sealing it once.
 */
export const auditLog = sqliteTable("audit_log", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  at: integer("at").notNull(),
  source: text("source", { enum: ["api", "decision", "system"] }).notNull(),
  actor: text("actor").notNull(),
  action: text("action").notNull(),
  target: text("target"),
  status: integer("status"),
  detail: text("detail").notNull(),
  prevHash: text("prev_hash"),
  hash: text("hash"),
});
