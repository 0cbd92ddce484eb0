// Bodies and replies of the HTTP API (zod), shared by the Worker (validation, OpenAPI) and the CLI.
import { z } from "zod";
import { Name } from "./spec.js";

export const SiteId = Name;

/** Cloudflare Durable Object location hints: the region a site's cluster objects are created in. */
export const LocationHint = z.enum(["wnam", "enam", "sam", "weur", "eeur", "apac", "oc", "afr", "me"]);
export type LocationHint = z.infer<typeof LocationHint>;
/** Cloudflare jurisdictions: the objects run and store data only inside it. */
export const Jurisdiction = z.enum(["eu", "fedramp", "fedramp-high"]);
export type Jurisdiction = z.infer<typeof Jurisdiction>;

/** The location hints that lie inside each jurisdiction. */
export const HINTS_IN: Record<Jurisdiction, LocationHint[]> = { eu: ["weur", "eeur"], fedramp: ["wnam", "enam"], "fedramp-high": ["wnam", "enam"] };

/** A location hint outside the site's jurisdiction cannot be honoured: say so, at the hint's path. */
const placementRule = (v: { locationHint?: LocationHint | null; jurisdiction?: Jurisdiction | null }, ctx: z.RefinementCtx) => {
  if (v.locationHint && v.jurisdiction && !HINTS_IN[v.jurisdiction].includes(v.locationHint)) {
    ctx.addIssue({
      code: "custom",
      path: ["locationHint"],
      message: `location hint '${v.locationHint}' lies outside jurisdiction '${v.jurisdiction}' (use ${HINTS_IN[v.jurisdiction].join(" or ")}, or none)`,
    });
  }
};

export const SiteCreate = z
  .strictObject({
    id: SiteId,
    description: z.string().max(500).default(""),
    /** Where this site's cluster objects are created (near its servers). */
    locationHint: LocationHint.optional(),
    /** Keep this site's cluster objects (and their state) inside a jurisdiction. */
    jurisdiction: Jurisdiction.optional(),
  })
  .superRefine(placementRule);
/** Placement can change only while the site has no clusters (their objects never move); null clears it. */
export const SiteUpdate = z
  .strictObject({
    description: z.string().max(500).optional(),
    locationHint: LocationHint.nullable().optional(),
    jurisdiction: Jurisdiction.nullable().optional(),
  })
  .superRefine(placementRule);
export const Site = z.object({
  id: z.string(),
  description: z.string(),
  createdAt: z.number(),
  locationHint: LocationHint.nullable(),
  jurisdiction: Jurisdiction.nullable(),
});
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

export const Switchover = z.strictObject({
  group: Name,
  /** Target node; absent: the best healthy candidate. */
  to: Name.optional(),
  /**
   * mysql-writer only: promote the target even if it may lack transactions the last writer
   * acknowledged (the engine refused it automatically). Recorded as a critical audit event.
   */
  acceptDataLoss: z.boolean().optional(),
});
export const Maintenance = z.strictObject({ on: z.boolean() });

export const AdminOpResult = z.object({
  ok: z.literal(true),
  /** The engine's answer to this request (its first decision). */
  detail: z.string(),
  /** Every decision the request led to, in order (e.g. a drain: maintenance on, then each move). */
  decisions: z.array(z.string()).optional(),
});

/** An operation an operator asks a node to run (the engine picks the details it knows). */
export const RunOperation = z.discriminatedUnion("kind", [
  z
    .strictObject({
      kind: z.literal("influxdb-backfill"),
      /** The influxdb-read group. */
      group: Name,
      /** The instance that missed writes: it runs the copy into itself. */
      node: Name,
      database: z.string().min(1).max(255),
      /** The window to copy (epoch ms), e.g. from an influxdb.outage-window event. */
      startMs: z.number().int().min(0),
      endMs: z.number().int().min(0),
      /** The healthy peer to copy from (default: a live, healthy member other than `node`). */
      from: Name.optional(),
    })
    .refine((o) => o.endMs > o.startMs, { message: "endMs must be after startMs", path: ["endMs"] }),
  z.strictObject({
    kind: z.literal("minio-heal"),
    /** The minio group. */
    group: Name,
    /** The `mc` alias configured on the node for this MinIO deployment. */
    alias: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "must be an mc alias name"),
    /** Where to run it (default: the group's VIP holder). */
    node: Name.optional(),
  }),
]);
export type RunOperation = z.infer<typeof RunOperation>;

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
  /** Only events at or after this time (epoch ms). */
  since: z.coerce.number().int().min(0).optional(),
  /** The newest `last` events (of those after `cursor` and `since`), still oldest first; `limit` is ignored. */
  last: z.coerce.number().int().min(1).max(500).optional(),
});

// ---- API tokens (admin, operator, viewer; optionally scoped to one site) ----

export const TokenRole = z.enum(["admin", "operator", "viewer"]);
export const TokenCreate = z.strictObject({
  role: TokenRole,
  /** Scope to one site; absent: every site. */
  site: SiteId.optional(),
  label: z.string().max(200).default(""),
  /** Lifetime in seconds from now; absent: until revoked. */
  expiresInSeconds: z.number().int().min(60).max(10 * 365 * 24 * 3600).optional(),
  /** API requests per minute for this token (429 + Retry-After beyond it); absent: the Worker's default. */
  ratePerMinute: z.number().int().min(1).max(100_000).optional(),
});
/** Rotating a node token: how long the old one keeps working (0: it ends at once). */
export const NodeTokenRotate = z.strictObject({
  graceSeconds: z.number().int().min(0).max(7 * 24 * 3600).default(3600),
});
export const NodeTokenRotated = z.object({
  node: z.string(),
  token: z.string(),
  /** When the replaced token stops working (ms since the epoch); null: it already has. */
  previousValidUntil: z.number().nullable(),
});
export const Token = z.object({
  id: z.string(),
  kind: z.enum(["admin", "operator", "viewer", "node"]),
  site: z.string().nullable(),
  cluster: z.string().nullable(),
  node: z.string().nullable(),
  label: z.string(),
  createdAt: z.number(),
  expiresAt: z.number().nullable(),
  revokedAt: z.number().nullable(),
  /** Requests per minute; null: the Worker's default. */
  ratePerMinute: z.number().nullable(),
});
export type Token = z.infer<typeof Token>;
/** The token itself is in this reply only; the registry keeps its SHA-256. */
export const TokenCreated = z.object({ token: z.string(), info: Token });

export const PageQuery = z.object({
  cursor: z.string().regex(/^[A-Za-z0-9_.:-]{1,200}$/, "cursor is an opaque value from nextCursor").optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

// ---- Webhooks (alert destinations with their routing rule) ----

export const WebhookFormat = z.enum(["slack", "discord", "teams", "google-chat", "generic-json"]);
export type WebhookFormat = z.infer<typeof WebhookFormat>;
export const Severity = z.enum(["info", "warning", "critical"]);
const WebhookUrl = z
  .string()
  .max(2000)
  .refine((u) => {
    try {
      const p = new URL(u).protocol;
      return p === "https:" || p === "http:";
    } catch {
      return false;
    }
  }, "must be an http(s) URL");

export const WebhookCreate = z.strictObject({
  format: WebhookFormat,
  url: WebhookUrl,
  label: z.string().max(200).default(""),
  /** Routing: only this site / cluster (absent: all) at or above this severity. */
  site: SiteId.optional(),
  cluster: z.string().max(200).optional(),
  minSeverity: Severity.default("warning"),
  ratePerMinute: z.number().int().min(1).max(600).default(30),
  /** One delivery may take this long before it counts as failed (retried with backoff). */
  timeoutMs: z.number().int().min(500).max(30_000).default(10_000),
  /** generic-json only: HMAC-SHA256 key; generated when absent. Shown once. */
  secret: z.string().min(16).max(200).optional(),
  enabled: z.boolean().default(true),
});
export const WebhookUpdate = z.strictObject({
  url: WebhookUrl.optional(),
  label: z.string().max(200).optional(),
  minSeverity: Severity.optional(),
  ratePerMinute: z.number().int().min(1).max(600).optional(),
  timeoutMs: z.number().int().min(500).max(30_000).optional(),
  enabled: z.boolean().optional(),
});
export const Webhook = z.object({
  id: z.string(),
  format: WebhookFormat,
  url: z.string(),
  label: z.string(),
  site: z.string().nullable(),
  cluster: z.string().nullable(),
  minSeverity: Severity,
  ratePerMinute: z.number(),
  timeoutMs: z.number(),
  enabled: z.boolean(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type Webhook = z.infer<typeof Webhook>;
export const WebhookCreated = z.object({ webhook: Webhook, secret: z.string().nullable() });

/** Secrets at rest per sealing key (`(not encrypted)`: stored before encryption; rotate seals them). */
export const SecretsReport = z.object({
  currentKey: z.string().nullable(),
  byKey: z.record(z.string(), z.number()),
  resealed: z.number(),
  failed: z.array(z.object({ place: z.string(), error: z.string() })),
});
export type SecretsReport = z.infer<typeof SecretsReport>;

export const DeadLetter = z.object({
  id: z.number(),
  webhook: z.string(),
  alertId: z.number(),
  incident: z.string(),
  phase: z.string(),
  title: z.string(),
  attempts: z.number(),
  lastError: z.string(),
  deadAt: z.number(),
  replayedAt: z.number().nullable(),
});
export const DeadLetterPage = z.object({ deadLetters: z.array(DeadLetter), nextCursor: z.string().nullable() });
export const ReplayRequest = z.strictObject({
  /** Only this destination's dead letters; absent: all you may see. */
  webhook: z.string().max(100).optional(),
  /** Only these dead-letter ids. */
  ids: z.array(z.number().int().positive()).max(500).optional(),
});
export const ReplayResult = z.object({ replayed: z.number() });
export const WebhookTestResult = z.object({ queued: z.literal(true), alertId: z.number() });

/** What every alert carries; the generic-json body is exactly this (signed). */
export const Alert = z.object({
  id: z.number(),
  phase: z.enum(["opened", "update", "resolved", "notice", "test"]),
  incident: z.string(),
  severity: Severity,
  kind: z.string(),
  title: z.string(),
  /** The engine's reason, as recorded in the event. */
  reason: z.string(),
  action: z.string(),
  site: z.string().nullable(),
  cluster: z.string().nullable(),
  group: z.string().nullable(),
  node: z.string().nullable(),
  epoch: z.number().nullable(),
  at: z.number(),
  eventId: z.number().nullable(),
  updates: z.number(),
});
export type Alert = z.infer<typeof Alert>;

// ---- Audit log export ----
export const AuditQuery = z.object({
  /** Rows after this id (the last id of the previous page; 0: from the start). */
  after: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
});

/** GET /v1/clusters/:id/shadow: the incumbent HA system's moves (keepalived) beside chime-ha's, per group. */
const ShadowMove = z.object({ to: z.string().nullable(), at: z.number() });
export const ShadowReport = z.object({
  cluster: z.string(),
  site: z.string(),
  /** Moves of both systems this close in time (ms) are compared as one decision. */
  matchWindowMs: z.number(),
  groups: z.array(
    z.object({
      group: z.string(),
      shadow: z.boolean(),
      keepalivedHolder: z.string().nullable(),
      chimeHaHolder: z.string().nullable(),
      entries: z.array(
        z.object({
          keepalived: ShadowMove.extend({ dual: z.array(z.string()).optional(), initial: z.boolean().optional() }).nullable(),
          chimeHa: ShadowMove.extend({ epoch: z.number() }).nullable(),
          verdict: z.enum(["agreed", "disagreed", "keepalived-only", "chime-ha-only", "pending", "keepalived-split-brain"]),
          /** chime-ha's move minus keepalived's (ms): negative, chime-ha would have moved first. */
          deltaMs: z.number().nullable(),
          text: z.string(),
        }),
      ),
      summary: z.object({
        keepalivedMoves: z.number(),
        agreed: z.number(),
        disagreed: z.number(),
        keepalivedOnly: z.number(),
        chimeHaOnly: z.number(),
        splitBrain: z.number(),
        medianDeltaMs: z.number().nullable(),
        maxAbsDeltaMs: z.number().nullable(),
      }),
    }),
  ),
});
export type ShadowReport = z.infer<typeof ShadowReport>;
