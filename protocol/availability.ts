// GET /v1/clusters/:id/availability, GET /v1/availability and POST /v1/clusters/:id/drills:
// what the availability ledger says (worker/engine/ledger.ts, report.ts). Shared by the Worker
// (OpenAPI, responses) and the CLI (`chime-ha report`).
import { z } from "zod";
import { Name } from "./spec.js";

export const LedgerKind = z.enum(["up", "down", "planned"]);

export const AvailabilityInterval = z.object({
  kind: LedgerKind,
  start: z.number(),
  /** null: still going on. */
  end: z.number().nullable(),
  startReason: z.string(),
  /** Why it ended (the next interval's reason); null while it goes on. */
  endReason: z.string().nullable(),
  /** Holder and epoch when it began. */
  holder: z.string().nullable(),
  epoch: z.number(),
  /** planned: who planned it (an operator's switchover, a drain, a drill, preemption). */
  plannedBy: z.string().nullable(),
  /** down/planned: the first new grant during it. */
  grantedAt: z.number().nullable(),
  grantedTo: z.string().nullable(),
  /** down/planned: holder lost -> new grant (ms). */
  timeToGrantMs: z.number().nullable(),
  /** down/planned: holder lost -> the new holder's first report that it serves (ms); null while it goes on. */
  timeToRecoverMs: z.number().nullable(),
});
export type AvailabilityInterval = z.infer<typeof AvailabilityInterval>;

export const Budget = z.object({
  /** The period: the calendar month, or the 30 days up to `to`. */
  from: z.number(),
  to: z.number(),
  /** Downtime the target allows over the period (from when the group came into service, if later). */
  budgetMs: z.number(),
  /** Unplanned downtime in the period so far. */
  usedMs: z.number(),
  leftMs: z.number(),
  /** leftMs / budgetMs: 1 untouched, 0 spent, below 0 overspent. */
  leftRatio: z.number(),
  /** Availability over the period so far (percent), null before the group came into service. */
  availability: z.number().nullable(),
});
export type Budget = z.infer<typeof Budget>;

export const DrillView = z.object({
  /** From spec.drills (null: no scheduled drill; drills may still be asked for). */
  every: z.string().nullable(),
  window: z.string().nullable(),
  lastAt: z.number().nullable(),
  lastResult: z.string().nullable(),
  lastOk: z.boolean().nullable(),
  /** The drill under way: where it is. */
  running: z.string().nullable(),
});

export const GroupAvailability = z.object({
  group: z.string(),
  /** Target in percent (the group's own, the cluster's, or 99.5). */
  target: z.number(),
  /** When the group first had a healthy holder (the ledger counts from then); null: not yet. */
  since: z.number().nullable(),
  /** Time in the window the ledger covers, and how it divides. */
  observedMs: z.number(),
  upMs: z.number(),
  /** Unplanned downtime. */
  downMs: z.number(),
  /** Gaps of planned moves (switchovers, drains, drills): not counted against the target. */
  plannedMs: z.number(),
  /** upMs / (upMs + downMs) in percent; null when nothing was observed. */
  availability: z.number().nullable(),
  /** Unplanned outages that began in the window. */
  outages: z.number(),
  /** Mean time to recover (holder lost -> new holder serving) of the unplanned outages that ended in the window. */
  mttrMs: z.number().nullable(),
  /** Mean time from holder lost to the new grant, same outages. */
  mttgMs: z.number().nullable(),
  /** False when a month's record had to drop intervals: totals then come from per-day buckets. */
  exact: z.boolean(),
  /** Every interval in the window (clipped to it), oldest first, at most 500 (the newest). */
  intervals: z.array(AvailabilityInterval),
  budget: z.object({ month: Budget, rolling30d: Budget }),
  /** Burn rates now (budget spent per budget allowed) over 1 h, 6 h and 3 days. */
  burn: z.object({ "1h": z.number(), "6h": z.number(), "3d": z.number() }),
  drill: DrillView,
});
export type GroupAvailability = z.infer<typeof GroupAvailability>;

export const ClusterAvailability = z.object({
  cluster: z.string(),
  site: z.string(),
  from: z.number(),
  to: z.number(),
  now: z.number(),
  groups: z.array(GroupAvailability),
});
export type ClusterAvailability = z.infer<typeof ClusterAvailability>;

/** A group in the fleet roll-up: this calendar month and the last 30 days. */
export const GroupAvailabilitySummary = z.object({
  group: z.string(),
  target: z.number(),
  month: Budget,
  rolling30d: Budget,
  /** A drill that failed or was refused last: its result. */
  drillProblem: z.string().nullable(),
});
export type GroupAvailabilitySummary = z.infer<typeof GroupAvailabilitySummary>;

export const FleetAvailabilityCluster = z.object({
  id: z.string(),
  site: z.string(),
  name: z.string(),
  /** The group with the least 30-day budget left (null: no group in service yet, or no live state). */
  worst: GroupAvailabilitySummary.nullable(),
  groups: z.array(GroupAvailabilitySummary),
});
export type FleetAvailabilityCluster = z.infer<typeof FleetAvailabilityCluster>;

export const FleetAvailability = z.object({
  now: z.number(),
  /** Worst first: least 30-day error budget left, then lowest 30-day availability, then id. */
  clusters: z.array(FleetAvailabilityCluster),
});
export type FleetAvailability = z.infer<typeof FleetAvailability>;

/** A time in a query: epoch milliseconds or an ISO 8601 date/time ("2026-11-01", "2026-11-01T02:00:00Z"); null if neither. */
export function parseTimeParam(v: string): number | null {
  const ms = /^\d{1,15}$/.test(v) ? Number(v) : /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : NaN;
  return Number.isFinite(ms) ? ms : null;
}

export const AvailabilityQuery = z.object({
  /** Epoch ms or ISO 8601; default: the start of the current month (UTC). */
  from: z.string().max(40).optional(),
  /** Epoch ms or ISO 8601; default: now. */
  to: z.string().max(40).optional(),
});

/** Longest window a report covers (the ledger keeps 13 months). */
export const MAX_REPORT_DAYS = 400;

export const DrillRequest = z.strictObject({
  group: Name,
  /** How long to stay on the other node before moving back (default: the spec's drill, else 60 s). */
  returnAfterMs: z.number().int().min(1000).max(3_600_000).optional(),
});

export { formatAvailability } from "./availability-format.js";
