// Safety net for "every alert once": a pending outbox row whose queue message was lost (a queue
// gives up after max_retries, e.g. behind a long rate-limited backlog) is queued again. Runs from
// the cron trigger. Only rows older than any normal retry chain are touched; a row that still has
// a message in flight is harmless, since delivery checks the row's status first and the consumer
// runs one batch at a time.
import { and, asc, eq, lt } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { alertOutbox } from "../db/schema.js";
import type { Env } from "../env.js";
import { enqueueDeliveries } from "./consumer.js";

export const SWEEP_AGE_MS = 60 * 60 * 1000;

export async function sweepStuckAlerts(env: Env, now: number, limit = 500): Promise<number> {
  const rows = await drizzle(env.DB)
    .select({ id: alertOutbox.id })
    .from(alertOutbox)
    .where(and(eq(alertOutbox.status, "pending"), lt(alertOutbox.createdAt, now - SWEEP_AGE_MS)))
    .orderBy(asc(alertOutbox.id))
    .limit(limit)
    .all();
  if (rows.length) await enqueueDeliveries(env, rows.map((r) => r.id));
  return rows.length;
}
