// The alerts Queue consumer: routes events (stage 1) and delivers outbox rows (stage 2). Routing
// only enqueues deliveries, so each delivery has its own retries and backoff.
import type { Env } from "../env.js";
import { deliverOne, deliveryConfig } from "./delivery.js";
import { routeEvent } from "./routing.js";
import type { AlertMessage } from "./types.js";

export async function handleAlertBatch(batch: MessageBatch<AlertMessage>, env: Env): Promise<void> {
  const cfg = deliveryConfig(env);
  // Events in the order they were recorded, deliveries oldest first: keeps incidents in order.
  const events = batch.messages.filter((m) => m.body?.type === "event") as Message<Extract<AlertMessage, { type: "event" }>>[];
  const deliveries = batch.messages.filter((m) => m.body?.type === "deliver") as Message<Extract<AlertMessage, { type: "deliver" }>>[];
  for (const m of batch.messages) if (m.body?.type !== "event" && m.body?.type !== "deliver") m.ack();
  events.sort((a, b) => a.body.event.id - b.body.event.id);
  deliveries.sort((a, b) => a.body.outboxId - b.body.outboxId);

  for (const m of events) {
    try {
      const ids = await routeEvent(env, m.body.event, Date.now());
      if (ids.length) await enqueueDeliveries(env, ids);
      m.ack();
    } catch (err) {
      console.error(JSON.stringify({ msg: "alert routing failed", event: m.body.event.id, error: String(err) }));
      m.retry({ delaySeconds: 2 });
    }
  }
  for (const m of deliveries) {
    try {
      const out = await deliverOne(env, m.body.outboxId, Date.now(), cfg);
      if (out.ack) m.ack();
      else m.retry({ delaySeconds: out.delaySeconds });
    } catch (err) {
      console.error(JSON.stringify({ msg: "alert delivery crashed", outbox: m.body.outboxId, error: String(err) }));
      m.retry({ delaySeconds: cfg.baseDelaySeconds });
    }
  }
}

export async function enqueueDeliveries(env: Env, ids: number[]): Promise<void> {
  const sorted = [...ids].sort((a, b) => a - b);
  // sendBatch takes at most 100 messages.
  for (let i = 0; i < sorted.length; i += 100) {
    await env.ALERTS.sendBatch(sorted.slice(i, i + 100).map((outboxId) => ({ body: { type: "deliver", outboxId } satisfies AlertMessage })));
  }
}

export async function enqueueEvents(env: Env, events: Extract<AlertMessage, { type: "event" }>["event"][]): Promise<void> {
  for (let i = 0; i < events.length; i += 100) {
    await env.ALERTS.sendBatch(events.slice(i, i + 100).map((event) => ({ body: { type: "event", event } satisfies AlertMessage })));
  }
}
