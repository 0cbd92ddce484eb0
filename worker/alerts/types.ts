// Messages on the alerts Queue and the event shape routing works from.
import type { Alert, WebhookFormat } from "../../protocol/api.js";

export type { Alert, WebhookFormat };
export type Severity = "info" | "warning" | "critical";

/** An event as recorded in D1, with the engine's incident grouping hints. */
export interface AlertEvent {
  id: number;
  at: number;
  siteId: string | null;
  clusterId: string | null;
  kind: string;
  severity: Severity;
  group: string | null;
  node: string | null;
  epoch: number | null;
  reason: string;
  actor: string;
  incident?: string;
  resolves?: boolean;
}

export type AlertMessage =
  /** Route one event to the destinations whose rule matches (stage 1). */
  | { type: "event"; event: AlertEvent }
  /** Deliver one outbox row (stage 2); the row holds the rendered alert and its status. */
  | { type: "deliver"; outboxId: number };

export const SEVERITY_RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

/** A rendered HTTP request for one destination. */
export interface Rendered {
  body: string;
  headers: Record<string, string>;
}
