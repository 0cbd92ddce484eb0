// Stage 1: an event becomes at most one outbox row per destination whose rule matches (site,
// cluster, severity). Grouping per incident: the first problem opens it (one message), later
// problems are folded (counted, not sent) unless they raise the severity, a repeat of the last
// message is dropped (dedupe), and the engine's "resolves" event closes it with one message.
import { and, eq, isNull, or } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { alertOutbox, incidents, webhooks } from "../db/schema.js";
import type { Env } from "../env.js";
import { actionFor, titleFor } from "./advice.js";
import { type Alert, type AlertEvent, SEVERITY_RANK } from "./types.js";

type Phase = Alert["phase"];
export type AlertDraft = Omit<Alert, "id">;

export function draftAlert(ev: AlertEvent, phase: Phase, incident: string, updates: number): AlertDraft {
  const base = { phase, kind: ev.kind, severity: ev.severity, cluster: ev.clusterId, group: ev.group, node: ev.node };
  return {
    ...base,
    incident,
    title: titleFor(base),
    reason: ev.reason,
    action: actionFor(ev.kind, phase),
    site: ev.siteId,
    epoch: ev.epoch,
    at: ev.at,
    eventId: ev.id > 0 ? ev.id : null,
    updates,
  };
}

/** Route one event; returns the outbox ids that wait for delivery (idempotent per event). */
export async function routeEvent(env: Env, ev: AlertEvent, now: number): Promise<number[]> {
  const d = drizzle(env.DB);
  const targets = await d
    .select()
    .from(webhooks)
    .where(
      and(
        eq(webhooks.enabled, true),
        or(isNull(webhooks.siteId), ev.siteId === null ? isNull(webhooks.siteId) : eq(webhooks.siteId, ev.siteId)),
        or(isNull(webhooks.clusterId), ev.clusterId === null ? isNull(webhooks.clusterId) : eq(webhooks.clusterId, ev.clusterId)),
      ),
    )
    .orderBy(webhooks.id)
    .all();
  const out: number[] = [];
  const eventKey = `event:${ev.id}`;
  const clusterKey = ev.clusterId ?? "";
  for (const w of targets) {
    const seen = await d
      .select({ id: alertOutbox.id, status: alertOutbox.status })
      .from(alertOutbox)
      .where(and(eq(alertOutbox.webhookId, w.id), eq(alertOutbox.eventKey, eventKey)))
      .get();
    if (seen) {
      // Routed before (the queue delivers at least once): only make sure it gets delivered.
      if (seen.status === "pending") out.push(seen.id);
      continue;
    }
    const wants = SEVERITY_RANK[ev.severity] >= SEVERITY_RANK[w.minSeverity];
    const key = ev.incident;
    const cur = key
      ? await d
          .select()
          .from(incidents)
          .where(and(eq(incidents.webhookId, w.id), eq(incidents.clusterId, clusterKey), eq(incidents.incident, key)))
          .get()
      : undefined;
    const open = cur?.state === "open";
    let draft: AlertDraft | null = null;
    let incidentWrite: ((typeof incidents.$inferInsert) & { isNew: boolean }) | null = null;
    // A new holder for a group closes the group's incident (lost/revoking) if one is open.
    const resolving = ev.resolves === true || (ev.kind === "group.granted" && open);
    if (!key) {
      if (wants) draft = draftAlert(ev, "notice", `event:${ev.id}`, 0);
    } else if (resolving) {
      if (open) {
        draft = draftAlert(ev, "resolved", key, cur.updates);
        incidentWrite = { ...cur, state: "resolved", updatedAt: now, isNew: false };
      } else if (ev.resolves !== true && wants) {
        // e.g. an automatic grant with no incident open here: say it once, as a notice.
        draft = draftAlert(ev, "notice", `event:${ev.id}`, 0);
      }
    } else {
      const lastKey = `${ev.kind}\n${ev.reason}`;
      if (open) {
        if (cur.lastKey === lastKey) continue; // dedupe: the same thing again
        const raises = SEVERITY_RANK[ev.severity] > SEVERITY_RANK[cur.severity];
        incidentWrite = { ...cur, updatedAt: now, updates: cur.updates + 1, lastKey, severity: raises ? ev.severity : cur.severity, isNew: false };
        if (raises) draft = draftAlert(ev, "update", key, cur.updates + 1);
      } else if (wants) {
        draft = draftAlert(ev, "opened", key, 0);
        incidentWrite = { webhookId: w.id, clusterId: clusterKey, incident: key, state: "open", severity: ev.severity, openedAt: now, updatedAt: now, updates: 0, lastKey, isNew: !cur };
      }
    }
    if (incidentWrite) {
      const { isNew, ...row } = incidentWrite;
      if (isNew) await d.insert(incidents).values(row).onConflictDoUpdate({ target: [incidents.webhookId, incidents.clusterId, incidents.incident], set: row });
      else
        await d
          .update(incidents)
          .set(row)
          .where(and(eq(incidents.webhookId, w.id), eq(incidents.clusterId, clusterKey), eq(incidents.incident, row.incident)));
    }
    if (!draft) continue;
    const inserted = await d
      .insert(alertOutbox)
      .values({ webhookId: w.id, eventKey, clusterId: ev.clusterId, incident: draft.incident, phase: draft.phase, alert: draft, status: "pending", createdAt: now })
      .onConflictDoNothing()
      .returning({ id: alertOutbox.id })
      .all();
    if (inserted[0]) out.push(inserted[0].id);
  }
  return out;
}
