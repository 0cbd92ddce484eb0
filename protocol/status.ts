// GET /v1/clusters/:id/status: what the cluster's Durable Object knows right now.
import { z } from "zod";
import { ApplyError } from "./heartbeat.js";
import { LimitRefusal, LimitsReport } from "./limits.js";

/**
 * ok: held by a fit holder. waiting: never held, its members have not reported yet (setup).
 * moving: a planned or health move is under way. degraded: held, but the holder is unfit, not
 * alive, or cannot apply the group (e.g. its balancer). down: nobody holds it.
 */
export const GroupHealth = z.enum(["ok", "waiting", "moving", "degraded", "down"]);
export type GroupHealth = z.infer<typeof GroupHealth>;

export const GroupStatus = z.object({
  name: z.string(),
  mode: z.string(),
  vip: z.string(),
  holder: z.string().nullable(),
  epoch: z.number(),
  phase: z.enum(["free", "held", "revoking"]),
  /** Lease left on the control plane's clock (ms); null when unknown (just restarted) or free. */
  leaseLeftMs: z.number().nullable(),
  revokeTo: z.string().nullable(),
  /** active-active-lb: the real servers the director balances across. */
  realServers: z.array(z.string()).optional(),
  /** Absent from control planes older than the CLI. */
  health: GroupHealth.optional(),
  /** Why the group is not ok, in one line (null when ok). */
  reason: z.string().nullable().optional(),
  /** Every member and why it could not take the group now (null: it is a candidate). Absent from older control planes. */
  members: z.array(z.object({ node: z.string(), why: z.string().nullable() })).optional(),
});
export type GroupStatus = z.infer<typeof GroupStatus>;

export const NodeStatus = z.object({
  name: z.string(),
  role: z.enum(["server", "compute"]),
  alive: z.boolean(),
  /** Milliseconds since the last heartbeat; null when none since the control plane started. */
  lastHeartbeatAgoMs: z.number().nullable(),
  maintenance: z.boolean(),
  probes: z.record(z.string(), z.object({ healthy: z.boolean(), detail: z.string() })),
  /** Compute nodes: alive, fencing, fenced, evacuating, ... */
  computePhase: z.string().optional(),
  /** False until the node's first heartbeat ever (a node being set up). */
  heard: z.boolean().optional(),
  /** Changes the node's shim keeps failing to apply (persistent ones only). */
  applyErrors: z.array(ApplyError).optional(),
  /** What the node's local limits allow for VIPs, as it last reported (absent until it does). */
  limits: LimitsReport.optional(),
  /** What the node refuses now as outside its local limits (absent when nothing). */
  limitRefusals: z.array(LimitRefusal).optional(),
});
export type NodeStatus = z.infer<typeof NodeStatus>;

export const DecisionView = z.object({
  at: z.number(),
  kind: z.string(),
  reason: z.string(),
  group: z.string().optional(),
  node: z.string().optional(),
  epoch: z.number().optional(),
});

export const ClusterStatus = z.object({
  specVersion: z.number(),
  maintenance: z.boolean(),
  /** The control plane is within its restart grace period (grants only to persisted holders). */
  restartGraceLeftMs: z.number(),
  groups: z.array(GroupStatus),
  nodes: z.array(NodeStatus),
  decisions: z.array(DecisionView),
});
export type ClusterStatus = z.infer<typeof ClusterStatus>;
