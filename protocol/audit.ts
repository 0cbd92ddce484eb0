// The audit log's hash chain, shared by the Worker (which seals rows) and anyone verifying an
// export (`GET /v1/audit` is NDJSON of AuditEntry; scripts/audit-verify.ts checks a file). Each
// row's hash covers its own fields and the previous row's hash, so an edited row no longer
// matches its hash, and a removed row breaks the link of the row after it. Plain SHA-256: no
// secret is needed to verify. What a chain cannot show by itself is a rewrite of a row *and*
// every row after it; the head (last id and hash) is therefore also written to the Worker's logs
// by the cron trigger and sent as X-Audit-Head with every export, to keep elsewhere.
import { z } from "zod";

export const AUDIT_GENESIS = "0".repeat(64);

export const AuditEntry = z.object({
  id: z.number().int(),
  at: z.number().int(),
  /** api: a mutating API call; decision: an engine decision (automatic or asked for); system: alert delivery. */
  source: z.enum(["api", "decision", "system"]),
  actor: z.string(),
  action: z.string(),
  target: z.string().nullable(),
  status: z.number().int().nullable(),
  detail: z.string(),
  prevHash: z.string(),
  hash: z.string(),
});
export type AuditEntry = z.infer<typeof AuditEntry>;
export type AuditFields = Omit<AuditEntry, "prevHash" | "hash">;

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** hash = SHA-256(prevHash "\n" JSON [id, at, source, actor, action, target, status, detail]). */
export function auditHash(prevHash: string, r: AuditFields): Promise<string> {
  return sha256Hex(`${prevHash}\n${JSON.stringify([r.id, r.at, r.source, r.actor, r.action, r.target, r.status, r.detail])}`);
}

export interface AuditVerdict {
  ok: boolean;
  checked: number;
  /** The last row checked (the head to keep). */
  head: { id: number; hash: string } | null;
  /** The first row that does not fit, and why. */
  problem: { id: number; reason: string } | null;
}

/**
 * Check rows (ascending ids) as a chain starting from `prevHash` (the hash before the first row;
 * AUDIT_GENESIS for a full export from the start).
 */
export async function verifyAuditChain(rows: AuditEntry[], prevHash = AUDIT_GENESIS): Promise<AuditVerdict> {
  let prev = prevHash;
  let head: AuditVerdict["head"] = null;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const fail = (reason: string): AuditVerdict => ({ ok: false, checked: i, head, problem: { id: r.id, reason } });
    if (r.prevHash !== prev) return fail(i === 0 ? "its prev_hash is not the hash the chain started from" : `its prev_hash does not match row ${rows[i - 1]!.id}'s hash: a row between them was removed or changed`);
    if ((await auditHash(prev, r)) !== r.hash) return fail("its hash does not match its content: the row was changed after it was written");
    prev = r.hash;
    head = { id: r.id, hash: r.hash };
  }
  return { ok: true, checked: rows.length, head, problem: null };
}
