// Stage 2: deliver one outbox row to its destination. In order per (destination, incident): a row
// waits while an earlier one of its incident is undelivered, and is dead-lettered with it if that
// one died (so a replay sends them again in order). A per-destination rate limit delays (never
// drops). Failures back off exponentially; after the last attempt the row goes to dead_letters.
import { and, asc, count, eq, gt, lt, min, ne } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { alertOutbox, deadLetters, webhooks } from "../db/schema.js";
import type { Env } from "../env.js";
import { webhookDestinationProblem } from "../net/resolve.js";
import { open } from "../secrets/keyring.js";
import { appendAudit, sealAudit } from "../audit/log.js";
import { webhookSecretContext } from "../secrets/rotate.js";
import { render } from "./formats/index.js";
import type { Alert } from "./types.js";

export type Outcome = { ack: true; result: "delivered" | "dead" | "skipped" } | { ack: false; delaySeconds: number; result: "failed" | "blocked" | "rate-limited" };

export interface DeliveryConfig {
  baseDelaySeconds: number;
  maxDelaySeconds: number;
  maxAttempts: number;
}

export function deliveryConfig(env: Env): DeliveryConfig {
  const num = (v: string | undefined, dflt: number) => {
    const n = v === undefined ? Number.NaN : Number(v);
    return Number.isFinite(n) && n >= 0 ? n : dflt;
  };
  return {
    baseDelaySeconds: num(env.ALERT_RETRY_BASE_SECONDS, 5),
    maxDelaySeconds: 600,
    maxAttempts: Math.max(1, Math.floor(num(env.ALERT_MAX_ATTEMPTS, 8))),
  };
}

/** Seconds to wait after the n-th failed attempt (n >= 1): base, 2 base, 4 base, ... capped. */
export function backoffSeconds(cfg: DeliveryConfig, failedAttempts: number): number {
  return Math.min(cfg.maxDelaySeconds, Math.ceil(cfg.baseDelaySeconds * 2 ** Math.max(0, failedAttempts - 1)));
}

export async function deliverOne(env: Env, outboxId: number, now: number, cfg: DeliveryConfig): Promise<Outcome> {
  const d = drizzle(env.DB);
  const row = await d.select().from(alertOutbox).where(eq(alertOutbox.id, outboxId)).get();
  // Already delivered or dead (a redelivered queue message): nothing to send twice.
  if (!row || row.status !== "pending") return { ack: true, result: "skipped" };
  const w = await d.select().from(webhooks).where(eq(webhooks.id, row.webhookId)).get();
  if (!w) return { ack: true, result: "skipped" };
  if (!w.enabled) {
    await markDead(env, row.id, row.webhookId, row.attempts, "destination is disabled", now);
    return { ack: true, result: "dead" };
  }
  const earlier = await d
    .select({ id: alertOutbox.id, status: alertOutbox.status, attempts: alertOutbox.attempts })
    .from(alertOutbox)
    .where(and(eq(alertOutbox.webhookId, row.webhookId), eq(alertOutbox.incident, row.incident), lt(alertOutbox.id, row.id), ne(alertOutbox.status, "delivered")))
    .orderBy(asc(alertOutbox.id))
    .limit(1)
    .get();
  if (earlier?.status === "dead") {
    await markDead(env, row.id, row.webhookId, row.attempts, `held back: alert #${earlier.id} of the same incident is dead-lettered (order is kept)`, now);
    return { ack: true, result: "dead" };
  }
  // Look again about when the earlier one is retried (its backoff), not in a tight loop.
  if (earlier) return { ack: false, delaySeconds: earlier.attempts === 0 ? 1 : backoffSeconds(cfg, earlier.attempts) + 1, result: "blocked" };
  const recent = await d
    .select({ n: count(), oldest: min(alertOutbox.deliveredAt) })
    .from(alertOutbox)
    .where(and(eq(alertOutbox.webhookId, row.webhookId), eq(alertOutbox.status, "delivered"), gt(alertOutbox.deliveredAt, now - 60_000)))
    .get();
  if ((recent?.n ?? 0) >= w.ratePerMinute) {
    // Come back when the oldest delivery leaves the one-minute window (not in a tight loop, so a
    // long backlog does not use up the queue's retries).
    const wait = Math.ceil(((recent?.oldest ?? now) + 60_000 - now) / 1000);
    return { ack: false, delaySeconds: Math.min(60, Math.max(1, wait)), result: "rate-limited" };
  }

  const alert = { ...(row.alert as Omit<Alert, "id">), id: row.id } as Alert;
  let error: string | null = null;
  try {
    // Checked again before every send: the URL was fine when saved, but a name can change where it points.
    const refused = await webhookDestinationProblem(env, w.url);
    if (refused) throw new Error(refused);
    const secret = w.secret === null ? null : await open(env, w.secret, webhookSecretContext(w.id));
    const req = await render(w.format, alert, secret, now);
    // Each destination has its own timeout (webhooks.timeout_ms): one slow receiver cannot hold the others' batch.
    const res = await fetch(w.url, { method: "POST", headers: req.headers, body: req.body, signal: AbortSignal.timeout(w.timeoutMs) });
    // Drain the body so the connection can be reused.
    const text = await res.text().catch(() => "");
    if (!res.ok) error = `HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ""}`;
  } catch (err) {
    error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  }
  const attempts = row.attempts + 1;
  if (error === null) {
    await d.update(alertOutbox).set({ status: "delivered", attempts, deliveredAt: Date.now(), lastError: null }).where(eq(alertOutbox.id, row.id));
    return { ack: true, result: "delivered" };
  }
  if (attempts >= cfg.maxAttempts) {
    await markDead(env, row.id, row.webhookId, attempts, error, now);
    return { ack: true, result: "dead" };
  }
  await d.update(alertOutbox).set({ attempts, lastError: error }).where(eq(alertOutbox.id, row.id));
  return { ack: false, delaySeconds: backoffSeconds(cfg, attempts), result: "failed" };
}

async function markDead(env: Env, id: number, webhookId: string, attempts: number, error: string, now: number): Promise<void> {
  const d = drizzle(env.DB);
  await d.batch([
    d.update(alertOutbox).set({ status: "dead", attempts, lastError: error }).where(eq(alertOutbox.id, id)),
    d.insert(deadLetters).values({ outboxId: id, webhookId, attempts, lastError: error, deadAt: now }),
  ]);
  // Giving up on an alert is an automatic decision: it goes into the audit log.
  await appendAudit(env.DB, [{ at: now, source: "system", actor: "alerts", action: "alert.dead-lettered", target: `webhook ${webhookId}`, status: null, detail: `alert #${id} after ${attempts} attempt(s): ${error}` }]);
  await sealAudit(env.DB);
}
