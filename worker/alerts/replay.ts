// Replay dead letters: their outbox rows become pending again (fresh attempts) and are queued in
// id order, so each incident's alerts arrive in their original order.
import { and, asc, eq, inArray, isNull, type SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { alertOutbox, deadLetters } from "../db/schema.js";
import type { Env } from "../env.js";
import { enqueueDeliveries } from "./consumer.js";

export async function replayDeadLetters(env: Env, filter: { webhookIds: string[]; ids?: number[] }, now: number): Promise<number> {
  if (filter.webhookIds.length === 0) return 0;
  const d = drizzle(env.DB);
  const conds: SQL[] = [isNull(deadLetters.replayedAt), inArray(deadLetters.webhookId, filter.webhookIds)];
  if (filter.ids) conds.push(inArray(deadLetters.id, filter.ids.length ? filter.ids : [-1]));
  const rows = await d.select().from(deadLetters).where(and(...conds)).orderBy(asc(deadLetters.outboxId)).all();
  if (rows.length === 0) return 0;
  const outboxIds = [...new Set(rows.map((r) => r.outboxId))];
  // D1 bounds bound parameters per statement: chunk the IN lists.
  for (let i = 0; i < rows.length; i += 50) {
    const chunk = rows.slice(i, i + 50);
    await d.batch([
      d.update(deadLetters).set({ replayedAt: now }).where(inArray(deadLetters.id, chunk.map((r) => r.id))),
      d
        .update(alertOutbox)
        .set({ status: "pending", attempts: 0, lastError: null })
        .where(and(inArray(alertOutbox.id, chunk.map((r) => r.outboxId)), eq(alertOutbox.status, "dead"))),
    ]);
  }
  await enqueueDeliveries(env, outboxIds);
  return rows.length;
}
