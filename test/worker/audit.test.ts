// The audit log: every mutating API call (refused ones too, but not 401/429) and every engine
// decision in one append-only table, exported as NDJSON with a SHA-256 chain; triggers refuse
// edits and deletes, and with the triggers dropped (someone with database access) an edited or
// removed row is found by the chain check.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { AuditEntry, verifyAuditChain } from "../../protocol/audit.js";
import { call, newCluster } from "./helpers.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function exportAll(after = 0, limit = 10_000): Promise<{ rows: AuditEntry[]; head: string | null; next: string | null; type: string | null }> {
  const res = await call("GET", `/v1/audit?after=${after}&limit=${limit}`);
  expect(res.status).toBe(200);
  const text = typeof res.json === "string" ? (res.json as string) : `${JSON.stringify(res.json)}\n`;
  const rows = text
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => AuditEntry.parse(JSON.parse(l)));
  return { rows, head: res.headers.get("x-audit-head"), next: res.headers.get("x-audit-next-after"), type: res.headers.get("content-type") };
}
const verify = async () => (await call("GET", "/v1/audit/verify")).json as unknown as { ok: boolean; checked: number; problem: { id: number; reason: string } | null };

/** Wait until the decisions a call caused are in the log (the Durable Object writes them just after replying). */
async function until(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100 && !(await check()); i++) await sleep(50);
}

describe("audit log", () => {
  it("records mutating calls (refused ones too) and engine decisions, not reads or unauthenticated calls; exports a valid chain", async () => {
    const c = await newCluster();
    const before = (await exportAll()).rows.length;
    expect((await call("GET", `/v1/clusters/${c.id}`)).status).toBe(200);
    expect((await call("POST", "/v1/sites", { token: null, body: { id: "nobody" } })).status).toBe(401);
    const viewer = (await call("POST", "/v1/tokens", { body: { role: "viewer" } })).json.token as unknown as string;
    expect((await call("POST", `/v1/clusters/${c.id}/maintenance`, { token: viewer, body: { on: true } })).status).toBe(403);
    expect((await call("POST", `/v1/clusters/${c.id}/maintenance`, { body: { on: true } })).status).toBe(200);
    await until(async () => (await exportAll()).rows.some((r) => r.source === "decision" && r.action === "cluster.maintenance" && r.target?.startsWith(c.id) === true));

    const { rows, head, type } = await exportAll();
    expect(type).toBe("application/x-ndjson");
    const mine = rows.slice(before);
    const show = (r: AuditEntry) => `${r.source} ${r.actor.split(":")[0]} ${r.action} ${r.status ?? ""}`.trim();
    expect(mine.map(show)).toEqual(
      expect.arrayContaining([
        "api admin POST /v1/tokens 201",
        "api viewer POST /v1/clusters/:id/maintenance 403",
        "api admin POST /v1/clusters/:id/maintenance 200",
        "decision admin cluster.maintenance",
      ]),
    );
    expect(mine.some((r) => r.action.startsWith("GET ") || r.status === 401)).toBe(false);
    expect(mine.find((r) => r.status === 403)!.detail).toMatch(/^Forbidden: this needs an? operator token; yours is viewer/);
    // The whole export is one chain from the genesis hash, and its last row is the head.
    const v = await verifyAuditChain(rows);
    expect(v.ok, JSON.stringify(v.problem)).toBe(true);
    expect(head).toBe(`${rows.at(-1)!.id} ${rows.at(-1)!.hash}`);
    expect((await verify()).ok).toBe(true);
  });

  it("pages continue the chain: page 2 verifies from page 1's last hash", async () => {
    const all = (await exportAll()).rows;
    expect(all.length).toBeGreaterThan(4);
    const p1 = await exportAll(0, 3);
    const p2 = await exportAll(Number(p1.next), 10_000);
    expect((await verifyAuditChain(p2.rows, p1.rows.at(-1)!.hash)).ok).toBe(true);
    expect((await verifyAuditChain(p2.rows)).ok).toBe(false);
  });

  it("is append-only in the database: an UPDATE or DELETE of a sealed row is refused by the triggers", async () => {
    const { rows } = await exportAll();
    const id = rows[0]!.id;
    await expect(env.DB.prepare("UPDATE audit_log SET detail = 'edited' WHERE id = ?").bind(id).run()).rejects.toThrow(/append-only/);
    await expect(env.DB.prepare("DELETE FROM audit_log WHERE id = ?").bind(id).run()).rejects.toThrow(/append-only/);
    await expect(env.DB.prepare("UPDATE audit_log SET hash = NULL WHERE id = ?").bind(id).run()).rejects.toThrow(/append-only/);
  });

  it("with the triggers dropped, an edited row and a removed row are both found by the chain check", async () => {
    const c = await newCluster();
    for (const on of [true, false, true]) await call("POST", `/v1/clusters/${c.id}/maintenance`, { body: { on } });
    const { rows } = await exportAll();
    const [edited, removed] = [rows[rows.length - 4]!, rows[rows.length - 2]!];
    await env.DB.batch([env.DB.prepare("DROP TRIGGER audit_log_no_delete"), env.DB.prepare("DROP TRIGGER audit_log_seal_once")]);
    try {
      await env.DB.prepare("UPDATE audit_log SET detail = ? WHERE id = ?").bind("nothing happened here", edited.id).run();
      let v = await verify();
      expect(v.ok).toBe(false);
      expect(v.problem).toEqual({ id: edited.id, reason: "its hash does not match its content: the row was changed after it was written" });
      // The same finding offline, from the export.
      const offline = await verifyAuditChain((await exportAll()).rows);
      expect(offline.problem?.id).toBe(edited.id);

      await env.DB.prepare("UPDATE audit_log SET detail = ? WHERE id = ?").bind(edited.detail, edited.id).run();
      expect((await verify()).ok).toBe(true);
      await env.DB.prepare("DELETE FROM audit_log WHERE id = ?").bind(removed.id).run();
      v = await verify();
      expect(v.ok).toBe(false);
      expect(v.problem!.id).toBe(rows[rows.length - 1]!.id);
      expect(v.problem!.reason).toMatch(/prev_hash does not match row \d+'s hash: a row between them was removed or changed/);
    } finally {
      const sql = (await import("../../migrations/0006_audit_append_only.sql?raw")).default as string;
      for (const stmt of sql.split("--> statement-breakpoint")) await env.DB.prepare(stmt.replace(/^--.*$/gm, "").trim()).run();
    }
  });
});
