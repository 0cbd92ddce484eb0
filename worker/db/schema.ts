// Registry tables in D1. Tokens are stored as SHA-256 hashes only; events keep every decision
// and every API change with its reason and actor.
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const sites = sqliteTable("sites", {
  id: text("id").primaryKey(),
  description: text("description").notNull().default(""),
  createdAt: integer("created_at").notNull(),
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
