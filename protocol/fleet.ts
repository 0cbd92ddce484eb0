// GET /v1/fleet (every site and cluster with its roll-up) and GET /v1/whoami.
import { z } from "zod";
import { ROLLUP_STATES } from "./rollup.js";

export const FleetCluster = z.object({
  id: z.string(),
  site: z.string(),
  name: z.string(),
  specVersion: z.number(),
  state: z.enum(ROLLUP_STATES),
  /** What makes it less than healthy, most serious first. */
  reasons: z.array(z.string()),
  groups: z.object({ total: z.number(), held: z.number(), healthy: z.number() }),
  nodes: z.object({ total: z.number(), alive: z.number() }),
  maintenance: z.boolean(),
  /** Group -> holder (null: none), for a glance at who serves what. */
  holders: z.record(z.string(), z.string().nullable()),
});
export type FleetCluster = z.infer<typeof FleetCluster>;

export const Fleet = z.object({
  sites: z.array(z.object({ id: z.string(), description: z.string(), clusters: z.number() })),
  /** Worst first (no holder, unknown, degraded, healthy), then by id. */
  clusters: z.array(FleetCluster),
  counts: z.record(z.enum(ROLLUP_STATES), z.number()),
});
export type Fleet = z.infer<typeof Fleet>;

export const WhoAmI = z.object({
  role: z.enum(["admin", "operator", "viewer"]),
  /** The one site this token may see; null: every site. */
  site: z.string().nullable(),
  tokenId: z.string(),
  label: z.string(),
  expiresAt: z.number().nullable(),
});
export type WhoAmI = z.infer<typeof WhoAmI>;
