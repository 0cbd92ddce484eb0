// The audit log (protocol/audit.ts has the chain): rows are appended without hashes by whoever
// acts (the API middleware, a cluster's Durable Object, alert delivery), then sealed in id order.
// Sealing is deterministic (each hash follows from the previous row's), so any number of sealers
// may run at once: they compute the same values and only the first write of each row lands
// (`WHERE hash IS NULL`; migration 0006's trigger allows exactly that one change). A row waits
// unsealed only until the writer's own sealing pass right after it, an export, or the cron.
import { asc, desc, gt, isNotNull } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { AUDIT_GENESIS, auditHash, type AuditFields } from "../../protocol/audit.js";
import { auditLog } from "../db/schema.js";

export type AuditRow = Omit<AuditFields, "id">;

/** D1 bounds bound parameters per statement: 8 columns x 10 rows stays under it. */
const CHUNK = 10;

export async function appendAudit(database: D1Database, rows: AuditRow[]): Promise<void> {
  const d = drizzle(database);
  for (let i = 0; i < rows.length; i += CHUNK) {
    await d.insert(auditLog).values(rows.slice(i, i + CHUNK).map((r) => ({ ...r, detail: r.detail.slice(0, 2000) })));
  }
}

/** Seal every unsealed row (up to `max`); returns the head after sealing. */
export async function sealAudit(database: D1Database, max = 5000): Promise<{ sealed: number; head: { id: number; hash: string } | null }> {
  const d = drizzle(database);
  const last = await d.select({ id: auditLog.id, hash: auditLog.hash }).from(auditLog).where(isNotNull(auditLog.hash)).orderBy(desc(auditLog.id)).limit(1).get();
  let prev = last?.hash ?? AUDIT_GENESIS;
  let after = last?.id ?? 0;
  let head = last && last.hash ? { id: last.id, hash: last.hash } : null;
  let sealed = 0;
  while (sealed < max) {
    const rows = await d.select().from(auditLog).where(gt(auditLog.id, after)).orderBy(asc(auditLog.id)).limit(200).all();
    if (rows.length === 0) break;
    const updates = [];
    for (const r of rows) {
      const hash = r.hash ?? (await auditHash(prev, r));
      if (r.hash === null) {
        updates.push(database.prepare("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE id = ? AND hash IS NULL").bind(prev, hash, r.id));
        sealed++;
      }
      prev = hash;
      after = r.id;
      head = { id: r.id, hash };
    }
    if (updates.length) await database.batch(updates);
  }
  return { sealed, head };
}
