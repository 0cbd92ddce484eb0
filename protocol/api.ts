// Bodies and replies of the HTTP API (zod), shared by the Worker (validation, OpenAPI) and the CLI.
import { z } from "zod";
import { Name } from "./spec.js";

export const SiteId = Name;

export const SiteCreate = z.strictObject({
  id: SiteId,
  description: z.string().max(500).default(""),
});
export const SiteUpdate = z.strictObject({ description: z.string().max(500) });
export const Site = z.object({ id: z.string(), description: z.string(), createdAt: z.number() });
export type Site = z.infer<typeof Site>;

/** The spec is validated separately so its errors carry paths like `spec.nodes[1].ip`. */
export const ClusterCreate = z.strictObject({ site: SiteId, spec: z.unknown() });
export const ClusterSpecUpdate = z.strictObject({ spec: z.unknown() });

export const Cluster = z.object({
  id: z.string(),
  site: z.string(),
  name: z.string(),
  specVersion: z.number(),
  createdAt: z.number(),
  updatedAt: z.number(),
  spec: z.unknown().optional(),
});
export type Cluster = z.infer<typeof Cluster>;

export const ClusterCreated = z.object({
  cluster: Cluster,
  /** Shown once; only their hashes are stored. */
  nodeTokens: z.record(z.string(), z.string()),
});

export const NodeTokenRotated = z.object({ node: z.string(), token: z.string() });

export const Switchover = z.strictObject({
  group: Name,
  /** Target node; absent: the best healthy candidate. */
  to: Name.optional(),
});
export const Maintenance = z.strictObject({ on: z.boolean() });

export const AdminOpResult = z.object({ ok: z.literal(true), detail: z.string() });

export const EventRow = z.object({
  id: z.number(),
  at: z.number(),
  site: z.string().nullable(),
  cluster: z.string().nullable(),
  kind: z.string(),
  severity: z.enum(["info", "warning", "critical"]),
  group: z.string().nullable(),
  node: z.string().nullable(),
  epoch: z.number().nullable(),
  reason: z.string(),
  actor: z.string(),
});
export type EventRow = z.infer<typeof EventRow>;

export const EventPage = z.object({
  events: z.array(EventRow),
  /** Pass back as `cursor` for the next page; null when there is none yet. */
  nextCursor: z.string().nullable(),
});
export type EventPage = z.infer<typeof EventPage>;

export const EventsQuery = z.object({
  cursor: z.string().regex(/^\d+$/, "cursor is an opaque number from nextCursor").optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  site: SiteId.optional(),
});
